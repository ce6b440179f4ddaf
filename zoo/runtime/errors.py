"""The runtime's errors: each says, in one line, what to do."""

from __future__ import annotations


class ZooRuntimeError(Exception):
    """Base of every error `zoo_runtime` raises on purpose (`python -m zoo_runtime` prints
    its message and exits 2)."""


class ExportFolderError(ZooRuntimeError):
    """An exported folder that cannot be loaded: a missing or altered file, a format the
    runtime does not run, a manifest it cannot read."""


class MissingDependencyError(ExportFolderError):
    """A package the folder's format needs is not installed; the message names the pip
    command that installs it."""


class RuntimeInputError(ZooRuntimeError, ValueError):
    """An input `predict` cannot read (text with no words, an empty token list, a missing
    or undecodable image, an array of the wrong shape)."""
