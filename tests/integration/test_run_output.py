"""What a training run prints, through the real CLI into a file (not a terminal): the choice of
precision and the model summary's FLOPs, and none of the libraries' chatter."""

import subprocess
import sys

from tests.helpers.config import TINY, requires_mnist

QUIET_SUMMARY = "callbacks.model_summary=null"


def test_a_run_says_what_matters_once_and_leaves_the_chatter_out(tmp_path):
    requires_mnist()
    overrides = [o for o in TINY if o != QUIET_SUMMARY]
    small_net = ["model.net.encoder_depth=3", "model.net.decoder_channels=[32,16,8]"]
    command = [sys.executable, "-m", "digitseg.train", *overrides, *small_net]
    done = subprocess.run(
        [*command, f"hydra.run.dir={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    output = done.stdout + done.stderr
    assert output.count("trainer.precision=") == 1
    assert output.count("MNIST loaded from") == 1
    assert "Total FLOPs:" in output and "Total FLOPs: 0 " not in output
    for chatter in ("Tip:", "Trainer already configured", "LeafSpec", "\x1b["):
        assert chatter not in output, chatter
