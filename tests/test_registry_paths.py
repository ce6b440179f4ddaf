"""Everything the registry reads, writes, copies or publishes stays inside its folder: a
reference is a name, a version and an alias, never a path; a card's files, reference
images and aliases are plain names; links out of a registry are refused (issue 28, item 6)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

import zoo
from zoo import registry
from zoo.cli import main
from zoo.errors import UnknownNameError
from zoo.registry import hub, layout
from zoo.registry.layout import IntegrityError

PATH_REFS = [
    "../outside.X/digits-lstm",
    "/etc",
    "..",
    "a/b",
    "digits@1/../x",
    "digits:../x",
    "digits/../../x@1",
    "..digits",
]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry folder holding `digits@1`, copied afresh by `registry_copy`."""
    root = tmp_path_factory.mktemp("registry")
    result = zoo.train(
        "one-to-one", epochs=1, hparams={"cell": "simple_rnn", "units": 8}, verbose=0
    )
    registry.save(result, "digits", root=root)
    return root


@pytest.fixture
def root(saved: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "registry"
    shutil.copytree(saved, copy)
    return copy


@pytest.mark.parametrize("ref", PATH_REFS)
def test_a_reference_that_is_a_path_is_refused(root: Path, ref: str) -> None:
    with pytest.raises(UnknownNameError, match="not a path"):
        layout.parse_ref(ref, [])
    with pytest.raises(UnknownNameError):
        registry.resolve(ref, root=root)


@pytest.mark.parametrize("command", [["info"], ["predict", "x"], ["evaluate"]])
def test_the_command_line_refuses_a_path_as_a_model_with_exit_2(
    root: Path, command: list[str], capsys: pytest.CaptureFixture
) -> None:
    assert main([command[0], "/etc", *command[1:], "--registry", str(root)]) == 2
    assert main([command[0], "../outside.X/digits", *command[1:], "--registry", str(root)]) == 2
    assert "not a path" in capsys.readouterr().err


def test_an_alias_cannot_be_set_through_a_path(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "digits" / "1").mkdir(parents=True)
    (outside / "digits" / "aliases.json").write_text('{"latest": 1}')
    assert main(["alias", "../outside/digits@1", "production", "--registry", str(root)]) == 2
    assert json.loads((outside / "digits" / "aliases.json").read_text()) == {"latest": 1}


def test_a_card_listing_a_file_outside_its_folder_is_refused(root: Path, tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("x")
    card_file = root / "digits" / "1" / layout.CARD_FILE
    card = json.loads(card_file.read_text())
    card["files"]["../../../secret"] = {"bytes": 1, "sha256": layout.sha256(tmp_path / "secret")}
    card_file.write_text(json.dumps(card))
    with pytest.raises(IntegrityError, match="not a plain file name"):
        registry.verify(root / "digits" / "1")


def test_a_linked_file_in_a_version_is_refused_and_never_published(
    root: Path, tmp_path: Path
) -> None:
    version = root / "digits" / "1"
    model = version / layout.MODEL_FILE
    outside = tmp_path / "model.keras"
    shutil.move(model, outside)
    os.symlink(outside, model)  # same bytes, same hash: only the link gives it away
    with pytest.raises(IntegrityError, match="a link"):
        registry.verify(version)
    with pytest.raises(IntegrityError, match="a link"):
        hub.push("digits@1", tmp_path / "hub", root=root)
    assert not (tmp_path / "hub" / "digits" / "1").exists()


def test_push_publishes_only_the_versions_own_files(root: Path, tmp_path: Path) -> None:
    (root / "digits" / "1" / "notes.txt").write_text("not part of the model")
    target = hub.push("digits@1", tmp_path / "hub", root=root)
    card = json.loads((target / layout.CARD_FILE).read_text())
    assert sorted(p.name for p in target.iterdir()) == sorted(
        [*card["files"], layout.CARD_FILE, layout.README_FILE]
    )


def test_a_version_folder_linked_from_outside_the_registry_is_refused(
    root: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    shutil.move(root / "digits" / "1", elsewhere)
    os.symlink(elsewhere, root / "digits" / "1")
    with pytest.raises(IntegrityError, match="link out of the registry"):
        registry.resolve("digits@1", root=root)


@pytest.mark.parametrize(
    "aliases", ['{"latest": "../1"}', '{"../x": 1}', '["latest"]', "not json", '{"latest": true}']
)
def test_an_aliases_file_that_is_not_aliases_to_versions_is_refused(
    root: Path, aliases: str
) -> None:
    (root / "digits" / layout.ALIASES_FILE).write_text(aliases)
    with pytest.raises(IntegrityError, match="aliases"):
        registry.resolve("digits", root=root)


def test_a_reference_image_outside_the_version_is_refused(root: Path) -> None:
    card = registry.verify(root / "digits" / "1")
    forged = card.reference.inputs[0]
    assert isinstance(forged, dict)  # an image task stores reference images as files
    card_file = root / "digits" / "1" / layout.CARD_FILE
    data = json.loads(card_file.read_text())
    data["reference"]["inputs"][0] = {"image": "../../../etc/hostname"}
    card_file.write_text(json.dumps(data))
    with pytest.raises(IntegrityError, match="reference image"):
        registry.load("digits@1", root=root)
