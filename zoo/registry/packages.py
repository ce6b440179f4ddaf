"""Model packages: a registry version as a wheel that pip installs (spaCy's way of shipping
pipelines), and the installed ones found by name as one more registry.

`zoo package NAME@VERSION --output DIR` writes `rnn_zoo_model_<name>-<version>-py3-none-any.whl`
(distribution `rnn-zoo-model-<name>`), built by setuptools through its PEP 517 interface
(`build`, without an isolated environment: nothing is downloaded). Its import package is
a registry folder holding one model and one version, with a manifest of every file's SHA-256:

    rnn_zoo_model_<name>/
      __init__.py
      manifest.json              {"name", "version", "files": {file name: SHA-256}}
      registry/<name>/aliases.json
      registry/<name>/<version>/ model.keras, preprocessing.json, card.json, README.md, ...

An entry point in the group `rnn_zoo.models` (name: the model's, value: the import package)
makes it discoverable (`importlib.metadata.entry_points`). The registry folders of the
installed packages come after the local registries and before the hubs
(`layout.search_roots`); a version read from one is checked against the manifest before
its card (`check`), and the zoo never writes into it (`refuse_writing`).

No TensorFlow here: `zoo package` and `zoo models` start quickly.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from zoo.errors import ZooError
from zoo.registry import layout
from zoo.registry.hub import resolve
from zoo.registry.layout import ALIASES_FILE, README_FILE, IntegrityError

#: the entry point group through which installed model packages are found
GROUP = "rnn_zoo.models"
#: the package's record of every file of its version with its SHA-256
MANIFEST_FILE = "manifest.json"
#: the registry folder inside an import package
REGISTRY_FOLDER = "registry"
#: the build backend a package is built with (`[project]` tables need 61)
BACKEND_REQUIREMENT = "setuptools>=61"


@dataclass(frozen=True)
class Package:
    """An installed model package.

    Attributes:
        name: the model's registry name (the entry point's name).
        distribution: the distribution that installed it, e.g. `rnn-zoo-model-digits-lstm`.
        version: the distribution's version (the model version it holds).
        root: its registry folder, `<import package>/registry`.
    """

    name: str
    distribution: str
    version: str
    root: Path

    def reinstall(self) -> str:
        """What to do when its files fail their check.

        Returns:
            The advice, naming the pip command.
        """
        return (
            f"reinstall its package: pip install --force-reinstall "
            f"'{self.distribution}=={self.version}' (from the wheel or index it came from)"
        )


def distribution_name(name: str) -> str:
    """The distribution of a model's package, PEP 503-normalised.

    Args:
        name: a model name.

    Returns:
        E.g. `rnn-zoo-model-digits-lstm`.
    """
    return "rnn-zoo-model-" + re.sub(r"[-_.]+", "-", name)


def import_name(name: str) -> str:
    """The import package of a model's package.

    Args:
        name: a model name.

    Returns:
        E.g. `rnn_zoo_model_digits_lstm`.
    """
    return "rnn_zoo_model_" + re.sub(r"[-_.]+", "_", name)


def wheel_name(name: str, version: int) -> str:
    """The file name of a model version's wheel: the model version is the wheel's version.

    Args:
        name: a model name.
        version: its registry version.

    Returns:
        E.g. `rnn_zoo_model_digits_lstm-1-py3-none-any.whl`.
    """
    return f"{import_name(name)}-{version}-py3-none-any.whl"


def installed() -> dict[str, Package]:
    """The model packages installed where Python imports from, found through their entry
    points; where two install one name, the first on `sys.path` wins, as for imports.
    An entry point whose import package is gone (a half-uninstalled distribution) is skipped.

    Returns:
        Model name -> package, in `sys.path` order.
    """
    found: dict[str, Package] = {}
    for entry in metadata.entry_points(group=GROUP):
        if entry.name in found or not layout.NAME.match(entry.name):
            continue
        try:  # locates the import package without running it
            spec = importlib.util.find_spec(entry.module)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            continue
        root = Path(next(iter(spec.submodule_search_locations))) / REGISTRY_FOLDER
        if (root / entry.name).is_dir():
            found[entry.name] = Package(entry.name, entry.dist.name, entry.dist.version, root)
    return found


def package_of(path: Path) -> Package | None:
    """The installed package a version folder comes from.

    Args:
        path: a version folder, `<root>/<name>/<version>`.

    Returns:
        The package, or None for a folder of any other registry.
    """
    root = path.resolve().parent.parent
    return next((p for p in installed().values() if p.root.resolve() == root), None)


def check(path: Path) -> None:
    """Check a version folder from an installed package against its manifest (the card, its
    README and every other file); nothing for a folder of any other registry.

    Args:
        path: a version folder.

    Raises:
        IntegrityError: the manifest is unreadable, or a file is missing or altered; the
            message says to reinstall the package.
    """
    package = package_of(path)
    if package is None:
        return
    manifest_file = package.root.parent / MANIFEST_FILE
    try:
        digests = json.loads(manifest_file.read_text())["files"]
        if not isinstance(digests, dict):
            raise TypeError("'files' is not an object")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise IntegrityError(
            f"{manifest_file} is missing or unreadable ({err}): {package.reinstall()}."
        ) from err
    layout.check_files(
        path, digests, f"the manifest of {package.distribution}", repair=package.reinstall()
    )


def refuse_writing(path: Path, instead: str) -> None:
    """Refuse to change a version folder that an installed package holds: pip owns it.

    Args:
        path: a version folder.
        instead: what to do instead, for the message.

    Raises:
        ZooError: `path` comes from an installed package.
    """
    package = package_of(path)
    if package is not None:
        raise ZooError(
            f"{package.name}@{path.name} comes from the installed package "
            f"{package.distribution}, which the zoo never changes: {instead}."
        )


def zoo_requirement() -> str:
    """The zoo a package needs: at least the version that built it.

    Returns:
        E.g. `rnn-zoo>=0.2.0`.

    Raises:
        ZooError: the zoo runs from sources that were never installed, so it has no version.
    """
    try:
        return f"rnn-zoo>={metadata.version('rnn-zoo')}"
    except metadata.PackageNotFoundError as err:
        raise ZooError(
            "this zoo was never installed, so a package cannot record the zoo version it "
            "needs: install it first (pip install -e .)."
        ) from err


def build(
    ref: str,
    output: Path | str,
    *,
    root: Path | str | None = None,
    hub: str | None = None,
) -> Path:
    """Build a model version's wheel: its files (checked against its card), card, README
    and manifest, with an entry point in `GROUP`; it requires the zoo that built it or a
    later one. The wheel is built in a temporary folder and appears in `output` whole.

    Args:
        ref: `NAME` (its `latest`), `NAME@VERSION` or `NAME:ALIAS`.
        output: the folder to write the wheel into; created if missing.
        root: one registry folder to read alone (default: as `zoo.registry.resolve`).
        hub: hub sources before those of `ZOO_HUB`, for a catalogue model not on disk.

    Returns:
        The wheel, `<output>/rnn_zoo_model_<name>-<version>-py3-none-any.whl`.

    Raises:
        ZooError: `output` is or lies under a file, the wheel is already there, the build
            backend is missing, the build fails, or the zoo was never installed; nothing is
            written.
        UnknownNameError: no such model, version or alias.
        IntegrityError: the version fails its card's hashes.
    """
    output = Path(output)
    existing = next(p for p in (output, *output.parents) if p.exists())
    if not existing.is_dir():
        raise ZooError(f"--output {output}: {existing} is a file; give a folder for the wheel.")
    path = resolve(ref, root=root, hub=hub)
    name, version = path.parent.name, int(path.name)
    target = output / wheel_name(name, version)
    if target.exists():
        raise ZooError(
            f"{target} exists: a model version's wheel is never replaced; remove it or choose "
            "another --output."
        )
    files = layout.travelling_files(path)
    requirement = zoo_requirement()
    with tempfile.TemporaryDirectory(prefix="zoo-package-") as scratch:
        source = Path(scratch) / "source"
        _write_project(source, path, files, requirement)
        wheel = _build_wheel(source, Path(scratch) / "dist")
        partial = layout.partial_path(target)
        try:
            output.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(wheel, partial)
            os.replace(partial, target)
        except OSError as err:
            partial.unlink(missing_ok=True)
            raise ZooError(
                f"cannot write the wheel into {output}: {err.strerror or err}; choose another --output."
            ) from err
    return target


def _write_project(source: Path, path: Path, files: list[str], requirement: str) -> None:
    """The project the wheel is built from: the import package, holding the version in the
    registry layout with its manifest, and a `pyproject.toml` that names what it installs."""
    name, version = path.parent.name, int(path.name)
    package = import_name(name)
    folder = source / package / REGISTRY_FOLDER / name
    (folder / str(version)).mkdir(parents=True)
    for filename in files:
        shutil.copyfile(path / filename, folder / str(version) / filename)
    # the aliases that name this version where it was packaged; `latest` is the one version
    aliases = {a: v for a, v in layout.aliases(path.parent).items() if v == version}
    layout.write_json_atomic(folder / ALIASES_FILE, {**aliases, "latest": version})
    manifest = {
        "format": 1,
        "name": name,
        "version": version,
        "files": {f: layout.sha256(folder / str(version) / f) for f in files},
    }
    layout.write_json_atomic(source / package / MANIFEST_FILE, manifest)
    (source / package / "__init__.py").write_text(
        f'"""The rnn-zoo model {name}@{version}, installed as a package: `zoo.load("{name}")` '
        f'and `zoo predict {name} ...` find it by name (entry point group {GROUP})."""\n'
    )
    readme = f"{package}/{REGISTRY_FOLDER}/{name}/{version}/{README_FILE}"
    data = [
        MANIFEST_FILE,
        f"{REGISTRY_FOLDER}/{name}/{ALIASES_FILE}",
        f"{REGISTRY_FOLDER}/{name}/{version}/*",
    ]

    def quoted(text: str) -> str:  # a JSON string is a TOML basic string
        return json.dumps(text)

    (source / "pyproject.toml").write_text(
        f"""[build-system]
requires = [{quoted(BACKEND_REQUIREMENT)}]
build-backend = "setuptools.build_meta"

[project]
name = {quoted(distribution_name(name))}
version = "{version}"
description = "rnn-zoo model {name}@{version}, loaded by name once installed"
readme = {quoted(readme)}
dependencies = [{quoted(requirement)}]

[project.entry-points.{quoted(GROUP)}]
{quoted(name)} = {quoted(package)}

[tool.setuptools]
packages = [{quoted(package)}]
include-package-data = false

[tool.setuptools.package-data]
{quoted(package)} = [{", ".join(map(quoted, data))}]
"""
    )


def _build_wheel(source: Path, dist: Path) -> Path:
    """Build the project in `source` into a wheel in `dist` with the build backend installed
    beside the zoo (no isolated environment, so nothing is downloaded).

    Raises:
        ZooError: the backend is missing, or the build fails (its last line of output named).
    """
    import build
    import pyproject_hooks

    builder = build.ProjectBuilder(
        source, python_executable=sys.executable, runner=pyproject_hooks.quiet_subprocess_runner
    )
    with warnings.catch_warnings():
        # what the backend warns about (setuptools' "beta" [tool.setuptools]) is not the user's
        warnings.simplefilter("ignore", pyproject_hooks.BuildBackendWarning)
        try:
            missing = builder.check_dependencies("wheel")
            if missing:
                needed = sorted({chain[0] for chain in missing})
                raise ZooError(
                    f"building a model package needs {', '.join(needed)} beside the zoo: "
                    f"pip install {' '.join(repr(n) for n in needed)}"
                )
            return Path(builder.build("wheel", dist))
        except (build.BuildException, build.BuildBackendException) as err:
            cause = getattr(err, "exception", err)
            output = (getattr(cause, "output", None) or b"").decode(errors="replace").strip()
            raise ZooError(
                f"building the wheel failed: {(output or str(err)).splitlines()[-1]}"
            ) from err
