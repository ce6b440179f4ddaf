"""Many-to-many with unequal lengths: machine translation.

An encoder reads the whole source sentence (as ids from the preprocessing) and hands its
final state to a decoder, which attends over every encoder output (Luong dot-product or
Bahdanau additive attention) while it emits the target one token at a time. Training uses
teacher forcing; inference uses greedy or beam-search decoding; the metric is sacrebleu.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import keras_tuner as kt
import tensorflow as tf

from zoo.data import text
from zoo.data.preprocessing import Preprocessing, graph_ops, vocabulary_field
from zoo.data.spec import GENERATED, DatasetSpec
from zoo.errors import BadInputError
from zoo.models import seq2seq
from zoo.models.custom_layers import PaddingMask
from zoo.models.layers import (
    compile_model,
    lower_layers,
    maybe_bidirectional,
    output_layer,
    recurrent,
)
from zoo.tasks.base import EncoderDecoderTask, register_task


@dataclass
class TranslationPreprocessing(Preprocessing):
    """Fitted preprocessing of the translation task.

    Attributes:
        max_tokens: tokens read per source sentence and emitted per translation.
        source_language, target_language: the dataset's feature names of the two sides.
        source_vocabulary: source words (ids from 2; 0 pads, 1 is unknown).
        target_vocabulary: target words, after the reserved `[start]` and `[end]`.
    """

    task = "many-to-many-unequal"
    max_tokens: int = 50
    source_language: str = "source"
    target_language: str = "target"
    source_vocabulary: list[str] = vocabulary_field()
    target_vocabulary: list[str] = vocabulary_field()

    @graph_ops
    def normalize(self, sentences: tf.Tensor) -> tf.Tensor:
        """Normalised text of either side, cut to `max_tokens` tokens.

        Args:
            sentences: string tensor, a scalar or of shape (batch,).

        Returns:
            String tensor of the same shape (`zoo.data.text.normalize`).
        """
        return text.normalize(sentences, max_tokens=self.max_tokens)

    @graph_ops
    def source_ids(self, sentences: tf.Tensor) -> tf.Tensor:
        """Raw source sentences -> ids of their normalised tokens.

        Args:
            sentences: string tensor, a scalar or of shape (batch,).

        Returns:
            int32 ids: shape (tokens,) for a scalar, a ragged (batch, None) tensor otherwise;
            at most `max_tokens` per sentence, 1 for unknown words.
        """
        return self.token_ids("source_vocabulary", tf.strings.split(self.normalize(sentences)))

    @graph_ops
    def model_inputs(self, sentences: tf.Tensor) -> tf.Tensor:
        """A batch of raw source sentences -> the encoder's input.

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

    # data --------------------------------------------------------------
    def features_read(self, spec: DatasetSpec) -> list[str]:
        """The source and target language features: the fitted preprocessing's, else the
        spec's `fields` (a model translates only the languages it was trained on).
        """
        prep = self.preprocessing
        if prep is not None:
            return [prep.source_language, prep.target_language]
        return [spec.fields[role] for role in ("source", "target") if role in spec.fields]

    def _vocabulary(self, sentences: tf.data.Dataset, reserved: tuple[str, ...] = ()) -> list[str]:
        normalized = sentences.map(lambda s: text.normalize(s, max_tokens=self.max_tokens)).batch(
            1024
        )
        words = (w for batch in normalized.as_numpy_iterator() for s in batch for w in s.split())
        return text.build_vocabulary(
            words, max_size=self.max_vocabulary, min_count=self.min_word_count, reserved=reserved
        )

    def adapt(self, train: tf.data.Dataset, spec: DatasetSpec) -> None:
        """Fits a source and a target vocabulary (the target's after `[start]` and `[end]`) on
        sentences cut to `max_tokens`; the languages are `spec.fields["source"]` and
        `spec.fields["target"]`.

        Raises:
            BadInputError: the spec does not say which features are the two languages.
        """
        if not {"source", "target"} <= spec.fields.keys():
            raise BadInputError(
                f"dataset {spec.tfds_name} does not say which features are the source and the "
                "target language: give --source and --target"
            )
        source, target = spec.fields["source"], spec.fields["target"]
        self.preprocessing = TranslationPreprocessing(
            max_tokens=self.max_tokens,
            source_language=source,
            target_language=target,
            source_vocabulary=self._vocabulary(train.map(lambda ex: ex[source])),
            target_vocabulary=self._vocabulary(
                train.map(lambda ex: ex[target]), reserved=(text.START, text.END)
            ),
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
                prep.normalize(ex[prep.target_language]),
                lambda t: prep.token_ids("target_vocabulary", t),
                prep.max_tokens,
            )
            return (
                {"source": prep.source_ids(ex[prep.source_language]), "target_in": target_in},
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
        float32 next-token probabilities (batch, target time, vocabulary + 2).
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
        return compile_model(
            model,
            hp,
            loss="sparse_categorical_crossentropy",
            weighted_metrics=["accuracy"],
            learning_rate=3e-3,
        )

    # decoding and metrics ---------------------------------------------
    def checked(self, inputs: list[Any]) -> list[str]:
        """The inputs as `str`; one with no words raises `BadInputError` (`text.require_words`)."""
        return text.require_words([str(s) for s in inputs])

    def encoder_inputs(self, inputs: list[Any]) -> tf.Tensor:
        """int32 source ids (batch, time), right-padded with 0 (`model_inputs`)."""
        return self.preprocessing.model_inputs(tf.constant(inputs))

    def serving_inputs(self) -> tuple[tf.TensorSpec, Any]:
        """`source` string (batch,): raw sentences, made ids by `model_inputs` in the graph."""
        return tf.TensorSpec([None], tf.string, name="source"), self.preprocessing.model_inputs

    def detokenize(self, sentences: tf.Tensor) -> tf.Tensor:
        """Re-attaches punctuation to the word before it (`zoo.data.text.attach_punctuation`)."""
        return text.attach_punctuation(sentences)

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
