"""``scripts/sweep_postprocess.py``: settings parsed, and its default row is what
``digitseg-eval`` reports."""

import pytest

from digitseg.eval import evaluate
from digitseg.utils.compose import compose_eval
from tests.helpers.config import requires_mnist
from tests.helpers.scripts import load_script

sweep_postprocess = load_script("sweep_postprocess")


def test_settings_are_every_combination_after_the_defaults():
    settings = sweep_postprocess.parse_settings(["min_area=8,16", "core_reach=0.5,1"])
    assert settings == [
        {},
        {"min_area": 8, "core_reach": 0.5},
        {"min_area": 8, "core_reach": 1.0},
        {"min_area": 16, "core_reach": 0.5},
        {"min_area": 16, "core_reach": 1.0},
    ]
    assert type(settings[1]["min_area"]) is int
    assert sweep_postprocess.parse_settings([]) == [{}]


@pytest.mark.parametrize(
    ("value", "message"),
    [("min_aera=3", "NAME one of"), ("min_area", "NAME=V1,V2"), ("min_area=a,b", "takes ints")],
)
def test_bad_settings_are_named(value, message):
    with pytest.raises(ValueError, match=message) as error:
        sweep_postprocess.parse_settings([value])
    assert value in str(error.value)


def test_a_setting_given_twice_is_refused():
    with pytest.raises(ValueError, match="min_area is set twice"):
        sweep_postprocess.parse_settings(["min_area=8", "min_area=16"])


@pytest.mark.parametrize(("slant", "rotation"), [("0.0", "0.0"), ("0.4", "0.0"), ("0.0", "15")])
def test_the_default_row_is_what_digitseg_eval_reports(tiny_model, tmp_path, slant, rotation):
    requires_mnist()
    overrides = [
        f"checkpoint={tiny_model}",
        "count=6",
        f"reading.slant={slant}",
        f"reading.rotation={rotation}",
        "extras.print_config=false",
    ]
    instance = evaluate(compose_eval(overrides, output_dir=tmp_path))["instance"]
    settings = [{}, {"min_cored_area": 6}, {"min_area": 10**6, "min_cored_area": 10**6}]
    rows = sweep_postprocess.sweep(compose_eval(overrides), settings)
    assert [label for label, _ in rows] == [
        "defaults",
        "min_cored_area=6",
        "min_area=1000000 min_cored_area=1000000",
    ]
    (_, defaults), (_, same), (_, nothing) = rows
    assert defaults == same and defaults["images"] == 6 and defaults["predicted_instances"] > 0
    for name in sweep_postprocess.COLUMNS:
        assert defaults[name] == pytest.approx(instance[name], abs=1e-9), name
    assert nothing["predicted_instances"] == 0 and nothing["recall"] == 0.0
