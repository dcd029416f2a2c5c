"""``chainrule export DIR OUTPUT.onnx``: the trained model of a run as an ONNX file, for serving elsewhere."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from chainrule.cli.common import CommandError, UsageError, clean, count, writable_file
from chainrule.cli.evaluate import checkpoint_path
from chainrule.onnx import IR_VERSIONS, export
from chainrule.training import load_trained, to_input

EPILOG = """\
examples:
  chainrule export runs/lenet5-fashion-mnist lenet5.onnx
  chainrule export runs/digits digits.onnx --opset 18 --force
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "export", help="write a trained run's model as an ONNX file",
        description="Rebuild the model of the run in DIR from its configuration, load its weights and write it to "
                    "OUTPUT as ONNX. Its input 'input' is the normalised image batch (batch, 1, H, W) float32, as "
                    "chainrule train feeds it: (pixel/255 − mean)/std with the data set's mean and std (digits: "
                    "pixel/16 first); its output 'output' is the logits (batch, classes); the batch dim is "
                    "dynamic. An existing OUTPUT is refused unless --force.",
        epilog=EPILOG,
    )
    p.add_argument("run_dir", metavar="DIR", help="a run folder written by chainrule train (or a checkpoint file)")
    p.add_argument("output", metavar="OUTPUT", help="the ONNX file to write, e.g. model.onnx")
    p.add_argument("--opset", type=count, default=17,
                   help=f"ONNX opset version, {min(IR_VERSIONS)} to {max(IR_VERSIONS)}")
    p.add_argument("--force", action="store_true", help="replace OUTPUT if it exists")
    return p


def run(args: argparse.Namespace) -> int:
    # everything is checked before anything is written: a refusal leaves every file as it was
    if args.opset not in IR_VERSIONS:
        raise UsageError(f"--opset {args.opset} is not supported",
                         f"choose {min(IR_VERSIONS)} to {max(IR_VERSIONS)} (default 17)")
    checkpoint = checkpoint_path(args.run_dir)
    if Path(args.output).is_dir():
        raise UsageError(f"OUTPUT {args.output} is a folder",
                         f"give a file name, e.g. {Path(args.output) / 'model.onnx'}")
    out = writable_file(args.output, "OUTPUT")
    if out.exists() and not args.force:
        raise UsageError(f"{out} already exists", "pass --force to replace it, or choose another OUTPUT")
    model, config = load_trained(checkpoint)
    side = (8, 8) if config.dataset == "digits" else (28, 28)
    # a batch of two images of the size the model trains on, normalised as training normalises them
    example = to_input(np.zeros((2, 1, *side), dtype=np.uint8), config.dataset)
    try:
        export(model, (example,), Path(out), input_names=["input"], output_names=["output"],
               dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=args.opset)
    except ImportError:
        raise CommandError("this needs onnx, which is not installed", 'pip install "chainrule[onnx]"') from None
    print(f"wrote {clean(out)}: {config.model} on {config.dataset}, input (batch, 1, {side[0]}, {side[1]}) float32, "
          f"opset {args.opset}")
    return 0
