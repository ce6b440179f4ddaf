"""`zoo diagnose gradients`: training dynamics of models or tasks."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from zoo.cli._common import hparam, non_negative_int, positive_int, registry_option
from zoo.constants import SPLITS


def cmd_diagnose_gradients(args: argparse.Namespace) -> None:
    """`zoo diagnose gradients`: print gradient profiles, write their plot (and JSON).

    Args:
        args: the parsed command line.
    """
    from zoo.training import diagnostics

    profiles = diagnostics.diagnose(
        args.targets,
        dataset=args.dataset,
        split=args.split,
        batch_size=args.batch_size,
        batches=args.batches,
        hparams=dict(args.set or []),
        seed=args.seed,
        root=args.registry,
    )
    for profile in profiles:
        print(profile.summary())
    print(f"plot: {diagnostics.plot(profiles, args.output)}")
    if args.json:
        Path(args.json).write_text(json.dumps([p.as_json() for p in profiles], indent=2))
        print(f"numbers: {args.json}")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands to the `zoo` parser.

    Args:
        sub: the `zoo` parser's sub-parsers.
    """
    p = sub.add_parser(
        "diagnose", help="diagnose a model's training dynamics (gradients through time)"
    )
    what = p.add_subparsers(dest="diagnosis", required=True, metavar="DIAGNOSIS")
    p = what.add_parser(
        "gradients",
        help="per-step gradient norms ||dL/dx_t||: vanishing or exploding, and a clipnorm to use",
        description="Measure, on real batches, the gradient of the loss with respect to the input of the first "
        "recurrent layer at every time step, aligned by distance from each sequence's last step. Prints the "
        "decay rate per step, flags exploding gradients and recommends a clipnorm (the median weight-gradient "
        "norm); writes a log-scale plot with one panel per model.",
    )
    p.add_argument(
        "targets",
        nargs="+",
        metavar="NAME|TASK",
        help="registry models (NAME, NAME@VERSION or NAME:ALIAS; a single one is shown beside its "
        "siblings with the other cells), or one task: a freshly built SimpleRNN, LSTM and GRU side by side",
    )
    p.add_argument(
        "--dataset",
        help="the task's dataset to measure on (default: the model's training data; "
        "'embedded' for a task)",
    )
    p.add_argument(
        "--split", choices=SPLITS, default="validation", help="split role (default: validation)"
    )
    p.add_argument(
        "--batch-size", type=positive_int, default=32, help="sequences per batch (default: 32)"
    )
    p.add_argument(
        "--batches",
        type=positive_int,
        default=8,
        metavar="N",
        help="batches to measure (default: 8)",
    )
    p.add_argument(
        "--set",
        type=hparam,
        action="append",
        metavar="KEY=VALUE",
        help="hyperparameter of a freshly built task model (repeatable), e.g. bidirectional=false",
    )
    p.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        help="seed of the fresh models' initial weights (default: 0)",
    )
    p.add_argument(
        "--output",
        default="gradients.png",
        metavar="PNG",
        help="plot file (default: gradients.png)",
    )
    p.add_argument("--json", metavar="FILE", help="also write the measured numbers as JSON")
    registry_option(p)
    p.set_defaults(func=cmd_diagnose_gradients)
