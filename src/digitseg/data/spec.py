"""The canvas specification: what the generator draws, filled by Hydra's ``conf/data`` presets."""

import math
import numbers
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

LAYOUTS = ("scatter", "line")
BACKGROUND_STYLES = ("black", "noise", "paper")
POLARITIES = ("light_on_dark", "dark_on_light", "random")
# Signs that stand beside numbers: "+49", "#12", "45%", "$1,250", "(555)".
SIGN_KINDS = ("plus", "hash", "percent", "dollar", "parenthesis")
DISTRACTOR_KINDS = (
    "dot",
    "comma",
    "dash",
    "underline",
    "speck",
    "slash",
    "steep_slash",
    "flat_slash",
    *SIGN_KINDS,
)
# The kinds a spec draws unless it names its own: the presets' fixed splits were drawn with
# these, so a new kind joins only the specs that ask for it.
DEFAULT_DISTRACTOR_KINDS = ("dot", "comma", "dash", "underline", "speck")
# The marks written between the digits of a number: "12/05", "1,250.00", "555-0199".
SEPARATOR_KINDS = ("slash", "dot", "comma", "dash")

# Ink of an MNIST digit fills about 20 of its 28 pixels; used to check that digits can fit.
MNIST_INK_SIDE = 20
# At most this many digits per canvas: far more than fit, and instance ids stay small.
MAX_DIGITS = 255


class SpecError(ValueError):
    """A canvas spec that cannot be generated; the message names the field."""


@dataclass(frozen=True)
class CanvasSpec:
    """Everything that defines a canvas distribution (one preset of ``conf/data``).

    Digits are MNIST 28x28 patches; each canvas gets ``min_digits`` to ``max_digits`` of
    them (fewer when some cannot be placed, overflow a line or end up hidden). ``scale``
    multiplies their size, ``rotation`` is a maximum angle in degrees, ``shear`` a maximum
    shear factor, ``thickness`` a maximum stroke change in pixels (dilation or erosion).

    ``mask_threshold`` is the digit ink intensity (0-255) from which a pixel belongs to the
    digit; the default 64 keeps the stroke and most of its anti-aliased edge. Where digits
    overlap, intensities combine by maximum and each pixel's labels go to the brightest
    digit. Digits whose visible mask falls below ``min_visible_area`` pixels are removed
    from the canvas.

    ``layout`` is ``scatter`` (anywhere, mask boxes overlapping earlier digits' by at most
    ``max_overlap`` of the smaller box, ``placement_tries`` random positions per digit) or
    ``line`` (a written number: side by side, ``gap`` pixels apart; negative gaps make
    neighbours touch or overlap, by at most half the narrower one). ``repeat_prob`` is the
    chance that a digit repeats the class of the previous one (the "00" of "1000").

    ``backgrounds`` maps styles to weights; any ``paper`` weight makes every image of the
    spec RGB. ``ruled_lines`` is the chance that paper is ruled. ``polarity`` applies to the
    ``black`` and ``noise`` styles (paper is always dark ink on light). ``distractors`` is
    the (min, max) count of non-digit marks of ``distractor_kinds``, labelled background
    (``slash``, ``steep_slash`` and ``flat_slash``, the "/" of dates, only when asked for;
    ``steep_slash`` leans no more than many 1s, so it needs ``one_writer``). On lines,
    ``separators`` is the chance that a gap between neighbours is widened to hold one mark of
    ``separator_kinds``, also background, as in "12/05" or "1,250.00".
    """

    height: int = 64
    width: int = 84
    min_digits: int = 2
    max_digits: int = 3
    scale: tuple[float, float] = (1.0, 1.0)
    rotation: float = 0.0
    shear: float = 0.0
    thickness: int = 0
    max_overlap: float = 0.0
    mask_threshold: int = 64
    min_visible_area: int = 16
    layout: str = "scatter"
    gap: tuple[float, float] = (-2.0, 6.0)
    repeat_prob: float = 0.0
    one_writer: bool = False
    backgrounds: dict[str, float] = field(default_factory=lambda: {"black": 1.0})
    ruled_lines: float = 0.0
    distractors: tuple[int, int] = (0, 0)
    distractor_kinds: tuple[str, ...] = DEFAULT_DISTRACTOR_KINDS
    separators: float = 0.0
    separator_kinds: tuple[str, ...] = SEPARATOR_KINDS
    polarity: str = "light_on_dark"
    placement_tries: int = 16

    def __post_init__(self) -> None:
        for spec_field in fields(self):
            value = _coerce(spec_field.name, getattr(self, spec_field.name), spec_field.type)
            object.__setattr__(self, spec_field.name, value)
        _validate(self)

    @property
    def is_color(self) -> bool:
        """Whether images are RGB (H, W, 3) rather than grayscale (H, W)."""
        return self.backgrounds.get("paper", 0) > 0

    @property
    def has_geometry(self) -> bool:
        """Whether digits are warped (scaled, rotated, sheared, thickened or made upright)
        before placing."""
        return bool(
            self.scale != (1.0, 1.0)
            or self.rotation
            or self.shear
            or self.thickness
            or self.one_writer
        )


def spec_from_config(cfg) -> CanvasSpec:
    """Build a spec from a mapping (a Hydra/OmegaConf node); unknown keys are an error."""
    known = {f.name for f in fields(CanvasSpec)}
    unknown = sorted(set(cfg) - known)
    if unknown:
        raise SpecError(f"unknown canvas spec field(s) {unknown}; known fields: {sorted(known)}")
    return CanvasSpec(**{key: cfg[key] for key in cfg})


def _coerce(name: str, value, kind):
    """``value`` as the field's declared type (YAML and OmegaConf give lists and ints)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is bool:
        if not isinstance(value, bool):
            raise SpecError(f"canvas spec field '{name}': expected true or false, got {value!r}")
        return value
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise SpecError(f"canvas spec field '{name}': expected a number, got {value!r}")
        if kind is int and value != int(value):
            raise SpecError(f"canvas spec field '{name}': expected a whole number, got {value}")
        return kind(value)
    if kind is str:
        if not isinstance(value, str):
            raise SpecError(f"canvas spec field '{name}': expected a string, got {value!r}")
        return value
    if origin is dict:
        if not isinstance(value, Mapping):
            raise SpecError(f"canvas spec field '{name}': expected a mapping, got {value!r}")
        return {_coerce(name, k, args[0]): _coerce(name, v, args[1]) for k, v in value.items()}
    if isinstance(value, str | Mapping) or not isinstance(value, typing.Iterable):
        raise SpecError(f"canvas spec field '{name}': expected a list, got {value!r}")
    items = tuple(value)
    if args[-1] is not Ellipsis and len(items) != len(args):
        raise SpecError(f"canvas spec field '{name}': expected (min, max), got {list(items)}")
    return tuple(_coerce(name, item, args[0]) for item in items)


def _require(condition: bool, field_name: str, message: str) -> None:
    if not condition:
        raise SpecError(f"canvas spec field '{field_name}': {message}")


def _validate(spec: CanvasSpec) -> None:
    _require(spec.height >= 28, "height", f"must be at least 28, got {spec.height}")
    _require(spec.width >= 28, "width", f"must be at least 28, got {spec.width}")
    _require(spec.min_digits >= 0, "min_digits", "must be >= 0")
    _require(1 <= spec.max_digits <= MAX_DIGITS, "max_digits", f"must be in [1, {MAX_DIGITS}]")
    _require(
        spec.min_digits <= spec.max_digits,
        "min_digits",
        f"min_digits ({spec.min_digits}) > max_digits ({spec.max_digits})",
    )
    _require(
        0 < spec.scale[0] <= spec.scale[1],
        "scale",
        f"must be (min, max) with 0 < min <= max, got {spec.scale}",
    )
    _require(0 <= spec.rotation <= 180, "rotation", "must be in [0, 180] degrees")
    _require(0 <= spec.shear <= 1, "shear", "must be in [0, 1]")
    _require(0 <= spec.thickness <= 3, "thickness", "must be in [0, 3] pixels")
    _require(0 <= spec.max_overlap <= 1, "max_overlap", "must be in [0, 1]")
    _require(1 <= spec.mask_threshold <= 255, "mask_threshold", "must be in [1, 255]")
    _require(spec.min_visible_area >= 1, "min_visible_area", "must be >= 1")
    _require(spec.layout in LAYOUTS, "layout", f"must be one of {LAYOUTS}")
    _require(spec.gap[0] <= spec.gap[1], "gap", f"must be (min, max), got {spec.gap}")
    _require(0 <= spec.repeat_prob <= 1, "repeat_prob", "must be in [0, 1]")
    _require(bool(spec.backgrounds), "backgrounds", "needs at least one style")
    for style, weight in spec.backgrounds.items():
        _require(
            style in BACKGROUND_STYLES,
            "backgrounds",
            f"unknown style '{style}', choose from {BACKGROUND_STYLES}",
        )
        _require(weight >= 0, "backgrounds", f"weight of '{style}' is negative")
    _require(sum(spec.backgrounds.values()) > 0, "backgrounds", "weights sum to zero")
    _require(0 <= spec.ruled_lines <= 1, "ruled_lines", "must be a probability in [0, 1]")
    _require(
        0 <= spec.distractors[0] <= spec.distractors[1],
        "distractors",
        f"must be (min, max) counts with 0 <= min <= max, got {spec.distractors}",
    )
    _require(0 <= spec.separators <= 1, "separators", "must be a probability in [0, 1]")
    _require(
        spec.separators == 0 or spec.layout == "line",
        "separators",
        "marks between digits need layout: line",
    )
    for name in ("distractor_kinds", "separator_kinds"):
        kinds = getattr(spec, name)
        _require(bool(kinds), name, "needs at least one kind")
        for kind in kinds:
            _require(
                kind in DISTRACTOR_KINDS,
                name,
                f"unknown kind '{kind}', choose from {DISTRACTOR_KINDS}",
            )
        _require(
            spec.one_writer or "steep_slash" not in kinds,
            name,
            "'steep_slash' needs one_writer: true (otherwise a digit 1 leans as much)",
        )
    _require(spec.polarity in POLARITIES, "polarity", f"must be one of {POLARITIES}")
    _require(spec.placement_tries >= 1, "placement_tries", "must be >= 1")
    _validate_fit(spec)


def _validate_fit(spec: CanvasSpec) -> None:
    """Reject specs whose digits cannot fit on the canvas or would all be removed."""
    side = math.ceil(MNIST_INK_SIDE * spec.scale[1])
    _require(
        side <= min(spec.height, spec.width),
        "scale",
        f"digits up to {side}px do not fit a {spec.height}x{spec.width} canvas",
    )
    smallest = MNIST_INK_SIDE * spec.scale[0]
    most_ink = smallest * smallest / 2
    _require(
        spec.min_visible_area <= most_ink,
        "min_visible_area",
        f"{spec.min_visible_area} pixels is more mask than digits of scale {spec.scale[0]} "
        f"have (about {most_ink:.0f} pixels at most): every digit would be removed",
    )
    if spec.layout == "line":
        # Negative gaps overlap neighbours by at most half a digit (see the line layout).
        step = max(spec.gap[0], -smallest / 2)
        needed = spec.min_digits * smallest + max(spec.min_digits - 1, 0) * step
        _require(
            needed <= spec.width,
            "min_digits",
            f"{spec.min_digits} digits in a line need {needed:.0f}px, width is {spec.width}",
        )
    else:
        free_area = smallest * smallest * (1 - spec.max_overlap)
        _require(
            spec.min_digits <= 1 or spec.min_digits * free_area <= 0.6 * spec.height * spec.width,
            "min_digits",
            f"{spec.min_digits} digits cannot be scattered on a "
            f"{spec.height}x{spec.width} canvas with max_overlap={spec.max_overlap}",
        )
