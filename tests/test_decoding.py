"""Beam search against a hand-made decoder whose best sequence greedy decoding misses. States
are tensors of the running Keras backend, as a model's are."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo_runtime.decoding import beam_search

START, END, A, B = 0, 1, 2, 3
# Markov chain over tokens: greedy takes A (0.6) then faces a flat distribution;
# B (0.4) leads to END with certainty, which is the most probable whole sequence.
TRANSITIONS = np.array(
    [
        [0.0, 0.0, 0.6, 0.4],  # after START
        [0.0, 1.0, 0.0, 0.0],  # after END
        [0.0, 0.34, 0.33, 0.33],  # after A
        [0.0, 1.0, 0.0, 0.0],  # after B
    ]
)


def step(tokens: np.ndarray, states: list, rows: np.ndarray):
    probs = TRANSITIONS[tokens]  # beam search passes the previous tokens as a numpy array
    return np.log(probs + 1e-12), [keras.ops.take(s, rows, axis=0) + 1 for s in states]


def test_beam_finds_the_more_probable_sequence_greedy_misses() -> None:
    states = [keras.ops.zeros((2, 1))]
    greedy = beam_search(step, states, start_id=START, end_id=END, max_length=5, beam_width=1)
    beam = beam_search(step, states, start_id=START, end_id=END, max_length=5, beam_width=3)
    assert greedy == [[A], [A]]  # 0.6 * 0.34 = 0.204
    assert beam == [[B], [B]]  # 0.4 * 1.0 = 0.4


def test_stops_at_max_length_without_end() -> None:
    def loop(tokens, states, rows):
        return np.log(np.tile([1e-9, 1e-9, 1.0, 1e-9], (len(tokens), 1))), [
            keras.ops.take(s, rows, axis=0) for s in states
        ]

    out = beam_search(
        loop, [keras.ops.zeros((1, 1))], start_id=START, end_id=END, max_length=4, beam_width=2
    )
    assert out == [[A, A, A, A]]


def test_the_exported_greedy_decoder_keeps_unknown_words_as_predict_does(tiny_dataset) -> None:
    """The serving signature dropped [UNK] while `predict` kept it, so the two disagreed."""
    import zoo
    from zoo.tasks.base import hyperparameters

    task = zoo.get_task("many-to-many-unequal")()
    spec = tiny_dataset("many-to-many-unequal")
    # word units, as the shipped models have: subwords never emit [UNK] for known characters
    task.adapt(task.load(spec, "train"), spec, hyperparameters({"units_kind": "words"}))
    model = task.build_model(hyperparameters({"units": 8, "embedding_dim": 8}))
    logits = model.get_layer("decoder").get_layer("logits")
    kernel, bias = logits.get_weights()
    bias[1] = 100.0  # every step emits [UNK] (id 1)
    logits.set_weights([kernel, bias])
    predicted = task.predict(model, ["um dois"], beam_width=1)[0]["translation"]
    served = (
        task.serving_function(model)(tf.constant(["um dois"]))["translation"][0].numpy().decode()
    )
    assert predicted.split()[0] == "[UNK]" and served == predicted


def test_bleu_uses_every_reference_when_inputs_have_different_numbers() -> None:
    """Three references for one image and one for another: keeping only the smallest number
    of references for every image gave 55.94 where sacrebleu with all references gives 100."""
    from sacrebleu.metrics import BLEU

    from zoo.models.seq2seq import corpus_bleu

    hypotheses = ["a dog runs on the green grass", "a red car drives down the road"]
    references = [
        ["a cat sleeps on a sofa", "two dogs play", "a dog runs on the green grass"],
        ["a red car drives down the road"],
    ]
    assert corpus_bleu(hypotheses, references) == pytest.approx(100.0)
    # the same as sacrebleu given the missing references as None
    streams = [[refs[i] if i < len(refs) else None for refs in references] for i in range(3)]
    assert corpus_bleu(hypotheses, references) == BLEU().corpus_score(hypotheses, streams).score


def test_translation_reports_cased_and_lowercased_bleu_with_sacrebleus_signatures(
    tiny_dataset, monkeypatch
) -> None:
    """Published translation scores are cased or lowercased; the card must say which, with
    sacrebleu's signature (issue 19 asked for both, only the lowercased score was reported)."""
    import zoo
    from zoo.tasks.base import hyperparameters

    task = zoo.get_task("many-to-many-unequal")()
    spec = tiny_dataset("many-to-many-unequal")
    task.adapt(task.load(spec, "train"), spec, hyperparameters({"units_kind": "words"}))
    model = task.build_model(hyperparameters({"units": 8, "embedding_dim": 8}))
    reference = "Two young men play football in the park ."
    monkeypatch.setattr(task, "references", lambda raw: (["x"], [[reference]]))
    monkeypatch.setattr(  # right words, wrong case at "two" and "park"
        task,
        "generate",
        lambda *a, **k: (["two young men play football in the Park ."], [False], [[]]),
    )
    metrics = task.evaluate(model, task.load(spec, "validation"))
    assert metrics["bleu"] == metrics["bleu_beam"] == pytest.approx(100.0)
    assert metrics["bleu_cased"] == metrics["bleu_cased_beam"] == pytest.approx(61.0474, abs=1e-3)
    assert metrics["bleu_signature"].startswith("nrefs:1|case:lc|eff:no|tok:13a|smooth:exp")
    assert metrics["bleu_cased_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    quick = task.evaluate(model, task.load(spec, "validation"), quick=True)
    assert set(quick) == {"bleu"}  # after every epoch: the headline only, all floats
