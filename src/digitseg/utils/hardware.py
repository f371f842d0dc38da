"""What this machine's CPU runs fast, as torch detects it: the precision of CPU training."""

import logging

import torch

log = logging.getLogger(__name__)

# Instruction sets that run bf16 matrix products natively (names as torch.cpu.get_capabilities()
# has them). Elsewhere bf16 is emulated, several times slower than fp32.
BF16_FEATURES = ("amx_bf16", "avx512_bf16")


def cpu_precision() -> str:
    """Lightning's precision for training on this CPU: ``bf16-mixed`` where it has AMX-BF16 or
    AVX512-BF16, else ``32-true``; logs the choice and why (``${cpu_precision:}`` in
    ``conf/trainer/cpu.yaml``, which ``trainer.precision=...`` overrides)."""
    capabilities = torch.cpu.get_capabilities()
    cpu = capabilities.get("cpu_name") or "this CPU"
    native = [feature for feature in BF16_FEATURES if capabilities.get(feature)]
    if native:
        log.info(
            "trainer.precision=bf16-mixed: %s runs bf16 natively (%s)",
            cpu,
            ", ".join(native),
        )
        return "bf16-mixed"
    log.info(
        "trainer.precision=32-true: %s has neither AMX-BF16 nor AVX512-BF16, so bf16 would be "
        "emulated, slower than fp32",
        cpu,
    )
    return "32-true"
