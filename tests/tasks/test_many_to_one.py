"""The many-to-one classifier over any label set: binary, multi-class and multi-label heads,
their scores, decisions, outputs and retraining across label sets."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest

import zoo
from zoo import registry
from zoo.cli import main
from zoo.errors import BadInputError, UnknownNameError
from zoo.tasks.many_to_one import TextClassificationPreprocessing
from zoo.training import classification
from zoo.tuning.hypermodel import objective

HP = {"units": 16, "embedding_dim": 16}
#: words that decide each class of the generated data
CUES = {
    "1": "awful terrible",
    "2": "poor dull",
    "3": "okay average",
    "4": "good nice",
    "5": "superb brilliant",
}


def _write_csv(path: Path, rows: list[tuple[str, str]], header=("text", "label")) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _stars(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        star = rng.choice(list(CUES))
        cue = rng.choice(CUES[star].split())
        rows.append(
            (f"the film was {cue} and the cast {rng.choice(['was', 'seemed'])} {cue}", star)
        )
    return rows


# --- scores against hand-computed values ---------------------------------------------------


def test_single_label_scores_match_hand_computed_values() -> None:
    gold = np.array([0, 0, 1, 1, 2, -1])  # the last label is unknown to the model
    predicted = np.array([0, 1, 1, 1, 0, 2])
    scores = classification.single_label_scores(gold, predicted, ["a", "b", "c"])
    assert scores["accuracy"] == pytest.approx(3 / 6)
    # a: P 1/2 R 1/2 F1 1/2; b: P 2/3 R 1 F1 0.8; c: P 0 (its one prediction is the unknown) R 0
    assert scores["per_class"]["a"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2.0}
    assert scores["per_class"]["b"]["precision"] == pytest.approx(2 / 3)
    assert scores["per_class"]["b"]["f1"] == pytest.approx(0.8)
    assert scores["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1.0}
    assert scores["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert scores["confusion_matrix"] == {
        "labels": ["a", "b", "c"],
        "counts": [[1, 1, 0], [0, 2, 0], [1, 0, 0]],
    }


def test_multi_label_scores_match_hand_computed_values() -> None:
    gold = np.array([[1, 0, 1], [0, 1, 0], [0, 0, 0]])
    predicted = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0]])
    scores = classification.multi_label_scores(gold, predicted, ["a", "b", "c"])
    assert scores["accuracy"] == pytest.approx(2 / 3)  # whole sets right: rows 2 and 3
    # micro: TP 2, FP 0, FN 1 -> P 1, R 2/3, F1 0.8; macro: (1 + 1 + 0) / 3
    assert scores["micro_f1"] == pytest.approx(0.8)
    assert scores["macro_f1"] == pytest.approx(2 / 3)
    assert scores["per_class"]["c"]["support"] == 1.0


def test_thresholds_maximise_each_labels_f1_on_validation() -> None:
    gold = np.array([[1, 0], [1, 0], [0, 0], [0, 0]])
    probabilities = np.array([[0.3, 0.9], [0.35, 0.1], [0.2, 0.8], [0.1, 0.2]])
    # label 0: any threshold in (0.2, 0.3] separates it; the one nearest 0.5 is 0.3.
    # label 1 has no gold example: 0.5
    assert classification.choose_thresholds(gold, probabilities) == [0.3, 0.5]


def test_balanced_class_weights_are_sklearns_and_refuse_an_absent_class() -> None:
    weights = classification.class_weights(np.array([0, 0, 0, 1]), ["a", "b"], "balanced")
    assert weights == pytest.approx([4 / (2 * 3), 4 / (2 * 1)])
    assert classification.class_weights(np.array([0, 1]), ["a", "b"], "none") == [1.0, 1.0]
    with pytest.raises(BadInputError, match="no training example of c"):
        classification.class_weights(np.array([0, 1]), ["a", "b", "c"], "balanced")


# --- the preprocessing's head and its fine-tuning ---------------------------------------------


def test_the_label_set_chooses_the_head() -> None:
    assert TextClassificationPreprocessing(labels=["neg", "pos"]).head == "binary"
    assert TextClassificationPreprocessing(labels=["1", "2", "3"]).head == "multi-class"
    assert (
        TextClassificationPreprocessing(labels=["neg", "pos"], multi_label=True).head
        == "multi-label"
    )


def test_fine_tuning_on_multi_label_data_replaces_the_head_even_with_the_same_names() -> None:
    parent = TextClassificationPreprocessing(labels=["neg", "pos"], vocabulary=["a"])
    new = TextClassificationPreprocessing(labels=["neg", "pos"], multi_label=True, vocabulary=["b"])
    merged, changes = parent.merged_with(new)
    assert merged.multi_label and changes["labels_replaced"]
    assert changes["labels"]["parent_options"] == {"multi_label": False}
    assert merged.vocabulary == ["a", "b"]
    calibrated = TextClassificationPreprocessing(
        labels=["x", "y"], multi_label=True, thresholds=[0.3, 0.7]
    )
    again, changes = calibrated.merged_with(
        TextClassificationPreprocessing(labels=["y", "x"], multi_label=True)
    )
    assert not changes["labels_replaced"] and again.labels == ["x", "y"]
    assert again.thresholds == []  # chosen again after training


def test_a_search_objective_must_be_a_metric_the_task_reports() -> None:
    task = zoo.get_task("many-to-one")()
    assert objective(task, "val_macro_f1").name == "val_macro_f1"
    assert objective(task).name == "val_accuracy"
    with pytest.raises(UnknownNameError):
        objective(task, "bleu")


# --- end to end ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def five_classes(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 5-class model trained on a CSV of star ratings, saved in the test registry."""
    path = _write_csv(tmp_path_factory.mktemp("stars") / "stars.csv", _stars(200))
    spec = zoo.prepare(path, "csv")
    result = zoo.train("many-to-one", dataset=spec, epochs=3, hparams=HP, verbose=0)
    saved = zoo.save(result, "stars-test")
    return f"stars-test@{saved.name}"


def test_a_five_class_model_saves_reloads_and_predicts_five_probabilities(
    five_classes: str,
) -> None:
    model = registry.load(five_classes)
    assert model.task.preprocessing.labels == ["1", "2", "3", "4", "5"]
    assert model.model.get_layer("classifier").units == 5
    results = model.predict_batch(["the film was superb", "the film was dull"])
    for result in results:
        assert set(result["probabilities"]) == set(CUES)
        assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=5e-4)
        assert result["label"] == max(result["probabilities"], key=result["probabilities"].get)
        assert result["probability"] == result["probabilities"][result["label"]]
    top = model.predict("the film was superb", top_k=2)["probabilities"]
    assert list(top) == list(results[0]["probabilities"])[:2]
    assert model.card.metrics["validation"]["per_class"].keys() == set(CUES)
    with pytest.raises(BadInputError, match="top-k"):
        model.predict("x", top_k=0)


def test_zoo_evaluate_prints_macro_f1_and_a_per_class_table_and_plots_the_confusion_matrix(
    five_classes: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["evaluate", five_classes, "--plot", str(tmp_path / "cm.png")]) == 0
    out = capsys.readouterr().out
    assert "macro_f1=" in out
    rows = [line.split() for line in out.splitlines() if line.strip().split()[:1] in (["1"], ["5"])]
    assert len(rows) == 2 and all(len(row) == 5 for row in rows)  # class, P, R, F1, support
    assert (tmp_path / "cm.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_predict_writes_a_csv_table_with_a_column_per_label(
    five_classes: str, tmp_path: Path
) -> None:
    (tmp_path / "in.txt").write_text("the film was superb\nthe film was dull\n")
    out = tmp_path / "out.csv"
    assert (
        main(["predict", five_classes, "--input", str(tmp_path / "in.txt"), "--output", str(out)])
        == 0
    )
    rows = list(csv.DictReader(out.open()))
    assert [r["line"] for r in rows] == ["1", "2"]
    assert {f"probabilities.{c}" for c in CUES} <= set(rows[0])
    assert sum(float(rows[0][f"probabilities.{c}"]) for c in CUES) == pytest.approx(1.0, abs=5e-4)


@pytest.mark.parametrize("value", ["0", "-3", "two"])
def test_top_k_below_one_is_refused_naming_it(
    five_classes: str, value: str, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["predict", five_classes, "x", "--top-k", value])
    assert stop.value.code == 2
    assert "--top-k" in capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.slow
def test_retraining_a_binary_model_on_three_classes_swaps_the_head_and_records_both_label_sets(
    tmp_path: Path, tiny_dataset
) -> None:
    binary = tiny_dataset("many-to-one", train=64)
    parent = zoo.save(
        zoo.train("many-to-one", dataset=binary, epochs=1, hparams=HP, verbose=0), "binary-parent"
    ).name
    rng = random.Random(3)
    words = {"neg": "awful dull", "neutral": "okay plain", "pos": "superb lovely"}
    rows = [
        (f"the acting was {rng.choice(words[c].split())}", c)
        for c in rng.choices(list(words), k=120)
    ]
    spec = zoo.prepare(_write_csv(tmp_path / "three.csv", rows), "csv")
    result = zoo.retrain(f"binary-parent@{parent}", spec, epochs=1, head_epochs=1, verbose=0)
    assert result.retrain["head_replaced"]
    assert result.retrain["labels"] == {"parent": ["neg", "pos"], "new": ["neg", "neutral", "pos"]}
    saved = zoo.save(result, "three-classes")
    card = json.loads((saved / "card.json").read_text())
    assert card["retrain"]["labels"]["new"] == ["neg", "neutral", "pos"]
    assert "the parent's: neg, pos" in (saved / "README.md").read_text()
    reloaded = registry.load(f"three-classes@{saved.name}")
    assert reloaded.model.get_layer("classifier").units == 3
    # the parent's embedding rows came along: same vectors for the words it knew
    known = reloaded.task.preprocessing.vocabulary.index("the") + 2
    parent_model = registry.load(f"binary-parent@{parent}")
    assert np.allclose(
        reloaded.model.get_layer("embedding").embeddings.numpy()[known],
        parent_model.model.get_layer("embedding").embeddings.numpy()[known],
        atol=0.5,  # one epoch of fine-tuning moves them a little
    )


@pytest.mark.slow
def test_balanced_class_weights_are_recorded_in_the_hyperparameters(tmp_path: Path) -> None:
    rows = _stars(60)
    spec = zoo.prepare(_write_csv(tmp_path / "s.csv", rows), "csv")
    result = zoo.train(
        "many-to-one", dataset=spec, epochs=1, hparams={**HP, "class_weight": "balanced"}, verbose=0
    )
    assert result.hyperparameters["class_weight"] == "balanced"
    assert len(result.task.class_weights) == 5


# --- multi-label ----------------------------------------------------------------------------

TOPICS = {"sport": "goal match", "money": "bank price", "film": "actor scene"}


def _multi_label_rows(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        chosen = sorted(rng.sample(list(TOPICS), rng.choice([0, 1, 1, 2])))
        words = [rng.choice(TOPICS[t].split()) for t in chosen] or ["nothing", "here"]
        rows.append((f"the news says {' and '.join(words)} today", "|".join(chosen)))
    return rows


@pytest.fixture(scope="module")
def multi_label(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = _write_csv(tmp_path_factory.mktemp("topics") / "topics.csv", _multi_label_rows(200))
    spec = zoo.prepare(path, "csv", label_delimiter="|")
    result = zoo.train("many-to-one", dataset=spec, epochs=4, hparams=HP, verbose=0)
    saved = zoo.save(result, "topics-test")
    return f"topics-test@{saved.name}"


def test_a_multi_label_csv_trains_and_predicts_label_sets_with_thresholds(multi_label: str) -> None:
    model = registry.load(multi_label)
    prep = model.task.preprocessing
    assert prep.multi_label and prep.labels == ["film", "money", "sport"]
    assert len(prep.thresholds) == 3 and all(0.05 <= t <= 0.95 for t in prep.thresholds)
    # the card records them with the rest of the preprocessing
    assert model.card.sequence_contract.preprocessing["thresholds"] == prep.thresholds
    assert model.card.metrics["validation"].keys() >= {"accuracy", "micro_f1", "macro_f1"}
    both, nothing = model.predict_batch(["the news says goal and bank today", "the weather"])
    assert set(both["probabilities"]) == set(TOPICS)
    assert both["labels"] == [  # the labels whose probability reaches their threshold
        name
        for name in both["probabilities"]
        if both["probabilities"][name] >= prep.thresholds[prep.labels.index(name)]
    ]
    assert isinstance(nothing["labels"], list)  # possibly empty: a text may get no label


def test_evaluate_prints_micro_and_macro_f1_for_multi_label_data(
    multi_label: str, capsys: pytest.CaptureFixture
) -> None:
    assert main(["evaluate", multi_label]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("  validation:"))
    assert "micro_f1=" in line and "macro_f1=" in line and "accuracy=" in line


@pytest.mark.slow
def test_a_fasttext_file_trains_a_multi_label_model(tmp_path: Path) -> None:
    lines = [
        " ".join(f"__label__{label}" for label in labels.split("|") if label) + f" {text}"
        for text, labels in _multi_label_rows(120, seed=2)
        if labels
    ]
    (tmp_path / "train.txt").write_text("\n".join(lines) + "\n")
    spec = zoo.prepare(tmp_path / "train.txt", "fasttext")
    result = zoo.train("many-to-one", dataset=spec, epochs=1, hparams=HP, verbose=0)
    assert result.task.preprocessing.multi_label
    assert result.model.get_layer("classifier").units == 3
    assert 0.0 <= result.metrics["validation"]["micro_f1"] <= 1.0


def test_balanced_class_weights_are_refused_for_multi_label_data(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "topics.csv", _multi_label_rows(100))
    spec = zoo.prepare(path, "csv", label_delimiter="|")
    with pytest.raises(BadInputError, match="multi-label"):
        zoo.train("many-to-one", dataset=spec, epochs=1, hparams={**HP, "class_weight": "balanced"})


@pytest.mark.slow
def test_retraining_a_multi_class_model_on_multi_label_data_and_back(
    five_classes: str, tmp_path: Path
) -> None:
    path = _write_csv(tmp_path / "topics.csv", _multi_label_rows(60))
    spec = zoo.prepare(path, "csv", label_delimiter="|")
    result = zoo.retrain(five_classes, spec, epochs=1, head_epochs=1, verbose=0)
    assert result.retrain["head_replaced"] and result.task.preprocessing.multi_label
    assert result.retrain["labels"]["new_options"] == {"multi_label": True}
    saved = zoo.save(result, "topics-from-stars")
    back = _write_csv(tmp_path / "stars.csv", _stars(50, seed=5))
    again = zoo.retrain(
        f"topics-from-stars@{saved.name}", zoo.prepare(back, "csv"), epochs=1, verbose=0
    )
    assert not again.task.preprocessing.multi_label
    assert again.model.get_layer("classifier").units == 5
