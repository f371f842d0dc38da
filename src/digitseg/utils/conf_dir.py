"""Where digitseg's Hydra configs are, found without importing Hydra or torch."""

from pathlib import Path


def _repo_conf_dir() -> str:
    """The conf/ folder of the clone digitseg is installed from (``src/digitseg/utils/..``)."""
    conf = Path(__file__).resolve().parents[3] / "conf"
    if not conf.is_dir():
        raise FileNotFoundError(
            f"digitseg's Hydra configs are not at {conf}: the entry points read the conf/ "
            "folder of the repository digitseg is installed from, so digitseg must be installed "
            "editable from a clone (`make setup`, or `pip install -e .` in the clone), "
            "not with `pip install .`"
        )
    return str(conf)


# The repository's conf/ folder (digitseg is installed editable from the repository).
CONF_DIR = _repo_conf_dir()
