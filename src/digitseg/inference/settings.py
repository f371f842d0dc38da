"""How an image is read: one frozen settings object, named by a reading preset.

The presets are the Hydra group ``conf/reading/`` (``document``, the default of
``digitseg-segment`` and ``digitseg-eval``; ``canvas`` for generated canvases of scattered
digits), shared by both tools, the classifier's data and the scripts; Python callers build
:class:`ReadSettings` directly or with :func:`read_settings`.
"""

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from digitseg.inference.rotation import MAX_ROTATION
from digitseg.inference.slant import MAX_SHEAR

POLARITIES = ("auto", "dark_on_light", "light_on_dark")
DEFAULT_ZOOMS = (1.0, 1.3)


class SettingsError(ValueError):
    """A reading setting out of range; the message names it and its range."""


@dataclass(frozen=True)
class ReadSettings:
    """Every reading switch in one place.

    ``polarity``: auto (detected), dark_on_light or light_on_dark. ``scale``: the factor
    bringing digits to the training height (None: estimated per image). ``slant``: the
    shear, px per row, that sets leaning writing upright (None: estimated; 0: as it is).
    ``rotation``: degrees that level lines of writing (None: estimated; 0: as it is).
    ``zooms``:
    the factors of the normalised size the net reads at; the first finds the digits.
    ``name`` is the preset's, reported with every figure.
    """

    name: str = "document"
    polarity: str = "auto"
    scale: float | None = None
    slant: float | None = None
    rotation: float | None = None
    zooms: tuple[float, ...] = DEFAULT_ZOOMS

    def __post_init__(self) -> None:
        object.__setattr__(self, "zooms", tuple(float(zoom) for zoom in self.zooms))
        if self.polarity not in POLARITIES:
            raise SettingsError(
                f"reading.polarity must be one of {POLARITIES}, got {self.polarity!r}"
            )
        if self.scale is not None and not 0 < self.scale < math.inf:  # NaN too
            raise SettingsError(
                f"reading.scale must be above 0 and finite, or null; got {self.scale}"
            )
        if self.slant is not None and not abs(self.slant) <= MAX_SHEAR:
            raise SettingsError(
                f"reading.slant must be within +-{MAX_SHEAR} px per row, or null; got {self.slant}"
            )
        if self.rotation is not None and not abs(self.rotation) <= MAX_ROTATION:
            raise SettingsError(
                f"reading.rotation must be within +-{MAX_ROTATION:g} degrees, or null; "
                f"got {self.rotation}"
            )
        if not self.zooms or min(self.zooms) <= 0:
            raise SettingsError(
                f"reading.zooms must be one or more positive factors, got {self.zooms}"
            )

    def record(self) -> dict:
        """Plain values, as reports record them: the preset's name as ``reading``, then the
        settings (zooms as a list)."""
        values = asdict(self) | {"zooms": list(self.zooms)}
        return {"reading": values.pop("name"), **values}

    @classmethod
    def from_record(cls, record: Mapping) -> "ReadSettings":
        """The settings a report recorded with :meth:`record`."""
        values = {key: value for key, value in record.items() if key != "reading"}
        return read_settings(values, name=record["reading"])


def reading_presets() -> list[str]:
    """The names of the reading presets in ``conf/reading/``."""
    from digitseg.utils.conf_dir import CONF_DIR

    return sorted(path.stem for path in (Path(CONF_DIR) / "reading").glob("*.yaml"))


def reading_preset(name: str = "document", **overrides) -> ReadSettings:
    """The settings of the preset ``conf/reading/<name>.yaml``, then ``overrides``."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from digitseg.utils.conf_dir import CONF_DIR

    presets = reading_presets()
    if name not in presets:
        raise SettingsError(f"no reading preset {name!r}: conf/reading/ holds {presets}")
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=CONF_DIR):
        config = compose(overrides=[f"+reading={name}"]).reading
    GlobalHydra.instance().clear()
    return read_settings(config, **overrides)


def read_settings(config: Mapping | None = None, **overrides) -> ReadSettings:
    """The settings of a ``conf/reading`` node (or any mapping of its keys), then
    ``overrides``; an unknown key is an error naming the known ones."""
    values = dict(config or {}) | overrides
    known = {field.name for field in fields(ReadSettings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SettingsError(f"unknown reading setting(s) {unknown}; known: {sorted(known)}")
    return ReadSettings(**values)
