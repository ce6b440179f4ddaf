"""Finding a model by name from anywhere: the local registries, then the hubs.

A reference is looked up, in order, in the user registry, in a source checkout's
`saved_models/`, in the installed model packages (`zoo.registry.packages`), and then, for
a model of the zoo's catalogue, on the hubs: `ZOO_HUB` (or
`--hub`) lists sources, each an `https://`/`http://` base URL, a `file://` URL or a local
folder holding the registry layout (`<name>/<version>/<file>`). An alias is first pinned
to an immutable version by the catalogue; a version already on disk is used without any
network call. A download goes into a staging folder; every file's SHA-256 is checked
against the catalogue (pooch does the hashed, retried HTTP downloads) before the version
is renamed into the user registry in one step, so a failure leaves nothing behind.
`ZOO_OFFLINE=1` never downloads and says what to pull, and from where.

`push` writes a version, and its catalogue entry, in the same static layout into a folder
that any web server, object store website or mirror can serve.

No TensorFlow here: `zoo pull`, `zoo push` and `zoo models` start quickly.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pooch
import requests
from filelock import FileLock

from zoo.errors import UnknownNameError, ZooError
from zoo.registry import catalogue, layout
from zoo.registry.layout import IntegrityError

#: files this large get a progress bar while they download (on a terminal)
PROGRESS_BYTES = 1 << 20
#: further attempts after a failed or corrupted download from one hub (pooch waits 1 s, 2 s, ...)
RETRIES = 2
#: seconds without data before a download is abandoned
TIMEOUT = 60
#: the index of a pushed hub folder: the catalogue of the models pushed there
HUB_CATALOGUE = "catalogue.json"

pooch.get_logger().setLevel("WARNING")  # not a line per file: the zoo reports what it did


def hubs(hub: str | None = None) -> list[str]:
    """The hub sources to download from, in order.

    Args:
        hub: sources given on the command line (`--hub`), separated by spaces; they come
            before those of `ZOO_HUB`.

    Returns:
        URLs and folders, as given.
    """
    return [*(hub or "").split(), *os.environ.get("ZOO_HUB", "").split()]


def offline() -> bool:
    """Whether `ZOO_OFFLINE` forbids downloads (`1`, `true` or `yes`).

    Returns:
        True when only local files may be used.
    """
    return os.environ.get("ZOO_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def list_models(pattern: str = "*", *, root: Path | str | None = None) -> list[str]:
    """Model names matching a shell-style wildcard pattern: every name `load` accepts.

    Args:
        pattern: a `fnmatch` pattern, e.g. `*lstm*`.
        root: one registry folder to list alone; default: the local registries
            (`layout.search_roots`) and the catalogue.

    Returns:
        The matching names, sorted.
    """
    if root is not None:
        return layout.list_names(pattern, Path(root))
    names = {n for r in layout.search_roots() for n in layout.list_names(pattern, r)}
    names |= {n for n in catalogue.models() if fnmatch.fnmatch(n, pattern)}
    return sorted(names)


def local_version(name: str, version: int) -> Path | None:
    """A version folder of `name` already on disk, in search order.

    Args:
        name: a model name.
        version: a version number.

    Returns:
        The first `<root>/<name>/<version>` that exists, or None.
    """
    for root in layout.search_roots():
        if (root / name / str(version)).is_dir():
            return root / name / str(version)
    return None


def resolve(ref: str, *, root: Path | str | None = None, hub: str | None = None) -> Path:
    """`NAME`, `NAME@3` or `NAME:alias` -> its version folder on disk, downloaded if needed.

    Args:
        ref: `NAME` (its `latest`), `NAME@VERSION` or `NAME:ALIAS`.
        root: one registry folder to read alone (nothing is downloaded); default: the
            local registries, then, for a catalogue model, the hubs.
        hub: hub sources before those of `ZOO_HUB` (see `hubs`).

    Returns:
        `<root>/<name>/<version>`, an existing folder (its card's hashes not yet checked).

    Raises:
        UnknownNameError: a malformed reference, or no such model, alias or version.
        ZooError: a catalogue version that is not on disk and cannot be downloaded
            (offline, no hub, or every hub failed).
        IntegrityError: a hub served a file that does not match the catalogue.
    """
    if root is not None:
        return layout.resolve_in(ref, Path(root))
    name, _, _ = layout.parse_ref(ref, list_models())
    first_error = None
    for local in layout.search_roots():
        if (local / name).is_dir():
            try:
                return layout.resolve_in(ref, local)
            except UnknownNameError as err:  # e.g. a downloaded copy, which has no aliases
                first_error = first_error or err
    if name not in catalogue.models():
        raise first_error or UnknownNameError("model", name, list_models())
    return pull(ref, hub=hub)


def pull(ref: str, *, root: Path | str | None = None, hub: str | None = None) -> Path:
    """Download a catalogue model version into the user registry, unless it is on disk.

    Args:
        ref: `NAME` (its `latest`), `NAME@VERSION` or `NAME:ALIAS`, pinned to a version by
            the catalogue.
        root: the registry folder to download into (default: `layout.user_root()`).
        hub: hub sources before those of `ZOO_HUB` (see `hubs`).

    A copy already in `root` that fails the catalogue's hashes (a truncated download, a
    disk error) is downloaded again and replaced.

    Returns:
        The version folder.

    Raises:
        UnknownNameError: the name, version or alias is not in the catalogue.
        ZooError: offline, no hub configured, or no hub could serve every file.
        IntegrityError: a hub served a file that does not match the catalogue's SHA-256;
            nothing is kept.
    """
    name, version = catalogue.pin(ref)
    root = Path(root) if root is not None else layout.user_root()
    present = root / name / str(version)
    damaged = present.is_dir() and not intact(present, name, version)
    if present.is_dir() and not damaged:
        return present
    if not damaged and root == layout.user_root() and (found := local_version(name, version)):
        return found
    sources = hubs(hub)
    where = (
        f"from {' or '.join(sources)}" if sources else "with ZOO_HUB set to a hub that serves it"
    )
    state = "is damaged (it fails the catalogue's SHA-256)" if damaged else "is not downloaded"
    if offline():
        raise ZooError(
            f"{name}@{version} {state} and ZOO_OFFLINE is set: run `zoo pull {name}@{version}` {where}."
        )
    if not sources:
        raise ZooError(
            f"{name}@{version} {state} and no hub is configured: "
            + (
                f"run `zoo pull {name}@{version} --hub URL|DIR` to download it again, or "
                if damaged
                else ""
            )
            + "set ZOO_HUB (or --hub) to a URL or folder that serves the zoo's models, e.g. a clone's "
            "saved_models/."
        )
    failures = []
    for source in sources:
        staging = layout.staging_folder(root / name)
        try:
            for filename, record in catalogue.files(name, version).items():
                _fetch(source, f"{name}/{version}", filename, record, staging)
            return _install(staging, root / name, version, replace=damaged)
        except (requests.exceptions.RequestException, OSError) as err:
            failures.append(f"{source}: {_reason(err)}")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    raise ZooError(
        f"{name}@{version} could not be downloaded ({'; '.join(failures)}); nothing was kept."
    )


def _reason(err: Exception) -> str:
    """The last line of an error, which names its cause."""
    text = str(err).strip()
    return text.splitlines()[-1] if text else type(err).__name__


def _local_source(source: str) -> Path | None:
    """The folder of a `file://` URL or a plain path; None for a network URL."""
    parsed = urlparse(source)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    return None if parsed.scheme in ("http", "https") else Path(source)


def _fetch(source: str, version_path: str, filename: str, record: dict, staging: Path) -> None:
    """Copy or download one file of a version into `staging`, checked against its SHA-256.

    Raises:
        IntegrityError: the file does not match the catalogue.
        OSError, requests.exceptions.RequestException: it could not be read or downloaded.
    """
    folder = _local_source(source)
    if folder is not None:
        shutil.copyfile(folder / version_path / filename, staging / filename)
        if layout.sha256(staging / filename) != record["sha256"]:
            raise IntegrityError(_tampered(source, version_path, filename))
        return
    large = record["bytes"] >= PROGRESS_BYTES and sys.stderr.isatty()
    server = pooch.create(
        path=staging,
        base_url=f"{source.rstrip('/')}/{version_path}/",
        registry={filename: f"sha256:{record['sha256']}"},
        retry_if_failed=RETRIES,
    )
    try:
        server.fetch(
            filename,
            downloader=pooch.HTTPDownloader(progressbar=large, timeout=TIMEOUT),
            progressbar=large,
        )
    except ValueError as err:  # pooch's hash mismatch, after its retries
        raise IntegrityError(_tampered(source, version_path, filename)) from err
    # pooch downloads into a private temporary file; a registry's files are the umask's
    os.chmod(staging / filename, layout.default_file_mode())


def _tampered(source: str, version_path: str, filename: str) -> str:
    return (
        f"{source}: {version_path}/{filename} does not match the SHA-256 in the zoo's catalogue; "
        f"it was refused and nothing was kept. The hub serves an altered or different file."
    )


def _install(staging: Path, folder: Path, version: int, *, replace: bool = False) -> Path:
    """Rename a checked version into place (unless another process just did); with
    `replace`, a damaged copy there is renamed out first and deleted."""
    folder.mkdir(exist_ok=True)
    target = folder / str(version)
    with FileLock(str(folder / ".lock")):
        if replace and target.is_dir() and not intact(target, folder.name, version):
            damaged = layout.staging_folder(folder)
            os.rename(target, damaged / target.name)
            shutil.rmtree(damaged, ignore_errors=True)
        if not target.is_dir():
            os.rename(staging, target)
    return target


def intact(path: Path, name: str, version: int) -> bool:
    """Whether a downloaded version folder holds every file the catalogue pins, unaltered.

    Args:
        path: the version folder.
        name: the model's catalogue name.
        version: its version.

    Returns:
        False where a file is missing, altered (e.g. a truncated download) or a link.
    """
    pinned = {f: r["sha256"] for f, r in catalogue.files(name, version).items()}
    try:
        layout.check_files(path, pinned, "the zoo's catalogue")
    except IntegrityError:
        return False
    return True


def downloaded() -> list[Path]:
    """The catalogue versions in the user registry: what `zoo cache --clear` may remove,
    since they can be downloaded again (models the user trained are never listed).

    Returns:
        Their version folders, sorted.
    """
    root = layout.user_root()
    return [
        root / name / version
        for name, entry in sorted(catalogue.models().items())
        for version in sorted(entry["versions"], key=int)
        if (root / name / version).is_dir()
    ]


def remove(path: Path) -> None:
    """Delete a version folder: renamed out of the registry first, so that no half-deleted
    version is ever visible; the model's folder goes too once it holds no version.

    Args:
        path: `<root>/<name>/<version>`.
    """
    folder = path.parent
    with FileLock(str(folder / ".lock")):
        doomed = layout.staging_folder(folder)
        os.rename(path, doomed / path.name)
        shutil.rmtree(doomed, ignore_errors=True)
        empty = not layout.versions(folder)
    if empty:
        shutil.rmtree(folder, ignore_errors=True)


def push(ref: str, to: Path | str, *, root: Path | str | None = None) -> Path:
    """Write a version into a hub folder in the static registry layout, with its entry in
    the folder's `catalogue.json`; serve the folder with any web server.

    Args:
        ref: `NAME`, `NAME@VERSION` or `NAME:ALIAS` of a local (or downloadable) model.
        to: the hub folder; created if missing.
        root: the registry folder to read alone (default: as `resolve`).

    Returns:
        The version folder in the hub.

    Raises:
        UnknownNameError: no such model, version or alias.
        IntegrityError: the local version fails its card's hashes, or the hub already holds
            that version with other content (versions are immutable).
        ZooError: the hub folder cannot be written.
    """
    path = resolve(ref, root=root)
    # never a link or a stray file of the folder
    published = layout.travelling_files(path)
    hub_folder = Path(to)
    target = hub_folder / path.parent.name / path.name
    if target.is_dir():
        mine = {name: layout.sha256(path / name) for name in published}
        layout.check_files(target, mine, f"the version in {path.parent}")
    else:
        staging = layout.staging_folder(target.parent)
        try:
            for name in published:
                shutil.copyfile(path / name, staging / name)
            _install(staging, target.parent, int(path.name))
        except OSError as err:
            raise ZooError(f"pushing {ref} into {hub_folder} failed: {err}") from err
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    with FileLock(str(hub_folder / ".lock")):
        aliases = layout.aliases(target.parent)
        aliases.update(
            {a: v for a, v in layout.aliases(path.parent).items() if v == int(path.name)}
        )
        aliases["latest"] = max(layout.versions(target.parent))
        layout.write_json_atomic(target.parent / layout.ALIASES_FILE, aliases)
        index_file = hub_folder / HUB_CATALOGUE
        index = (
            json.loads(index_file.read_text())
            if index_file.exists()
            else {"format": 1, "models": {}}
        )
        index["models"][target.parent.name] = catalogue.entry(target.parent)
        layout.write_json_atomic(index_file, index)
    return target
