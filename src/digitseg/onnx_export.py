"""``digitseg-export``: write a model file as ONNX with dynamic batch, height and width.

    digitseg-export --checkpoint models/digit_segmenter.ckpt --format onnx

The ONNX graph is the bare net: height and width must be multiples of its stride, which the
``Segmenter`` pads to for both backends. The resolved config and the stride are stored in the
ONNX metadata, so ``digitseg-segment --backend onnxruntime`` needs nothing else.
"""

import argparse
import json
import sys
from pathlib import Path

import onnx
import torch

from digitseg.inference.backends import ONNX_METADATA_KEY
from digitseg.models.checkpoint import CheckpointError, load_model

MAX_BLOCKS = 1024


def export_onnx(checkpoint: str | Path, output: str | Path) -> Path:
    """Export the net of ``checkpoint`` to ``output`` (.onnx) and return its path."""
    wrapped, payload = load_model(checkpoint)
    net, multiple = wrapped.net.eval(), wrapped.multiple
    channels = int(payload["config"]["model"]["net"]["in_channels"])
    example = torch.zeros(1, channels, 4 * multiple, 4 * multiple)
    batch = torch.export.Dim("batch", min=1, max=4096)
    height = multiple * torch.export.Dim("height_blocks", min=1, max=MAX_BLOCKS)
    width = multiple * torch.export.Dim("width_blocks", min=1, max=MAX_BLOCKS)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        net,
        (example,),
        str(output),
        input_names=["image"],
        output_names=["logits"],
        dynamo=True,
        external_data=False,
        dynamic_shapes=({0: batch, 2: height, 3: width},),
    )
    model = onnx.load(str(output))
    meta = model.metadata_props.add()
    meta.key = ONNX_METADATA_KEY
    meta.value = json.dumps({"multiple": multiple, "config": payload["config"]})
    onnx.save(model, str(output))
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="digitseg-export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--checkpoint", default="models/digit_segmenter.ckpt")
    parser.add_argument("--format", choices=("onnx",), default="onnx")
    parser.add_argument("--output", help="default: the checkpoint's path with .onnx")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file")
    args = parser.parse_args(argv)
    output = Path(args.output or Path(args.checkpoint).with_suffix(".onnx"))
    if output.exists() and not args.overwrite:
        print(
            f"digitseg-export: error: {output} exists; pass --overwrite to replace it",
            file=sys.stderr,
        )
        return 1
    try:
        print(f"wrote {export_onnx(args.checkpoint, output)}")
    except CheckpointError as error:
        print(f"digitseg-export: error: {error}", file=sys.stderr)
        return 1
    return 0


def cli() -> None:
    """Console entry point."""
    sys.exit(main())


if __name__ == "__main__":
    cli()
