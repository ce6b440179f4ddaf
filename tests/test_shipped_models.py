"""Every model shipped in `saved_models/` loads offline (hashes, safe mode, reference outputs),
predicts on raw input, and carries a complete card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import zoo
from zoo import registry
from zoo.registry import cards

SHIPPED = Path(__file__).resolve().parent.parent / "saved_models"
NAMES = [n for n in registry.list_models(root=SHIPPED) if not n.startswith("demo-")]
SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
CARD_FILES = sorted(SHIPPED.glob(f"*/*/{registry.CARD_FILE}"))


@pytest.mark.parametrize("path", CARD_FILES, ids=lambda path: f"{path.parts[-3]}@{path.parts[-2]}")
def test_shipped_card_parses_and_writes_back_unchanged(path: Path) -> None:
    text = path.read_text()
    card = cards.ModelCard.from_json(json.loads(text))
    assert card.version == int(path.parent.name) and card.name == path.parts[-3]
    assert json.dumps(card.to_json(), indent=2, sort_keys=True) == text


@pytest.mark.parametrize("name", NAMES)
def test_shipped_model_loads_and_predicts_offline(name: str) -> None:
    model = zoo.load(
        name, root=SHIPPED
    )  # raises unless files, safe loading and reference outputs all hold
    card = model.card
    assert card.files["model.keras"].bytes <= 25 * 1024 * 1024
    assert card.dataset.licence and "not stated" not in card.dataset.licence
    assert card.training.command.startswith(f"zoo train {card.task} ")
    raw = registry.reference_inputs(card, registry.resolve(name, root=SHIPPED))[0]
    output = model.predict(raw)
    assert output and set(output) == set(card.reference.outputs[0])


@pytest.mark.slow
@pytest.mark.skipif(
    not SHARED_DATA.is_dir(),
    reason="the real training data (../shared/data) is not on this machine",
)
@pytest.mark.parametrize(
    "name", [n for n in NAMES if n.startswith(("ner-", "sentiment-", "digits-", "questions-"))]
)
def test_shipped_model_reproduces_its_validation_metric(name: str, monkeypatch) -> None:
    """Re-evaluating on the real data gives the card's number (same files, same split)."""
    model = zoo.load(name, root=SHIPPED)
    monkeypatch.chdir(SHIPPED.parent)  # cards record data paths relative to the checkout
    spec = model.training_dataset()
    headline = model.card.headline_metric
    assert model.evaluate(spec, "validation")[headline] == pytest.approx(
        model.card.headline_value("validation"), abs=1e-4
    )


def test_the_trec_model_scores_any_file_in_the_published_format(tmp_path: Path, capsys) -> None:
    """`zoo evaluate questions-trec-lstm --data FILE --format trec`: a file of questions the
    model never saw, in the published `COARSE:fine question` format (issue 27)."""
    from zoo.cli import main

    model = zoo.load("questions-trec-lstm", root=SHIPPED)
    questions = {
        "HUM:ind Who wrote Hamlet ?": "HUM",
        "LOC:city What is the capital of Peru ?": "LOC",
        "NUM:date When did the Berlin Wall fall ?": "NUM",
        "DESC:def What is photosynthesis ?": "DESC",
        "HUM:ind Who invented the telephone ?": "HUM",
        "LOC:country Where is Timbuktu ?": "LOC",
        "NUM:count How many legs does a spider have ?": "NUM",
        "DESC:reason Why is the sky blue ?": "DESC",
    }
    (tmp_path / "test.label").write_text("\n".join(questions) + "\n")
    expected = sum(
        model.predict(line.split(" ", 1)[1])["label"] == label for line, label in questions.items()
    ) / len(questions)
    args = ["--data", str(tmp_path / "test.label"), "--format", "trec", "--registry", str(SHIPPED)]
    assert main(["evaluate", "questions-trec-lstm", *args]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("  test: ") or x.startswith("  all: "))
    assert float(line.split("accuracy=")[1].split(",")[0]) == pytest.approx(expected, abs=1e-4)
    assert "macro_f1=" in line and "    class  " in out
