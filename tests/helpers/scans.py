"""A tiny COCO set of drawn "scans": dark strokes on light paper, a box per digit, a comma."""

import json
from pathlib import Path

import cv2
import numpy as np

# Per image: its file name and its digits as (label, x0, y0, x1, y1); every image also has a
# comma drawn after its second digit, outside every box.
DRAWN = {
    "first.png": [(1, 10, 10, 22, 40), (7, 30, 10, 50, 40), (3, 70, 10, 90, 40)],
    "second.png": [(4, 10, 12, 30, 42), (0, 34, 12, 54, 42)],
}
COMMA = (60, 38, 64, 46)  # x0, y0, x1, y1 of the comma's stroke
PAPER, INK = 225, 40


def draw_scan(digits) -> np.ndarray:
    """A 50x100 grey image: a thick stroke filling the middle of each digit's box, a comma."""
    image = np.full((50, 100), PAPER, np.uint8)
    for _, x0, y0, x1, y1 in digits:
        cv2.rectangle(image, (x0 + 3, y0 + 3), (x1 - 4, y1 - 4), INK, 3)
    cv2.line(image, COMMA[:2], (COMMA[2] - 1, COMMA[3] - 1), INK, 3)
    return image


def write_coco_set(folder: Path) -> Path:
    """Writes ``images/`` and ``annotations.json`` (categories "0".."9") into ``folder``;
    returns the images folder."""
    images = folder / "images"
    images.mkdir(parents=True)
    coco = {
        "images": [],
        "annotations": [],
        "categories": [{"id": d + 1, "name": str(d)} for d in range(10)],
    }
    for image_id, (name, digits) in enumerate(DRAWN.items()):
        cv2.imwrite(str(images / name), draw_scan(digits))
        coco["images"].append({"id": image_id, "file_name": name, "height": 50, "width": 100})
        for label, x0, y0, x1, y1 in digits:
            coco["annotations"].append(
                {
                    "id": len(coco["annotations"]),
                    "image_id": image_id,
                    "category_id": label + 1,
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                }
            )
    (folder / "annotations.json").write_text(json.dumps(coco))
    return images
