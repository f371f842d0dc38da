"""Canvas specs: presets load, impossible specs are rejected naming the field."""

import dataclasses

import pytest
from omegaconf import OmegaConf

from digitseg.data.spec import CanvasSpec, SpecError, spec_from_config


@pytest.mark.parametrize(
    ("name", "color", "layout"),
    [("m2nist", False, "scatter"), ("canvas", True, "scatter"), ("numbers", True, "line")],
)
def test_presets_build_valid_specs(preset_spec, name, color, layout):
    spec = spec_from_config(preset_spec(name))
    assert (spec.is_color, spec.layout) == (color, layout)
    assert spec.has_geometry == (name != "m2nist")


def test_config_lists_become_tuples_and_survive_a_round_trip():
    spec = spec_from_config(OmegaConf.create({"scale": [0.8, 1.2], "distractors": [0, 2]}))
    assert spec.scale == (0.8, 1.2) and spec.distractors == (0, 2)
    assert isinstance(spec.backgrounds, dict)
    # Exports store the spec with dataclasses.asdict (tuples become lists in JSON).
    as_json = OmegaConf.to_container(OmegaConf.create(dataclasses.asdict(spec)))
    assert CanvasSpec(**as_json) == spec


def test_whole_floats_are_accepted_for_integer_fields():
    assert CanvasSpec(height=64.0, rotation=15).height == 64


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"min_digits": 4, "max_digits": 3}, "min_digits"),
        ({"min_digits": -1}, "min_digits"),
        ({"max_digits": 0, "min_digits": 0}, "max_digits"),
        ({"max_digits": 1000}, "max_digits"),
        ({"height": 20}, "height"),
        ({"width": 27}, "width"),
        ({"scale": (1.0, 4.0)}, "scale"),
        ({"scale": (1.2, 1.0)}, "scale"),
        ({"scale": (0.0, 1.0)}, "scale"),
        ({"min_digits": 12, "max_digits": 12}, "min_digits"),
        ({"layout": "line", "width": 60, "min_digits": 4, "max_digits": 4}, "min_digits"),
        ({"layout": "spiral"}, "layout"),
        ({"gap": (3, -3)}, "gap"),
        ({"rotation": 200}, "rotation"),
        ({"shear": 2}, "shear"),
        ({"thickness": 5}, "thickness"),
        ({"max_overlap": 1.5}, "max_overlap"),
        ({"mask_threshold": 0}, "mask_threshold"),
        ({"min_visible_area": 0}, "min_visible_area"),
        ({"min_visible_area": 500}, "min_visible_area"),
        ({"repeat_prob": -0.1}, "repeat_prob"),
        ({"backgrounds": {}}, "backgrounds"),
        ({"backgrounds": {"wood": 1.0}}, "backgrounds"),
        ({"backgrounds": {"black": -1.0, "paper": 2.0}}, "backgrounds"),
        ({"backgrounds": {"black": 0.0}}, "backgrounds"),
        ({"ruled_lines": 2}, "ruled_lines"),
        ({"distractors": (3, 1)}, "distractors"),
        ({"distractor_kinds": ("dot", "star")}, "distractor_kinds"),
        ({"distractor_kinds": ()}, "distractor_kinds"),
        ({"layout": "line", "separators": 1.5}, "separators"),
        ({"layout": "scatter", "separators": 0.2}, "separators"),
        ({"layout": "line", "separator_kinds": ("slash", "star")}, "separator_kinds"),
        ({"distractor_kinds": ("steep_slash",)}, "distractor_kinds"),
        ({"layout": "line", "separator_kinds": ("steep_slash",)}, "separator_kinds"),
        ({"polarity": "inverted"}, "polarity"),
        ({"placement_tries": 0}, "placement_tries"),
    ],
)
def test_impossible_specs_are_rejected_naming_the_field(overrides, field):
    with pytest.raises(SpecError, match=f"field '{field}'"):
        CanvasSpec(**overrides)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"scale": 1.0}, "scale"),
        ({"scale": [1.0]}, "scale"),
        ({"distractors": "0,2"}, "distractors"),
        ({"height": "64"}, "height"),
        ({"height": 64.5}, "height"),
        ({"max_digits": True}, "max_digits"),
        ({"layout": 1}, "layout"),
        ({"backgrounds": ["black"]}, "backgrounds"),
        ({"backgrounds": {"black": "1"}}, "backgrounds"),
        ({"one_writer": "yes"}, "one_writer"),
        ({"one_writer": 1}, "one_writer"),
    ],
)
def test_malformed_values_are_rejected_naming_the_field(overrides, field):
    with pytest.raises(SpecError, match=f"field '{field}'"):
        CanvasSpec(**overrides)


def test_impossible_preset_override_is_rejected_when_the_config_is_built(preset_spec):
    cfg = preset_spec("numbers")
    cfg.min_digits = cfg.max_digits = 20  # even at the smallest scale and gap: 204 px > 192
    with pytest.raises(SpecError, match="field 'min_digits'"):
        spec_from_config(cfg)


def test_unknown_fields_are_rejected():
    with pytest.raises(SpecError, match="unknown canvas spec field.*'colour'"):
        spec_from_config({"colour": "red"})
