"""What the command groups share: option groups, KEY=VALUE parsing, the dataset flags
turned into a dataset (resolved once, here, where a command starts), metric printing."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from zoo.backend import BACKENDS, ENVIRONMENT
from zoo.constants import (
    CELLS,
    CLASS_WEIGHTS,
    CLASSIFICATION_FORMATS,
    COUNT_METRICS,
    FORMATS,
    STRATEGIES,
)


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (epochs, sizes, counts).

    Raises:
        argparse.ArgumentTypeError: anything else; argparse names the option and exits 2.
    """
    return _whole(text, minimum=1, what="a positive whole number")


def non_negative_int(text: str) -> int:
    """An argparse type: a whole number of at least 0 (seeds; epochs that may be skipped).

    Raises:
        argparse.ArgumentTypeError: anything else; argparse names the option and exits 2.
    """
    return _whole(text, minimum=0, what="a whole number of 0 or more")


def _whole(text: str, *, minimum: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


def model_name(text: str) -> str:
    """`--name`: checked before any training, so that a bad name cannot throw away an
    hour of it at the end.

    Raises:
        argparse.ArgumentTypeError: a name the registry refuses
            (`zoo.registry.layout.checked_name`); argparse names the option and exits 2.
    """
    from zoo.errors import ZooError
    from zoo.registry.layout import checked_name

    try:
        return checked_name(text)
    except ZooError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def hparam(text: str) -> tuple[str, Any]:
    """Parse `--set KEY=VALUE`: the value as JSON where it parses (numbers, `true`, `false`,
    `null`, lists), else as the string it is.

    Args:
        text: the argument.

    Returns:
        `(key, value)`.

    Raises:
        argparse.ArgumentTypeError: no `=`, or an empty key.
    """
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def choice(text: str) -> tuple[str, list[Any]]:
    """Parse `--choice KEY=V1,V2,...`: each value as `hparam` reads one.

    Args:
        text: the argument.

    Returns:
        `(key, [values])`.

    Raises:
        argparse.ArgumentTypeError: no key or no values.
    """
    key, _, values = text.partition("=")
    if not key or not values:
        raise argparse.ArgumentTypeError(f"expected KEY=V1,V2,..., got {text!r}")
    return key, [hparam(f"{key}={v}")[1] for v in values.split(",")]


def print_metrics(metrics: dict[str, dict[str, Any]]) -> None:
    """Print one line of metrics per split, 4 decimals (only float values); counts
    (`COUNT_METRICS`) as whole numbers; then a line per string value (sacrebleu's
    signatures), as `name: value`; then, where a classifier's metrics have them, a table of
    per-class precision, recall, F1 and support (`per_class`).

    Args:
        metrics: split role -> metric name -> value.
    """
    for split, values in metrics.items():
        shown = ", ".join(
            f"{k}={v:.0f}" if k in COUNT_METRICS else f"{k}={v:.4f}"
            for k, v in values.items()
            if isinstance(v, float)
        )
        print(f"  {split}: {shown}")
        for name, value in values.items():
            if isinstance(value, str):
                print(f"    {name}: {value}")
        if values.get("per_class"):
            print_per_class(values["per_class"])


def print_per_class(per_class: dict[str, dict[str, float]]) -> None:
    """Print a classifier's per-class scores as an aligned table, one class a row.

    Args:
        per_class: class name -> `{"precision", "recall", "f1", "support"}`, as
            `zoo.training.classification` scores them.
    """
    width = max(5, *(len(name) for name in per_class))
    print(f"    {'class':<{width}}  precision  recall      f1  support")
    for name, s in per_class.items():
        print(
            f"    {name:<{width}}  {s['precision']:9.4f}  {s['recall']:6.4f}  {s['f1']:6.4f}  "
            f"{s['support']:7.0f}"
        )


def hparams(args: argparse.Namespace) -> dict[str, Any]:
    """The hyperparameters a command fixes: `--set` values, and `--cell` and
    `--class-weight` over them.

    Args:
        args: the parsed command line.

    Returns:
        Hyperparameter name -> value.
    """
    hparams = dict(args.set or [])
    if args.cell:
        hparams["cell"] = args.cell
    if getattr(args, "class_weight", None):
        hparams["class_weight"] = args.class_weight
    return hparams


def _split_seed(args: argparse.Namespace) -> int | None:
    """`--split-seed`, else `--seed`; None where the command has neither."""
    split_seed = getattr(args, "split_seed", None)
    return split_seed if split_seed is not None else getattr(args, "seed", None)


def dataset(args: argparse.Namespace) -> Any:
    """`--dataset KEY`, or the files of `--data` stored as a TFDS dataset.

    Args:
        args: the parsed command line.

    Returns:
        The `--dataset` key (None where the command's default is None), or the
        `DatasetSpec` of `--data` (`zoo.data.formats.prepare`).

    Raises:
        ZooError: `--format` without `--data`, or `--data` without `--format`.
        UnknownNameError: an unknown `--format`.
        BadInputError: the files cannot be read, or an option does not apply to the format.
    """
    from zoo.errors import ZooError

    if args.data:
        from zoo.constants import FORMATS
        from zoo.data import formats

        if not args.format:
            raise ZooError(f"--data needs --format, one of: {', '.join(FORMATS)}.")
        spec = formats.prepare(
            args.data,
            args.format,
            encoding=args.encoding,
            columns=args.columns,
            source=args.source,
            target=args.target,
            image_size=args.image_size,
            rename=args.rename,
            label_delimiter=args.label_delimiter,
            labels=args.labels,
            label_prefix=args.label_prefix,
            stratify=args.stratify,
            # commands that only read data (`zoo evaluate`) have no --seed, --data-licence
            # or --skip-bad-rows: they refuse every bad row
            seed=_split_seed(args),
            licence=getattr(args, "data_licence", None),
            skip_bad_rows=getattr(args, "skip_bad_rows", None),
        )
        if spec.source and "split_files" in spec.source:  # which file went where
            print(f"data: {formats.split_summary(spec.source)}", file=sys.stderr)
        if spec.source and "skipped_rows" in spec.source:
            skipped = spec.source["skipped_rows"]
            more = ", ..." if skipped["count"] > len(skipped["first"]) else ""
            print(
                f"data: skipped {skipped['count']} bad row(s) (--skip-bad-rows; the card records "
                f"it): {'; '.join(skipped['first'])}{more}",
                file=sys.stderr,
            )
        return spec
    if args.format:
        raise ZooError("--format needs --data PATH.")
    return args.dataset


def registry_option(p: argparse.ArgumentParser) -> None:
    """Add `--registry DIR`.

    Args:
        p: a sub-command's parser.
    """
    p.add_argument(
        "--registry",
        metavar="DIR",
        help="use only this registry folder (default, in this order: $ZOO_REGISTRY or the user registry, a "
        "source checkout's saved_models/, installed model packages, then the hubs for catalogue models)",
    )


def hub_option(p: argparse.ArgumentParser) -> None:
    """Add `--hub URL|DIR`, tried before the sources of `ZOO_HUB`.

    Args:
        p: a sub-command's parser.
    """
    p.add_argument(
        "--hub",
        metavar="URL|DIR",
        help="where to download catalogue models from: an http(s):// or file:// URL or a folder "
        "in the registry layout, tried before $ZOO_HUB's",
    )


def data_options(p: argparse.ArgumentParser, *, task: bool = True, default: bool = True) -> None:
    """Add the task argument and the dataset flags: `--dataset`, or `--data` with `--format`
    and the format's options.

    Args:
        p: a sub-command's parser.
        task: also add the positional `task` argument.
        default: `--dataset` defaults to `embedded`; without, the command must be told its
            data (`zoo retrain`: fine-tuning on the embedded data by mistake would be silent).
    """
    if task:
        p.add_argument("task", help="one of the five tasks (see `zoo tasks`)")
    p.add_argument(
        "--dataset",
        default="embedded" if default else None,
        help="'embedded' (offline"
        + (", default" if default else "")
        + ") or the task's real TFDS dataset",
    )
    files = file_options(p, "training on files instead of a TFDS dataset (see zoo.data.formats)")
    files.add_argument(
        "--data-licence", metavar="TEXT", help="the data's terms of use, recorded in the model card"
    )
    files.add_argument(
        "--split-seed",
        type=non_negative_int,
        metavar="N",
        help="seed of the 90/10 validation split drawn from files that have none (default: "
        "--seed); keep it fixed to train several seeds on one split",
    )
    files.add_argument(
        "--skip-bad-rows",
        action="store_true",
        default=None,  # unset: not passed to formats without the option
        help="csv, jsonl, fasttext, trec: skip rows refused by line (a missing or non-text "
        "field, an empty label, a malformed line) instead of stopping; their count and the "
        "first few are printed and recorded in the model card. A file of bad rows only is "
        "still refused",
    )


def file_options(p: argparse.ArgumentParser, title: str) -> argparse._ArgumentGroup:
    """Add `--data` with `--format` and the formats' options, in a group of their own.

    Args:
        p: a sub-command's parser.
        title: the group's title in `--help`.

    Returns:
        The group, for options only some commands take.
    """
    files = p.add_argument_group(title)
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
        "csv, jsonl: the text and label columns or keys (default: 'text,label')",
    )
    files.add_argument(
        "--label-delimiter",
        metavar="SEP",
        help="csv: the label column is multi-label, its cells split at SEP (e.g. '|': 'a|b' has "
        "two labels, an empty cell none); default: one label a cell",
    )
    files.add_argument(
        "--labels",
        choices=("coarse", "fine"),
        help="trec: the 6 coarse classes (DESC, default) or the 50 fine ones (DESC:manner)",
    )
    files.add_argument(
        "--label-prefix",
        metavar="PREFIX",
        help="fasttext: what starts a label token, as fastText's -label (default: __label__)",
    )
    files.add_argument(
        "--stratify",
        action=argparse.BooleanOptionalAction,
        help=f"{', '.join(CLASSIFICATION_FORMATS)}: where the files have no validation split, "
        "draw it per class, 10 %% of each (default: every class in both splits); --no-stratify: "
        "10 %% of all examples, the zoo's split before",
    )
    files.add_argument(
        "--source",
        help="parallel, tfds: source language code, e.g. de (tfds: default the dataset's own)",
    )
    files.add_argument(
        "--target",
        help="parallel, tfds: target language code, e.g. en (tfds: default the dataset's own)",
    )
    files.add_argument(
        "--image-size",
        type=positive_int,
        help="captions, image-folder: images are resized to this square size (default: 128, 32)",
    )
    files.add_argument(
        "--rename",
        metavar="MINE=THEIRS,...",
        help="tfds: map the task's feature names to the dataset's, e.g. text=sentence,label=label",
    )
    return files


def backend_option(p: argparse.ArgumentParser) -> None:
    """Add `--backend`, for the commands that train (`zoo.cli.main` selects it before Keras
    is imported).

    Args:
        p: a sub-command's parser.
    """
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        help=f"Keras backend that trains the model (default: {ENVIRONMENT} or KERAS_BACKEND if set, "
        "else tensorflow)",
    )


def model_options(
    p: argparse.ArgumentParser, verb: str, strategies: tuple[str, ...] = STRATEGIES
) -> None:
    """Add `--cell`, `--set`, `--seed`, `--backend`, `--strategy`, `--name` and `--registry`;
    with the `data-parallel` strategy, also `--distribute` (its other name) and the process
    group's `--coordinator`, `--num-processes` and `--process-id`.

    Args:
        p: a sub-command's parser.
        verb: what an unset `--cell` means, for its help (e.g. `default: lstm`).
        strategies: the `--strategy` choices the command supports.
    """
    p.add_argument("--cell", choices=CELLS, help=f"recurrent cell ({verb})")
    p.add_argument(
        "--class-weight",
        choices=CLASS_WEIGHTS,
        help="many-to-one, single-label data: weigh each class's examples by n / (classes x "
        "its count) (balanced) or not (none, default); recorded as the hyperparameter "
        "class_weight",
    )
    p.add_argument(
        "--set",
        type=hparam,
        action="append",
        metavar="KEY=VALUE",
        help="fix a hyperparameter, e.g. --set units=128 --set bidirectional=false (repeatable)",
    )
    p.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        help="random seed, recorded in the model card (default: 0)",
    )
    backend_option(p)
    p.add_argument(
        "--strategy",
        choices=strategies,
        default="default",
        help="'mirrored': tf.distribute.MirroredStrategy over this machine's GPUs, TensorFlow backend only"
        + (
            "; 'data-parallel' (also --distribute): one model trained by several processes or hosts, "
            "JAX backend only, see --coordinator"
            if "data-parallel" in strategies
            else ""
        )
        + " (default: one device)",
    )
    if "data-parallel" in strategies:
        p.add_argument(
            "--distribute", dest="strategy", choices=("data-parallel",), help=argparse.SUPPRESS
        )
        cluster = p.add_argument_group(
            "data-parallel processes (default: KERAS_DISTRIBUTION_JOB_ADDRESSES, "
            "KERAS_DISTRIBUTION_NUM_PROCESSES, KERAS_DISTRIBUTION_PROCESS_ID; none: JAX detects "
            "Slurm/Open MPI/TPU clusters, else one process)"
        )
        cluster.add_argument(
            "--coordinator",
            metavar="HOST:PORT",
            help="process 0's address, the same for every process",
        )
        cluster.add_argument(
            "--num-processes", type=positive_int, help="processes training together"
        )
        cluster.add_argument(
            "--process-id",
            type=non_negative_int,
            help="this process's index, 0 to --num-processes - 1",
        )
    p.add_argument(
        "--name",
        type=model_name,
        help="registry name of the saved model (default: TASK-CELL-DATASET)",
    )
    registry_option(p)
