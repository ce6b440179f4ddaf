"""The zoo's own layers (`zoo.models.custom_layers`): the linear-chain CRF, checked exactly
against enumeration of every tag sequence on tiny inputs, word dropout, and the character
encoders (recurrent, and a CNN checked by hand)."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest

from zoo.models.custom_layers import CharacterEncoder, CRFNegativeLogLikelihood, LinearChainCRF

TAGS, STEPS = 3, 4


@pytest.fixture(scope="module")
def crf() -> LinearChainCRF:
    layer = LinearChainCRF(TAGS)
    layer.build((None, None, 5))
    rng = np.random.default_rng(0)
    for weight in (layer.transitions, layer.start_transitions, layer.end_transitions):
        weight.assign(rng.normal(0, 1, weight.shape).astype("float32"))
    return layer


def _score(crf: LinearChainCRF, emissions: np.ndarray, tags: tuple[int, ...]) -> float:
    trans, start, end = (
        np.asarray(w) for w in (crf.transitions, crf.start_transitions, crf.end_transitions)
    )
    total = start[tags[0]] + end[tags[-1]] + sum(emissions[t, tag] for t, tag in enumerate(tags))
    return float(total + sum(trans[a, b] for a, b in itertools.pairwise(tags)))


@pytest.mark.parametrize("lengths", [(4, 2), (1, 3), (4, 4)])
def test_log_partition_likelihood_and_best_path_equal_enumeration(crf, lengths) -> None:
    rng = np.random.default_rng(sum(lengths))
    emissions = rng.normal(0, 2, (len(lengths), STEPS, TAGS)).astype("float32")
    mask = np.arange(STEPS)[None] < np.array(lengths)[:, None]
    gold = rng.integers(0, TAGS, (len(lengths), STEPS)) * mask
    log_z = np.asarray(crf.log_partition(emissions, mask))
    likelihood = np.asarray(crf.log_likelihood(emissions, gold, mask))
    best = np.asarray(crf.decode(emissions, mask))
    for b, n in enumerate(lengths):
        paths = list(itertools.product(range(TAGS), repeat=n))
        scores = np.array([_score(crf, emissions[b], p) for p in paths])
        exact_z = np.logaddexp.reduce(scores)
        assert log_z[b] == pytest.approx(exact_z, abs=1e-4)
        assert likelihood[b] == pytest.approx(
            _score(crf, emissions[b], tuple(gold[b, :n])) - exact_z, abs=1e-4
        )
        assert tuple(best[b, :n]) == paths[int(scores.argmax())]
        assert (best[b, n:] == 0).all()


def test_the_loss_is_the_mean_negative_log_likelihood_per_real_token(crf) -> None:
    rng = np.random.default_rng(1)
    emissions = rng.normal(0, 1, (2, STEPS, TAGS)).astype("float32")
    gold = rng.integers(0, TAGS, (2, STEPS))
    weights = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], "float32")
    loss = float(CRFNegativeLogLikelihood(crf)(gold, emissions, weights))
    per_sequence = np.asarray(crf.log_likelihood(emissions, gold, weights > 0))
    assert loss == pytest.approx(-per_sequence.sum() / 6, abs=1e-5)


def test_the_crf_learns_a_transition_rule_a_softmax_cannot_see() -> None:
    # tag 1 may only follow tag 1 or start a sentence on a "B" token; the emissions alone
    # (one feature: is this token marked) cannot tell B from I, the transitions can
    keras.utils.set_random_seed(0)  # initial weights: the test was flaky without it
    rng = np.random.default_rng(0)
    x = (rng.random((256, 6, 1)) < 0.4).astype("float32")
    tags = np.zeros((256, 6), "int32")
    for b in range(256):
        inside = False
        for t in range(6):
            if x[b, t, 0]:
                tags[b, t] = 2 if inside else 1  # 1 = B, 2 = I
                inside = True
            else:
                inside = False
    inputs = keras.Input((None, 1))
    crf = LinearChainCRF(3, name="tagger")
    model = keras.Model(inputs, crf(inputs))
    model.compile(keras.optimizers.Adam(0.1), loss=CRFNegativeLogLikelihood(crf))
    model.fit(x, tags, epochs=60, batch_size=64, verbose=0)
    decoded = np.asarray(crf.decode(model(x[:64])))
    emissions_alone = (np.asarray(model(x[:64])).argmax(-1) == tags[:64]).mean()
    assert (decoded == tags[:64]).mean() > 0.99
    assert emissions_alone < 0.9


def test_the_layer_round_trips_through_a_saved_model_in_safe_mode(tmp_path, crf) -> None:
    inputs = keras.Input((None, 5))
    model = keras.Model(inputs, LinearChainCRF(TAGS, name="tagger")(inputs))
    model.get_layer("tagger").transitions.assign(np.asarray(crf.transitions))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True, compile=False)
    np.testing.assert_array_equal(
        np.asarray(loaded.get_layer("tagger").transitions), np.asarray(crf.transitions)
    )
    x = np.random.default_rng(2).normal(size=(2, 3, 5)).astype("float32")
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)


def test_word_dropout_replaces_words_by_unknown_in_training_only() -> None:
    from zoo.models.custom_layers import WordDropout

    ids = np.tile(np.array([[5, 6, 1, 7, 0, 0]], "int32"), (2000, 1))
    layer = WordDropout(0.25, seed=0)
    np.testing.assert_array_equal(np.asarray(layer(ids)), ids)  # inference: untouched
    dropped = np.asarray(layer(ids, training=True))
    assert (dropped[:, 4:] == 0).all() and (dropped[:, 2] == 1).all()  # padding, unknown stay
    words = dropped[:, [0, 1, 3]]
    assert set(np.unique(words)) <= {1, 5, 6, 7}
    assert (words == 1).mean() == pytest.approx(0.25, abs=0.02)


def _character_encoder(kind: str) -> CharacterEncoder:
    layer = CharacterEncoder(12, embedding_dim=4, units=3, kind=kind, name="chars")
    layer.build((None, None, None))
    return layer


def test_the_character_cnn_is_the_max_over_a_words_own_characters() -> None:
    layer = _character_encoder("cnn")
    word = np.array([[[4, 7, 2]]], "int32")  # one sentence of one three-character word
    # the same word padded to 6 characters, beside a longer word and a padding word
    batch = np.array([[[4, 7, 2, 0, 0, 0], [3, 3, 5, 8, 9, 10], [0, 0, 0, 0, 0, 0]]], "int32")
    alone, padded = np.asarray(layer(word)), np.asarray(layer(batch))
    assert padded.shape == (1, 3, 6)
    np.testing.assert_allclose(padded[0, 0], alone[0, 0], atol=1e-6)  # padding changes nothing
    assert (padded[0, 2] == 0).all()  # a padding word
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(batch)), [[True, True, False]])
    # by hand: the convolution of the embedded characters (zeros beyond the word), then max
    embedded = np.asarray(layer.embedding(word[0]))
    kernel, bias = (np.asarray(w) for w in layer.cnn.weights)
    edged = np.pad(embedded[0], ((1, 1), (0, 0)))
    conv = np.tanh(
        np.stack([np.einsum("wc,wcf->f", edged[i : i + 3], kernel) for i in range(3)]) + bias
    )
    np.testing.assert_allclose(alone[0, 0], conv.max(axis=0), atol=1e-5)


@pytest.mark.parametrize("kind", ["rnn", "cnn"])
def test_both_character_encoders_round_trip_in_safe_mode(tmp_path, kind: str) -> None:
    inputs = keras.Input((None, None), dtype="int32")
    model = keras.Model(inputs, _character_encoder(kind)(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True, compile=False)
    ids = np.array([[[4, 7, 2, 0], [3, 3, 5, 8]]], "int32")
    np.testing.assert_allclose(np.asarray(loaded(ids)), np.asarray(model(ids)), atol=1e-6)
    assert loaded.layers[-1].kind == kind


def test_an_unknown_character_encoder_is_refused() -> None:
    with pytest.raises(ValueError, match="rnn"):
        CharacterEncoder(12, embedding_dim=4, units=3, kind="transformer")


def test_the_bigram_bag_is_the_mean_vector_of_each_texts_hashed_bigrams() -> None:
    from zoo.models.custom_layers import BigramBag

    bag = BigramBag(1000, 4, name="bag")
    ids = np.array([[5, 9, 5, 9, 0, 0], [40000, 3, 0, 0, 0, 0], [7, 0, 0, 0, 0, 0]], "int32")
    buckets = np.asarray(bag.bucket_ids(ids))

    def bucket(a: int, b: int) -> int:  # the documented hash, in Python integers
        return 1 + ((a % 32749) * 32719 + (b % 32749) * 32717) % 999

    assert buckets.tolist() == [
        [bucket(5, 9), bucket(9, 5), bucket(5, 9), 0, 0, 0],  # no bigram reaches padding
        [bucket(40000, 3), 0, 0, 0, 0, 0],  # an id above the prime wraps, no overflow
        [0] * 6,
    ]
    vectors = np.asarray(bag(ids))
    table = np.asarray(bag.embedding.embeddings)
    np.testing.assert_allclose(
        vectors[0], (2 * table[bucket(5, 9)] + table[bucket(9, 5)]) / 3, atol=1e-6
    )
    np.testing.assert_allclose(vectors[1], table[bucket(40000, 3)], atol=1e-6)
    assert (vectors[2] == 0).all()  # one word: no bigram, and no division by zero


@pytest.mark.parametrize("traced", [False, True])
def test_a_batch_of_one_token_sentences_is_scored_and_decoded(crf, traced) -> None:
    """A one-token sentence (a headline, a name) made every scan over steps 1.. empty, which
    TensorFlow cannot stack in a traced call: predict, evaluate and training crashed."""
    import tensorflow as tf

    rng = np.random.default_rng(7)
    emissions = rng.normal(0, 2, (2, 1, TAGS)).astype("float32")
    gold = np.array([[1], [2]])
    # traced as predict traces it: batch and time unknown
    spec = [tf.TensorSpec([None, None, TAGS], tf.float32)]
    tags = [tf.TensorSpec([None, None], tf.int64)]
    run = (lambda f, s: tf.function(f, input_signature=s)) if traced else (lambda f, s: f)
    log_z = np.asarray(run(crf.log_partition, spec)(emissions))
    likelihood = np.asarray(run(crf.log_likelihood, spec + tags)(emissions, gold))
    best = np.asarray(run(crf.decode, spec)(emissions))
    assert best.shape == (2, 1)
    for b in range(2):
        scores = np.array([_score(crf, emissions[b], (tag,)) for tag in range(TAGS)])
        assert log_z[b] == pytest.approx(np.logaddexp.reduce(scores), abs=1e-4)
        assert likelihood[b] == pytest.approx(scores[gold[b, 0]] - log_z[b], abs=1e-4)
        assert best[b, 0] == scores.argmax()
