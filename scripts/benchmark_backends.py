"""Speed and agreement of the shipped net's CPU backends (``digitseg.inference.backends``).

    python scripts/benchmark_backends.py                       # every backend, 200 canvases
    python scripts/benchmark_backends.py --count 20 --timing-count 16 --output backends.json
    python scripts/benchmark_backends.py --backends torch onnxruntime

For each backend of ``CPU_BACKENDS`` this CPU runs (``channels_last_bf16`` only where it runs
bf16 natively):

- ``build s``: seconds to build it from the loaded net (ONNX export, quantisation);
- images/s of the net alone (``models/digit_segmenter.ckpt``) on ``--timing-count`` test
  canvases of three sizes, padded to the net's multiple: 64x84 ``m2nist``, 48x192
  ``numbers``, and the m2nist canvases enlarged 1.3 times (83x109, the default reading's
  second zoom); in batches of ``--batch-size`` and one at a time, the best of ``--repeats``
  rounds (the backends take turns within a round, so a busy machine slows them alike);
- agreement: the first ``--count`` test canvases of the ``m2nist``, ``numbers`` and
  ``canvas`` presets read by a Segmenter (``--reading``, default ``document``, with the
  shipped classifier) with this backend and with ``eager``: how many give exactly the same
  text and boxes, the largest difference of a class probability of the net's outputs, and
  the reading's images/s (the backends take turns image by image).

``onnxruntime_int8_static`` is calibrated on the net's inputs while eager reads the first
``--calibration-count`` val canvases of each preset. The CPU's model name comes first.
The helpers shared with ``benchmark_segment.py`` are imported from it (this script's folder
is on ``sys.path`` when it runs).
"""

import argparse
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from benchmark_segment import (
    CHECKPOINT,
    CLASSIFIER,
    net_input,
    positive_int,
    preset_generator,
    rates,
    size_images,
    start_benchmark,
    write_figures,
)

from digitseg.classes import NUM_CLASSES
from digitseg.inference import Segmenter
from digitseg.inference.backends import CPU_BACKENDS, cpu_backend, in_channels, native_bf16
from digitseg.inference.settings import reading_preset
from digitseg.models.checkpoint import load_model

PRESETS = ("m2nist", "numbers", "canvas")
ZOOM = 1.3  # the default reading's second zoom
SHOWN_DIFFERENCES = 3  # per backend and preset


@dataclass(frozen=True)
class Speed:
    """Images/s of one backend's net alone on one size, batched and one at a time."""

    backend: str
    size: str
    shape: tuple[int, int]
    batched: float
    one_at_a_time: float


@dataclass(frozen=True)
class Agreement:
    """How many of ``count`` canvases of ``preset`` a backend reads as eager does, the
    largest class-probability difference, the first differing readings, and the images/s
    of the reading with this backend."""

    backend: str
    preset: str
    count: int
    identical: int
    max_prob_difference: float
    differences: list[str]
    reading_rate: float


@dataclass
class Tally:
    """An :class:`Agreement` being counted."""

    identical: int = 0
    max_prob_difference: float = 0.0
    seconds: float = 0.0
    differences: list[str] = field(default_factory=list)

    def add(self, index: int, expected: tuple, got: tuple) -> None:
        """Count image ``index``, read as ``got`` where eager read ``expected``."""
        if got == expected:
            self.identical += 1
        elif len(self.differences) < SHOWN_DIFFERENCES:
            self.differences.append(f"#{index} {difference(expected, got)}")

    def row(self, backend: str, preset: str, count: int) -> Agreement:
        return Agreement(
            backend,
            preset,
            count,
            self.identical,
            self.max_prob_difference,
            self.differences,
            count / self.seconds,
        )


class Recording:
    """A backend that keeps the (input, output) of each of its calls in ``calls``."""

    def __init__(self, backend) -> None:
        self.backend, self.multiple = backend, backend.multiple
        self.calls: list[tuple[np.ndarray, np.ndarray]] = []

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        out = self.backend(batch)
        self.calls.append((batch, out))
        return out


def available_backends(names: list[str]) -> list[str]:
    """``names`` without ``channels_last_bf16`` where this CPU lacks native bf16 (said)."""
    if "channels_last_bf16" in names and not native_bf16():
        print("channels_last_bf16 left out: this CPU has neither AMX-BF16 nor AVX512-BF16")
        return [name for name in names if name != "channels_last_bf16"]
    return names


def calibration_batches(segmenter: Segmenter, count: int) -> list[np.ndarray]:
    """The net's inputs while ``segmenter`` reads the first ``count`` val canvases of each
    preset."""
    recording = Recording(segmenter.backend)
    segmenter.backend = recording
    try:
        for preset in PRESETS:
            generator = preset_generator(preset)
            for index in range(count):
                segmenter.run(generator("val", index).image)
    finally:
        segmenter.backend = recording.backend
    return [batch for batch, _ in recording.calls]


def timing_inputs(count: int, channels: int, multiple: int) -> dict[str, tuple]:
    """By size name: the images' (H, W) and their (N, C, H', W') inputs, padded."""
    m2nist = size_images("m2nist", count)
    enlarged = [cv2.resize(i, None, fx=ZOOM, fy=ZOOM) for i in m2nist]  # linear, as read
    images = {"m2nist": m2nist, "numbers": size_images("numbers", count), "m2nist x1.3": enlarged}
    return {
        size: (group[0].shape[:2], np.stack([net_input(i, channels, multiple) for i in group]))
        for size, group in images.items()
    }


def speeds(backends: dict, inputs: dict[str, tuple], batch_size: int, repeats: int) -> list[Speed]:
    """The best of ``repeats`` rounds of :func:`rates` per backend and size (``inputs`` as
    :func:`timing_inputs` gives them)."""
    best: dict[tuple[str, str], tuple[float, float]] = {}
    for size, (_, x) in inputs.items():
        for backend in backends.values():
            backend(x[:batch_size])  # warm-up: first-call allocations and kernel choices
        for _ in range(repeats):
            for name, backend in backends.items():
                batched, single = rates(backend, x, batch_size)
                old = best.get((name, size), (0.0, 0.0))
                best[name, size] = (max(old[0], batched), max(old[1], single))
    return [Speed(name, size, inputs[size][0], *best[name, size]) for name, size in best]


def reading(result) -> tuple[str, list[tuple[int, ...]]]:
    """What must stay the same: the text and every digit's box."""
    return result.text, [tuple(int(v) for v in digit.bbox) for digit in result.instances]


def difference(expected: tuple, got: tuple) -> str:
    """How reading ``got`` differs from ``expected`` (both as :func:`reading` gives them)."""
    if expected[0] != got[0] or len(expected[1]) != len(got[1]):
        return f"text {expected[0]!r} -> {got[0]!r}"
    pairs = enumerate(zip(expected[1], got[1], strict=True))
    return "; ".join(f"box {k} {ours} -> {theirs}" for k, (ours, theirs) in pairs if ours != theirs)


def class_probabilities(outputs: np.ndarray) -> np.ndarray:
    logits = outputs[:, :NUM_CLASSES]
    shifted = np.exp(logits - logits.max(1, keepdims=True))
    return shifted / shifted.sum(1, keepdims=True)


def agreements(segmenter: Segmenter, backends: dict, count: int) -> list[Agreement]:
    """Each backend's reading of ``count`` test canvases of each preset against eager's
    (eager's own row included), the backends taking turns image by image."""
    recordings = {name: Recording(backend) for name, backend in backends.items()}
    rows = []
    for preset in PRESETS:
        generator = preset_generator(preset)
        tally = {name: Tally() for name in recordings}
        for index in range(count):
            image = generator("test", index).image
            readings = {}
            for name, recording in recordings.items():
                recording.calls.clear()
                segmenter.backend = recording
                start = time.perf_counter()
                readings[name] = reading(segmenter.run(image))
                tally[name].seconds += time.perf_counter() - start
            for name, recording in recordings.items():
                tally[name].add(index, readings["torch"], readings[name])
                calls = zip(recordings["torch"].calls, recording.calls, strict=True)
                for (_, ours), (_, theirs) in calls:
                    change = np.abs(class_probabilities(ours) - class_probabilities(theirs))
                    tally[name].max_prob_difference = max(
                        tally[name].max_prob_difference, float(change.max())
                    )
        rows += [tally[name].row(name, preset, count) for name in recordings]
    return rows


def speed_table(rows: list[Speed], builds: dict[str, float]) -> list[str]:
    """Backends down, sizes across (batched / one at a time), build seconds last."""
    sizes = list(dict.fromkeys((row.size, row.shape) for row in rows))
    header = f"{'backend':<26}" + "".join(
        f"{f'{size} {shape[0]}x{shape[1]}':>24}" for size, shape in sizes
    )
    lines = [header + f"{'build s':>9}", " " * 26 + f"{'batched / one':>24}" * len(sizes)]
    for name in dict.fromkeys(row.backend for row in rows):
        cells = {row.size: row for row in rows if row.backend == name}
        line = f"{name:<26}" + "".join(
            f"{f'{cells[s].batched:.1f} / {cells[s].one_at_a_time:.1f}':>24}" for s, _ in sizes
        )
        lines.append(line + f"{builds[name]:>9.1f}")
    return lines


def agreement_table(rows: list[Agreement]) -> list[str]:
    """Backends down, presets across: identical readings, the largest probability
    difference and the reading's images/s; then the first differing readings."""
    lines = [f"{'backend':<26}" + "".join(f"{p:>28}" for p in PRESETS)]
    lines.append(" " * 26 + f"{'same  max |dp|  images/s':>28}" * len(PRESETS))
    for name in dict.fromkeys(row.backend for row in rows):
        cells = {row.preset: row for row in rows if row.backend == name}
        line = "".join(
            f"{f'{c.identical}/{c.count}  {c.max_prob_difference:7.1e}  {c.reading_rate:8.1f}':>28}"
            for c in (cells[p] for p in PRESETS)
        )
        lines.append(f"{name:<26}{line}")
    for row in rows:
        lines += [f"  {row.backend} {row.preset} {d}" for d in row.differences]
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backends", nargs="+", choices=CPU_BACKENDS, default=list(CPU_BACKENDS))
    parser.add_argument("--count", type=positive_int, default=200, help="canvases per preset")
    parser.add_argument(
        "--timing-count", type=positive_int, default=64, help="timed canvases per size"
    )
    parser.add_argument("--batch-size", type=positive_int, default=32)
    parser.add_argument("--repeats", type=positive_int, default=3, help="timed rounds, best kept")
    parser.add_argument(
        "--calibration-count", type=positive_int, default=8, help="val canvases per preset"
    )
    parser.add_argument("--reading", default="document", help="a conf/reading preset")
    parser.add_argument("--threads", type=positive_int, default=2, help="torch and ORT threads")
    parser.add_argument("--output", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    cpu = start_benchmark(args.threads)
    print(f"{args.threads} threads; reading {args.reading!r} of {args.count} canvases a preset")
    names = available_backends(["torch", *(n for n in args.backends if n != "torch")])
    segmenter = Segmenter.from_checkpoint(
        CHECKPOINT, device="cpu", classifier=CLASSIFIER, settings=reading_preset(args.reading)
    )
    net, _ = load_model(CHECKPOINT)
    calibration = calibration_batches(segmenter, args.calibration_count)
    backends, builds = {}, {}
    for name in names:
        start = time.perf_counter()
        backends[name] = cpu_backend(net, name, calibration)
        builds[name] = time.perf_counter() - start
    inputs = timing_inputs(args.timing_count, in_channels(net), net.multiple)
    speed_rows = speeds(backends, inputs, args.batch_size, args.repeats)
    print("\n".join(speed_table(speed_rows, builds)))
    agreement_rows = agreements(segmenter, backends, args.count)
    print(
        f"reading with each backend: the same text and boxes as eager (of {args.count}), the "
        "largest class-probability difference, images/s"
    )
    print("\n".join(agreement_table(agreement_rows)))
    if args.output is not None:
        figures = {"cpu": cpu, "threads": args.threads, "reading": args.reading}
        figures["builds"] = builds
        figures["speed"] = [asdict(row) for row in speed_rows]
        figures["agreement"] = [asdict(row) for row in agreement_rows]
        write_figures(args.output, figures)


if __name__ == "__main__":
    main()
