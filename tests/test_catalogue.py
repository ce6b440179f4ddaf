"""The catalogue shipped in the package pins exactly what `saved_models/` holds."""

from __future__ import annotations

import json
from pathlib import Path

from zoo.registry import catalogue, layout

SHIPPED = Path(__file__).resolve().parent.parent / "saved_models"


def test_the_catalogue_matches_saved_models() -> None:
    # fails after a shipped model is added or retrained until
    # `python -m zoo.registry.catalogue` regenerates zoo/registry/catalogue.json
    assert json.loads(catalogue.CATALOGUE_FILE.read_text()) == catalogue.build(SHIPPED)
    assert catalogue.main(["--check", "--models", str(SHIPPED)]) == 0


def test_every_shipped_file_is_pinned_with_its_size_and_hash() -> None:
    entry = catalogue.models()["sentiment-mr-lstm"]
    version = entry["versions"][str(entry["aliases"]["latest"])]
    folder = SHIPPED / "sentiment-mr-lstm" / str(entry["aliases"]["latest"])
    assert set(version["files"]) == {f.name for f in folder.iterdir()}
    card = json.loads((folder / layout.CARD_FILE).read_text())
    assert version["files"][layout.CARD_FILE]["sha256"] == layout.sha256(folder / "card.json")
    assert version["files"][layout.MODEL_FILE]["bytes"] == (folder / "model.keras").stat().st_size
    assert (entry["task"], entry["cell"]) == ("many-to-one", "lstm")
    assert version["parameters"] == card["parameters"]
    assert version["metrics"]["validation"] == card["metrics"]["validation"]["accuracy"]


def test_check_reports_a_stale_catalogue(tmp_path: Path) -> None:
    import shutil

    models = tmp_path / "saved_models"
    shutil.copytree(SHIPPED / "digits-simple-rnn", models / "digits-simple-rnn")
    assert catalogue.main(["--check", "--models", str(models)]) == 1


def test_pin_resolves_aliases_to_immutable_versions() -> None:
    latest = catalogue.models()["digits-lstm"]["aliases"]["latest"]
    assert catalogue.pin("digits-lstm") == ("digits-lstm", latest)
    assert catalogue.pin("digits-lstm:best") == ("digits-lstm", latest)
    assert catalogue.pin(f"digits-lstm@{latest}") == ("digits-lstm", latest)
