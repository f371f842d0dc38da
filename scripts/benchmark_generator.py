"""Canvases per second of the generator, in one process, for each ``conf/data`` preset.

    python scripts/benchmark_generator.py [--presets m2nist canvas numbers] [--seconds 10]

MNIST comes from where a run reads it (``$DIGITSEG_MNIST_DIR``, ``conf/local``, the cache
``data/mnist``) or ``--mnist-dir``. Each preset renders
consecutive batches of train canvases for ``--seconds``, split into rounds; the median and
best round are printed, as wall-clock rates and as rates per CPU-second of this process
(less sensitive to other work on the machine). OpenCV is held to one thread, so the figures
are for one core.
"""

import argparse
import statistics
import time

import cv2
import numpy as np
from hydra import compose, initialize_config_dir

from digitseg.data.mnist import load_mnist, mnist_splits
from digitseg.data.spec import spec_from_config
from digitseg.data.synth import CanvasGenerator
from digitseg.utils.config import CONF_DIR, mnist_folders

ROUNDS = 5


def preset_spec(name: str):
    """The canvas spec of ``conf/data/<name>.yaml``, composed by Hydra (defaults included)."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        cfg = compose(overrides=[f"+data={name}"])
    return spec_from_config(cfg.data.spec)


def measure(generator: CanvasGenerator, seconds: float, batch_size: int) -> tuple[list, list]:
    """Wall-clock and CPU rates (canvases/s) of ``ROUNDS`` rounds of ``seconds / ROUNDS``."""
    generator.render("train", np.arange(batch_size))  # warm-up: caches, lazy imports
    wall_rates, cpu_rates, start = [], [], batch_size
    for _ in range(ROUNDS):
        rendered = 0
        wall0, cpu0 = time.perf_counter(), time.process_time()
        while time.perf_counter() - wall0 < seconds / ROUNDS:
            generator.render("train", np.arange(start, start + batch_size))
            start += batch_size
            rendered += batch_size
        wall_rates.append(rendered / (time.perf_counter() - wall0))
        cpu_rates.append(rendered / max(time.process_time() - cpu0, 1e-9))
    return wall_rates, cpu_rates


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["m2nist", "canvas", "numbers"])
    parser.add_argument("--seconds", type=float, default=10.0, help="time per preset")
    parser.add_argument("--batch-size", type=int, default=256, help="canvases per render call")
    parser.add_argument("--mnist-dir", help="folder with MNIST's IDX files (default: a run's)")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)

    run_mnist_dir, cache_dir = mnist_folders()  # where a run reads MNIST
    digits = mnist_splits(load_mnist(args.mnist_dir or run_mnist_dir, cache_dir=cache_dir))
    print(f"batch size {args.batch_size}, {args.seconds:g} s per preset in {ROUNDS} rounds")
    print(f"{'preset':<10} {'wall median':>12} {'wall best':>10} {'cpu median':>11}  canvases/s")
    for name in args.presets:
        generator = CanvasGenerator(preset_spec(name), digits, seed=0)
        wall, cpu = measure(generator, args.seconds, args.batch_size)
        print(
            f"{name:<10} {statistics.median(wall):>12,.0f} {max(wall):>10,.0f} "
            f"{statistics.median(cpu):>11,.0f}"
        )


if __name__ == "__main__":
    main()
