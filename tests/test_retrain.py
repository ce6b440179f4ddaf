"""Fine-tuning registry models on new data: head swap, vocabulary growth, lineage."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from seqeval.metrics import f1_score
from seqeval.scheme import IOB2

import zoo
from zoo import registry
from zoo.data.formats import convert_tags
from zoo.tasks.many_to_many_equal import TaggerPreprocessing
from zoo.tasks.many_to_one import TextClassificationPreprocessing

# the new data renames the entity types and drops MISC: a new tag set for the same entities
RENAME = {"PER": "PERSON", "ORG": "COMPANY", "LOC": "PLACE"}
NER_HP = {"units": 32, "embedding_dim": 32}


def _write_conll(path: Path, examples: list[dict], names: list[str]) -> None:
    lines = []
    for ex in examples:
        for token, tag in zip(ex["tokens"], ex["ner"], strict=True):
            prefix, _, kind = names[tag].partition("-")
            new = f"{prefix}-{RENAME[kind]}" if kind in RENAME else "O"
            lines.append(f"{token.decode()} {new}")
        lines.append("")
    path.write_text("\n".join(lines))


@pytest.fixture(scope="module")
def ner_parent() -> str:
    result = zoo.train("many-to-many-equal", epochs=3, hparams=NER_HP, verbose=0)
    path = zoo.save(result, "ner-parent")
    return f"ner-parent@{path.name}"


@pytest.fixture(scope="module")
def small_conll(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """150 training and 150 validation sentences the parent never saw (its test split)."""
    folder = tmp_path_factory.mktemp("conll")
    task = zoo.get_task("many-to-many-equal")()
    names = task.features("embedded")["ner"].feature.names
    unseen = list(task.load("embedded", "test").as_numpy_iterator())
    _write_conll(folder / "train.txt", unseen[:150], names)
    _write_conll(folder / "dev.txt", unseen[150:300], names)
    return folder


# slow: three trainings that must reach entity-F1 thresholds
@pytest.mark.slow
def test_a_pretrained_ner_model_with_a_new_tag_set_beats_training_from_scratch(
    ner_parent: str, small_conll: Path
) -> None:
    spec = zoo.prepare(small_conll, "conll", columns="tokens ner")
    tuned = zoo.retrain(ner_parent, spec, epochs=2, head_epochs=1, verbose=0)
    scratch = zoo.train("many-to-many-equal", dataset=spec, epochs=3, hparams=NER_HP, verbose=0)
    tuned_f1, scratch_f1 = (
        tuned.metrics["validation"]["entity_f1"],
        scratch.metrics["validation"]["entity_f1"],
    )
    assert tuned.retrain["head_replaced"] and set(tuned.task.preprocessing.tags) == {
        "O",
        "B-PERSON",
        "I-PERSON",
        "B-COMPANY",
        "I-COMPANY",
        "B-PLACE",
        "I-PLACE",
    }
    # measured here: 0.74 or 0.40 fine-tuned (the value moves with what the process ran
    # before, despite the seeds: an open question) against 0.00 from scratch
    assert tuned_f1 > 0.3 and tuned_f1 > scratch_f1 + 0.15, (tuned_f1, scratch_f1)

    path = registry.save(tuned, "ner-renamed")
    card = zoo.load("ner-renamed").card
    assert (
        card.parent == ner_parent
        and card.retrain.parent == ner_parent
        and card.retrain.head_replaced
    )
    assert card.dataset.source["format"] == "conll" and len(card.dataset.source["sha256"]) == 64
    assert card.dataset.source["examples"] == {"train": 150, "validation": 150}
    assert card.training.command.startswith(f"zoo retrain {ner_parent} --data ")
    assert "Fine-tuned from" in (path / "README.md").read_text()


@pytest.mark.slow
def test_a_crf_tagger_takes_a_new_tag_set(tiny_dataset, small_conll: Path) -> None:
    # training the new head alone recompiles the model: the CRF's loss must keep its layer
    hp = {**NER_HP, "units": 8, "crf": True}
    parent = zoo.train(
        "many-to-many-equal",
        dataset=tiny_dataset("many-to-many-equal"),
        epochs=1,
        hparams=hp,
        verbose=0,
    )
    path = registry.save(parent, "crf-parent")
    spec = zoo.prepare(small_conll, "conll", columns="tokens ner")
    tuned = zoo.retrain(
        f"crf-parent@{path.name}",
        spec,
        epochs=1,
        head_epochs=1,
        gradual_unfreezing=False,
        verbose=0,
    )
    assert tuned.retrain["head_replaced"] and "B-PERSON" in tuned.task.preprocessing.tags
    assert len(tuned.history["loss"]) == 2  # the head's epoch, then the whole model's


@pytest.mark.slow
def test_vocabulary_grows_and_known_words_keep_their_ids_and_embeddings(tmp_path: Path) -> None:
    parent = zoo.train(
        "many-to-one", epochs=1, hparams={"units": 16, "embedding_dim": 16}, verbose=0
    )
    zoo.save(parent, "reviews-parent")
    folder = tmp_path / "reviews"
    folder.mkdir()
    (folder / "pos.txt").write_text(
        "\n".join(["a splendid zorblax film", "splendid and zorblax"] * 20)
    )
    (folder / "neg.txt").write_text(
        "\n".join(["a dreadful quuxish film", "dreadful and quuxish"] * 20)
    )
    tuned = zoo.retrain(
        "reviews-parent", zoo.prepare(folder, "text-per-class"), epochs=1, verbose=0
    )

    old, new = parent.task.preprocessing.vocabulary, tuned.task.preprocessing.vocabulary
    assert new[: len(old)] == old and {"zorblax", "quuxish"} <= set(new[len(old) :])
    assert not tuned.retrain["head_replaced"]  # pos/neg: the parent's labels
    # rows of known words started from the parent's embeddings (a 1-epoch fine-tune moves them only a little)
    before = parent.model.get_layer("embedding").get_weights()[0]
    after = tuned.model.get_layer("embedding").get_weights()[0]
    assert after.shape[0] == before.shape[0] + tuned.retrain["vocabulary_added"]["vocabulary"]
    assert np.corrcoef(before.ravel(), after[: len(before)].ravel())[0, 1] > 0.9


def test_merge_policy() -> None:
    merged, changes = TextClassificationPreprocessing(
        vocabulary=["a", "b"], labels=["neg", "pos"], max_tokens=300
    ).merged_with(
        TextClassificationPreprocessing(vocabulary=["c", "a"], labels=["pos", "neg"], max_tokens=50)
    )
    assert merged == TextClassificationPreprocessing(
        vocabulary=["a", "b", "c"], labels=["neg", "pos"], max_tokens=300
    )
    assert changes["vocabulary_added"] == {"vocabulary": 1} and not changes["labels_replaced"]
    merged, changes = TaggerPreprocessing(tags=["O", "B-PER"]).merged_with(
        TaggerPreprocessing(tags=["O", "B-X"])
    )
    assert merged.tags == ["O", "B-X"] and changes["labels_replaced"]
    assert "label_scheme" not in changes  # both IOB1, the default


def test_a_tagger_fine_tuned_on_another_tag_scheme_takes_the_datas_and_keeps_its_head() -> None:
    parent = TaggerPreprocessing(tags=["O", "B-PER", "I-PER"], tag_scheme="IOB1")
    merged, changes = parent.merged_with(
        TaggerPreprocessing(tags=["I-PER", "O", "B-PER"], tag_scheme="IOB2")
    )
    assert merged.tag_scheme == "IOB2" and merged.tags == ["O", "B-PER", "I-PER"]
    assert not changes["labels_replaced"]
    assert changes["label_scheme"] == {
        "parent": {"tag_scheme": "IOB1"},
        "new": {"tag_scheme": "IOB2"},
    }


def _write_tagged(path: Path, sentences: list[tuple[list[str], list[str]]]) -> None:
    path.write_text(
        "\n\n".join(
            "\n".join(f"{w} {t}" for w, t in zip(words, tags, strict=True))
            for words, tags in sentences
        )
        + "\n"
    )


def _people_and_places() -> list[tuple[list[str], list[str]]]:
    """Easy sentences in IOB2 (people, places, two places side by side), each six times."""
    people = [["Anna", "Berg"], ["Ben"], ["Carla", "Maria", "Diaz"], ["Dan", "Smith"]]
    places = [["Oslo"], ["New", "York"], ["Rome"], ["Lima"]]

    def entity(words: list[str], kind: str) -> list[str]:
        return [f"B-{kind}"] + [f"I-{kind}"] * (len(words) - 1)

    sentences = []
    for person, (place, other) in itertools.product(people, itertools.pairwise(places)):
        sentences += [
            (
                [*person, "visited", *place, "."],
                [*entity(person, "PER"), "O", *entity(place, "LOC"), "O"],
            ),
            (
                ["talks", "in", *place, *other, "with", *person],
                [
                    "O",
                    "O",
                    *entity(place, "LOC"),
                    *entity(other, "LOC"),
                    "O",
                    *entity(person, "PER"),
                ],
            ),
        ]
    return sentences * 6


# slow: the model must learn to tag entities for its score to be compared
@pytest.mark.slow
def test_retraining_on_iob2_data_learns_records_and_scores_iob2(tmp_path: Path) -> None:
    """An IOB1 parent fine-tuned on IOB2 files kept IOB1: its card said IOB1 and its entity
    F1 read the IOB2 predictions by conlleval's lenient rules instead of strict IOB2's."""
    sentences = _people_and_places()
    written = {}
    for scheme in ("IOB1", "IOB2"):
        (tmp_path / scheme).mkdir()
        written[scheme] = [(words, convert_tags(tags, scheme)) for words, tags in sentences]
        _write_tagged(tmp_path / scheme / "train.txt", written[scheme][::2])
        _write_tagged(tmp_path / scheme / "dev.txt", written[scheme][1::8])
    hp = {
        "units": 16,
        "embedding_dim": 16,
        "char_units": 8,
        "char_embedding_dim": 8,
        "learning_rate": 0.01,
    }
    iob1 = zoo.prepare(tmp_path / "IOB1", "conll", columns="tokens ner")
    parent = zoo.train(
        "many-to-many-equal", dataset=iob1, epochs=3, batch_size=8, hparams=hp, verbose=0
    )
    assert parent.task.preprocessing.tag_scheme == "IOB1"
    path = zoo.save(parent, "iob1-parent", root=tmp_path / "registry")

    iob2 = zoo.prepare(tmp_path / "IOB2", "conll", columns="tokens ner")
    tuned = zoo.retrain(
        f"iob1-parent@{path.name}",
        iob2,
        epochs=10,
        batch_size=8,
        head_epochs=1,
        # every epoch on the whole model: this tiny parent learns to tag slowly (F1 0.2-0.3
        # after 10 epochs), and the comparison of schemes needs a model that tags
        gradual_unfreezing=False,
        patience=0,
        root=tmp_path / "registry",
        verbose=0,
    )
    assert tuned.task.preprocessing.tag_scheme == "IOB2"
    assert tuned.retrain["label_scheme"] == {
        "parent": {"tag_scheme": "IOB1"},
        "new": {"tag_scheme": "IOB2"},
    }
    gold = [tags for _, tags in written["IOB2"][1::8]]
    predicted = [
        [tag for _, tag in sentence["tags"]]
        for sentence in tuned.task.predict(
            tuned.model, [words for words, _ in written["IOB2"][1::8]]
        )
    ]
    strict = f1_score(gold, predicted, mode="strict", scheme=IOB2)
    assert strict > 0.1, strict  # the model tags entities: the comparison means something
    assert tuned.metrics["validation"]["entity_f1"] == pytest.approx(strict, abs=1e-6)
    saved = registry.save(tuned, "iob2-child", root=tmp_path / "registry")
    card = zoo.load(f"iob2-child@{saved.name}", root=tmp_path / "registry").card
    assert card.retrain.label_scheme["new"] == {"tag_scheme": "IOB2"}


def _snapshot(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime for p in root.rglob("*")}


@pytest.mark.slow
@pytest.mark.parametrize(
    "files, fmt, message",
    [
        ({"pos.txt": "good\n", "neg.txt": ""}, "text-per-class", "neg.txt: empty file"),
        (
            {"train.csv": "text,label\ngood,pos\nbad,neg,extra\n"},
            "csv",
            "train.csv, line 3: 3 columns, expected 2",
        ),
        (
            {"pos.txt": b"caf\xe9 au lait\n", "neg.txt": "bad\n"},
            "text-per-class",
            "pos.txt, line 1: not valid utf-8 text; pass the file's encoding, e.g. --encoding latin-1",
        ),
    ],
)
def test_bad_data_gives_a_clear_error_and_leaves_the_registry_alone(
    files: dict, fmt: str, message: str, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    root = Path(os.environ["ZOO_REGISTRY"])
    if not (root / "tiny-reviews").exists():
        zoo.save(
            zoo.train("many-to-one", epochs=1, hparams={"units": 8, "embedding_dim": 8}, verbose=0),
            "tiny-reviews",
        )
    folder = tmp_path / "data"
    folder.mkdir()
    for name, content in files.items():
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    before = _snapshot(root)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "zoo",
            "retrain",
            "tiny-reviews",
            "--data",
            str(folder),
            "--format",
            fmt,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert message in done.stderr.strip().splitlines()[-1]
    assert _snapshot(root) == before


@pytest.mark.slow
def test_a_retrained_model_records_the_precision_it_ran_under(tiny_dataset, monkeypatch) -> None:
    import keras
    import tensorflow as tf

    hp = {"units": 8, "embedding_dim": 8}
    parent = zoo.save(
        zoo.train(
            "many-to-one", dataset=tiny_dataset("many-to-one"), epochs=1, hparams=hp, verbose=0
        ),
        "precision-parent",
    )
    # as on a machine with a GPU, where every training switches to mixed_float16
    real = tf.config.list_physical_devices
    monkeypatch.setattr(
        tf.config,
        "list_physical_devices",
        lambda kind=None: ["GPU:0"] if kind == "GPU" else real(kind),
    )
    try:
        child = zoo.retrain(
            f"precision-parent@{parent.name}", tiny_dataset("many-to-one"), epochs=1, verbose=0
        )
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert child.precision_policy == "mixed_float16"  # the card said float32 before


def test_a_gru_parent_retrains_as_a_gru_and_keeps_its_encoder(tiny_dataset, tmp_path) -> None:
    """The parent's cell comes from its card: a GRU parent is rebuilt as a GRU (one state,
    reset-after weights), and a frozen encoder keeps exactly the parent's weights."""
    import keras

    spec = tiny_dataset("many-to-one")
    hp = {"cell": "gru", "units": 8, "embedding_dim": 8}
    parent = zoo.train("many-to-one", dataset=spec, epochs=1, hparams=hp, verbose=0)
    path = registry.save(parent, "gru-parent", root=tmp_path)
    tuned = zoo.retrain(
        f"gru-parent@{path.name}", spec, epochs=1, freeze_encoder=True, root=tmp_path, verbose=0
    )
    assert tuned.hyperparameters["cell"] == "gru"
    before, after = parent.model.get_layer("bi_rnn"), tuned.model.get_layer("bi_rnn")
    assert isinstance(after.forward_layer, keras.layers.GRU)
    for old, new in zip(before.get_weights(), after.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def test_a_new_head_learns_alone_then_the_layers_below_thaw_from_the_top(
    tiny_dataset, small_conll: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ULMFiT's order: the new head alone, then one more layer per epoch from the top, then
    everything with early stopping; a frozen layer's weights do not move in its phase."""
    from zoo.models.layers import weighted_layers
    from zoo.training import finetune

    hp = {"units": 8, "embedding_dim": 8, "char_embedding_dim": 8, "char_units": 8, "crf": True}
    parent = zoo.train(
        "many-to-many-equal",
        dataset=tiny_dataset("many-to-many-equal"),
        epochs=1,
        hparams=hp,
        verbose=0,
    )
    registry.save(parent, "tiny", root=tmp_path)
    phases: list[tuple[set[str], int, int | None]] = []
    real = finetune.fit_model

    def recording(task, model, *args, epochs: int, patience: int | None = None, **kwargs):
        layers = weighted_layers(model)
        frozen = {
            name: layer.get_weights() for name, layer in layers.items() if not layer.trainable
        }
        history = real(task, model, *args, epochs=epochs, patience=patience, **kwargs)
        for name, weights in frozen.items():
            for old, new in zip(weights, layers[name].get_weights(), strict=True):
                np.testing.assert_array_equal(old, new, err_msg=name)
        phases.append(({n for n, layer in layers.items() if layer.trainable}, epochs, patience))
        return history

    monkeypatch.setattr(finetune, "fit_model", recording)
    spec = zoo.prepare(small_conll, "conll", columns="tokens ner")
    tuned = zoo.retrain("tiny@1", spec, epochs=1, head_epochs=1, root=tmp_path, verbose=0)

    applied = list(weighted_layers(tuned.model))  # embedding first, the CRF head last
    head = tuned.task.head_layer
    below = applied[-2::-1]
    assert applied[-1] == head and len(below) >= 3, applied
    assert [trainable for trainable, _, _ in phases] == [
        {head},
        *({head, *below[:k]} for k in range(1, len(below))),
        set(applied),
    ]
    assert [(epochs, patience) for _, epochs, patience in phases] == [(1, None)] * len(below) + [
        (1, finetune.DEFAULT_PATIENCE)
    ]
    assert tuned.retrain["unfreezing_epochs"] == len(below) - 1
    assert tuned.retrain["gradual_unfreezing"] is True
    assert len(tuned.history["loss"]) == len(below) + 1


def test_new_words_start_as_the_parents_unknown_word() -> None:
    """A grown embedding's new rows copy the parent's [UNK] row; other grown weights (a
    wider output layer) keep their fresh values in the new columns."""
    import keras

    from zoo.data.preprocessing import UNK_ID
    from zoo.models.layers import transfer_weights

    def model(words: int, labels: int) -> keras.Model:
        ids = keras.Input(shape=(None,), dtype="int32")
        x = keras.layers.Embedding(words, 4, name="embedding")(ids)
        return keras.Model(ids, keras.layers.Dense(labels, name="classifier")(x))

    keras.utils.set_random_seed(0)
    parent, child = model(5, 2), model(8, 3)
    fresh = child.get_layer("classifier").get_weights()[0]
    transfer_weights(parent, child, skip=set(), new_rows_from=UNK_ID)
    old = parent.get_layer("embedding").get_weights()[0]
    new = child.get_layer("embedding").get_weights()[0]
    np.testing.assert_array_equal(new[:5], old)
    np.testing.assert_array_equal(new[5:], np.repeat(old[UNK_ID : UNK_ID + 1], 3, axis=0))
    kernel = child.get_layer("classifier").get_weights()[0]
    np.testing.assert_array_equal(kernel[:, :2], parent.get_layer("classifier").get_weights()[0])
    np.testing.assert_array_equal(kernel[:, 2:], fresh[:, 2:])

    plain = model(8, 3)
    unchanged = plain.get_layer("embedding").get_weights()[0]
    transfer_weights(parent, plain, skip=set())
    np.testing.assert_array_equal(plain.get_layer("embedding").get_weights()[0][5:], unchanged[5:])


def test_a_parent_that_averaged_its_weights_is_fine_tuned_without_the_average(
    tiny_dataset, tmp_path
) -> None:
    """A parent trained with `ema_momentum` hands on its weights, not its averaging: the
    child's optimizer keeps no average and its card says 0 (an average of M=0.999 over a
    fine-tuning run of a few hundred updates stays near its first step's weights)."""
    from zoo.training.fit import averages

    spec = tiny_dataset("many-to-one")
    hp = {"units": 8, "embedding_dim": 8, "ema_momentum": 0.999}
    parent = zoo.train("many-to-one", dataset=spec, epochs=1, hparams=hp, verbose=0)
    assert averages(parent.model)
    path = registry.save(parent, "ema-parent", root=tmp_path)
    tuned = zoo.retrain(f"ema-parent@{path.name}", spec, epochs=1, root=tmp_path, verbose=0)
    assert not averages(tuned.model)
    assert tuned.hyperparameters["ema_momentum"] == 0.0
    assert parent.hyperparameters["ema_momentum"] == 0.999
