"""The names of the ways a model file's net can run (:mod:`digitseg.inference.backends`), in a
module of their own so that command lines list them without importing torch."""

# Ways to run a model file's net (from_checkpoint's ``backend``); all but auto and torch run
# on the CPU only.
BACKENDS = (
    "auto",
    "torch",
    "channels_last",
    "channels_last_bf16",
    "onnxruntime",
    "onnxruntime_int8_dynamic",
)
# The CPU variants cpu_backend builds and scripts/benchmark_backends.py compares; int8 static
# needs calibration batches, so only the script builds it.
CPU_BACKENDS = (
    "torch",
    "channels_last",
    "channels_last_bf16",
    "onnxruntime",
    "onnxruntime_int8_dynamic",
    "onnxruntime_int8_static",
)


def check_backend(name: str) -> None:
    """Raise a ValueError naming the choices where ``name`` is not one of ``BACKENDS``."""
    if name not in BACKENDS:
        raise ValueError(f"--backend must be one of {', '.join(BACKENDS)}; got {name!r}")
