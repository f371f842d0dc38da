"""Post-processing thresholds compared on one set of net outputs, as one table.

    python scripts/sweep_postprocess.py --set min_cored_area=6,16 -- data=numbers split=val
    python scripts/sweep_postprocess.py --set min_area=8,16 --set core_reach=0.6,0.75 -- \\
        data=canvas split=val count=2000 classifier=null

The net reads each canvas once (as ``digitseg-eval`` does: its checkpoint, zooms, scale, slant,
rotation, polarity, classifier and marks; everything after ``--`` is a ``digitseg-eval``
override); then every combination of the ``--set`` values (any
:class:`~digitseg.postprocess.PostprocessConfig` field) groups the stored outputs into
digits and is scored. The first row is the defaults.
Post-processing does not change the class map, so only the instance figures are printed.
The outputs stay in memory: about 0.4 MB a canvas of 48x192 (numbers), 1 GB for 2,000;
canvases read sheared (``slant``) are wider by the shear's margins.
"""

import argparse
import itertools
from dataclasses import dataclass, fields, replace

from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from digitseg.inference import NetOutputs, Segmenter
from digitseg.inference.settings import read_settings
from digitseg.metrics.instance import ImageInstances, score_image, summarize
from digitseg.postprocess import PostprocessConfig
from digitseg.reports.inputs import open_source
from digitseg.utils.compose import compose_eval

COLUMNS = ("f1", "precision", "recall", "label_accuracy", "exact_match", "cer")


@dataclass(frozen=True)
class Canvas:
    """What the net said about one canvas, and its truth."""

    outputs: NetOutputs
    truth: ImageInstances
    truth_text: str


def parse_settings(values: list[str]) -> list[dict]:
    """``["name=v1,v2", ...]`` to every combination of PostprocessConfig values (the first
    combination: the defaults)."""
    types = {
        field.name: type(getattr(PostprocessConfig(), field.name))
        for field in fields(PostprocessConfig)
    }
    axes, names = [], set()
    for value in values:
        name, _, options = value.partition("=")
        if name not in types or not options:
            raise ValueError(f"--set {value!r}: give NAME=V1,V2 with NAME one of {sorted(types)}")
        if name in names:
            raise ValueError(f"--set {value!r}: {name} is set twice; give all its values at once")
        names.add(name)
        try:
            axes.append([(name, types[name](option)) for option in options.split(",")])
        except ValueError as error:
            raise ValueError(f"--set {value!r}: {name} takes {types[name].__name__}s") from error
    if not axes:
        return [{}]
    return [{}] + [dict(combination) for combination in itertools.product(*axes)]


def read_canvases(segmenter: Segmenter, cfg) -> list[Canvas]:
    """The net's outputs on every canvas of the configured source."""
    source = open_source(cfg)
    if source.count < 1:
        raise ValueError("nothing to read: count must be >= 1")
    return [
        Canvas(
            segmenter.outputs(item.image),
            item.truth_arrays(),
            item.truth_text(),
        )
        for item in tqdm(source.items, total=source.count, desc="net", unit="canvas")
    ]


def score(canvases: list[Canvas], segmenter: Segmenter, config, cfg) -> dict[str, float]:
    """The instance summary of every canvas read with post-processing ``config`` and the
    evaluation settings ``cfg`` (its IoU threshold; the reading is the segmenter's)."""
    scores = []
    for canvas in canvases:
        result = segmenter.read(canvas.outputs, config)
        found = ImageInstances.from_instances(result.instances, canvas.outputs.page.input_shape)
        scores.append(
            score_image(canvas.truth, found, canvas.truth_text, result.text, cfg.iou_threshold)
        )
    return summarize(scores)


def sweep(cfg, settings: list[dict]) -> list[tuple[str, dict[str, float]]]:
    """(label, instance summary) of each post-processing setting on the canvases ``cfg``
    (a ``digitseg-eval`` config) names, the net run once."""
    segmenter = Segmenter.from_checkpoint(
        cfg.checkpoint,
        device=cfg.device,
        settings=read_settings(cfg.reading),
        classifier=cfg.classifier,
    )
    canvases = read_canvases(segmenter, cfg)
    rows = []
    for changes in settings:
        config = replace(segmenter.settings.postprocess, **changes)
        label = " ".join(f"{k}={v}" for k, v in changes.items()) or "defaults"
        rows.append((label, score(canvases, segmenter, config, cfg)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--set", action="append", default=[], metavar="NAME=V1,V2")
    parser.add_argument("overrides", nargs="*", help="digitseg-eval overrides")
    args = parser.parse_args()
    try:
        settings = parse_settings(args.set)
    except ValueError as error:
        parser.error(str(error))
    try:
        rows = sweep(compose_eval(args.overrides), settings)
    except ValueError as error:
        parser.error(str(error))
    count = rows[0][1]["images"]
    table = Table(title=f"{count} canvases: {' '.join(args.overrides) or 'eval.yaml'}")
    for column in ("settings", *COLUMNS):
        table.add_column(column, justify="right")
    for label, summary in rows:
        table.add_row(label, *(f"{summary[c]:.4f}" for c in COLUMNS))
    Console().print(table)


if __name__ == "__main__":
    main()
