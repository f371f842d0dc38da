"""One markdown table of the headline numbers of several ``digitseg-eval`` report folders.

python scripts/headline_table.py outputs/eval/release_m2nist outputs/eval/release_numbers
"""

import argparse
import json
from pathlib import Path

from digitseg.reports.markdown import table

COLUMNS = (
    "preset",
    "canvases",
    "miou_digits",
    "miou (11)",
    "instance F1",
    "label acc.",
    "touching recall",
    "exact match",
    "CER",
)


def row(folder: Path) -> list:
    """The headline numbers of the report in ``folder`` (its ``metrics.json``)."""
    path = folder / "metrics.json"
    if not path.is_file():
        raise SystemExit(f"{folder} holds no metrics.json: name digitseg-eval's report folders")
    report = json.loads(path.read_text())
    pixel, instance = report["pixel"], report["instance"]
    touching = report["breakdowns"]["contact"].get("touching", {})
    return [
        report["source"].get("preset", folder.name),
        instance["images"],
        pixel["miou_digits"],
        pixel["miou"],
        instance["f1"],
        instance["label_accuracy"],
        touching.get("recall"),
        instance["exact_match"],
        instance["cer"],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="digitseg-eval report folders")
    args = parser.parse_args()
    print(table(COLUMNS, [row(folder) for folder in args.folders]))


if __name__ == "__main__":
    main()
