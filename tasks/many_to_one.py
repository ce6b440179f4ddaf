"""Many-to-one: sentiment analysis.

Text -> normalised tokens -> ids (the preprocessing, in `tf.data` and in the traced
predict function) -> embedding with masking -> recurrent layer (optionally bidirectional)
-> probability of the positive class.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import tensorflow as tf

from zoo.data import text
from zoo.data.preprocessing import Preprocessing, graph_ops, label_field, vocabulary_field
from zoo.data.spec import GENERATED, DatasetSpec
from zoo.errors import BadInputError, ZooWarning
from zoo.models import streaming
from zoo.models.compiled import compiled_call, graph_call
from zoo.models.custom_layers import BigramBag, WordDropout
from zoo.models.layers import (
    compile_model,
    lower_layers,
    maybe_bidirectional,
    output_layer,
    recurrent,
    sequence_summary,
)
from zoo.tasks.base import Task, class_names, register_task, with_unknown


@dataclass
class SentimentPreprocessing(Preprocessing):
    """Fitted preprocessing of the sentiment task.

    Attributes:
        max_tokens: tokens read per training text; longer ones are cut there. `predict`,
            `evaluate` and serving read up to `zoo.data.text.MAX_INPUT_TOKENS` (and say so
            when they cut); `zoo stream` reads any length.
        labels: the two class names, negative first: the model predicts P(labels[1]).
        vocabulary: normalised words, most frequent first (ids from 2; 0 pads, 1 is unknown).
    """

    task = "many-to-one"
    max_tokens: int = 300
    labels: list[str] = label_field()
    vocabulary: list[str] = vocabulary_field()

    @graph_ops
    def token_ids_of(self, texts: tf.Tensor, max_tokens: int = text.MAX_INPUT_TOKENS) -> tf.Tensor:
        """Raw texts -> ids of their normalised tokens.

        Args:
            texts: string tensor, a scalar (one text) or shape (batch,).
            max_tokens: tokens read per text (training texts: `self.max_tokens`).

        Returns:
            int32 ids: shape (tokens,) for a scalar, a ragged (batch, None) tensor otherwise.
        """
        return self.token_ids(
            "vocabulary", tf.strings.split(text.normalize(texts, max_tokens=max_tokens))
        )

    @graph_ops
    def texts_cut(self, texts: tf.Tensor) -> tf.Tensor:
        """Which texts `model_inputs` reads only up to `zoo.data.text.MAX_INPUT_TOKENS`
        tokens (`zoo.data.text.beyond_input_limit`).

        Args:
            texts: string tensor of shape (batch,).

        Returns:
            bool tensor of shape (batch,).
        """
        return text.beyond_input_limit(texts)

    @graph_ops
    def model_inputs(self, texts: tf.Tensor) -> tf.Tensor:
        """A batch of raw texts -> the model's input: ids of their normalised tokens, each
        text read whole up to `zoo.data.text.MAX_INPUT_TOKENS` tokens.

        Args:
            texts: string tensor of shape (batch,).

        Returns:
            int32 tensor of shape (batch, time), right-padded with 0; time is the batch's
            longest token count, at most `zoo.data.text.MAX_INPUT_TOKENS`.
        """
        return self.token_ids_of(texts).to_tensor(0)


@register_task
class SentimentAnalysis(Task):
    """Many-to-one: a text in, a binary sentiment label out.

    Datasets: `embedded` (`zoo_reviews`) and `imdb_reviews`. `predict` takes one string per
    input and returns `{"label", "probability"}`; `stream` reads texts of any length. The
    model has one sigmoid output, so the dataset must have exactly two labels.
    """

    name = "many-to-one"
    example = "sentiment analysis"
    headline_metric = "accuracy"
    input_description = "a sentence or review, as one string"
    datasets = {
        "embedded": DatasetSpec(
            "zoo_reviews",
            train="train[:90%]",
            validation="train[90%:]",
            test="test",
            licence=GENERATED,
        ),
        "imdb_reviews": DatasetSpec(
            "imdb_reviews",
            train="train[:90%]",
            validation="train[90%:]",
            test="test",
            licence="Large Movie Review Dataset (Maas et al. 2011): research use; cite the paper",
        ),
    }
    default_epochs = 8
    head_layer = "classifier"
    preprocessing_class = SentimentPreprocessing
    label_features = {"labels": "label"}
    input_features = ("text",)
    default_batch_size = 64
    max_tokens = 300  # training reviews are cut: memory and time of training grow with length
    max_vocabulary = 20000

    # data --------------------------------------------------------------
    def adapt(
        self, train: tf.data.Dataset, spec: DatasetSpec, hp: kt.HyperParameters | None = None
    ) -> None:
        """Fits the vocabulary (at most `max_vocabulary` normalised words seen at least
        `min_word_count` times, in texts cut to `max_tokens`) and takes the two label names
        from the dataset's `label` feature, in its order (negative first).
        """
        tokens = (
            word
            for batch in train.map(
                lambda ex: text.normalize(ex["text"], max_tokens=self.max_tokens)
            )
            .batch(1024)
            .as_numpy_iterator()
            for sentence in batch
            for word in sentence.split()
        )
        labels = class_names(self.features(spec)["label"])
        if len(labels) != 2:  # refused before a vocabulary is built or an epoch is run
            raise BadInputError(
                f"{spec.tfds_name}: {len(labels)} labels ({', '.join(labels)}), but the "
                "many-to-one model is a binary classifier and learns exactly two: keep the "
                "files or rows of two classes (a README or notes file is not a class)."
            )
        self.preprocessing = SentimentPreprocessing(
            max_tokens=self.max_tokens,
            labels=labels,
            vocabulary=text.build_vocabulary(
                tokens, max_size=self.max_vocabulary, min_count=self.min_word_count
            ),
        )

    def encode(self, raw: tf.data.Dataset, *, training: bool) -> tf.data.Dataset:
        """Elements `(ids, label)`: int32 token ids (tokens,), at most `max_tokens` for
        training and `zoo.data.text.MAX_INPUT_TOKENS` otherwise (as `predict` reads), and an
        int32 scalar label id (-1 for a label the model does not know).
        """
        prep = self.preprocessing
        limit = prep.max_tokens if training else text.MAX_INPUT_TOKENS
        return raw.map(
            lambda ex: (
                prep.token_ids_of(ex["text"], limit),
                prep.label_ids("labels", ex["label_name"]),
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )

    @staticmethod
    def length_fn(ids: tf.Tensor, label: tf.Tensor) -> tf.Tensor:
        """The bucketing length of an encoded element: its token count.

        Args:
            ids: int32 token ids of shape (tokens,).
            label: the label id (unused).

        Returns:
            int32 scalar.
        """
        return tf.size(ids)

    # model -------------------------------------------------------------
    def build_model(self, hp: kt.HyperParameters) -> keras.Model:
        """Word dropout (training only) -> masked embedding -> recurrent layers (bidirectional by default) summarised by `pooling`
        (`last` state, `max` or `mean` over steps), joined with a bag of hashed word bigrams
        when `bigram_buckets` > 0 -> dropout -> sigmoid P(labels[1]). Input
        `token_ids` int32 (batch, time), 0 for padding; output float32 (batch, 1).
        """
        vocabulary = self.preprocessing.vocabulary
        ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        # words dropped to [UNK] while training (default off): less leaning on memorised words
        dropped = WordDropout(
            hp.Float("word_dropout", 0.0, 0.3, step=0.05, default=0.0), name="word_dropout"
        )(ids)
        embedding_dim = hp.Int("embedding_dim", 16, 256, step=16, default=64)
        x = keras.layers.Embedding(
            text.vocabulary_size(vocabulary),
            embedding_dim,
            mask_zero=True,
            name="embedding",
        )(dropped)
        x = keras.layers.SpatialDropout1D(
            hp.Float("embedding_dropout", 0.0, 0.5, step=0.1, default=0.2), name="embedding_dropout"
        )(x)
        # the textbook many-to-one reads the last state; max or mean over all steps often does better
        pooling = hp.Choice("pooling", ["last", "max", "mean"], default="last")
        units = hp.Int("units", 16, 256, step=16, default=64)
        x = lower_layers(hp, x, units, name="rnn", bidirectional=True)
        rnn = recurrent(hp, units, name="rnn", return_sequences=pooling != "last")
        x = sequence_summary(pooling, maybe_bidirectional(hp, rnn, default=True)(x))
        # a bag of hashed word bigrams beside the recurrent summary (0: none); not searched
        # unless asked (--choice bigram_buckets=0,100000)
        buckets = hp.Fixed("bigram_buckets", 0)
        if buckets:
            bag = BigramBag(buckets, embedding_dim, name="bigram_bag")(dropped)
            x = keras.layers.Concatenate(name="summary_and_bigrams")([x, bag])
        x = keras.layers.Dropout(
            hp.Float("dropout", 0.0, 0.5, step=0.1, default=0.3), name="dropout"
        )(x)
        prob = output_layer(1, "sigmoid", name="classifier")(x)
        model = keras.Model(ids, prob, name="many_to_one")
        return compile_model(
            model, hp, loss="binary_crossentropy", metrics=["accuracy"], learning_rate=3e-3
        )

    # decoding and metrics ---------------------------------------------
    def evaluate(
        self, model: keras.Model, raw: tf.data.Dataset, *, batch_size: int = 64, quick: bool = False
    ) -> dict[str, float]:
        """`accuracy` of P(labels[1]) >= 0.5, and `unknown_labels` when examples carry a label
        the model does not know (each counts wrong).
        """
        correct = total = unknown = 0
        for ids, labels in self.batches(raw, batch_size, training=False):
            predicted = np.asarray(compiled_call(model)(ids))[:, 0] >= 0.5
            correct += int(
                (predicted.astype(np.int32) == labels.numpy()).sum()
            )  # an unknown label (-1) is wrong
            unknown += int((labels.numpy() < 0).sum())
            total += len(labels)
        return with_unknown({"accuracy": correct / max(1, total)}, "unknown_labels", unknown)

    def raw_input(self, example: dict[str, Any]) -> str:
        """The example's text, decoded to `str`."""
        return example["text"].decode()

    def serving_function(self, model: keras.Model) -> tf.types.experimental.PolymorphicFunction:
        """Signature: `text` string (batch,) -> `label` string (batch,),
        `probability_positive` float32 (batch,), the probability of `labels[1]`, and
        `truncated` bool (batch,), True for a text cut at `zoo.data.text.MAX_INPUT_TOKENS`.
        """
        negative, positive = self.preprocessing.labels
        classify = graph_call(model)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(texts):
            """Classify one batch of raw texts.

            Args:
                texts: string tensor of shape (batch,).

            Returns:
                `{"label": string (batch,), "probability_positive": float32 (batch,),
                "truncated": bool (batch,)}`.
            """
            prob = classify(self.preprocessing.model_inputs(texts))[:, 0]
            return {
                "label": tf.where(prob >= 0.5, positive, negative),
                "probability_positive": prob,
                "truncated": self.preprocessing.texts_cut(texts),
            }

        return serve

    def _readable(self, probs: Any) -> list[dict[str, Any]]:
        negative, positive = self.preprocessing.labels
        return [
            {
                "label": positive if p >= 0.5 else negative,
                "probability": round(float(p if p >= 0.5 else 1 - p), 4),
            }
            for p in np.asarray(probs).reshape(-1)
        ]

    def predict(self, model: keras.Model, inputs: list[Any]) -> list[dict[str, Any]]:
        """`{"label": name, "probability": p}` per text, p the probability of that label rounded
        to 4 decimals. Inputs are read as `str`; one with no words raises `BadInputError`. A
        text longer than `zoo.data.text.MAX_INPUT_TOKENS` tokens is read up to there: its
        result adds `"truncated": True`, and a `ZooWarning` says so (`stream` reads any length).
        """
        texts = text.require_words([str(t) for t in inputs])
        results = self._readable(
            compiled_call(model, self.preprocessing.model_inputs)(tf.constant(texts))
        )
        # traced: its string ops run eagerly cost about a millisecond, as much as the model
        cut = self.preprocessing.traced("texts_cut")(tf.constant(texts)).numpy().tolist()
        if any(cut):
            warnings.warn(
                ZooWarning(
                    f"{sum(cut)} of {len(cut)} texts are longer than {text.MAX_INPUT_TOKENS} "
                    'tokens and were read up to there (their results say "truncated": true); '
                    "`zoo stream` reads a text of any length."
                ),
                stacklevel=2,
            )
        return [
            {**r, **({"truncated": True} if c else {})} for r, c in zip(results, cut, strict=True)
        ]

    def stream(
        self, model: keras.Model, text_chunks: Iterable[str], *, window: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """The sentiment of everything read so far, after each window of tokens: a document
        longer than `max_tokens` is read whole instead of truncated, and live text can be
        scored as it arrives. Needs a unidirectional model that reads its last state
        (`--set bidirectional=false`, pooling `last`), since max or mean pooling would have
        to see every step again.

        A generator: nothing runs, and nothing is checked, until the first result is asked for.
        The recurrent state of a stateful copy of `model` (`zoo.models.streaming`) is carried
        from window to window.

        Args:
            model: a many-to-one model with pooling `last` and no bidirectional layer.
            text_chunks: text in reading order (e.g. the lines of a file), read lazily; each
                chunk is normalised as `predict` normalises a text.
            window: tokens per window (default: the preprocessing's `max_tokens`). Windows run
                across chunk boundaries; the last one may be shorter.

        Returns:
            A generator of `{"label", "probability"}` results, as `predict` gives them, one per
            window.

        Raises:
            BadInputError: the model pools with `max` or `mean`.
            ZooError: the model has a bidirectional layer.
        """
        if any(layer.name in ("max_pool", "mean_pool") for layer in model.layers):
            raise BadInputError(
                "streaming needs a model trained with pooling=last (max and mean pooling see every step at once)."
            )
        stateful = streaming.stateful_copy(model)
        window = window or self.preprocessing.max_tokens
        # windows run across chunk boundaries: N tokens each, whatever the lines
        pending: list[str] = []
        scored = False
        # lazily: live input is scored as it arrives
        for chunk in itertools.chain(text_chunks, [None]):
            if chunk is not None:
                pending += text.normalize(tf.constant(str(chunk))).numpy().decode().split()
            while len(pending) >= window or (chunk is None and pending):
                piece, pending = pending[:window], pending[window:]
                ids = self.preprocessing.token_ids("vocabulary", tf.constant([piece]))  # normalised
                scored = True
                yield self._readable(stateful(ids, training=False))[0]
        if not scored:  # as `predict` refuses a blank input, so does a blank stream
            raise BadInputError(
                "the input has no words once normalised (it is empty or blank); give it at least one word."
            )
