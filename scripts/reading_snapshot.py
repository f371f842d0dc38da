"""Write what the shipped pair reads on the presets' test splits, or compare with an earlier
snapshot: the check that a redesign of the reading changes no text and no box.

    python scripts/reading_snapshot.py write before.json [--count 300]
    python scripts/reading_snapshot.py compare before.json after.json

``write`` reads the first ``--count`` test canvases of the ``m2nist``, ``numbers`` and
``canvas`` presets and the ORAND validation part (``data/orand_car_a``: the scans of
``paths.scans_dir``) with ``--reading`` (default ``document``, ``digitseg-segment``'s) and
the shipped segmenter and classifier (``models/``), and stores each image's text and boxes.
``compare`` prints, per set, how many images read the same text, and how many of those
have every box within ``--tolerance`` px (default 1), and lists the first differences.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from digitseg.data.coco_scans import open_coco_scans
from digitseg.data.sources import build_generator
from digitseg.inference import Segmenter
from digitseg.inference.settings import reading_preset
from digitseg.utils.compose import REPO_ROOT, compose_eval

CHECKPOINT = REPO_ROOT / "models" / "digit_segmenter.ckpt"
CLASSIFIER = REPO_ROOT / "models" / "digit_classifier.ckpt"
PRESETS = ("m2nist", "numbers", "canvas")


def test_images(count: int):
    """(set, name, image) of the presets' test splits and of the ORAND validation part."""
    for preset in PRESETS:
        cfg = compose_eval([f"data={preset}"])
        generator = build_generator(cfg.data, cfg.paths)
        for index in range(count):
            yield preset, str(index), generator("test", index).image
    scans_dir = Path(compose_eval([]).paths.scans_dir)
    if (scans_dir / "images").is_dir():
        scans = open_coco_scans(scans_dir / "images", None, "val")
        for index in range(min(count, len(scans))):
            scan = scans.scan(index)
            yield "orand_val", scan.file_name, scan.image


def write(path: Path, count: int, reading: str, batch_size: int) -> None:
    """Read the sets and store each image's text and boxes in ``path``."""
    segmenter = Segmenter.from_checkpoint(
        CHECKPOINT, classifier=CLASSIFIER, settings=reading_preset(reading)
    )
    items = list(test_images(count))
    snapshot: dict[str, dict] = {}
    for start in tqdm(range(0, len(items), batch_size), unit="batch"):
        group = items[start : start + batch_size]
        results = segmenter.run_batch([image for _, _, image in group])
        for (name, key, _), result in zip(group, results, strict=True):
            boxes = [list(map(int, digit.bbox)) for digit in result.instances]
            snapshot.setdefault(name, {})[key] = {"text": result.text, "boxes": boxes}
    path.write_text(json.dumps({"reading": reading, "sets": snapshot}))
    print(f"wrote {sum(map(len, snapshot.values()))} readings to {path}")


def compare(before: Path, after: Path, tolerance: int, shown: int) -> int:
    """Print how many readings of ``after`` equal ``before``'s; 1 when any text differs."""
    old, new = (json.loads(p.read_text())["sets"] for p in (before, after))
    changed_text = 0
    for name in old:
        keys = [key for key in old[name] if key in new.get(name, {})]
        texts = [key for key in keys if old[name][key]["text"] != new[name][key]["text"]]
        boxes = [
            key
            for key in keys
            if key not in texts and not _boxes_close(old[name][key], new[name][key], tolerance)
        ]
        changed_text += len(texts)
        print(
            f"{name}: {len(keys)} images, {len(keys) - len(texts)} same text, "
            f"{len(keys) - len(texts) - len(boxes)} same text and boxes within {tolerance} px"
        )
        for key in (texts + boxes)[:shown]:
            print(f"  {key}: {old[name][key]} -> {new[name][key]}")
    return 1 if changed_text else 0


def _boxes_close(old: dict, new: dict, tolerance: int) -> bool:
    if len(old["boxes"]) != len(new["boxes"]):
        return False
    if not old["boxes"]:
        return True
    return bool(np.abs(np.subtract(old["boxes"], new["boxes"])).max() <= tolerance)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    writing = commands.add_parser("write", help="read the sets and store the readings")
    writing.add_argument("output", type=Path)
    writing.add_argument("--count", type=int, default=300, help="images per set")
    writing.add_argument("--reading", default="document", help="reading preset")
    writing.add_argument("--batch-size", type=int, default=16)
    comparing = commands.add_parser("compare", help="compare two snapshots")
    comparing.add_argument("before", type=Path)
    comparing.add_argument("after", type=Path)
    comparing.add_argument("--tolerance", type=int, default=1, help="px a box may move")
    comparing.add_argument("--show", type=int, default=10, help="differences listed per set")
    args = parser.parse_args(argv)
    if args.command == "write":
        write(args.output, args.count, args.reading, args.batch_size)
        return 0
    return compare(args.before, args.after, args.tolerance, args.show)


if __name__ == "__main__":
    sys.exit(main())
