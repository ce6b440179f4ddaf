"""Where registry folders are and how one is laid out, without importing TensorFlow: the
roots that are read and written, file names, references (`NAME@3`, `NAME:best`), hashing,
and the staging folders through which a version appears in one rename.

Layout: `<root>/<name>/<version>/` holds the version's files (`model.keras`, `card.json`,
...) and `<root>/<name>/aliases.json` maps `latest`, `best` and the user's aliases to
versions.

Roots:
- the *user registry*, where downloaded models go: `ZOO_REGISTRY`, else the platform's user
  data folder (`platformdirs`, e.g. `~/.local/share/rnn-zoo/models` on Linux);
- the `saved_models/` of a source checkout, when the zoo runs from one (an editable
  install); it holds the shipped models;
- the registry folder inside each installed model package (`zoo.registry.packages`), read
  only;
- `zoo train`, `retrain`, `tune` and `save` write to the user registry unless told another
  folder (`--registry`, `root=`), in a source checkout too: its `saved_models/` holds only
  the shipped models, which maintainers save there with `--registry saved_models`. Nothing
  is written beside an installed package.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import secrets
import shutil
import threading
from pathlib import Path
from typing import Any

import platformdirs

from zoo.errors import UnknownNameError, ZooError

MODEL_FILE, PREPROCESSING_FILE, CARD_FILE, README_FILE, ALIASES_FILE = (
    "model.keras",
    "preprocessing.json",
    "card.json",
    "README.md",
    "aliases.json",
)
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9._-]*$")
#: a reference is a name, a version and an alias, nothing else: no path (`../x`, `/etc`)
#: can be one, so nothing outside a registry folder is ever read through a reference
_REF = re.compile(
    r"^(?P<name>[a-z0-9][a-z0-9._-]*)(?:@(?P<version>\d+)|:(?P<alias>[A-Za-z][A-Za-z0-9._-]*))?$"
)
#: a file of a version folder, as a card or the catalogue lists it: a plain name, no path
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class IntegrityError(ZooError):
    """A registry file that is missing, altered or unsafe to load."""


def checked_name(name: str) -> str:
    """A model name the registry accepts, as a folder name on every file system.

    Args:
        name: a proposed registry name.

    Returns:
        `name`, unchanged.

    Raises:
        ZooError: anything but lowercase letters, digits, `.`, `_` and `-`, starting with a
            letter or digit.
    """
    if not NAME.match(name):
        raise ZooError(
            f"invalid model name {name!r}: use lowercase letters, digits, '.', '_' and '-', "
            "starting with a letter or digit"
        )
    return name


#: the repository root when the zoo runs from a source checkout (zoo/registry/ -> root)
_SOURCE = Path(__file__).resolve().parents[2]


def checkout_models() -> Path | None:
    """The `saved_models/` of the source checkout the zoo runs from, if it does.

    Returns:
        The folder, or None for an installed zoo (no `pyproject.toml` beside the package).
    """
    models = _SOURCE / "saved_models"
    return models if (_SOURCE / "pyproject.toml").is_file() and models.is_dir() else None


def user_root() -> Path:
    """The user registry: `ZOO_REGISTRY`, else the platform's per-user data folder.

    Returns:
        The folder; it need not exist yet.
    """
    configured = os.environ.get("ZOO_REGISTRY")
    if configured:
        return Path(configured)
    return platformdirs.user_data_path("rnn-zoo", appauthor=False) / "models"


def default_root() -> Path:
    """Where a trained model is saved unless told another folder: the user registry
    (`user_root`), in a source checkout too, so that a user's models never land among the
    shipped ones in its tracked `saved_models/` (maintainers ship with `--registry
    saved_models`).

    Returns:
        The registry folder; it need not exist yet.
    """
    return user_root()


def search_roots() -> list[Path]:
    """The local folders read, in order, for a model given without `--registry`.

    Returns:
        The user registry, then a source checkout's `saved_models/` (when distinct), then
        the registry folder of each installed model package (`zoo.registry.packages`).
    """
    from zoo.registry import packages  # here: packages imports this module

    roots = [user_root()]
    checkout = checkout_models()
    if checkout is not None and checkout.resolve() != roots[0].resolve():
        roots.append(checkout)
    return [*roots, *(package.root for package in packages.installed().values())]


def parse_ref(ref: str, known: list[str]) -> tuple[str, int | None, str | None]:
    """Split `NAME`, `NAME@3` or `NAME:alias`.

    Args:
        ref: the reference.
        known: model names to suggest when it is malformed.

    Returns:
        `(name, version or None, alias or None)`; a bare name has neither.

    Raises:
        UnknownNameError: a malformed reference.
    """
    match = _REF.match(ref)
    if not match or ".." in match["name"]:
        raise UnknownNameError(
            "model reference (NAME, NAME@VERSION or NAME:ALIAS; not a path)", ref, known
        )
    version = match["version"]
    return match["name"], int(version) if version else None, match["alias"]


def sha256(path: Path) -> str:
    """The SHA-256 of a file's content, read in 1 MiB blocks.

    Args:
        path: the file.

    Returns:
        The digest as 64 lowercase hex characters.
    """
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def partial_path(path: Path) -> Path:
    """Where to write `path` before renaming it into place: a hidden sibling that only this
    process and thread use. Opened with `open`, it gets the umask's permissions (`tempfile`
    makes private files, which a rename would carry onto a shared registry or hub).

    Args:
        path: the file to be written.

    Returns:
        `.<name>.<pid>.<thread>.partial` beside `path`.
    """
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.partial")


def default_file_mode() -> int:
    """The permissions `open` gives a new file in this process: 0o666 less the umask. For
    files that a library writes private (`tempfile`, e.g. pooch's downloads) before they
    become a registry's.

    Returns:
        The mode bits, e.g. 0o644 under the usual umask 022.
    """
    mask = os.umask(0)  # reading the umask means setting it; set it straight back
    os.umask(mask)
    return 0o666 & ~mask


def write_json_atomic(path: Path, payload: Any, *, indent: int | None = 2) -> None:
    """Write `payload` as JSON into `path` whole or not at all: into a partial file beside
    it, then one rename. A process killed or interrupted (Ctrl-C) in the middle leaves the
    previous file as it was and no partial file; the new file gets the permissions of any
    other new file (the umask's), so a registry or hub folder stays readable by others.

    Args:
        path: the file; its folder must exist.
        payload: JSON-serialisable data.
        indent: JSON indentation; None for one line.

    Raises:
        TypeError: `payload` is not JSON-serialisable (`path` is left as it was).
        OSError: the folder cannot be written.
    """
    partial = partial_path(path)
    try:
        with partial.open("w") as handle:
            json.dump(payload, handle, indent=indent, sort_keys=True)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def versions(folder: Path) -> list[int]:
    """The version numbers in a model's registry folder, ascending.

    Args:
        folder: `<root>/<name>`.

    Returns:
        The numbered sub-folders' numbers.
    """
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())


def aliases(folder: Path) -> dict[str, int]:
    """A model folder's aliases.

    Args:
        folder: `<root>/<name>`.

    Returns:
        Alias -> version; empty when it has no `aliases.json` (e.g. a downloaded copy).

    Raises:
        IntegrityError: `aliases.json` is not an object of aliases (`ALIAS`) to version
            numbers, or is a link.
    """
    path = folder / ALIASES_FILE
    if not path.exists() and not path.is_symlink():
        return {}
    try:
        known = None if path.is_symlink() else json.loads(path.read_text())
    except (OSError, ValueError):
        known = None
    if not isinstance(known, dict) or not all(
        isinstance(a, str) and ALIAS.match(a) and type(v) is int and v > 0 for a, v in known.items()
    ):
        raise IntegrityError(
            f"{path} is not a map of aliases to version numbers (or is a link): restore it "
            f"or delete it and set the aliases again with `zoo alias`."
        )
    return known


def _remove_abandoned_staging(folder: Path) -> None:
    """Delete staging folders left by saves whose process died (kill -9, power loss)."""
    for staging in folder.glob(".tmp-*"):
        pid = staging.name.split("-")[1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(staging, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_writable(root: Path) -> None:
    """Refuse, before hours of training, a registry folder a model could not be saved into
    (read-only, under a file, no permission): a staging folder is made and removed in it,
    or, while it does not exist yet, in the nearest folder above it, which a save would
    create it in. Nothing is left behind.

    Args:
        root: the registry folder.

    Raises:
        ZooError: the folder cannot be written; the message names it and `--registry`.
    """
    existing = next((p for p in (root, *root.parents) if p.exists()), Path("."))
    try:
        if not existing.is_dir():
            raise NotADirectoryError(20, "a file stands in its path", str(existing))
        probe = existing / f".tmp-{os.getpid()}-{secrets.token_hex(6)}"
        probe.mkdir()
        probe.rmdir()
    except OSError as err:
        raise ZooError(
            f"cannot save models into {root}: {err.strerror or err}; make it writable or "
            "choose another folder with --registry DIR (nothing was trained)."
        ) from err


def staging_folder(folder: Path) -> Path:
    """A fresh temporary folder beside a model's registry folder (hidden, in the registry's
    root), where a version is written before it is renamed into place; abandoned ones are
    cleaned up first. The model's own folder is made only when a version is published, so a
    save or download that fails leaves no model without versions behind.

    Args:
        folder: the model's registry folder, `<root>/<name>`; its parent is created if missing.

    Returns:
        A new `.tmp-<pid>-...` folder inside `folder`'s parent.

    Raises:
        ZooError: the registry folder cannot be written.
    """
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned_staging(folder.parent)
        if folder.is_dir():  # where earlier versions of the zoo staged
            _remove_abandoned_staging(folder)
        # `os.mkdir` applies the umask; `tempfile.mkdtemp` would make the version private (0700)
        staging = folder.parent / f".tmp-{os.getpid()}-{secrets.token_hex(6)}"
        staging.mkdir()
        return staging
    except OSError as err:
        raise ZooError(
            f"cannot write to the registry at {folder}: {err.strerror}. Choose another with --registry or ZOO_REGISTRY."
        ) from err


def check_files(
    path: Path,
    digests: dict[str, str],
    recorded_in: str,
    *,
    repair: str = "re-download or retrain this model version",
) -> None:
    """Check that every listed file of a version folder is there with its SHA-256.

    Args:
        path: a version folder.
        digests: file name -> expected SHA-256.
        recorded_in: where the digests come from, for the message (e.g. `its card`).
        repair: what the message tells the user to do about a failure, e.g. `reinstall
            the package`.

    Raises:
        IntegrityError: a file is missing or does not match, or a listed name is not a plain
            file name (`FILE_NAME`) or is a link.
    """
    for filename, digest in digests.items():
        file = path / filename
        if not FILE_NAME.match(filename) or file.is_symlink():
            # a listed name that is a path (`../x`) or a link would read outside the folder
            raise IntegrityError(
                f"{path}: {recorded_in} lists {filename!r}, which is "
                f"{'a link' if FILE_NAME.match(filename) else 'not a plain file name'}; a "
                f"registry version holds plain files only: {repair}."
            )
        if not file.is_file():
            raise IntegrityError(f"{file} is missing: {repair}.")
        if sha256(file) != digest:
            raise IntegrityError(
                f"{file} does not match the SHA-256 in {recorded_in}: it was altered or "
                f"corrupted; {repair}."
            )


def travelling_files(path: Path) -> list[str]:
    """The files of a version that travel with it (to a hub, into a package): those its card
    lists, checked against their SHA-256, then the card and its README.

    Args:
        path: a version folder.

    Returns:
        Plain file names of `path`, none of them a link.

    Raises:
        IntegrityError: the card is missing or unreadable, a file it lists is missing or
            altered, or the card or README is a link.
    """
    try:
        card = json.loads((path / CARD_FILE).read_text())
        listed = {name: record["sha256"] for name, record in card["files"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise IntegrityError(
            f"{path / CARD_FILE} is missing or unreadable ({err}); the version cannot be trusted."
        ) from err
    check_files(path, listed, "its card")
    links = [name for name in (CARD_FILE, README_FILE) if (path / name).is_symlink()]
    if links:
        raise IntegrityError(
            f"{path / links[0]} is a link; a registry version holds plain files only."
        )
    return [*listed, CARD_FILE, README_FILE]


def list_names(pattern: str, root: Path) -> list[str]:
    """Model names in one registry folder matching a shell-style wildcard pattern.

    Args:
        pattern: a `fnmatch` pattern, e.g. `*lstm*`.
        root: the registry folder.

    Returns:
        The matching names of the folders in it, sorted (hidden ones skipped); empty when
        the folder does not exist.
    """
    names = (
        sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if root.exists()
        else []
    )
    return [n for n in names if fnmatch.fnmatch(n, pattern)]


def resolve_in(ref: str, root: Path) -> Path:
    """`NAME`, `NAME@3` or `NAME:alias` -> the version folder in one registry folder.

    Args:
        ref: `NAME` (its `latest`), `NAME@VERSION` or `NAME:ALIAS`.
        root: the registry folder.

    Returns:
        `<root>/<name>/<version>`, an existing folder (not yet verified).

    Raises:
        UnknownNameError: a malformed reference, or no such model, alias or version.
    """
    name, version, alias = parse_ref(ref, list_names("*", root))
    folder = root / name
    if not folder.is_dir():
        raise UnknownNameError("model", name, list_names("*", root))
    if version is None:
        alias = alias or "latest"
        known = aliases(folder)
        if alias not in known:
            raise UnknownNameError(f"alias of {name}", alias, known)
        version = known[alias]
    path = folder / str(version)
    if not path.is_dir():
        raise UnknownNameError(f"version of {name}", str(version), map(str, versions(folder)))
    if not path.resolve().is_relative_to(root.resolve()):
        raise IntegrityError(
            f"{path} is a link out of the registry folder {root}: a registry holds its models "
            "itself; copy the model in (or save it there) instead of linking it."
        )
    return path
