"""Training throughput (canvases/s) of a model config, with data and compute timed apart.

    python scripts/benchmark_training.py                         # default net, CPU
    python scripts/benchmark_training.py trainer.precision=32-true  # fp32 on any CPU
    python scripts/benchmark_training.py trainer=gpu data.num_workers=12 data.batch_size=256

Arguments are Hydra overrides of ``conf/train.yaml``; on CPU the precision is the one
``trainer=cpu`` picks (bf16 where the CPU runs it natively) unless given. Prints canvases/s
for the full loop (loader + step), for the loader alone, and GPU utilisation when nvidia-smi
is there.
"""

import argparse
import logging
import subprocess
import tempfile
import time

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from digitseg.train import build_datamodule
from digitseg.utils.config import CONF_DIR

WARMUP, STEPS = 5, 30


def gpu_utilisation() -> str:
    try:
        query = ["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader"]
        return subprocess.run(query, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "n/a"


def main(overrides: list[str]) -> None:
    with initialize_config_dir(version_base="1.3", config_dir=CONF_DIR):
        cfg = compose(config_name="train", overrides=overrides)
    with tempfile.TemporaryDirectory(prefix="digitseg-benchmark-") as output_dir:
        cfg.paths.output_dir = output_dir
        benchmark(cfg)


def benchmark(cfg) -> None:
    """Print the training and loader throughput of ``cfg``'s model and data."""
    device = torch.device("cuda" if cfg.trainer.accelerator in ("gpu", "cuda") else "cpu")
    dtype = torch.bfloat16 if str(cfg.trainer.precision).startswith("bf16") else None
    torch.manual_seed(0)
    dm = build_datamodule(cfg)
    dm.setup()
    loader = dm.train_dataloader()
    model = instantiate(cfg.model).to(device)
    model.setup("fit")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    batches = iter(loader)
    start = time.perf_counter()
    for _ in range(WARMUP + STEPS):
        next(batches)
    loader_rate = (WARMUP + STEPS) * cfg.data.batch_size / (time.perf_counter() - start)

    batches = iter(loader)
    utilisation = "n/a"
    for step in range(WARMUP + STEPS):
        if step == WARMUP:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        batch = {k: v.to(device, non_blocking=True) for k, v in next(batches).items()}
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = model.compute_loss(batch)[0]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step == WARMUP + STEPS // 2 and device.type == "cuda":
            utilisation = gpu_utilisation()
    if device.type == "cuda":
        torch.cuda.synchronize()
    rate = STEPS * cfg.data.batch_size / (time.perf_counter() - start)
    spec = cfg.data.spec
    print(
        f"data={cfg.data.name} ({spec.height}x{spec.width}) net={cfg.model.net.arch}/"
        f"{cfg.model.net.get('encoder_name')} device={device} precision={cfg.trainer.precision} "
        f"batch={cfg.data.batch_size} workers={cfg.data.num_workers} "
        f"threads={torch.get_num_threads()}"
    )
    print(
        f"training: {rate:,.0f} canvases/s | loader alone: {loader_rate:,.0f} canvases/s | "
        f"GPU utilisation, memory: {utilisation}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of conf/train.yaml")
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # e.g. why this precision
    main(parser.parse_args().overrides)
