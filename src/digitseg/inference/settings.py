"""How an image is read: one frozen settings object, named by a reading preset.

The presets are the Hydra group ``conf/reading/`` (``document``, the default of
``digitseg-segment`` and ``digitseg-eval``; ``canvas`` for generated canvases of scattered
digits), shared by both tools, the classifier's data and the scripts; Python callers build
:class:`ReadSettings` directly or with :func:`read_settings`. Besides the switches, the
settings hold the thresholds of the estimates (:class:`Estimates`) and of the grouping of
pixels into digits (:class:`~digitseg.postprocess.PostprocessConfig`), each a nested group
of the preset (``reading.estimates.min_tilt=0.2``).
"""

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from digitseg.postprocess.instances import PostprocessConfig

POLARITIES = ("auto", "dark_on_light", "light_on_dark")
DEFAULT_ZOOMS = (1.0, 1.3)
# Forced shears are px per row within +-MAX_SHEAR; forced rotations degrees within
# +-MAX_ROTATION (counter-clockwise positive).
MAX_SHEAR = 2.0
MAX_ROTATION = 180.0


class SettingsError(ValueError):
    """A reading setting out of range; the message names it and its range."""


@dataclass(frozen=True)
class Estimates:
    """Thresholds of what is estimated from each image (:mod:`~digitseg.inference.page`).

    - ``min_tilt`` (0.1), ``max_tilt`` (0.4), ``min_tilt_gain`` (0.1): lines of writing
      climbing (px per column) min_tilt..max_tilt, whose climb piles the ink's rows at least
      ``min_tilt_gain`` (0.1: 10 %) higher than level, are rotated level
      (:func:`~digitseg.inference.rotation.level_rotation`).
    - ``min_lean`` (0.55), ``min_lean_gain`` (0.2), ``trained_lean`` (0.3): writing leaning
      at least ``min_lean`` px per row, whose lean piles the ink's columns at least
      ``min_lean_gain`` higher than upright, is sheared by its lean less ``trained_lean``,
      the lean the net learnt (:func:`~digitseg.inference.slant.upright_shear`).
    - ``min_scale`` (1/128), ``max_scale`` (2.0): the range of the factor that brings the
      digits to the training height (digits up to about 2,500 px tall down to half the
      training height); ``trained_scales`` (0.8, 1.25): factors within it leave the image
      at factor 1 (digit sizes the net was trained on); ``min_part_area`` (12),
      ``min_part_height`` (6): the parts of the ink the typical height is measured on have
      at least so many pixels and rows, so that grain, dots and broken strokes do not pull
      it down (:func:`~digitseg.inference.page.estimate_scale`).
    - ``min_line_digits`` (4): digits of a rotated image read level on one line, this many
      or more, are a number: where the input's own reading order splits them (a steep line),
      they keep the level order.
    """

    min_tilt: float = 0.1
    max_tilt: float = 0.4
    min_tilt_gain: float = 0.1
    min_lean: float = 0.55
    min_lean_gain: float = 0.2
    trained_lean: float = 0.3
    min_scale: float = 1 / 128
    max_scale: float = 2.0
    trained_scales: tuple[float, float] = (0.8, 1.25)
    min_part_area: int = 12
    min_part_height: int = 6
    min_line_digits: int = 4

    def __post_init__(self) -> None:
        object.__setattr__(self, "trained_scales", tuple(self.trained_scales))
        name = "reading.estimates"
        if not 0 <= self.min_tilt <= self.max_tilt:
            raise SettingsError(
                f"{name}: need 0 <= min_tilt <= max_tilt, got {self.min_tilt}, {self.max_tilt}"
            )
        if not 0 < self.min_scale < self.max_scale < math.inf:
            raise SettingsError(
                f"{name}: need 0 < min_scale < max_scale (finite), "
                f"got {self.min_scale}, {self.max_scale}"
            )
        scales = self.trained_scales
        if len(scales) != 2 or not 0 < scales[0] <= 1 <= scales[1] < math.inf:
            raise SettingsError(
                f"{name}.trained_scales must be [low, high] with 0 < low <= 1 <= high, "
                f"got {list(scales)}"
            )
        for key in ("min_tilt_gain", "min_lean", "min_lean_gain", "trained_lean"):
            if not 0 <= getattr(self, key) < math.inf:
                raise SettingsError(f"{name}.{key} must be 0 or more, got {getattr(self, key)}")
        for key in ("min_part_area", "min_part_height", "min_line_digits"):
            if getattr(self, key) < 1:
                raise SettingsError(f"{name}.{key} must be 1 or more, got {getattr(self, key)}")


# The estimates' default thresholds (those of the presets), a default argument.
DEFAULT_ESTIMATES = Estimates()


@dataclass(frozen=True)
class ReadSettings:
    """Every reading switch and threshold in one place.

    ``polarity``: auto (detected), dark_on_light or light_on_dark. ``scale``: the factor
    bringing digits to the training height (None: estimated per image). ``slant``: the
    shear, px per row, that sets leaning writing upright (None: estimated; 0: as it is).
    ``rotation``: degrees that level lines of writing (None: estimated; 0: as it is).
    ``zooms``: the factors of the normalised size the net reads at; the first finds the
    digits. ``estimates``: the thresholds of the estimates (:class:`Estimates`);
    ``postprocess``: those that group the net's pixels into digits
    (:class:`~digitseg.postprocess.PostprocessConfig`). ``name`` is the preset's, reported
    with every figure.
    """

    name: str = "document"
    polarity: str = "auto"
    scale: float | None = None
    slant: float | None = None
    rotation: float | None = None
    zooms: tuple[float, ...] = DEFAULT_ZOOMS
    estimates: Estimates = field(default_factory=Estimates)
    postprocess: PostprocessConfig = field(default_factory=PostprocessConfig)

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
        for key, kind in _GROUPS.items():
            if not isinstance(getattr(self, key), kind):
                raise SettingsError(
                    f"reading.{key} must be of type {kind.__name__} (read_settings builds it "
                    f"from a mapping), got {type(getattr(self, key)).__name__}"
                )
        _check_postprocess(self.postprocess)

    def record(self) -> dict:
        """Plain values, as reports record them: the preset's name as ``reading``, then the
        settings (groups as dicts, sequences as lists)."""
        values = _plain(asdict(self))
        return {"reading": values.pop("name"), **values}

    @classmethod
    def from_record(cls, record: Mapping) -> "ReadSettings":
        """The settings a report recorded with :meth:`record`."""
        values = {key: value for key, value in record.items() if key != "reading"}
        return read_settings(values, name=record["reading"])


# The nested groups of the settings: each a mapping of its fields in a preset.
_GROUPS = {"estimates": Estimates, "postprocess": PostprocessConfig}


# The postprocess thresholds that are probabilities.
_PROBABILITIES = ("island_prob", "core_threshold")


def _check_postprocess(config: PostprocessConfig) -> None:
    """Every postprocess threshold is a finite number of 0 or more; probabilities at most 1."""
    for key, value in asdict(config).items():
        top = 1 if key in _PROBABILITIES else math.inf
        if not (0 <= value <= top and math.isfinite(value)):
            limits = "from 0 to 1" if top == 1 else "0 or more, finite"
            raise SettingsError(f"reading.postprocess.{key} must be {limits}, got {value}")


def _plain(value):
    """``value`` with its tuples as lists, at any depth (JSON's and YAML's types)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


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
    """The settings of a ``conf/reading`` node (or any mapping of its keys, the groups
    ``estimates`` and ``postprocess`` as nested mappings), then ``overrides`` (a group's
    mapping changes the keys it names; a group's dataclass replaces it). An unknown key, at
    any depth, is an error naming the known ones."""
    values = dict(config or {})
    for key, value in overrides.items():
        if key in _GROUPS and isinstance(value, Mapping) and isinstance(values.get(key), Mapping):
            value = {**values[key], **value}
        values[key] = value
    _check_known(values, ReadSettings, "reading")
    for key in ("scale", "slant", "rotation"):
        if values.get(key) is not None:
            values[key] = _typed(0.0, values[key], f"reading.{key}")
    if "zooms" in values:
        values["zooms"] = _typed((1.0,), values["zooms"], "reading.zooms")
    for key, kind in _GROUPS.items():
        if isinstance(values.get(key), Mapping):
            values[key] = _group(kind, values[key], f"reading.{key}")
    return ReadSettings(**values)


def _check_known(values: Mapping, kind: type, path: str) -> None:
    known = {item.name for item in fields(kind)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SettingsError(
            f"unknown reading setting(s) {[f'{path}.{key}' for key in unknown]}; "
            f"known in {path}: {sorted(known)}"
        )


def _group(kind: type, values: Mapping, path: str):
    """The ``kind`` dataclass (a settings group) of ``values``, each converted to the type
    of the field's default; the fields not named keep their defaults."""
    _check_known(values, kind, path)
    defaults = kind()
    return kind(
        **{
            key: _typed(getattr(defaults, key), value, f"{path}.{key}")
            for key, value in values.items()
        }
    )


def _typed(default, value, name: str):
    """``value`` as the type of ``default`` (a float, a whole number or a tuple of floats)."""
    try:
        if isinstance(default, tuple):
            return tuple(float(item) for item in value)
        if isinstance(default, int):
            if isinstance(value, str) or value != int(value):
                raise ValueError
            return int(value)
        if isinstance(value, str):
            raise ValueError
        return float(value)
    except (TypeError, ValueError, OverflowError):
        kind = {tuple: "a list of numbers", int: "a whole number"}.get(type(default), "a number")
        raise SettingsError(f"{name} must be {kind}, got {value!r}") from None
