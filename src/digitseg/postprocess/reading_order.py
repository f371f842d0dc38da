"""Reading order: instances grouped into text lines, lines top to bottom, each left to right."""

from collections.abc import Sequence

from digitseg.postprocess.instance import Instance

# An instance joins a line when it overlaps one of the line's last LOOKBACK instances
# vertically by more than MIN_LINE_OVERLAP of the smaller height.
MIN_LINE_OVERLAP = 0.5
LOOKBACK = 3


def _vertical_overlap(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Vertical overlap of two boxes (x0, y0, x1, y1) over the smaller one's height."""
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    return overlap / max(1, min(a[3] - a[1], b[3] - b[1]))


def reading_order(
    instances: Sequence[Instance], min_overlap: float = MIN_LINE_OVERLAP
) -> list[list[Instance]]:
    """Instances grouped into lines, top to bottom, each line left to right.

    Going left to right, an instance joins the line it overlaps most vertically, by more
    than ``min_overlap`` of the smaller height, else starts a new line. Only a line's last
    ``LOOKBACK`` instances count: enough to step over a low or short one, few enough to
    follow a slanted line without reaching into the next one. Lines are ordered by the median
    vertical centre of their instances.
    """
    lines: list[list[Instance]] = []
    for instance in sorted(instances, key=lambda i: (i.bbox[0], i.bbox[2], i.bbox[1])):
        overlaps = [
            max(_vertical_overlap(instance.bbox, other.bbox) for other in line[-LOOKBACK:])
            for line in lines
        ]
        best = max(range(len(lines)), key=overlaps.__getitem__, default=None)
        if best is not None and overlaps[best] > min_overlap:
            lines[best].append(instance)
        else:
            lines.append([instance])
    return sorted(lines, key=_median_centre)


def _median_centre(line: list[Instance]) -> float:
    centres = sorted(i.bbox[1] + i.bbox[3] for i in line)
    return (centres[(len(centres) - 1) // 2] + centres[len(centres) // 2]) / 4


def order_instances(instances: Sequence[Instance]) -> list[Instance]:
    """Instances in reading order: the lines of :func:`reading_order`, one after the other."""
    return [instance for line in reading_order(instances) for instance in line]


def read_text(instances: Sequence[Instance]) -> str:
    """The digits of each line in reading order, lines joined by newlines."""
    return "\n".join("".join(str(i.label) for i in line) for line in reading_order(instances))
