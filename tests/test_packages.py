"""Model packages: `zoo package` builds a wheel of a shipped model; pip installs it into a
folder of the test's own (`--target`), which goes on the import path; then the model is
found by name through its entry point, checked on load, and ranked after the user registry
and a checkout's `saved_models/` and before the hubs.

In-process tests put that folder on `sys.path` and take the checkout's `saved_models/` out
of the search order, as an installed zoo has none. The end-to-end test runs `zoo` in a new
process from a copy of the zoo's packages in the installed layout (no `pyproject.toml`
beside them, so it is not a source checkout) with an empty `HOME` and user registry and no
hub: only the package can answer."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from zoo.cli import main
from zoo.errors import UnknownNameError
from zoo.registry import hub, layout, packages
from zoo.registry.layout import IntegrityError

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "saved_models"
NAME, VERSION = "digits-lstm", 1  # 1.4 MB, an image classifier that loads in seconds
WHEEL = f"rnn_zoo_model_digits_lstm-{VERSION}-py3-none-any.whl"
IMAGE = str(SHIPPED / NAME / str(VERSION) / "reference_1.png")
#: what the shipped model prints for IMAGE (README "Pretrained models")
LINE = {"input": IMAGE, "output": {"label": "4", "probability": 0.9993}}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return packages.build(NAME, tmp_path_factory.mktemp("wheels"), root=SHIPPED)


@pytest.fixture(scope="module")
def site(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed by pip into a folder of its own."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index"]
        + ["--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    return target


@pytest.fixture
def installed(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the installed package on the import path (tests may alter it), an empty
    user registry, no checkout and no hub; the package's version folder."""
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    monkeypatch.syspath_prepend(str(copy))
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "user"))
    monkeypatch.setattr(layout, "checkout_models", lambda: None)
    return copy / "rnn_zoo_model_digits_lstm" / "registry" / NAME / str(VERSION)


def test_the_wheel_holds_the_version_its_manifest_and_an_entry_point(wheel: Path) -> None:
    assert wheel.name == WHEEL
    shipped = SHIPPED / NAME / str(VERSION)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        folder = f"rnn_zoo_model_digits_lstm/registry/{NAME}/{VERSION}"
        assert {f"{folder}/{f.name}" for f in shipped.iterdir()} <= names
        dist_info = f"rnn_zoo_model_digits_lstm-{VERSION}.dist-info"
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
        meta = archive.read(f"{dist_info}/METADATA").decode().splitlines()
        manifest = json.loads(archive.read("rnn_zoo_model_digits_lstm/manifest.json"))
        aliases = json.loads(
            archive.read(f"rnn_zoo_model_digits_lstm/registry/{NAME}/aliases.json")
        )
        for file in shipped.iterdir():  # byte for byte
            assert archive.read(f"{folder}/{file.name}") == file.read_bytes()
    assert "[rnn_zoo.models]\ndigits-lstm = rnn_zoo_model_digits_lstm" in entry_points
    assert "Name: rnn-zoo-model-digits-lstm" in meta
    assert f"Version: {VERSION}" in meta
    assert f"Requires-Dist: rnn-zoo>={metadata.version('rnn-zoo')}" in meta
    # every file, the card and its README too, with the SHA-256 the zoo computes
    assert manifest["files"] == {f.name: layout.sha256(f) for f in shipped.iterdir()}
    assert (manifest["name"], manifest["version"]) == (NAME, VERSION)
    assert aliases == {"best": VERSION, "latest": VERSION}


def test_an_alias_packages_the_version_it_names(tmp_path: Path, capsys) -> None:
    assert (
        main(["package", f"{NAME}:best", "--output", str(tmp_path), "--registry", str(SHIPPED)])
        == 0
    )
    assert capsys.readouterr().out.startswith(
        f"built {tmp_path / WHEEL}; install it with: pip install "
    )
    assert [p.name for p in tmp_path.iterdir()] == [WHEEL]


@pytest.mark.parametrize("case", ["unknown model", "output is a file", "output under a file"])
def test_bad_input_to_package_exits_2_with_one_line_and_writes_nothing(
    case: str, tmp_path: Path, capsys
) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    model, output = {
        "unknown model": ("digits-lsmt", tmp_path / "out"),
        "output is a file": (NAME, a_file),
        "output under a file": (NAME, a_file / "out"),
    }[case]
    assert main(["package", model, "--output", str(output), "--registry", str(SHIPPED)]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1
    assert {
        "unknown model": "unknown model 'digits-lsmt'. Did you mean 'digits-lstm'",
        "output is a file": f"{a_file} is a file; give a folder for the wheel",
        "output under a file": f"{a_file} is a file; give a folder for the wheel",
    }[case] in error[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    assert a_file.read_text() == "mine"


def test_an_existing_wheel_is_never_replaced(wheel: Path, tmp_path: Path, capsys) -> None:
    shutil.copy(wheel, tmp_path / WHEEL)
    (tmp_path / WHEEL).write_bytes(b"someone else's")
    assert main(["package", NAME, "--output", str(tmp_path), "--registry", str(SHIPPED)]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error == [
        f"zoo: error: {tmp_path / WHEEL} exists: a model version's wheel is never replaced; "
        "remove it or choose another --output."
    ]
    assert (tmp_path / WHEEL).read_bytes() == b"someone else's"
    assert [p.name for p in tmp_path.iterdir()] == [WHEEL]


def test_a_missing_build_backend_is_named_with_the_command_to_install_it(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setattr(packages, "BACKEND_REQUIREMENT", "setuptools>=9999")
    output = tmp_path / "out"
    assert main(["package", NAME, "--output", str(output), "--registry", str(SHIPPED)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "zoo: error: building a model package needs setuptools>=9999 beside the zoo: "
        "pip install 'setuptools>=9999'"
    ]
    assert not output.exists()


def test_an_installed_package_is_found_through_its_entry_point(installed: Path, capsys) -> None:
    (package,) = packages.installed().values()
    assert (package.name, package.distribution, package.version) == (
        NAME,
        "rnn-zoo-model-digits-lstm",
        str(VERSION),
    )
    assert layout.search_roots() == [layout.user_root(), package.root]
    # + catalogue
    assert hub.list_models("digits*") == ["digits-gru", "digits-lstm", "digits-simple-rnn"]
    for ref in (NAME, f"{NAME}@{VERSION}", f"{NAME}:best"):
        assert hub.resolve(ref) == installed
    assert main(["models", "digits*"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "digits-gru         not downloaded",
        "digits-lstm        installed (rnn-zoo-model-digits-lstm 1)",
        "digits-simple-rnn  not downloaded",
    ]


def test_an_installed_model_predicts_as_the_shipped_one(installed: Path, capsys) -> None:
    assert main(["predict", NAME, IMAGE]) == 0
    assert json.loads(capsys.readouterr().out) == LINE


@pytest.mark.parametrize("file", ["model.keras", "card.json", "README.md"])
def test_an_altered_installed_file_exits_2_saying_to_reinstall(
    file: str, installed: Path, capsys
) -> None:
    with (installed / file).open("ab") as handle:
        handle.write(b" ")
    assert main(["predict", NAME, IMAGE]) == 2
    (error,) = capsys.readouterr().err.strip().splitlines()
    assert error == (
        f"zoo: error: {installed / file} does not match the SHA-256 in the manifest of "
        "rnn-zoo-model-digits-lstm: it was altered or corrupted; reinstall its package: pip "
        f"install --force-reinstall 'rnn-zoo-model-digits-lstm=={VERSION}' (from the wheel or "
        "index it came from)."
    )


def test_a_missing_manifest_is_refused(installed: Path) -> None:
    (installed.parents[2] / packages.MANIFEST_FILE).unlink()
    with pytest.raises(IntegrityError, match="manifest.json is missing or unreadable .*reinstall"):
        packages.check(installed)


def test_the_zoo_never_writes_into_an_installed_package(installed: Path, capsys) -> None:
    aliases = installed.parent / layout.ALIASES_FILE
    before = aliases.read_bytes()
    assert main(["alias", f"{NAME}@{VERSION}", "production"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"zoo: error: {NAME}@{VERSION} comes from the installed package rnn-zoo-model-digits-lstm, "
        f"which the zoo never changes: refer to it as {NAME}@{VERSION}."
    ]
    assert aliases.read_bytes() == before
    assert sorted(p.name for p in installed.parent.iterdir()) == ["1", "aliases.json"]


def _copy_of_shipped(root: Path) -> Path:
    shutil.copytree(SHIPPED / NAME, root / NAME)
    return root / NAME / str(VERSION)


def test_precedence_user_registry_then_checkout_then_packages_then_hubs(
    installed: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    # a hub that serves the model too: the installed package answers first, no download
    monkeypatch.setenv("ZOO_HUB", str(SHIPPED))
    assert hub.resolve(NAME) == installed
    assert not (tmp_path / "user").exists()

    checkout = _copy_of_shipped(tmp_path / "checkout")
    monkeypatch.setattr(layout, "checkout_models", lambda: tmp_path / "checkout")
    assert hub.resolve(NAME) == checkout

    user = _copy_of_shipped(tmp_path / "user")
    assert hub.resolve(NAME) == user
    assert main(["models", NAME]) == 0
    assert capsys.readouterr().out.split() == [NAME, "downloaded"]

    # a version the first folder lacks is looked for in the next
    shutil.rmtree(user)
    shutil.rmtree(checkout)
    (tmp_path / "user" / NAME / "2").mkdir()
    (tmp_path / "user" / NAME / layout.ALIASES_FILE).write_text('{"latest": 2}')
    assert hub.resolve(f"{NAME}@{VERSION}") == installed


def test_an_explicit_registry_reads_that_folder_alone(
    installed: Path, tmp_path: Path, capsys
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with pytest.raises(UnknownNameError):
        hub.resolve(NAME, root=elsewhere)
    assert hub.list_models(root=elsewhere) == []
    assert main(["predict", NAME, IMAGE, "--registry", str(elsewhere)]) == 2
    assert "unknown model 'digits-lstm'" in capsys.readouterr().err


@pytest.mark.slow
def test_an_installed_zoo_with_the_package_predicts_offline_as_the_checkout(
    site: Path, tmp_path: Path
) -> None:
    """The acceptance of issue 29: no hub, no network, no user registry, no checkout."""
    zoo_copy = tmp_path / "zoo-installed"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "zoo", zoo_copy / "zoo", ignore=ignore)
    for folder in ("tasks", "tuning"):  # the package-dir mapping of pyproject.toml
        shutil.copytree(ROOT / folder, zoo_copy / "zoo" / folder, ignore=ignore)
    site_copy = tmp_path / "site"
    shutil.copytree(site, site_copy)
    for folder in ("home", "user", "elsewhere"):
        (tmp_path / folder).mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ZOO_")},
        "PYTHONPATH": f"{zoo_copy}{os.pathsep}{site_copy}",
        "HOME": str(tmp_path / "home"),
        "ZOO_REGISTRY": str(tmp_path / "user"),
        "ZOO_OFFLINE": "1",
    }

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, *args],
            cwd=tmp_path / "elsewhere",
            env=env,
            capture_output=True,
            text=True,
        )

    where = run(
        "-c",
        "import zoo; from zoo.registry import layout, resolve; "
        f"print(zoo.__file__, layout.checkout_models(), resolve({NAME!r}), sep='\\n')",
    )
    assert where.stdout.splitlines() == [
        str(zoo_copy / "zoo" / "__init__.py"),
        "None",
        str(site_copy / "rnn_zoo_model_digits_lstm" / "registry" / NAME / str(VERSION)),
    ], where.stderr
    listed = run("-m", "zoo", "models", "digits*")
    assert "digits-lstm        installed (rnn-zoo-model-digits-lstm 1)" in (
        listed.stdout.splitlines()
    ), listed.stdout
    predicted = run("-m", "zoo", "predict", NAME, IMAGE)
    assert (predicted.returncode, json.loads(predicted.stdout)) == (0, LINE), predicted.stderr

    with (site_copy / "rnn_zoo_model_digits_lstm" / "registry" / NAME / "1" / "model.keras").open(
        "ab"
    ) as f:
        f.write(b"\0")
    tampered = run("-m", "zoo", "predict", NAME, IMAGE)
    assert tampered.returncode == 2
    (error,) = tampered.stderr.strip().splitlines()
    assert "model.keras does not match the SHA-256 in the manifest" in error
    assert (
        "reinstall its package: pip install --force-reinstall 'rnn-zoo-model-digits-lstm==1'"
        in error
    )
    assert tampered.stdout == ""
