"""TFDS access shared by every task: where prepared data lives, loading a split (preparing
the zoo's own builders offline, downloading real datasets where a network allows, and a
clear error where it does not), and a dataset's info without its data.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import tensorflow as tf
import tensorflow_datasets as tfds
from filelock import FileLock

from zoo._quiet import quiet_loggers, shows_progress
from zoo.errors import DatasetUnavailableError, UnknownNameError

#: TFDS downloads go through its mirror first; if that host is unreachable the download
#: would spend minutes in urllib3 retries before failing, so we ask once, quickly.
_NETWORK_PROBE = ("storage.googleapis.com", 443)
_PROBE_TIMEOUT_S = 3.0


def data_dir() -> str:
    """Where TFDS keeps prepared datasets: `ZOO_DATA_DIR`, else TFDS's own default.

    Returns:
        The folder, as a string: `ZOO_DATA_DIR` as given, or TFDS's default with `~`
        expanded.
    """
    return os.environ.get("ZOO_DATA_DIR") or str(Path(tfds.core.constants.DATA_DIR).expanduser())


def is_embedded(name: str) -> bool:
    """True for the zoo's own builders, which generate their data offline.

    Args:
        name: a TFDS name, optionally with config and version (`zoo_adding/length_100`).

    Returns:
        True when the builder class is defined under `zoo.data.builders`; False for any
        other builder (datasets made from files included) and for unknown names.
    """
    import zoo.data.builders  # noqa: F401  (registers the zoo's own builders with TFDS)

    try:
        return tfds.builder_cls(name.split("/")[0]).__module__.startswith("zoo.data.builders")
    except tfds.core.DatasetNotFoundError:
        return False


def _network_reachable() -> bool:
    try:
        with socket.create_connection(_NETWORK_PROBE, timeout=_PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def _unavailable(name: str, cause: str, offline: str | None) -> DatasetUnavailableError:
    alternatives = [
        "  - run offline on the zoo's embedded data: --dataset embedded"
        + (f" ({offline})" if offline else ""),
        (
            f"  - prepare it on a machine with network access (`tfds build {name}` or one `tfds.load`), "
            f"then copy its folder into {data_dir()} (or point ZOO_DATA_DIR at it)"
        ),
        "  - train on your own files of this kind instead: --data PATH --format FORMAT (see `zoo train --help`)",
    ]
    return DatasetUnavailableError(
        f"TFDS dataset {name!r} is not available: {cause}\nWhat you can do:\n"
        + "\n".join(alternatives)
    )


@contextlib.contextmanager
def preparing(*, downloads: bool) -> Iterator[None]:
    """Prepare a TFDS dataset in this block, printing only what the user may act on.

    TFDS prints `Downloading and preparing dataset ...` and `Dataset ... downloaded and
    prepared` on standard output, where they would mix with a command's results (`zoo train
    --list-hparams`'s table). For a download they say how large it is, so that the user can
    cancel it: they go to standard error. For data prepared here (the zoo's own builders,
    users' files) they say `Unknown size` and nothing to act on: they are dropped. TFDS's
    progress bars are turned off where standard error does not draw them
    (`zoo._quiet.shows_progress`), for the rest of the process.

    Args:
        downloads: whether the preparation downloads (a real TFDS dataset).

    Returns:
        A context manager.
    """
    if not shows_progress(sys.stderr):
        tfds.disable_progress_bar()
    with (
        contextlib.redirect_stdout(sys.stderr if downloads else io.StringIO()),
        quiet_loggers(),
    ):
        yield


def preparation_lock(name: str, directory: str | None = None) -> FileLock:
    """The lock that one process holds while it prepares a dataset, so that any number of
    processes (a search's chief and workers, parallel test runs) may ask for the same data at
    once: one builds it, the others wait and then read it. TFDS alone lets them race, and all
    but one fail with `FileExistsError: Cannot rename …/incomplete…`.

    Args:
        name: the dataset's TFDS name with config (`zoo_reviews`, `zoo_csv_text/1e43…`).
        directory: the TFDS data folder (default: `data_dir()`).

    Returns:
        A `filelock.FileLock` (re-entrant in one process), under `<data dir>/.zoo-locks/`.
    """
    locks = Path(directory or data_dir()) / ".zoo-locks"
    locks.mkdir(parents=True, exist_ok=True)
    return FileLock(str(locks / f"{name.replace('/', '-')}.lock"))


def _unknown_dataset(name: str) -> UnknownNameError:
    return UnknownNameError(
        "TFDS dataset",
        name.split("/")[0],
        tfds.list_builders(),
        listing="See the TFDS catalogue (https://www.tensorflow.org/datasets/catalog) "
        "or `tfds.list_builders()`.",
    )


def load_tfds(
    name: str, split: str, *, directory: str | None = None, offline_alternative: str | None = None
) -> tf.data.Dataset:
    """Load one split of a TFDS dataset, preparing it first if needed.

    The zoo's own builders generate their data offline in seconds; a real dataset is
    downloaded by TFDS, and when it cannot be, the error says why and what to do instead.

    Args:
        name: a TFDS name, optionally with config (`ted_hrlr_translate/pt_to_en`).
        split: a TFDS split expression (`train`, `train[:90%]`, `validation`).
        directory: the TFDS data folder (default: `data_dir()`).
        offline_alternative: the task's embedded dataset, suggested in the error message.

    Returns:
        The split's examples: unbatched dicts of tensors, in file order (not shuffled).

    Raises:
        UnknownNameError: TFDS knows no dataset of that name.
        DatasetUnavailableError: the dataset is not prepared and cannot be downloaded here
            (no network, a failed download, a disk error).
    """
    directory = directory or data_dir()
    embedded = is_embedded(name)
    try:
        with quiet_loggers():  # TFDS warns of the folder it looks in before it is prepared
            return tfds.load(
                name, split=split, data_dir=directory, download=False, shuffle_files=False
            )
    except tfds.core.DatasetNotFoundError as err:
        raise _unknown_dataset(name) from err
    except AssertionError:
        pass  # TFDS asserts when the data is not prepared yet: prepare it below
    if not embedded and not _network_reachable():
        raise _unavailable(
            name,
            "it is not prepared locally and this machine cannot reach the network.",
            offline_alternative,
        )
    try:
        # download=True prepares only what is missing: a process that waited for the lock
        # finds the data another one built, and reads it
        with preparing(downloads=not embedded), preparation_lock(name, directory):
            return tfds.load(
                name, split=split, data_dir=directory, download=True, shuffle_files=False
            )
    except (OSError, tfds.download.DownloadError) as err:  # network and disk failures
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise _unavailable(
            name, f"the download failed ({first_line}).", offline_alternative
        ) from err


def info(name: str, *, directory: str | None = None) -> tfds.core.DatasetInfo:
    """A TFDS dataset's description (features, label names, version) without its data.

    Args:
        name: a TFDS name, optionally with config.
        directory: the TFDS data folder (default: `data_dir()`).

    Returns:
        The builder's `tfds.core.DatasetInfo`; its split sizes are known only once the
        dataset is prepared.

    Raises:
        UnknownNameError: TFDS knows no dataset of that name.
    """
    is_embedded(name)  # registers the zoo's builders before TFDS looks the name up
    try:
        return tfds.builder(name, data_dir=directory or data_dir()).info
    except tfds.core.DatasetNotFoundError as err:
        raise _unknown_dataset(name) from err
