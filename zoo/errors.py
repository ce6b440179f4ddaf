"""The zoo's typed errors: every expected failure says what went wrong and what to do next.

The command line turns a `ZooError` into a one-line message and exit code 2; anything
else is a bug and exits with code 1. A `ZooWarning` (Python `warnings`) flags a result
given with a caveat, such as an output cut at a length limit.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ZooError(Exception):
    """Base of every error the zoo raises on purpose (bad input, missing data, ...)."""


class ZooWarning(UserWarning):
    """A result the zoo gives with a caveat the user must hear: e.g. an output cut at a
    length limit. The command line prints it as one `zoo: warning: ...` line on stderr."""


class UnknownNameError(ZooError, KeyError):
    """A task, dataset, cell or model name that does not exist.

    Args:
        kind: what was looked up (`task`, `TFDS dataset`, ...).
        name: the name given.
        known: the names that exist; the closest ones are suggested.
        listing: said instead of listing every known name, where there are too many to
            print (e.g. TFDS's catalogue).
    """

    def __init__(self, kind: str, name: str, known: Iterable[str], *, listing: str | None = None):
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        super().__init__(
            f"unknown {kind} {name!r}.{hint} {listing or 'Known: ' + ', '.join(known) + '.'}"
        )

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class DatasetUnavailableError(ZooError):
    """A TFDS dataset that cannot be downloaded or read (no network, missing files)."""


class BadInputError(ZooError, ValueError):
    """Raw input to `predict` (or a data file) that the task cannot read."""


class BadRowError(BadInputError):
    """One row of a user's data file (a line, a record) that cannot be an example: a missing
    or non-text field, an empty label, a line of another form. Reading refuses it, naming
    the row; training may skip such rows instead where the user asks (`--skip-bad-rows`,
    `zoo.data.formats._files.BadRows`).

    Args:
        where: the row, as messages name it (`reviews.csv, line 7`).
        message: what is wrong with it and what to do.
    """

    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}")
        self.where = where


class DivergedError(ZooError):
    """Training produced a NaN or infinite loss; the model is not kept."""
