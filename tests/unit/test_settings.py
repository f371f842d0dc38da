"""Reading settings: the presets, their record in reports, and bad values."""

import pytest

from digitseg.inference.settings import (
    ReadSettings,
    SettingsError,
    read_settings,
    reading_preset,
    reading_presets,
)


def test_every_preset_round_trips_through_its_report_record():
    assert {"document", "canvas"} <= set(reading_presets())
    for name in reading_presets():
        settings = reading_preset(name)
        record = settings.record()
        assert record["reading"] == name and isinstance(record["zooms"], list)
        assert ReadSettings.from_record(record) == settings


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"polarity": "sideways"}, "reading.polarity"),
        ({"scale": 0.0}, "reading.scale"),
        ({"slant": 9.0}, "reading.slant"),
        ({"rotation": 200.0}, "reading.rotation"),
        ({"zooms": []}, "reading.zooms"),
        ({"marks": True}, "unknown reading setting"),
    ],
)
def test_bad_settings_name_what_is_wrong(values, named):
    with pytest.raises(SettingsError, match=named):
        read_settings(values)
    with pytest.raises(SettingsError, match="no reading preset 'paper'"):
        reading_preset("paper")
