"""Images per second of reading: the net alone and the Segmenter, on three image sizes.

    python scripts/benchmark_segment.py                      # every size, all cores
    python scripts/benchmark_segment.py --threads 2 --count 32 --scan-count 8 --output speed.json
    python scripts/benchmark_segment.py --sizes m2nist --count 2

Sizes (height x width): ``m2nist``, 64x84 canvases of the m2nist preset; ``numbers``, 48x192
canvases of the numbers preset; ``scan``, 400x1000 pages made of numbers canvases enlarged to
digits about 40 px tall, pasted onto paper-grey (test splits; MNIST from
``$DIGITSEG_MNIST_DIR``, or wherever ``digitseg-eval`` reads it). For each size:

- ``net alone``: forward passes of the shipped net (``models/digit_segmenter.ckpt``) on the
  images at their own size, padded to the net's multiple, in batches of ``--batch-size`` and
  one at a time;
- ``Segmenter defaults``: ``Segmenter.from_checkpoint(..., classifier=
  "models/digit_classifier.ckpt").run(image)``, the ``document`` reading (two zooms, scale,
  slant and rotation estimated, the digit classifier);
- ``Segmenter cheapest``: ``zooms=(1.0,), scale=1.0, slant=0.0, rotation=0.0``, no
  classifier.

The Segmenter's batched figure reads groups of ``--batch-size`` images with
``Segmenter.run_batch``; one at a time, ``Segmenter.run``. In brackets after each of its
rates: the share of that time spent outside the forward passes of both nets (the
segmenter's backend and the digit classifier: image preparation and post-processing), then
outside the segmenter's net's alone (the classifier's passes counted as outside). Each figure is the
wall-clock rate on the CPU over ``--count`` images (``--scan-count`` scans) after one image
of warm-up. The CPU's model name and whether it has AVX512-BF16 and AMX come first.
"""

import argparse
import json
import os
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from digitseg.data.sources import build_generator
from digitseg.data.transforms import match_channels, to_tensor
from digitseg.inference import Segmenter
from digitseg.inference.settings import ReadSettings
from digitseg.utils.compose import REPO_ROOT, compose_eval

CHECKPOINT = REPO_ROOT / "models" / "digit_segmenter.ckpt"
CLASSIFIER = REPO_ROOT / "models" / "digit_classifier.ckpt"
CHEAPEST = ReadSettings(zooms=(1.0,), scale=1.0, slant=0.0, rotation=0.0)
SIZES = ("m2nist", "numbers", "scan")
SCAN_SHAPE = (400, 1000)
SCAN_DIGIT_HEIGHT = 40
PAPER_GREY = 225
# Numbers canvases on a scan: this many lines of this many numbers, this far apart (px).
SCAN_LINES, SCAN_COLUMNS, SCAN_GAP = 3, 2, 24
CPU_FLAGS = ("avx512_bf16", "amx_bf16", "amx_tile")


@dataclass(frozen=True)
class Row:
    """One line of the table: images/s batched and one at a time, each with the shares of
    its time spent outside both nets' forward passes and outside the segmenter's net's
    (None: the net alone)."""

    size: str
    shape: tuple[int, int]
    what: str
    batched: float
    one_at_a_time: float
    outside_batched: tuple[float, float] | None
    outside_one_at_a_time: tuple[float, float] | None


class TimedBackend:
    """A segmenter's backend whose calls add their wall-clock time to ``seconds``."""

    def __init__(self, backend) -> None:
        self.backend, self.seconds = backend, 0.0

    def __getattr__(self, name: str):
        return getattr(self.backend, name)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        try:
            return self.backend(batch)
        finally:
            self.seconds += time.perf_counter() - start


def cpu_description() -> str:
    """The CPU's model name (``lscpu``) and which of ``CPU_FLAGS`` it has."""
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        lines = ""
    fields = dict(line.split(":", 1) for line in lines.splitlines() if ":" in line)
    name = fields.get("Model name", "unknown (no lscpu)").strip()
    flags = set(fields.get("Flags", "").split())
    has = ", ".join(f"{flag} {'yes' if flag in flags else 'no'}" for flag in CPU_FLAGS)
    return f"{name} ({has})"


def start_benchmark(threads: int) -> str:
    """Run torch and OpenCV on ``threads`` threads; print and return the CPU's description."""
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    cpu = cpu_description()
    print(f"CPU: {cpu}")
    return cpu


def write_figures(path: Path, figures: dict) -> None:
    """``figures`` as indented JSON at ``path``, its folder made if need be."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2) + "\n")


def preset_generator(preset: str):
    """The test-split canvas generator of a ``conf/data`` preset, as ``digitseg-eval``'s."""
    cfg = compose_eval([f"data={preset}"])
    return build_generator(cfg.data, cfg.paths)


def paper_scan(numbers, index: int) -> np.ndarray:
    """A (400, 1000) grey page: numbers canvases ``index * 6 ...`` of the test split, enlarged
    to digits about ``SCAN_DIGIT_HEIGHT`` px tall (less where a canvas would not fit its
    place), their ink pasted onto paper-grey."""
    page = np.full(SCAN_SHAPE, PAPER_GREY, np.uint8)
    cell_height = (SCAN_SHAPE[0] - SCAN_GAP) // SCAN_LINES
    cell_width = (SCAN_SHAPE[1] - SCAN_GAP) // SCAN_COLUMNS
    first = index * SCAN_LINES * SCAN_COLUMNS
    for k in range(SCAN_LINES * SCAN_COLUMNS):
        canvas = numbers("test", first + k)
        gray = match_channels(canvas.image, 1)
        digit_height = max(float(np.median(canvas.boxes[:, 3] - canvas.boxes[:, 1])), 1.0)
        factor = min(
            SCAN_DIGIT_HEIGHT / digit_height,
            (cell_height - SCAN_GAP) / gray.shape[0],
            (cell_width - SCAN_GAP) / gray.shape[1],
        )
        size = (round(gray.shape[1] * factor), round(gray.shape[0] * factor))
        number = cv2.resize(gray, size, interpolation=cv2.INTER_LINEAR)
        line, column = divmod(k, SCAN_COLUMNS)
        top, left = SCAN_GAP + line * cell_height, SCAN_GAP + column * cell_width
        region = page[top : top + size[1], left : left + size[0]]
        np.minimum(region, number, out=region)  # dark ink shows, lighter paper does not
    return page


def size_images(size: str, count: int) -> list[np.ndarray]:
    """``count`` images of ``size`` (one of ``SIZES``)."""
    if size == "scan":
        numbers = preset_generator("numbers")
        return [paper_scan(numbers, index) for index in range(count)]
    generator = preset_generator(size)
    return [generator("test", index).image for index in range(count)]


def net_input(image: np.ndarray, channels: int, multiple: int) -> np.ndarray:
    """(C, H', W') float32 input of ``image``, sides padded up to ``multiple``."""
    x = to_tensor(match_channels(image, channels)).numpy()
    _, h, w = x.shape
    return np.pad(x, ((0, 0), (0, -h % multiple), (0, -w % multiple)), mode="edge")


def net_rates(segmenter: Segmenter, images: list[np.ndarray], batch_size: int):
    """Images/s of the segmenter's net alone on ``images[1:]`` in batches of ``batch_size``
    and one at a time (``images[0]`` warms up)."""
    backend = segmenter.backend
    inputs = np.stack([net_input(i, segmenter.in_channels, backend.multiple) for i in images])
    backend(inputs[:1])
    return rates(backend, inputs[1:], batch_size)


def rates(backend, inputs: np.ndarray, batch_size: int) -> tuple[float, float]:
    """Images/s of ``backend`` on ``inputs`` in batches of ``batch_size``, and one at a time."""
    start = time.perf_counter()
    for first in range(0, len(inputs), batch_size):
        backend(inputs[first : first + batch_size])
    batched = len(inputs) / (time.perf_counter() - start)
    start = time.perf_counter()
    for x in inputs:
        backend(x[None])
    return batched, len(inputs) / (time.perf_counter() - start)


class ClassifierTimer:
    """Adds the wall-clock time of a torch module's forward passes to ``seconds``."""

    def __init__(self, module: torch.nn.Module | None) -> None:
        self.seconds, self.started = 0.0, 0.0
        self.hooks = []
        if module is not None:
            self.hooks = [
                module.register_forward_pre_hook(self.start),
                module.register_forward_hook(self.stop),
            ]

    def start(self, *_) -> None:
        self.started = time.perf_counter()

    def stop(self, *_) -> None:
        self.seconds += time.perf_counter() - self.started

    def remove(self) -> None:
        for hook in self.hooks:
            hook.remove()


def segmenter_rates(segmenter: Segmenter, images: list[np.ndarray], batch_size: int):
    """Images/s of ``segmenter.run_batch`` over ``images[1:]`` in groups of ``batch_size``,
    and of ``segmenter.run`` one image at a time (``images[0]`` warms up), each with the
    shares of its time spent outside the forward passes of both nets (the segmenter's and
    the classifier's) and outside the segmenter's net's alone."""
    timed_backend = TimedBackend(segmenter.backend)
    segmenter.backend = timed_backend
    classifier = ClassifierTimer(segmenter.classifier)
    timed = images[1:]
    try:
        segmenter.run(images[0])
        figures = []
        for group in (batch_size, 1):
            timed_backend.seconds = classifier.seconds = 0.0
            start = time.perf_counter()
            for first in range(0, len(timed), group):
                segmenter.run_batch(timed[first : first + group])
            total = time.perf_counter() - start
            nets = timed_backend.seconds + classifier.seconds
            outside = (1 - nets / total, 1 - timed_backend.seconds / total)
            figures.append((len(timed) / total, outside))
    finally:
        segmenter.backend = timed_backend.backend
        classifier.remove()
    return figures


def benchmark(sizes: list[str], counts: dict[str, int], batch_size: int) -> list[Row]:
    """The table's rows for each of ``sizes``, ``counts[size]`` timed images each."""
    defaults = Segmenter.from_checkpoint(CHECKPOINT, device="cpu", classifier=CLASSIFIER)
    cheapest = Segmenter.from_checkpoint(CHECKPOINT, device="cpu", settings=CHEAPEST)
    rows = []
    for size in sizes:
        images = size_images(size, counts[size] + 1)
        shape = images[0].shape[:2]
        batched, single = net_rates(defaults, images, batch_size)
        rows.append(Row(size, shape, "net alone", batched, single, None, None))
        for what, segmenter in (("Segmenter defaults", defaults), ("Segmenter cheapest", cheapest)):
            (batched, outside), (single, outside_single) = segmenter_rates(
                segmenter, images, batch_size
            )
            rows.append(Row(size, shape, what, batched, single, outside, outside_single))
    return rows


def table(rows: list[Row]) -> list[str]:
    """The rows as aligned text lines, a header first; the shares outside the nets follow
    each rate in brackets: outside both nets' forward passes | outside the segmenter's."""
    lines = [f"{'size (HxW)':<16} {'what':<20} {'batched':>22} {'one at a time':>22}"]
    for row in rows:
        size = f"{row.size} {row.shape[0]}x{row.shape[1]}"
        rates = [
            f"{rate:.1f}" + ("" if outside is None else f" ({outside[0]:.0%} | {outside[1]:.0%})")
            for rate, outside in (
                (row.batched, row.outside_batched),
                (row.one_at_a_time, row.outside_one_at_a_time),
            )
        ]
        lines.append(f"{size:<16} {row.what:<20} {rates[0]:>22} {rates[1]:>22}")
    return lines


def usable_cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return number


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=positive_int, default=16, help="timed images per figure")
    parser.add_argument(
        "--scan-count", type=positive_int, default=4, help="timed scans per figure (400x1000)"
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=usable_cores(),
        help="torch and OpenCV threads (default: every core this process may use)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=64,
        help="images per batch (the net alone's and run_batch's)",
    )
    parser.add_argument("--sizes", nargs="+", choices=SIZES, default=list(SIZES))
    parser.add_argument("--output", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    cpu = start_benchmark(args.threads)
    counts = {size: args.scan_count if size == "scan" else args.count for size in args.sizes}
    print(f"{args.threads} threads; images/s over {args.count} images, {args.scan_count} scans")
    rows = benchmark(args.sizes, counts, args.batch_size)
    print("\n".join(table(rows)))
    if args.output is not None:
        figures = {"cpu": cpu, "threads": args.threads, "counts": counts}
        figures["rows"] = [asdict(row) for row in rows]
        write_figures(args.output, figures)


if __name__ == "__main__":
    main()
