"""What the command groups share: option groups, KEY=VALUE parsing, the dataset flags
turned into a dataset (resolved once, here, where a command starts), metric printing."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from zoo.constants import CELLS, FORMATS, STRATEGIES


def hparam(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def choice(text: str) -> tuple[str, list[Any]]:
    key, _, values = text.partition("=")
    if not key or not values:
        raise argparse.ArgumentTypeError(f"expected KEY=V1,V2,..., got {text!r}")
    return key, [hparam(f"{key}={v}")[1] for v in values.split(",")]


def print_metrics(metrics: dict[str, dict[str, float]]) -> None:
    for split, values in metrics.items():
        shown = ", ".join(f"{k}={v:.4f}" for k, v in values.items() if isinstance(v, float))
        print(f"  {split}: {shown}")


def hparams(args: argparse.Namespace) -> dict[str, Any]:
    hparams = dict(args.set or [])
    if args.cell:
        hparams["cell"] = args.cell
    return hparams


def dataset(args: argparse.Namespace) -> Any:
    """`--dataset KEY`, or the files of `--data` stored as a TFDS dataset."""
    from zoo.errors import ZooError

    if args.data:
        from zoo.data import formats

        spec = formats.prepare(
            args.data,
            args.format,
            encoding=args.encoding,
            columns=args.columns,
            source=args.source,
            target=args.target,
            image_size=args.image_size,
            rename=args.rename,
            seed=args.seed,
            licence=args.data_licence,
        )
        if spec.source and "split_files" in spec.source:  # which file went where
            print(f"data: {formats.split_summary(spec.source)}", file=sys.stderr)
        return spec
    if args.format:
        raise ZooError("--format needs --data PATH.")
    return args.dataset


def registry_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--registry",
        metavar="DIR",
        help="registry folder (default: $ZOO_REGISTRY or saved_models/)",
    )


def data_options(p: argparse.ArgumentParser, *, task: bool = True) -> None:
    if task:
        p.add_argument("task", help="one of the five tasks (see `zoo tasks`)")
    p.add_argument(
        "--dataset",
        default="embedded",
        help="'embedded' (offline, default) or the task's real TFDS dataset",
    )
    files = p.add_argument_group(
        "training on files instead of a TFDS dataset (see zoo.data.formats)"
    )
    files.add_argument(
        "--data",
        metavar="PATH",
        help="folder (or file) of your data; it is stored once as a TFDS dataset",
    )
    files.add_argument(
        "--format", choices=FORMATS, help="layout of --data (see the README's table of formats)"
    )
    files.add_argument(
        "--encoding", help="text encoding of the files (default: utf-8), e.g. latin-1"
    )
    files.add_argument(
        "--columns",
        help="conll: column names in order (default: 'tokens pos chunks ner'); "
        "csv: the text and label columns (default: 'text,label')",
    )
    files.add_argument("--source", help="parallel text: source language code, e.g. de")
    files.add_argument("--target", help="parallel text: target language code, e.g. en")
    files.add_argument(
        "--image-size",
        type=int,
        help="captions, image-folder: images are resized to this square size (default: 128, 32)",
    )
    files.add_argument(
        "--rename",
        metavar="MINE=THEIRS,...",
        help="tfds: map the task's feature names to the dataset's, e.g. text=sentence,label=label",
    )
    files.add_argument(
        "--data-licence", metavar="TEXT", help="the data's terms of use, recorded in the model card"
    )


def model_options(p: argparse.ArgumentParser, verb: str) -> None:
    p.add_argument("--cell", choices=CELLS, help=f"recurrent cell ({verb})")
    p.add_argument(
        "--set",
        type=hparam,
        action="append",
        metavar="KEY=VALUE",
        help="fix a hyperparameter, e.g. --set units=128 --set bidirectional=false (repeatable)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="random seed, recorded in the model card (default: 0)"
    )
    p.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="default",
        help="'mirrored': tf.distribute.MirroredStrategy over this machine's GPUs (default: one device)",
    )
    p.add_argument("--name", help="registry name of the saved model (default: TASK-CELL-DATASET)")
    registry_option(p)
