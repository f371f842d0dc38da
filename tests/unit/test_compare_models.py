"""scripts/compare_models.py refuses a model it does not know before training anything."""

import pytest

from tests.helpers.scripts import load_script

compare_models = load_script("compare_models")


def test_an_override_given_as_a_model_is_refused_with_the_fix(monkeypatch, capsys):
    trained = []
    monkeypatch.setattr(compare_models, "run", lambda *args: trained.append(args))
    argv = ["compare_models.py", "--models", "unet", "fcn8", "callbacks.progress_bar=null"]
    monkeypatch.setattr("sys.argv", argv)
    with pytest.raises(SystemExit) as stopped:
        compare_models.main()
    assert stopped.value.code == 2 and trained == []
    error = capsys.readouterr().err
    assert "callbacks.progress_bar=null" in error and "after --" in error
