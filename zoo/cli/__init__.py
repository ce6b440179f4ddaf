"""The `zoo` command line: a thin layer over the public API (no model logic here).

Expected failures (`ZooError`: unknown names, unreachable datasets, bad input) print a
one-line reason and exit with code 2; anything else is a bug and exits with code 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings

from zoo.cli import diagnose, models, training

EXIT_USAGE, EXIT_BUG = 2, 1


def build_parser() -> argparse.ArgumentParser:
    """The `zoo` argument parser, with every command group's sub-commands.

    Returns:
        The parser; each sub-command sets `func`, its handler.
    """
    parser = argparse.ArgumentParser(
        prog="zoo",
        description="A Keras model zoo for recurrent sequence models (SimpleRNN and LSTM) in five input/output shapes.",
        epilog="Tasks: one-to-one, one-to-many, many-to-one, many-to-many-equal, many-to-many-unequal. "
        "Environment: ZOO_REGISTRY (registry folder), ZOO_DATA_DIR (TFDS data folder).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for group in (training, models, diagnose):
        group.add_commands(sub)
    return parser


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
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from zoo.errors import ZooError, ZooWarning

    try:
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
