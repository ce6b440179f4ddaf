"""Many-to-many with unequal lengths: machine translation.

An encoder reads the whole source sentence (as ids from the preprocessing) and hands its
final state to a decoder, which attends over every encoder output (Luong dot-product or
Bahdanau additive attention) while it emits the target one token at a time. Training uses
teacher forcing; inference uses greedy or beam-search decoding; the metric is sacrebleu.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

import keras
import keras_tuner as kt
import tensorflow as tf

from zoo.data import subwords, text
from zoo.data.preprocessing import Preprocessing, graph_ops, model_field, vocabulary_field
from zoo.data.spec import GENERATED, DatasetSpec
from zoo.errors import BadInputError
from zoo.models import seq2seq
from zoo.models.custom_layers import PaddingMask, SmoothedSparseCrossentropy
from zoo.models.layers import (
    compile_model,
    lower_layers,
    maybe_bidirectional,
    output_layer,
    recurrent,
)
from zoo.tasks.base import EncoderDecoderTask, register_task
from zoo_runtime import decoding
from zoo_runtime import text as rules


@dataclass
class TranslationPreprocessing(Preprocessing):
    """Fitted preprocessing of the translation task.

    Attributes:
        max_tokens: tokens per sentence of a training pair (longer ones are cut); a
            translation may be longer (`Translation.output_bounds`), and `predict` reads up
            to `zoo.data.text.MAX_INPUT_TOKENS` source tokens.
        source_language, target_language: the dataset's feature names of the two sides.
        source_units, target_units: how each side is cut into tokens: `subwords`, the
            pieces of a SentencePiece model learnt on the training split (`source_subwords`,
            `target_subwords`; any script, case kept), or, in models saved before subwords,
            lowercased `words`, or `characters` for a language written without spaces (one
            token per Chinese character), chosen by the script of the training data
            (`zoo.data.text.writing_of`).
        bleu_tokenize: sacrebleu's tokenizer for the target language (`13a`, `zh`,
            `ja-mecab` or `char`; `zoo.models.seq2seq.bleu_tokenizer`).
        source_vocabulary: source tokens (ids from 2; 0 pads, 1 is unknown).
        target_vocabulary: target tokens, after the reserved `[start]` and `[end]`.
        source_subwords, target_subwords: the base64 SentencePiece model of a side cut into
            `subwords` (`zoo.data.subwords`), "" for the other units.
    """

    task = "many-to-many-unequal"
    max_tokens: int = 50
    source_language: str = "source"
    target_language: str = "target"
    source_units: str = text.WORDS
    target_units: str = text.WORDS
    bleu_tokenize: str = seq2seq.DEFAULT_BLEU_TOKENIZER
    source_vocabulary: list[str] = vocabulary_field()
    target_vocabulary: list[str] = vocabulary_field()
    source_subwords: str = model_field()
    target_subwords: str = model_field()

    def __post_init__(self) -> None:
        super().__post_init__()
        self._models: dict[str, bytes] = {}

    def _model(self, side: str) -> bytes:
        """The serialised SentencePiece model of a side cut into subwords, decoded once."""
        if side not in self._models:
            self._models[side] = subwords.serialised(getattr(self, f"{side}_subwords"))
        return self._models[side]

    @graph_ops
    def normalize(
        self, sentences: tf.Tensor, side: str, max_tokens: int | None = None
    ) -> tf.Tensor:
        """Normalised text of one side, in that side's units.

        Args:
            sentences: string tensor, a scalar or of shape (batch,).
            side: `source` or `target`.
            max_tokens: tokens kept per sentence; None keeps all.

        Returns:
            String tensor of the same shape, tokens joined by single spaces: the side's
            SentencePiece pieces for `subwords`, else `zoo.data.text.normalize`'s tokens.
        """
        units = self.source_units if side == "source" else self.target_units
        if units != text.SUBWORDS:
            return text.normalize(sentences, max_tokens=max_tokens, units=units)
        # HTML line breaks are spaces, as `text.normalize` reads them; SentencePiece
        # collapses whitespace itself
        sentences = tf.strings.regex_replace(sentences, rules.ANY_CASE_BREAKS, " ")
        pieces = subwords.tokenize(self._model(side), sentences)
        if max_tokens is not None:
            pieces = pieces[:max_tokens] if sentences.shape.rank == 0 else pieces[:, :max_tokens]
        return tf.strings.reduce_join(pieces, axis=-1, separator=" ")

    @graph_ops
    def source_ids(
        self, sentences: tf.Tensor, max_tokens: int = text.MAX_INPUT_TOKENS
    ) -> tf.Tensor:
        """Raw source sentences -> ids of their normalised tokens.

        Args:
            sentences: string tensor, a scalar or of shape (batch,).
            max_tokens: tokens read per sentence (training pairs: `self.max_tokens`).

        Returns:
            int32 ids: shape (tokens,) for a scalar, a ragged (batch, None) tensor otherwise;
            at most `max_tokens` per sentence, 1 for unknown words.
        """
        tokens = tf.strings.split(self.normalize(sentences, "source", max_tokens))
        return self.token_ids("source_vocabulary", tokens)

    @graph_ops
    def source_cut(self, sentences: tf.Tensor) -> tf.Tensor:
        """Which source sentences `source_ids` cuts at `zoo.data.text.MAX_INPUT_TOKENS`.

        Args:
            sentences: string tensor of shape (batch,).

        Returns:
            bool tensor of shape (batch,).
        """
        if self.source_units != text.SUBWORDS:
            return text.beyond_input_limit(sentences, units=self.source_units)
        pieces = tf.strings.split(self.normalize(sentences, "source"))
        return pieces.row_lengths() > text.MAX_INPUT_TOKENS

    def fitting_options(self) -> dict[str, Any]:
        """`units_kind`: `subwords` or `words` (also `characters`, which `words` picks for
        a side written without spaces), as this preprocessing cuts its sides.

        Returns:
            `{"units_kind": ...}`.
        """
        return {"units_kind": text.SUBWORDS if self.source_units == text.SUBWORDS else text.WORDS}

    def merged_with(self, new: Self) -> tuple[Self, dict[str, Any]]:
        """As `Preprocessing.merged_with`, except that a side cut into subwords keeps its
        vocabulary: its SentencePiece model (kept) emits no other pieces.
        """
        merged, changes = super().merged_with(new)
        for side in ("source", "target"):
            if getattr(self, f"{side}_units") == text.SUBWORDS:
                setattr(merged, f"{side}_vocabulary", getattr(self, f"{side}_vocabulary"))
                changes["vocabulary_added"][f"{side}_vocabulary"] = 0
        return merged, changes

    @graph_ops
    def model_inputs(self, sentences: tf.Tensor) -> tf.Tensor:
        """A batch of raw source sentences -> the encoder's input, each read whole (up to
        `zoo.data.text.MAX_INPUT_TOKENS` tokens).

        Args:
            sentences: string tensor of shape (batch,).

        Returns:
            int32 ids of shape (batch, time), right-padded with 0.
        """
        return self.source_ids(sentences).to_tensor(0)


@register_task
class Translation(EncoderDecoderTask):
    """Many-to-many with unequal lengths: a source sentence in, its translation out.

    Datasets: `embedded` (`zoo_numbers_translate`, pt -> en) and
    `ted_hrlr_translate/pt_to_en`; a dataset's `fields` name its source and target
    features. `predict` takes one source string per input and returns `{"translation"}`.
    """

    name = "many-to-many-unequal"
    example = "machine translation"
    headline_metric = "bleu"
    input_description = "a source-language sentence, as one string"
    datasets = {
        "embedded": DatasetSpec(
            "zoo_numbers_translate",
            train="train",
            validation="validation",
            test="test",
            fields={"source": "pt", "target": "en"},
            licence=GENERATED,
        ),
        "ted_hrlr_translate/pt_to_en": DatasetSpec(
            "ted_hrlr_translate/pt_to_en",
            train="train",
            validation="validation",
            test="test",
            fields={"source": "pt", "target": "en"},
            licence="TED talks transcripts (Qi et al. 2018): CC BY-NC-ND 4.0",
        ),
    }
    default_epochs = 10
    head_layer = "logits"
    preprocessing_class = TranslationPreprocessing
    target_vocabulary = "target_vocabulary"
    output_key = "translation"
    bleu_lowercase = True
    default_batch_size = 64
    max_tokens = 50
    max_vocabulary = 12000
    #: a translation may run to `max_tokens`, plus this many tokens for each source token
    #: beyond `max_tokens` (a source within the trained length keeps the trained bound)
    output_ratio = decoding.OUTPUT_RATIO
    #: and never beyond this many times `max_tokens`, however long the source: the bound
    #: keeps beam search short for any input
    max_output_factor = decoding.MAX_OUTPUT_FACTOR

    # data --------------------------------------------------------------
    def features_read(self, spec: DatasetSpec) -> list[str]:
        """The source and target language features: the fitted preprocessing's, else the
        spec's `fields` (a model translates only the languages it was trained on).
        """
        prep = self.preprocessing
        if prep is not None:
            return [prep.source_language, prep.target_language]
        return [spec.fields[role] for role in ("source", "target") if role in spec.fields]

    def _vocabulary(
        self, sentences: tf.data.Dataset, units: str, reserved: tuple[str, ...] = ()
    ) -> list[str]:
        normalized = sentences.map(
            lambda s: text.normalize(s, max_tokens=self.max_tokens, units=units)
        ).batch(1024)
        words = (w for batch in normalized.as_numpy_iterator() for s in batch for w in s.split())
        return text.build_vocabulary(
            words, max_size=self.max_vocabulary, min_count=self.min_word_count, reserved=reserved
        )

    def _side(
        self, sentences: tf.data.Dataset, units: str, size: int, reserved: tuple[str, ...] = ()
    ) -> tuple[list[str], str]:
        """One side's vocabulary and, for subwords, its base64 SentencePiece model."""
        if units != text.SUBWORDS:
            return self._vocabulary(sentences, units, reserved), ""
        model = subwords.train((s.decode() for s in sentences.as_numpy_iterator()), size)
        return [*reserved, *subwords.pieces(model)], model

    def adapt(
        self, train: tf.data.Dataset, spec: DatasetSpec, hp: kt.HyperParameters | None = None
    ) -> None:
        """Fits each side's units on the training split: by default (`units_kind=subwords`) a
        SentencePiece model of about `subword_vocabulary` pieces per side
        (`zoo.data.subwords`), whose pieces are the vocabulary; with `units_kind=words`, a
        vocabulary of lowercased words (sentences cut to `max_tokens`), or of characters
        for a side written without spaces (Chinese, Japanese, Thai...;
        `zoo.data.text.writing_of`). The target vocabulary starts with `[start]` and `[end]`.
        The languages are `spec.fields["source"]` and `spec.fields["target"]`; BLEU takes
        the target language's sacrebleu tokenizer (`zoo.models.seq2seq.bleu_tokenizer`).

        Raises:
            BadInputError: the spec does not say which features are the two languages.
            ZooError: no units can be learnt from a side (an empty training split).
        """
        if not {"source", "target"} <= spec.fields.keys():
            raise BadInputError(
                f"dataset {spec.tfds_name} does not say which features are the source and the "
                "target language: give --source and --target"
            )
        hp = hp or kt.HyperParameters()
        kind = hp.Choice("units_kind", [text.SUBWORDS, text.WORDS], default=text.SUBWORDS)
        size = hp.Int("subword_vocabulary", 1000, 32000, step=1000, default=8000)
        source, target = spec.fields["source"], spec.fields["target"]
        writing = {
            side: text.writing_of(train.map(lambda ex, s=side: ex[s])) for side in (source, target)
        }
        units = {
            side: text.units_for(writing[side]) if kind == text.WORDS else text.SUBWORDS
            for side in (source, target)
        }
        source_vocabulary, source_model = self._side(
            train.map(lambda ex: ex[source]), units[source], size
        )
        target_vocabulary, target_model = self._side(
            train.map(lambda ex: ex[target]), units[target], size, (text.START, text.END)
        )
        self.preprocessing = TranslationPreprocessing(
            max_tokens=self.max_tokens,
            source_language=source,
            target_language=target,
            source_units=units[source],
            target_units=units[target],
            bleu_tokenize=seq2seq.bleu_tokenizer(target, writing[target]),
            source_vocabulary=source_vocabulary,
            target_vocabulary=target_vocabulary,
            source_subwords=source_model,
            target_subwords=target_model,
        )

    def encode(self, raw: tf.data.Dataset, *, training: bool) -> tf.data.Dataset:
        """Elements `({"source", "target_in"}, target_out, weights)`: int32 source ids (tokens,),
        int32 `[start] + target` and `target + [end]` (n + 1,) for a target cut to n <=
        `max_tokens` words, and float32 ones (n + 1,).
        """
        prep = self.preprocessing

        def to_example(ex):
            """One raw sentence pair -> its encoded element.

            Args:
                ex: a raw example with scalar strings under the source and target language names.

            Returns:
                `({"source", "target_in"}, target_out, weights)`, as `encode` describes.
            """
            target_in, target_out, weights = seq2seq.encode_target(
                prep.normalize(ex[prep.target_language], "target"),
                lambda t: prep.token_ids("target_vocabulary", t),
                prep.max_tokens,
            )
            source = prep.source_ids(ex[prep.source_language], prep.max_tokens)
            return (
                {"source": source, "target_in": target_in},
                target_out,
                weights,
            )

        return raw.map(to_example, num_parallel_calls=tf.data.AUTOTUNE)

    @staticmethod
    def length_fn(inputs: dict[str, tf.Tensor], target: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
        """The bucketing length of an encoded element: the longer of source and target.

        Args:
            inputs: `{"source": int32 (tokens,), "target_in": ...}`.
            target: int32 expected output ids of shape (n + 1,).
            weights: float32 weights (unused).

        Returns:
            int32 scalar.
        """
        return tf.maximum(tf.size(inputs["source"]), tf.size(target))

    # model -------------------------------------------------------------
    def build_model(self, hp: kt.HyperParameters) -> keras.Model:
        """Encoder: masked embedding -> recurrent layers (bidirectional by default: forward and
        backward final states concatenated) -> outputs, source mask and states. Decoder:
        embedding -> recurrent layer -> attention over the encoder outputs, Luong dot-product
        (Luong et al. 2015, https://arxiv.org/abs/1508.04025) or Bahdanau additive (Bahdanau et
        al. 2014, https://arxiv.org/abs/1409.0473) -> tanh combination -> softmax over the target
        vocabulary. Training inputs `source` and `target_in` int32 (batch, time); output
        float32 next-token probabilities (batch, target time, vocabulary + 2). The loss is
        cross-entropy with `label_smoothing` (default 0.1; 0 is plain cross-entropy).
        """
        source_vocab, target_vocab = (
            self.preprocessing.source_vocabulary,
            self.preprocessing.target_vocabulary,
        )
        units = hp.Int("units", 32, 512, step=32, default=128)
        embedding_dim = hp.Int("embedding_dim", 16, 256, step=16, default=64)
        dropout = hp.Float("dropout", 0.0, 0.5, step=0.1, default=0.2)
        bidirectional = hp.Boolean("bidirectional", default=True)
        n_states = seq2seq.state_count(hp)

        # encoder: source ids -> (outputs, mask, decoder initial states)
        source = keras.Input(shape=(None,), dtype="int32", name="source")
        ids = source
        mask = PaddingMask(name="source_mask")(ids)
        x = keras.layers.Embedding(
            text.vocabulary_size(source_vocab),
            embedding_dim,
            mask_zero=True,
            name="source_embedding",
        )(ids)
        x = keras.layers.SpatialDropout1D(dropout, name="source_dropout")(x)
        x = lower_layers(hp, x, units, name="encoder_rnn", bidirectional=bidirectional)
        encoder_rnn = maybe_bidirectional(
            hp,
            recurrent(hp, units, name="encoder_rnn", return_sequences=True, return_state=True),
            default=bidirectional,
        )
        outputs, *states = encoder_rnn(x)
        if bidirectional:  # forward and backward states side by side: the decoder is twice as wide
            states = [
                keras.layers.Concatenate(name=f"encoder_state_{i}")([f, b])
                for i, (f, b) in enumerate(zip(states[:n_states], states[n_states:], strict=True))
            ]
        encoder = keras.Model(source, [outputs, mask, *states], name="encoder")

        # decoder: previous tokens + (outputs, mask, states) -> next-token probabilities, new states
        width = units * (2 if bidirectional else 1)
        target_in = keras.Input(shape=(None,), dtype="int32", name="target_in")
        enc_outputs = keras.Input(shape=(None, width), name="encoder_outputs")
        enc_mask = keras.Input(shape=(None,), dtype="bool", name="encoder_mask")
        state_in = [keras.Input(shape=(width,), name=f"state_{i}") for i in range(n_states)]
        y = keras.layers.Embedding(
            text.vocabulary_size(target_vocab),
            embedding_dim,
            mask_zero=True,
            name="target_embedding",
        )(target_in)
        y, *new_states = recurrent(
            hp, width, name="decoder_rnn", return_sequences=True, return_state=True
        )(y, initial_state=state_in)
        attention_kind = hp.Choice("attention", ["luong", "bahdanau"], default="luong")
        attention = (
            keras.layers.Attention(name="attention")
            if attention_kind == "luong"
            else keras.layers.AdditiveAttention(name="attention")
        )
        context = attention([y, enc_outputs], mask=[None, enc_mask])
        y = keras.layers.Concatenate(name="attention_concat")([y, context])
        y = keras.layers.Dense(width, activation="tanh", name="attention_combine")(y)
        y = keras.layers.Dropout(dropout, name="decoder_dropout")(y)
        probs = output_layer(text.vocabulary_size(target_vocab), "softmax", name="logits")(y)
        decoder = keras.Model(
            [target_in, enc_outputs, enc_mask, *state_in], [probs, *new_states], name="decoder"
        )

        model = seq2seq.teacher_forcing_model(encoder, decoder, source, name="many_to_many_unequal")
        smoothing = hp.Float("label_smoothing", 0.0, 0.3, step=0.05, default=0.1)
        return compile_model(
            model,
            hp,
            loss=SmoothedSparseCrossentropy(smoothing)
            if smoothing
            else "sparse_categorical_crossentropy",
            weighted_metrics=["accuracy"],
            learning_rate=3e-3,
        )

    # decoding and metrics ---------------------------------------------
    def checked(self, inputs: list[Any]) -> list[str]:
        """The inputs, each a `str` with words; anything else raises `BadInputError`
        (`text.require_words`)."""
        return text.require_words(list(inputs))

    def encoder_inputs(self, inputs: list[Any]) -> tf.Tensor:
        """int32 source ids (batch, time), right-padded with 0 (`model_inputs`): each source
        read whole, up to `zoo.data.text.MAX_INPUT_TOKENS` tokens."""
        return self.preprocessing.traced("model_inputs")(tf.constant(inputs))

    def inputs_cut(self, inputs: Any) -> tf.Tensor:
        """bool (batch,): sources longer than `zoo.data.text.MAX_INPUT_TOKENS` tokens."""
        return self.preprocessing.traced("source_cut")(tf.convert_to_tensor(inputs, tf.string))

    def output_bounds(self, encoder_inputs: Any) -> tf.Tensor:
        """int32 (batch,): a translation may run to `max_tokens` plus `output_ratio` tokens
        for each source token beyond `max_tokens`, at most `max_output_factor` * `max_tokens`,
        plus [end]."""
        max_tokens = self.preprocessing.max_tokens
        lengths = tf.reduce_sum(tf.cast(tf.not_equal(encoder_inputs, 0), tf.int32), axis=1)
        beyond = tf.maximum(lengths - max_tokens, 0)
        bound = tf.minimum(
            max_tokens + self.output_ratio * beyond, self.max_output_factor * max_tokens
        )
        return bound + 1

    def bound_rule(self) -> str:
        """The length limits in words, for warnings."""
        max_tokens = self.preprocessing.max_tokens
        return (
            f"a source is read up to {text.MAX_INPUT_TOKENS} tokens, and a translation stops at "
            f"{max_tokens + 1} tokens plus {self.output_ratio} for each source token beyond "
            f"{max_tokens} (at most {self.max_output_factor * max_tokens + 1}) unless it ends "
            "before"
        )

    def serving_inputs(self) -> tuple[tf.TensorSpec, Any]:
        """`source` string (batch,): raw sentences, made ids by `model_inputs` in the graph."""
        return tf.TensorSpec([None], tf.string, name="source"), self.preprocessing.model_inputs

    def detokenize(self, sentences: tf.Tensor) -> tf.Tensor:
        """Joins subword pieces into text (`zoo.data.subwords.join_pieces`); for words,
        re-attaches punctuation to the word before it (`zoo.data.text.attach_punctuation`)
        and characters of an unspaced script to each other (`zoo.data.text.join_units`)."""
        if self.preprocessing.target_units == text.SUBWORDS:
            return subwords.join_pieces(sentences)
        return text.join_units(text.attach_punctuation(sentences), self.preprocessing.target_units)

    def references(self, raw: tf.data.Dataset) -> tuple[list[str], list[list[str]]]:
        """Raw source sentences and, for each, its one raw target sentence (BLEU is lowercased)."""
        sources, references = [], []
        for ex in raw.as_numpy_iterator():
            sources.append(ex[self.preprocessing.source_language].decode())
            references.append([ex[self.preprocessing.target_language].decode()])
        return sources, references

    def raw_input(self, example: dict[str, Any]) -> str:
        """The example's source sentence, decoded to `str`."""
        return example[self.preprocessing.source_language].decode()
