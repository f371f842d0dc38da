"""Option values shared by ``digitseg-segment``, the scripts and the notebooks."""

from pathlib import Path


def classifier_option(value: str) -> Path | None:
    """A ``--classifier`` value: a model file, or ``none`` for no classifier."""
    return None if value.lower() == "none" else Path(value)
