"""Comparing reports whose scores may differ in the last bits (batched and single readings)."""

import pytest


def assert_close(
    first, second, rel_tol: float = 1e-5, abs_tol: float = 1e-6, where: str = ""
) -> None:
    """``first`` equals ``second`` (nested dicts and lists of JSON values), floats within
    ``rel_tol`` or ``abs_tol`` of each other; a difference names where it is."""
    if isinstance(first, dict) and isinstance(second, dict):
        assert first.keys() == second.keys(), f"keys of {where or 'the top'} differ"
        for key in first:
            assert_close(first[key], second[key], rel_tol, abs_tol, f"{where}.{key}")
    elif isinstance(first, list) and isinstance(second, list):
        assert len(first) == len(second), f"lengths of {where} differ"
        for k, (one, other) in enumerate(zip(first, second, strict=True)):
            assert_close(one, other, rel_tol, abs_tol, f"{where}[{k}]")
    elif isinstance(first, float) or isinstance(second, float):
        assert first == pytest.approx(second, rel=rel_tol, abs=abs_tol), where
    else:
        assert first == second, where
