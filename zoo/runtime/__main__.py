"""`python -m zoo_runtime DIR INPUT...`: one JSON line per input, as `zoo predict` prints."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from zoo_runtime import text
from zoo_runtime.errors import RuntimeInputError, ZooRuntimeError
from zoo_runtime.model import load


def main(argv: list[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: the arguments (default: `sys.argv[1:]`).

    Returns:
        0, or 2 after printing a one-line error for a bad folder or input.
    """
    parser = argparse.ArgumentParser(
        prog="python -m zoo_runtime",
        description="Predict with a model exported by `zoo export --format onnx|litert`, without TensorFlow.",
    )
    parser.add_argument("folder", help="the exported folder")
    parser.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="texts, token lists or image paths"
    )
    parser.add_argument("--top-k", type=int, default=None, help="many-to-one: labels listed")
    parser.add_argument("--beam-width", type=int, default=None, help="generators: 1 is greedy")
    args = parser.parse_args(argv)
    try:
        model = load(args.folder)
        options: dict[str, Any] = {}
        if args.top_k is not None:
            options["top_k"] = args.top_k
        if args.beam_width is not None:
            options["beam_width"] = args.beam_width
        inputs: list[Any] = list(args.inputs)
        if model.task == "many-to-many-equal":
            inputs = [text.parse_token_list(a, RuntimeInputError) for a in inputs]
        results = model.predict_batch(inputs, **options)
    except ZooRuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for given, result in zip(args.inputs, results, strict=True):
        print(json.dumps({"input": given, "output": result}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
