"""One markdown table of the headline numbers of several ``digitseg-eval`` report folders.

python scripts/headline_table.py outputs/eval/release_m2nist outputs/eval/release_numbers

Every row names the models (segmenter + classifier), the reading preset and the images
read. Reports of labelled scans (``source=coco``) have no pixel truth: their pixel and
contact columns are empty, and the expected calibration error fills its column.
"""

import argparse
import json
from pathlib import Path

from digitseg.reports.markdown import table

COLUMNS = (
    "model",
    "images",
    "reading",
    "canvases",
    "miou_digits",
    "miou (11)",
    "instance F1",
    "label acc.",
    "touching recall",
    "exact match",
    "CER",
    "ECE",
)


def row(folder: Path) -> list:
    """The headline numbers of the report in ``folder`` (its ``metrics.json``)."""
    path = folder / "metrics.json"
    if not path.is_file():
        raise SystemExit(f"{folder} holds no metrics.json: name digitseg-eval's report folders")
    report = json.loads(path.read_text())
    source = report["source"]
    model = Path(report["model"]["checkpoint"]).name
    if source.get("classifier"):
        model += f" + {Path(source['classifier']).name}"
    if source.get("kind") == "coco":
        instance = report["instances"]
        images = f"{Path(source['annotations']).parent.name} {source['part']}"
        pixel, touching, ece = {}, {}, report["calibration"]["ece"]
    else:
        instance, pixel = report["instance"], report["pixel"]
        images = f"{source.get('preset', folder.name)} {source.get('split', '')}".strip()
        touching = report["breakdowns"]["contact"].get("touching", {})
        ece = None
    return [
        model,
        images,
        source.get("reading", "–"),
        instance["images"],
        pixel.get("miou_digits"),
        pixel.get("miou"),
        instance["f1"],
        instance["label_accuracy"],
        touching.get("recall"),
        instance["exact_match"],
        instance["cer"],
        ece,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="digitseg-eval report folders")
    args = parser.parse_args()
    print(table(COLUMNS, [row(folder) for folder in args.folders]))


if __name__ == "__main__":
    main()
