"""The `zoo` command line: a thin layer over the public API (no model logic here).

Expected failures (`ZooError`: unknown names, unreachable datasets, bad input) print a
one-line reason and exit with code 2; anything else is a bug and exits with code 1.
TensorFlow's C++ start-up and log lines are kept off standard error unless `--verbose` or
`ZOO_VERBOSE=1` asks for them (`zoo._quiet`).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from typing import NoReturn

from zoo._quiet import quiet_stderr, verbose_requested
from zoo.cli import diagnose, models, serve, training

EXIT_USAGE, EXIT_BUG = 2, 1
VERBOSE_HELP = "show TensorFlow's start-up and C++ log lines on stderr (also: ZOO_VERBOSE=1)"


class OneLineErrors(argparse.ArgumentParser):
    """An argument parser whose refusals are one line, like every other refusal of the zoo
    (argparse prints the whole usage before its message); sub-command parsers inherit it."""

    def error(self, message: str) -> NoReturn:
        """Print `PROG: error: MESSAGE (see PROG --help)` on standard error and exit with 2.

        Args:
            message: argparse's message, e.g. "argument --top-k: must be a positive whole
                number, got '0'".
        """
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The `zoo` argument parser, with every command group's sub-commands.

    Returns:
        The parser; each sub-command sets `func`, its handler.
    """
    parser = OneLineErrors(
        prog="zoo",
        description="A Keras model zoo for recurrent sequence models (SimpleRNN, LSTM and GRU) in five input/output shapes.",
        epilog="Tasks: one-to-one, one-to-many, many-to-one, many-to-many-equal, many-to-many-unequal. "
        "Environment: ZOO_REGISTRY (registry folder), ZOO_HUB (hubs to download catalogue models from), "
        "ZOO_OFFLINE=1 (no downloads), ZOO_DATA_DIR (TFDS data folder), ZOO_VERBOSE=1 (TensorFlow's log lines), "
        "ZOO_BACKEND (tensorflow or jax; the default of --backend, and the backend of every other command).",
    )
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s (rnn-zoo) {_installed_version()}"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for group in (training, models, serve, diagnose):
        group.add_commands(sub)
    for command in sub.choices.values():
        # after the command too; its absence leaves the value before the command alone
        command.add_argument(
            "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP
        )
    return parser


def _installed_version() -> str:
    """The installed distribution's version (`pyproject.toml`'s, as pip recorded it)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rnn-zoo")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    """Run one `zoo` command.

    Args:
        argv: the arguments after `zoo` (default: `sys.argv[1:]`).

    Returns:
        The exit code: 0 on success, 2 for a `ZooError` (one line on stderr), 130 on
        Ctrl-C, 1 for anything else (a bug: the trace is printed). Bad arguments make
        argparse exit with 2 before any command runs. Each `ZooWarning` prints one
        `zoo: warning: ...` line on stderr.
    """
    args = build_parser().parse_args(argv)
    if args.verbose:  # for TensorFlow's start-up (`import zoo` quiets it) and child processes
        os.environ["ZOO_VERBOSE"] = "1"
    if verbose_requested():
        return _run(args)
    with quiet_stderr():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    """Run the parsed command; its exit code, as `main` describes."""
    from zoo import backend
    from zoo.errors import ZooError, ZooWarning

    try:
        # before any command imports Keras, which reads the backend once
        backend.select(getattr(args, "backend", None))
        with warnings.catch_warnings():
            # a caveat on a result (an output cut at a length limit): one line per occurrence
            warnings.simplefilter("always", ZooWarning)
            shown = warnings.showwarning
            warnings.showwarning = lambda message, category, *rest: (
                print(f"zoo: warning: {message}", file=sys.stderr)
                if issubclass(category, ZooWarning)
                else shown(message, category, *rest)
            )
            args.func(args)
    except ZooError as err:
        print(f"zoo: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("zoo: interrupted", file=sys.stderr)
        return 130
    except Exception:  # noqa: BLE001  (the CLI's last line of defence: report the bug)
        traceback.print_exc()
        print(
            "zoo: unexpected error (a bug): please report it with the trace above.", file=sys.stderr
        )
        return EXIT_BUG
    return 0


if __name__ == "__main__":
    sys.exit(main())
