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

from digitseg.inference.backends import ONNX_METADATA_KEY, onnx_model
from digitseg.models.checkpoint import CheckpointError, load_model


def export_onnx(checkpoint: str | Path, output: str | Path) -> Path:
    """Export the net of ``checkpoint`` to ``output`` (.onnx) and return its path."""
    wrapped, payload = load_model(checkpoint)
    model = onnx_model(wrapped)
    meta = model.metadata_props.add()
    meta.key = ONNX_METADATA_KEY
    meta.value = json.dumps({"multiple": wrapped.multiple, "config": payload["config"]})
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
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
