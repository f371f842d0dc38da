"""One markdown table of the headline numbers of several ``digitseg-eval`` report folders.

python scripts/headline_table.py outputs/eval/release_m2nist outputs/eval/release_numbers
"""

import json
import sys
from pathlib import Path

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


def row(folder: Path) -> list[str]:
    report = json.loads((folder / "metrics.json").read_text())
    pixel, instance = report["pixel"], report["instance"]
    touching = report["breakdowns"]["contact"].get("touching", {})
    source = report["source"]
    values = [
        pixel["miou_digits"],
        pixel["miou"],
        instance["f1"],
        instance["label_accuracy"],
        touching.get("recall"),
        instance["exact_match"],
        instance["cer"],
    ]
    cells = ["n/a" if v is None else f"{v:.4f}" for v in values]
    return [str(source.get("preset", folder.name)), str(instance["images"]), *cells]


def main(folders: list[str]) -> None:
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for folder in folders:
        print("| " + " | ".join(row(Path(folder))) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
