"""Decoder machinery shared by the tasks that emit a sequence (captioning, translation).

Both build their model as two named sub-models, `encoder` (input -> decoder states) and
`decoder` (previous tokens + states -> next-token probabilities + new states), joined for
teacher-forced training. At inference the same `decoder` runs one step at a time under
greedy or beam-search decoding.
"""

from __future__ import annotations

import re
import warnings
import weakref
from collections.abc import Sequence
from typing import Any, NamedTuple

import keras
import keras_tuner as kt
import tensorflow as tf
from sacrebleu.metrics import BLEU

from zoo.data import text
from zoo.errors import ZooWarning
from zoo.models.compiled import compiled_call, graph_call
from zoo.models.layers import cell_type
from zoo_runtime.decoding import beam_search

#: sacrebleu's default tokenizer, for languages written with spaces between words
DEFAULT_BLEU_TOKENIZER = "13a"
#: language codes (ISO 639-1, 639-2 and 639-3; the first part of a BCP 47 tag such as
#: `zh-Hans`) of languages written without spaces, by `zoo.data.text.writing_of`'s names
_UNSPACED_LANGUAGES = {
    text.CHINESE: {"zh", "zho", "chi", "cmn", "yue", "wuu", "nan", "hak"},
    text.JAPANESE: {"ja", "jpn"},
    text.OTHER_UNSPACED: {"th", "tha", "lo", "lao", "km", "khm", "my", "mya", "bur"},
}


def state_count(hp: kt.HyperParameters) -> int:
    """An LSTM carries two state tensors (h, c); a SimpleRNN or a GRU one (h).

    Args:
        hp: the model's hyperparameters; reads (and declares) `cell`.

    Returns:
        2 for `lstm`, 1 for `simple_rnn` and `gru`.
    """
    return 2 if cell_type(hp) == "lstm" else 1


def encode_target(
    sentence: tf.Tensor, lookup: keras.layers.StringLookup, max_tokens: int
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Normalised target sentence -> teacher-forcing `(decoder input, expected output, weights)`:
    the input starts with [start], the output ends with [end], padding weighs nothing.

    Args:
        sentence: scalar string tensor, already normalised (`zoo.data.text.normalize`).
        lookup: tokens -> ids: any function from a string tensor to int ids of its shape,
            e.g. `lambda t: preprocessing.token_ids("target_vocabulary", t)`, as the tasks
            pass (the annotation names Keras' `StringLookup`, which also fits).
        max_tokens: words kept from the sentence, before [end] is added.

    Returns:
        `(target_in, target_out, weights)`: int32 `[start] + words` and int32
        `words + [end]`, each of shape (n + 1,) for n = min(words, max_tokens), and float32
        ones of that shape. Padded in a batch (`zoo.data.pipeline`), they get id 0 and
        weight 0.
    """
    tokens = tf.strings.split(sentence)[:max_tokens]
    ids = tf.cast(lookup(tf.concat([[text.START], tokens, [text.END]], axis=0)), tf.int32)
    return ids[:-1], ids[1:], tf.ones(tf.shape(ids[1:]), tf.float32)


#: outer model -> its decoder behind a gather (`_step_model`); the value holds the
#: decoder, not the outer model, so the model can still be dropped
_STEP_MODELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _step_model(model: keras.Model) -> keras.Model:
    """`model`'s decoder with its states' rows taken first: one decoding step of every
    hypothesis, as one compiled call (`zoo.models.compiled.compiled_call`). Beam search
    continues each hypothesis from the state of the one it extends; gathering those rows in
    a call of its own cost one more dispatch per generated token (about a millisecond on
    TensorFlow, a fifth of a beam-4 step).

    Args:
        model: a model with a `decoder` sub-model mapping `[tokens (batch, 1) int32,
            *states]` to `[probabilities (batch, 1, vocabulary), *new states]`; leading
            states it does not return (encoder outputs, mask) are context it only reads.

    Returns:
        A Keras model (built once per `model`, sharing the decoder's weights) mapping
        `[tokens (hypotheses, 1) int32, rows (hypotheses,) int32, *states]` to
        `[probabilities (hypotheses, 1, vocabulary), *context, *new states]`: each
        hypothesis reads the states' row `rows[i]`; the states returned are in the
        hypotheses' order, ready for the next step.
    """
    if model not in _STEP_MODELS:
        decoder = model.get_layer("decoder")
        tokens_in, *states_in = decoder.inputs
        tokens = keras.Input(tokens_in.shape[1:], dtype=tokens_in.dtype, name="tokens")
        rows = keras.Input((), dtype="int32", name="rows")
        states = [keras.Input(s.shape[1:], dtype=s.dtype) for s in states_in]
        taken = [keras.ops.take(state, rows, axis=0) for state in states]
        probs, *new_states = decoder([tokens, *taken])
        context = taken[: len(taken) - len(new_states)]
        _STEP_MODELS[model] = keras.Model(
            [tokens, rows, *states], [probs, *context, *new_states], name="decoder_step"
        )
    return _STEP_MODELS[model]


def _next_token_scores(inputs: list[Any], outputs: list[Any]) -> tuple[Any, list[Any]]:
    """One decoding step's results from `_step_model`'s outputs.

    Args:
        inputs: `[tokens (hypotheses, 1), rows (hypotheses,), *states]` (unused).
        outputs: `[probabilities (hypotheses, 1, vocabulary), *context, *new states]`.

    Returns:
        float32 log-probabilities (hypotheses, vocabulary), with 1e-9 added before the log,
        and the states for the next step, one row per hypothesis.
    """
    probs, *states = outputs
    return keras.ops.log(probs[:, -1] + 1e-9), states


class Decoded(NamedTuple):
    """What `decode` gives: per input, its output tokens and whether its bound cut them."""

    #: one token list per input, without [start], [end] and padding
    tokens: list[list[str]]
    #: per input, True where decoding reached the input's bound without emitting [end]
    cut: list[bool]


def decode(
    model: keras.Model,
    encoder_inputs,
    vocabulary: list[str],
    *,
    max_length: int | Sequence[int],
    beam_width: int = 1,
) -> Decoded:
    """Run `model`'s encoder once and its decoder step by step; tokens out, per input.

    Encoder and step are compiled once per model for the backend
    (`zoo.models.compiled.compiled_call`) and kept while the model lives: eager, a long
    input would cost seconds per thousand encoder steps.

    Args:
        model: a model with `encoder` and `decoder` sub-models. The decoder maps `[tokens
            (batch, 1) int32, *states]` to `[probabilities (batch, 1, vocabulary),
            *new states]`; leading states it does not return (encoder outputs, mask) are
            passed on unchanged.
        encoder_inputs: one batch for the encoder (images, or source ids (batch, time)).
        vocabulary: the decoder's vocabulary (id i >= 2 is `vocabulary[i - 2]`), holding
            `[start]` and `[end]`.
        max_length: most tokens generated per input, [end] included: one bound for all, or
            one per input.
        beam_width: hypotheses kept per input (`zoo.models.decoding.beam_search`); 1 is
            greedy.

    Returns:
        `Decoded`: per input its tokens (unknown ids read as `[UNK]`) and whether they were
        cut at its bound.
    """
    step = compiled_call(_step_model(model), decode=_next_token_scores)
    states = compiled_call(model.get_layer("encoder"))(encoder_inputs)
    states = list(states) if isinstance(states, (list, tuple)) else [states]
    start, end = vocabulary.index(text.START) + 2, vocabulary.index(text.END) + 2
    ids = beam_search(
        lambda tokens, states, rows: step([tokens[:, None], rows, *states]),
        states,
        start_id=start,
        end_id=end,
        max_length=max_length,
        beam_width=beam_width,
    )
    # `beam_search` cuts a row before its [end]: a row as long as its bound never emitted one
    bounds = [max_length] * len(ids) if isinstance(max_length, int) else list(max_length)
    return Decoded(
        [text.ids_to_tokens(row, vocabulary) for row in ids],
        [len(row) >= int(bound) for row, bound in zip(ids, bounds, strict=True)],
    )


def graph_parts(model: keras.Model) -> tuple[Any, Any]:
    """The encoder and the one-step decoder as TensorFlow functions for `greedy_in_graph`
    (`zoo.models.compiled.graph_call`); build them eagerly, outside the serving function.

    Args:
        model: a model with `encoder` and `decoder` sub-models, as for `decode`.

    Returns:
        `(encoder, decoder)`: functions of TensorFlow tensors, each returning what the
        sub-model returns.
    """
    decoder = model.get_layer("decoder")
    return graph_call(model.get_layer("encoder")), graph_call(
        decoder,
        fixed_shapes={decoder.inputs[0].name: (None, 1)},  # one token per step
    )


def greedy_in_graph(
    parts: tuple[Any, Any],
    encoder_inputs,
    vocabulary: list[str],
    *,
    max_length: int | tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Greedy decoding as TensorFlow ops (for exported serving signatures): one string per input.

    Args:
        parts: the model's `(encoder, decoder)` as TensorFlow functions (`graph_parts`).
        encoder_inputs: one batch for the encoder, as tensors.
        vocabulary: the decoder's vocabulary, holding `[start]` and `[end]`.
        max_length: most tokens generated per input, [end] included: an int, or an int32
            tensor of shape (batch,), one bound per input.

    Returns:
        `(text, cut)`: a string tensor of shape (batch,), the tokens before the first [end]
        joined by spaces, and a bool tensor of shape (batch,), True where an input reached
        its bound without [end] (as `decode` flags it). Unknown tokens read `[UNK]`, as
        `decode` gives them.
    """
    encoder, decoder = parts
    states = encoder(encoder_inputs)
    states = list(states) if isinstance(states, (list, tuple)) else [states]
    start, end = vocabulary.index(text.START) + 2, vocabulary.index(text.END) + 2
    tokens = tf.fill(tf.shape(states[0])[:1], start)
    bounds = tf.broadcast_to(tf.cast(max_length, tf.int32), tf.shape(tokens))
    finished = tf.zeros_like(tokens, dtype=tf.bool)
    ended = tf.zeros_like(tokens, dtype=tf.bool)  # emitted [end] within its bound
    steps = tf.TensorArray(tf.int32, size=tf.reduce_max(bounds))
    for t in tf.range(tf.reduce_max(bounds)):
        probs, *new_states = decoder([tokens[:, None], *states])
        states = [*states[: len(states) - len(new_states)], *new_states]
        tokens = tf.where(finished, end, tf.cast(tf.argmax(probs[:, -1], axis=-1), tf.int32))
        ended = ended | (~finished & (tokens == end))
        finished = finished | (tokens == end) | (bounds <= t + 1)
        steps = steps.write(t, tokens)
    ids = tf.transpose(steps.stack())
    words = tf.gather(tf.constant([text.PAD, text.UNK, *vocabulary]), ids)
    # as `predict` reads ids (`text.ids_to_tokens`): up to [end], without padding or
    # [start], and with [UNK] kept, so the exported signature says what predict says
    before_end = tf.cumsum(tf.cast(ids == end, tf.int32), axis=1) == 0
    keep = before_end & (ids != 0) & (ids != start)
    joined = tf.strings.reduce_join(tf.ragged.boolean_mask(words, keep), axis=1, separator=" ")
    return joined, ~ended


def bleu_tokenizer(language: str | None, writing: str) -> str:
    """sacrebleu's tokenizer for a target language: `zh` for Chinese, `ja-mecab` for
    Japanese (`char` where MeCab is not installed: a `ZooWarning` says so), `char` for the
    other languages written without spaces (Thai, Lao, Khmer, Burmese), `13a` otherwise.

    Args:
        language: the target's language code where the dataset names one (`zh`, `ja-JP`,
            `pt`); a name that is no known code (`target`, `en`) leaves it to `writing`.
        writing: the target text's writing system (`zoo.data.text.writing_of`).

    Returns:
        A value of sacrebleu's `tokenize` option.
    """
    code = re.split(r"[-_]", (language or "").lower())[0]
    kind = next((w for w, codes in _UNSPACED_LANGUAGES.items() if code in codes), writing)
    if kind == text.CHINESE:
        return "zh"
    if kind == text.JAPANESE:
        try:
            BLEU(tokenize="ja-mecab")
            return "ja-mecab"
        except RuntimeError:  # sacrebleu's message: MeCab and its dictionary are not installed
            warnings.warn(
                ZooWarning(
                    "Japanese BLEU is scored per character (sacrebleu's `char` tokenizer): "
                    "`ja-mecab` needs MeCab (pip install 'sacrebleu[ja]')."
                ),
                stacklevel=2,
            )
            return "char"
    return "char" if kind == text.OTHER_UNSPACED else DEFAULT_BLEU_TOKENIZER


def corpus_bleu(hypotheses: list[str], references: list[list[str]], **kwargs) -> float:
    """sacrebleu's corpus BLEU against every reference of each hypothesis (`scored_bleu`'s
    score alone).

    Args:
        hypotheses: one output text per input.
        references: per input, its reference texts (at least one each). Must not be empty.
        **kwargs: options of `sacrebleu.metrics.BLEU`.

    Returns:
        The corpus score in [0, 100].
    """
    return scored_bleu(hypotheses, references, **kwargs)[0]


def scored_bleu(hypotheses: list[str], references: list[list[str]], **kwargs) -> tuple[float, str]:
    """sacrebleu's corpus BLEU against every reference of each hypothesis, however many each
    has (an image with five captions beside one with three): sacrebleu skips a `None`
    reference, so shorter reference lists are padded with it. With the score comes
    sacrebleu's signature, which says how it was computed (reference count, casing,
    tokenizer, smoothing, sacrebleu version), so that a reader can compare it with
    published numbers.

    BLEU: Papineni et al. 2002 (https://aclanthology.org/P02-1040); sacrebleu and its
    signatures: Post 2018 (https://aclanthology.org/W18-6319).

    Args:
        hypotheses: one output text per input.
        references: per input, its reference texts (at least one each). Must not be empty.
        **kwargs: options of `sacrebleu.metrics.BLEU` (`max_ngram_order`, `lowercase`,
            `tokenize` (`bleu_tokenizer`), ...).

    Returns:
        `(score, signature)`: the corpus score in [0, 100] (by default with sacrebleu's `13a`
        tokenisation) and its signature, e.g.
        `nrefs:1|case:lc|eff:no|tok:13a|smooth:exp|version:2.6.0`.
    """
    n_refs = max(map(len, references))
    streams = [[refs[i] if i < len(refs) else None for refs in references] for i in range(n_refs)]
    bleu = BLEU(**kwargs)
    score = float(bleu.corpus_score(hypotheses, streams).score)
    return score, str(bleu.get_signature())


def teacher_forcing_model(
    encoder: keras.Model, decoder: keras.Model, encoder_input: keras.KerasTensor, name: str
) -> keras.Model:
    """Join encoder and decoder for training: the decoder reads the true previous tokens.

    Args:
        encoder: input -> decoder states (a list, or one tensor).
        decoder: `[target_in, *states]` -> `[probabilities, *new states]`.
        encoder_input: the encoder's `keras.Input`; its name becomes an input key.
        name: the joined model's name.

    Returns:
        An uncompiled model with inputs `{encoder_input.name: ..., "target_in": int32
        (batch, time)}` and one output, the decoder's probabilities (batch, time,
        vocabulary).
    """
    target_in = keras.Input(shape=(None,), dtype="int32", name="target_in")
    states = encoder(encoder_input)
    states = list(states) if isinstance(states, (list, tuple)) else [states]
    probs = decoder([target_in, *states])[0]
    return keras.Model(
        {encoder_input.name: encoder_input, "target_in": target_in}, probs, name=name
    )
