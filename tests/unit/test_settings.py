"""Reading settings: the presets, their record in reports, nested thresholds and bad values."""

import json
from dataclasses import replace

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from digitseg.inference.settings import (
    Estimates,
    ReadSettings,
    SettingsError,
    read_settings,
    reading_preset,
    reading_presets,
)
from digitseg.postprocess import PostprocessConfig
from digitseg.utils.conf_dir import CONF_DIR


def test_every_preset_round_trips_through_its_report_record():
    assert {"document", "canvas"} <= set(reading_presets())
    for name in reading_presets():
        settings = reading_preset(name)
        record = settings.record()
        assert record["reading"] == name and isinstance(record["zooms"], list)
        assert isinstance(record["estimates"]["trained_scales"], list)
        assert ReadSettings.from_record(json.loads(json.dumps(record))) == settings


def test_the_hydra_group_holds_every_threshold_at_its_default():
    """conf/reading/document composed as digitseg-eval does, an override of a nested
    threshold included: every field of the groups is in the preset, with the dataclasses'
    defaults, and the settings survive their report record."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=CONF_DIR):
        node = compose("eval", overrides=["reading.estimates.min_tilt=0.2"]).reading
    GlobalHydra.instance().clear()
    settings = read_settings(node)
    assert settings == replace(ReadSettings(), estimates=replace(Estimates(), min_tilt=0.2))
    record = settings.record()
    assert set(node.estimates) == set(record["estimates"])
    assert set(node.postprocess) == set(record["postprocess"])
    assert ReadSettings.from_record(record) == settings
    assert reading_preset("canvas").postprocess == PostprocessConfig()  # inherited


def test_a_nested_override_changes_only_the_keys_it_names():
    settings = reading_preset("canvas", estimates={"min_lean": 0.7}, postprocess={"min_area": 9})
    assert settings.estimates == replace(Estimates(), min_lean=0.7)
    assert settings.postprocess == replace(PostprocessConfig(), min_area=9)
    assert (settings.name, settings.scale) == ("canvas", 1.0)
    assert read_settings(estimates=Estimates(min_tilt=0.3)).estimates.min_tilt == 0.3


def test_the_switches_alone_still_build_the_settings():
    settings = ReadSettings(zooms=(1.0,), scale=1.0)
    assert settings.estimates == Estimates() and settings.postprocess == PostprocessConfig()


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"polarity": "sideways"}, "reading.polarity"),
        ({"scale": 0.0}, "reading.scale"),
        ({"slant": 9.0}, "reading.slant"),
        ({"rotation": 200.0}, "reading.rotation"),
        ({"zooms": []}, "reading.zooms"),
        ({"scale": "abc"}, "reading.scale must be a number"),
        ({"zooms": 1.3}, "reading.zooms must be a list of numbers"),
        ({"marks": True}, "unknown reading setting"),
        ({"estimates": {"min_tilted": 0.1}}, r"reading\.estimates\.min_tilted.*min_tilt"),
        ({"postprocess": {"min_areas": 3}}, r"reading\.postprocess\.min_areas.*min_area"),
        ({"estimates": {"min_tilt": 0.5}}, "min_tilt <= max_tilt"),
        ({"estimates": {"min_scale": 3.0}}, "min_scale < max_scale"),
        ({"estimates": {"trained_scales": [1.1, 1.25]}}, "trained_scales"),
        ({"estimates": {"min_part_area": 0}}, "reading.estimates.min_part_area"),
        ({"estimates": {"min_line_digits": 2.5}}, "min_line_digits must be a whole number"),
        ({"estimates": {"min_lean": "steep"}}, "min_lean must be a number"),
        ({"postprocess": {"min_area": -1}}, "reading.postprocess.min_area"),
        ({"postprocess": {"core_threshold": 1.5}}, "core_threshold must be from 0 to 1"),
        ({"estimates": 0.1}, "reading.estimates must be of type Estimates"),
    ],
)
def test_bad_settings_name_what_is_wrong(values, named):
    with pytest.raises(SettingsError, match=named):
        read_settings(values)


def test_an_unknown_preset_is_named():
    with pytest.raises(SettingsError, match="no reading preset 'paper'"):
        reading_preset("paper")
