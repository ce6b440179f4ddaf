"""Every serialisable Keras class the zoo defines, registered under the `zoo>` package name.

A saved zoo model refers to these classes by their registered names (`zoo>CharacterEncoder`),
and Keras' safe mode loads only registered or built-in classes. This module imports nothing
but Keras (and the zoo's plain-Python constants), so that `import zoo` can register them the moment Keras is imported (see
`zoo/__init__.py`): `keras.saving.load_model("…/model.keras")` then works after `import zoo`.
"""

from __future__ import annotations

import keras

from zoo.constants import CELLS, CHARACTER_ENCODERS


def recurrent_class(cell: str) -> type[keras.layers.RNN]:
    """The Keras layer class of a recurrent cell name.

    Args:
        cell: one of `CELLS`: `simple_rnn`, `lstm` (Hochreiter & Schmidhuber 1997) or `gru`
            (Cho et al. 2014, https://arxiv.org/abs/1406.1078).

    Returns:
        `keras.layers.SimpleRNN`, `keras.layers.LSTM` or `keras.layers.GRU`.

    Raises:
        ValueError: `cell` is not one of `CELLS`.
    """
    classes = {
        "simple_rnn": keras.layers.SimpleRNN,
        "lstm": keras.layers.LSTM,
        "gru": keras.layers.GRU,
    }
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, not {cell!r}")
    return classes[cell]


@keras.saving.register_keras_serializable(package="zoo")
class CharacterEncoder(keras.layers.Layer):
    """Characters of every word -> one vector per word, from a bidirectional recurrent layer
    or a convolution with max pooling.

    Input `(batch, time, characters)` ids (0 = padding); output `(batch, time, 2 * units)`.
    Words are folded into the batch axis ((B, T, W) -> (B*T, W)) rather than wrapped in
    `TimeDistributed`, which falls back to a slow `vectorized_map` over an unknown time axis.
    `kind="rnn"`: the final forward and backward states over the characters, the
    character-level word representation of Lample et al. 2016, "Neural Architectures for
    Named Entity Recognition" (https://arxiv.org/abs/1603.01360). `kind="cnn"`: a
    convolution of `width` characters with `2 * units` filters and tanh, max-pooled over
    the word's characters, as in Ma & Hovy 2016, "End-to-end Sequence Labeling via
    Bi-directional LSTM-CNNs-CRF" (https://arxiv.org/abs/1603.01354), which runs every
    position of a word at once instead of one step per character.

    Args:
        vocabulary_size: character ids, the 2 reserved ones included.
        embedding_dim: size of a character's embedding.
        units: units of each direction (`rnn`); half the filters (`cnn`).
        cell: one of `CELLS` (`rnn` only).
        kind: `rnn` or `cnn` (`CHARACTER_ENCODERS`).
        width: characters per convolution window (`cnn` only).
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        ids: int tensor of shape (batch, time, characters), 0 for padding.

    Returns:
        float tensor of shape (batch, time, 2 * units). Its mask, (batch, time), is False
        for padding words (no characters); their vectors are zeros for `cnn`.

    Raises:
        ValueError: `kind` is not one of `CHARACTER_ENCODERS`, or `cell` not one of `CELLS`.
    """

    def __init__(
        self,
        vocabulary_size: int,
        embedding_dim: int,
        units: int,
        cell: str = "lstm",
        kind: str = "rnn",
        width: int = 3,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if kind not in CHARACTER_ENCODERS:
            raise ValueError(f"kind must be one of {CHARACTER_ENCODERS}, not {kind!r}")
        self.vocabulary_size, self.embedding_dim, self.units, self.cell = (
            vocabulary_size,
            embedding_dim,
            units,
            cell,
        )
        self.kind, self.width = kind, width
        self.embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, name="char_embedding"
        )
        # the attribute's name is where a `.keras` file keeps the layer's weights: one
        # attribute per kind, so models saved before `cnn` existed still load
        if kind == "cnn":
            self.cnn = keras.layers.Conv1D(
                2 * units, width, padding="same", activation="tanh", name="char_cnn"
            )
        else:
            layer = recurrent_class(cell)
            forward = layer(units)
            # The backward layer is given, not derived: deriving it serializes `forward`
            # twice, and inside `keras.saving.load_model`'s object-sharing scope that
            # records the backward layer under `forward`'s address, which a later layer
            # can reuse once `forward` is dropped (see `zoo.registry.store.load_keras_file`).
            backward = layer(units, go_backwards=True, name=f"backward_{forward.name}")
            self.rnn = keras.layers.Bidirectional(forward, backward_layer=backward, name="char_rnn")

    def build(self, input_shape):
        self.embedding.build((None, None))
        (self.cnn if self.kind == "cnn" else self.rnn).build((None, None, self.embedding_dim))
        super().build(input_shape)

    def call(self, ids):
        shape = keras.ops.shape(ids)
        words = keras.ops.reshape(keras.ops.cast(ids, "int32"), (-1, shape[2]))
        real = keras.ops.not_equal(words, 0)
        if self.kind == "cnn":
            # padding characters embed as zeros, as the convolution's own edge padding: a
            # word's vector does not depend on how far its batch is padded
            embedded = self.embedding(words) * keras.ops.cast(real[..., None], self.compute_dtype)
            features = self.cnn(embedded)  # (words, characters, filters)
            # tanh is at least -1, so -1 at padded positions never wins the max; words with no
            # characters (padding) get zeros
            floor = keras.ops.cast(-1.0, features.dtype)
            pooled = keras.ops.max(keras.ops.where(real[..., None], features, floor), axis=1)
            vectors = keras.ops.where(
                keras.ops.any(real, axis=1)[:, None], pooled, keras.ops.zeros_like(pooled)
            )
        else:
            # Padding words have no characters; a fully masked row would take cuDNN off its
            # fast path, so the first position always counts (their vectors are masked
            # downstream).
            first = keras.ops.arange(shape[2]) == 0
            vectors = self.rnn(
                self.embedding(words), mask=keras.ops.logical_or(real, first[None, :])
            )
        return keras.ops.reshape(vectors, (shape[0], shape[1], 2 * self.units))

    def compute_mask(self, ids, mask=None):
        """Padding words (no characters) are masked, so the word vectors can be concatenated
        with other masked features without unmasking the padding."""
        return keras.ops.any(keras.ops.not_equal(keras.ops.cast(ids, "int32"), 0), axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], 2 * self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "cell": self.cell,
            "kind": self.kind,
            "width": self.width,
        }


@keras.saving.register_keras_serializable(package="zoo")
class MaskedGlobalMaxPooling1D(keras.layers.Layer):
    """Max over time of the unmasked steps (Keras' own global max pooling ignores masks).

    Call arguments:
        inputs: float tensor of shape (batch, time, features).
        mask: optional bool tensor of shape (batch, time), True for real steps. Masked
            steps count as -1e9 (-inf in float16).

    Returns:
        float tensor of shape (batch, features), without a mask.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is not None:
            lowest = keras.ops.full_like(inputs, -1e9)
            inputs = keras.ops.where(
                keras.ops.expand_dims(keras.ops.cast(mask, "bool"), -1), inputs, lowest
            )
        return keras.ops.max(inputs, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


@keras.saving.register_keras_serializable(package="zoo")
class PaddingMask(keras.layers.Layer):
    """ids -> boolean mask of the non-padding positions, as an explicit tensor so that it
    can travel from the encoder to the attention of a decoder run one step at a time.

    Call arguments:
        ids: int tensor of any shape, e.g. (batch, time) token ids, 0 for padding.

    Returns:
        bool tensor of the same shape, True where `ids` is not 0.
    """

    def call(self, ids):
        return keras.ops.not_equal(ids, 0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, ids):
        return keras.KerasTensor(ids.shape, dtype="bool")


@keras.saving.register_keras_serializable(package="zoo")
class LinearChainCRF(keras.layers.Layer):
    """A linear-chain conditional random field output for sequence tagging: a linear
    projection of each step's features to per-tag emission scores, plus learned scores for
    every transition between two tags and for starting and ending a sentence on each tag.

    The layer's output is the emission scores; training uses
    `CRFNegativeLogLikelihood`, which reads the transitions from the layer, and decoding
    uses `decode` (Viterbi). Lafferty, McCallum & Pereira 2001, "Conditional Random Fields";
    as the output of a BiLSTM tagger: Lample et al. 2016, "Neural Architectures for Named
    Entity Recognition" (https://arxiv.org/abs/1603.01360). Every sum runs in `keras.ops`
    (forward algorithm and Viterbi as `keras.ops.scan` over time), so it runs on any backend.
    Masks must be right-padded (the zoo's pipelines pad on the right).

    Args:
        num_tags: the number of tags K.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        features: float tensor of shape (batch, time, features).
        mask: optional bool tensor of shape (batch, time), passed on unchanged.

    Returns:
        float tensor of shape (batch, time, K): the emission scores (unnormalised).
    """

    def __init__(self, num_tags: int, **kwargs):
        super().__init__(**kwargs)
        self.num_tags = num_tags
        self.supports_masking = True
        self.emissions = keras.layers.Dense(num_tags, dtype=self.dtype_policy, name="emissions")

    def build(self, input_shape):
        self.emissions.build(input_shape)
        # zeros: the untrained CRF decodes like a per-token argmax over the emissions
        self.transitions = self.add_weight(
            name="transitions", shape=(self.num_tags, self.num_tags), initializer="zeros"
        )
        self.start_transitions = self.add_weight(
            name="start_transitions", shape=(self.num_tags,), initializer="zeros"
        )
        self.end_transitions = self.add_weight(
            name="end_transitions", shape=(self.num_tags,), initializer="zeros"
        )
        super().build(input_shape)

    def call(self, features, mask=None):
        return self.emissions(features)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.num_tags)

    def get_config(self):
        return {**super().get_config(), "num_tags": self.num_tags}

    @staticmethod
    def _time_major(emissions, mask):
        """(time + 1, batch, K + 1): the emissions, then the mask as 0/1 in the last channel,
        and one padding step at the end. One tensor, because Keras' TensorFlow `scan` fails
        on several inputs of unknown length; the padding step changes no score (padding
        carries every state through) and keeps the scans over steps 1.. from being empty
        for a one-token sentence (TensorFlow cannot stack an empty scan's outputs)."""
        emissions = keras.ops.cast(emissions, "float32")
        if mask is None:
            mask = keras.ops.ones(keras.ops.shape(emissions)[:2], dtype="bool")
        real = keras.ops.cast(mask, "float32")[..., None]
        steps = keras.ops.concatenate([emissions, real], axis=-1)
        steps = keras.ops.concatenate([steps, keras.ops.zeros_like(steps[:, :1])], axis=1)
        return keras.ops.transpose(steps, (1, 0, 2))

    @staticmethod
    def _split(step):
        """One time step of `_time_major` -> emissions (batch, K), real (batch, 1) bool."""
        return step[:, :-1], step[:, -1:] > 0.5

    def log_partition(self, emissions, mask=None):
        """log Z: the log-sum-exp of the scores of every tag sequence (forward algorithm).

        Args:
            emissions: float tensor (batch, time, K), this layer's output.
            mask: bool tensor (batch, time), True for real steps; default all.

        Returns:
            float32 tensor of shape (batch,).
        """
        steps = self._time_major(emissions, mask)

        def step(alpha, inputs):
            scores, real = self._split(inputs)
            # alpha[b, i] + transitions[i, j], summed over the previous tag i in log space
            following = (
                keras.ops.logsumexp(alpha[:, :, None] + self.transitions[None], axis=1) + scores
            )
            alpha = keras.ops.where(real, following, alpha)
            return alpha, alpha

        alpha, _ = keras.ops.scan(
            step, self.start_transitions[None] + self._split(steps[0])[0], steps[1:]
        )
        return keras.ops.logsumexp(alpha + self.end_transitions[None], axis=-1)

    def sequence_score(self, emissions, tags, mask=None):
        """The unnormalised score of given tag sequences.

        Args:
            emissions: float tensor (batch, time, K).
            tags: int tensor (batch, time) of tag ids; ids outside [0, K) score nothing.
            mask: bool tensor (batch, time), right-padded; default all steps.

        Returns:
            float32 tensor of shape (batch,): start + emission + transition + end scores.
        """
        emissions = keras.ops.cast(emissions, "float32")
        if mask is None:
            mask = keras.ops.ones(keras.ops.shape(tags), dtype="bool")
        real = keras.ops.cast(mask, "float32")
        one_hot = keras.ops.one_hot(keras.ops.cast(tags, "int32"), self.num_tags) * real[..., None]
        emitted = keras.ops.sum(one_hot * emissions, axis=(1, 2))
        # transition i -> j between two real steps: one_hot[t - 1, i] * one_hot[t, j]
        pairs = keras.ops.einsum("bti,btj->bij", one_hot[:, :-1], one_hot[:, 1:])
        moved = keras.ops.sum(pairs * self.transitions[None], axis=(1, 2))
        first = keras.ops.sum(one_hot[:, 0] * self.start_transitions[None], axis=-1)
        # the last real step: where the mask falls from 1 to 0 (or the last step)
        following = keras.ops.concatenate([real[:, 1:], keras.ops.zeros_like(real[:, :1])], axis=1)
        last = one_hot * (real - following)[..., None]
        ended = keras.ops.sum(last * self.end_transitions[None, None], axis=(1, 2))
        return first + emitted + moved + ended

    def log_likelihood(self, emissions, tags, mask=None):
        """log p(tags | inputs) of each sequence.

        Args:
            emissions: float tensor (batch, time, K).
            tags: int tensor (batch, time).
            mask: bool tensor (batch, time), right-padded; default all steps.

        Returns:
            float32 tensor of shape (batch,), at most 0.
        """
        return self.sequence_score(emissions, tags, mask) - self.log_partition(emissions, mask)

    def decode(self, emissions, mask=None):
        """The most likely tag sequence of each input (Viterbi).

        Args:
            emissions: float tensor (batch, time, K).
            mask: bool tensor (batch, time), right-padded; default all steps.

        Returns:
            int32 tensor of shape (batch, time): tag ids, 0 at padding.
        """
        steps = self._time_major(emissions, mask)
        identity = keras.ops.arange(self.num_tags, dtype="int32")[None]

        def forward(carry, inputs):
            delta, _ = carry
            scores, real = self._split(inputs)
            paths = delta[:, :, None] + self.transitions[None]  # (batch, previous, next)
            best = keras.ops.cast(keras.ops.argmax(paths, axis=1), "int32")
            delta = keras.ops.where(real, keras.ops.max(paths, axis=1) + scores, delta)
            # a padding step points every tag at itself, so backtracking walks through it
            carry = (delta, keras.ops.where(real, best, identity))
            return carry, carry  # (Keras' TensorFlow scan wants outputs shaped as the carry)

        start = self.start_transitions[None] + self._split(steps[0])[0]
        pointer = keras.ops.broadcast_to(identity, keras.ops.shape(start))
        (delta, _), (_, pointers) = keras.ops.scan(forward, (start, pointer), steps[1:])
        last = keras.ops.cast(
            keras.ops.argmax(delta + self.end_transitions[None], axis=-1), "int32"
        )

        def backward(tag, pointer):
            previous = keras.ops.take_along_axis(pointer, tag[:, None], axis=1)[:, 0]
            return previous, tag

        first, later = keras.ops.scan(backward, last, pointers, reverse=True)
        tags = keras.ops.concatenate([first[None], later], axis=0)
        # without the padding step `_time_major` appended
        return keras.ops.transpose(tags * keras.ops.cast(steps[:, :, -1], "int32"), (1, 0))[:, :-1]


@keras.saving.register_keras_serializable(package="zoo")
class CRFNegativeLogLikelihood(keras.losses.Loss):
    """The negative log-likelihood of the gold tag sequences under a `LinearChainCRF`,
    divided by the number of real tokens in the batch (so its scale, and with it the
    learning rate and gradient clipping that suit it, matches per-token cross-entropy).

    Steps whose sample weight is 0 are padding (the zoo's tagger weighs real tokens 1);
    other weights only mark steps as real. Keras passes sample weights to `__call__`, not to
    `call`, and the CRF needs the mask inside the sum, hence the override.

    Args:
        crf: the model's CRF layer, whose transition scores the loss reads (and trains).
            None for a loss read back from a saved compile config: it then cannot be
            evaluated; the zoo loads models without their compile config.
        **kwargs: `keras.losses.Loss` arguments (`name`, ...).
    """

    def __init__(self, crf: LinearChainCRF | None = None, name: str = "crf_nll", **kwargs):
        super().__init__(name=name, **kwargs)
        self.crf = crf

    def __call__(self, y_true, y_pred, sample_weight=None):
        if self.crf is None:
            raise ValueError("CRFNegativeLogLikelihood needs its LinearChainCRF layer.")
        mask = None if sample_weight is None else keras.ops.not_equal(sample_weight, 0)
        real = keras.ops.ones(keras.ops.shape(y_true)) if mask is None else mask
        tokens = keras.ops.maximum(keras.ops.sum(keras.ops.cast(real, "float32")), 1.0)
        return -keras.ops.sum(self.crf.log_likelihood(y_pred, y_true, mask)) / tokens


@keras.saving.register_keras_serializable(package="zoo")
class WordDropout(keras.layers.Layer):
    """During training, replaces each word id by the unknown-word id with probability `rate`,
    so the model learns what to do with words it has not seen (their characters, casing and
    context) instead of leaning on the vectors of words it memorised. Lample et al. 2016
    (https://arxiv.org/abs/1603.01360) replace singletons with the unknown word; Iyyer et al.
    2015 drop whole words. Padding (0) stays padding; at inference the layer is the identity.

    Args:
        rate: the probability of replacing a word, in [0, 1).
        unknown_id: the id of the unknown word (the zoo's vocabularies use 1).
        seed: seed of the layer's random draws.
        **kwargs: `keras.layers.Layer` arguments (`name`, ...).

    Call arguments:
        ids: int tensor of any shape, 0 for padding.
        training: whether to drop words.

    Returns:
        int tensor of the same shape and dtype.
    """

    def __init__(self, rate: float, unknown_id: int = 1, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.unknown_id, self.seed = rate, unknown_id, seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True

    def call(self, ids, training=None):
        if not training or self.rate == 0:
            return ids
        dropped = keras.random.uniform(keras.ops.shape(ids), seed=self.seed_generator) < self.rate
        dropped = keras.ops.logical_and(dropped, keras.ops.greater(ids, self.unknown_id))
        return keras.ops.where(dropped, keras.ops.cast(self.unknown_id, ids.dtype), ids)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "unknown_id": self.unknown_id,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="zoo")
class BigramBag(keras.layers.Layer):
    """A text's word bigrams, hashed into `buckets` learned vectors and averaged: the bag of
    n-grams with the hashing trick of fastText (Joulin et al. 2017, "Bag of Tricks for
    Efficient Text Classification", https://arxiv.org/abs/1607.01759), beside a recurrent
    layer that reads the words in order. The hash is arithmetic on the word ids, so it runs
    inside the model on every backend: `(a mod P) * 32719 + (b mod P) * 32717` (P = 32749,
    a prime; below 2**31, so int32 never overflows), then `1 + h mod (buckets - 1)`; bucket
    0 is padding.

    Args:
        buckets: hashed bigram vectors, padding's included (at least 2).
        dim: size of each vector.
        **kwargs: `keras.layers.Layer` arguments (`name`, ...).

    Call arguments:
        ids: int tensor (batch, time) of word ids, 0 for padding.

    Returns:
        float tensor (batch, dim): the mean vector of the bigrams of two real words; zeros
        for a text of fewer than two words.

    Raises:
        ValueError: fewer than 2 buckets.
    """

    PRIME, LEFT, RIGHT = 32749, 32719, 32717

    def __init__(self, buckets: int, dim: int, **kwargs):
        super().__init__(**kwargs)
        if buckets < 2:
            raise ValueError(f"a bigram bag needs at least 2 buckets, not {buckets}")
        self.buckets, self.dim = buckets, dim
        self.embedding = keras.layers.Embedding(buckets, dim, name="bigram_embedding")

    def build(self, input_shape):
        self.embedding.build((None, None))
        super().build(input_shape)

    def bucket_ids(self, ids):
        """The bucket of the bigram starting at each position (0: no bigram there).

        Args:
            ids: int tensor (batch, time), 0 for padding.

        Returns:
            int32 tensor (batch, time).
        """
        ids = keras.ops.cast(ids, "int32")
        following = keras.ops.pad(ids[:, 1:], [[0, 0], [0, 1]])
        hashed = (ids % self.PRIME) * self.LEFT + (following % self.PRIME) * self.RIGHT
        real = keras.ops.logical_and(keras.ops.not_equal(ids, 0), keras.ops.not_equal(following, 0))
        return keras.ops.where(real, 1 + hashed % (self.buckets - 1), 0)

    def call(self, ids):
        buckets = self.bucket_ids(ids)
        real = keras.ops.cast(keras.ops.not_equal(buckets, 0), self.compute_dtype)[..., None]
        total = keras.ops.sum(self.embedding(buckets) * real, axis=1)
        return total / keras.ops.maximum(keras.ops.sum(real, axis=1), 1.0)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim)

    def get_config(self):
        return {**super().get_config(), "buckets": self.buckets, "dim": self.dim}


@keras.saving.register_keras_serializable(package="zoo")
class SpatialAttention(keras.layers.Layer):
    """Soft attention of every decoder step over the positions of an image's feature grid,
    scored the additive (Bahdanau) way: `score(h, f) = v . tanh(W_h h + W_f f + b)`, softmax
    over the positions, and the context is the weighted mean of the features.

    Soft attention over a CNN's spatial grid is Show, Attend and Tell's (Xu et al. 2015,
    https://arxiv.org/abs/1502.03044); the additive score is Bahdanau et al.'s
    (https://arxiv.org/abs/1409.0473). The query is the decoder's current hidden state, as
    in Lu et al.'s spatial attention (2017, https://arxiv.org/abs/1612.01887), so the
    recurrent layer runs over the whole caption as one fused layer.

    Args:
        units: size of the space where queries and features are added.
        **kwargs: `keras.layers.Layer` arguments (`name`, ...).

    Call arguments:
        inputs: `[query, features]`: float (batch, time, query size), one query per decoder
            step, and float (batch, positions, feature size), the flattened grid.

    Returns:
        `[context, weights]`: float (batch, time, feature size), and float (batch, time,
        positions), each step's weights, summing to 1 over the positions. Both carry the
        query's mask.
    """

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.query_projection = keras.layers.Dense(units, use_bias=False, name="query_projection")
        self.feature_projection = keras.layers.Dense(units, name="feature_projection")
        self.score = keras.layers.Dense(1, use_bias=False, name="score")
        self.supports_masking = True

    def build(self, input_shape):
        query_shape, features_shape = input_shape
        self.query_projection.build(query_shape)
        self.feature_projection.build(features_shape)
        self.score.build((None, None, None, self.units))
        super().build(input_shape)

    def call(self, inputs):
        query, features = inputs
        keys = self.feature_projection(features)[:, None]  # (batch, 1, positions, units)
        queries = self.query_projection(query)[:, :, None]  # (batch, time, 1, units)
        scores = keras.ops.squeeze(self.score(keras.ops.tanh(queries + keys)), axis=-1)
        weights = keras.ops.softmax(scores, axis=-1)
        return [keras.ops.einsum("btn,bnd->btd", weights, features), weights]

    def compute_mask(self, inputs, mask=None):
        query_mask = None if mask is None else mask[0]
        return [query_mask, query_mask]

    def compute_output_shape(self, input_shape):
        query_shape, features_shape = input_shape
        return [
            (query_shape[0], query_shape[1], features_shape[2]),
            (query_shape[0], query_shape[1], features_shape[1]),
        ]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="zoo")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy of probabilities against integer targets smoothed over the whole
    vocabulary: the target keeps 1 - `smoothing` and every id gets `smoothing` / vocabulary
    (Szegedy et al. 2016, https://arxiv.org/abs/1512.00567; for translation, Vaswani et al.
    2017). Keras' `SparseCategoricalCrossentropy` has no smoothing option.

    Args:
        smoothing: the probability mass spread over the vocabulary, in [0, 1).
        **kwargs: `keras.losses.Loss` arguments (`name`, `reduction`, ...).

    Call arguments:
        y_true: int ids of shape (batch, time).
        y_pred: probabilities of shape (batch, time, vocabulary).

    Returns:
        float32 loss per step (batch, time), reduced by Keras with the sample weights.
    """

    def __init__(
        self, smoothing: float = 0.1, name: str = "smoothed_sparse_crossentropy", **kwargs
    ):
        super().__init__(name=name, **kwargs)
        self.smoothing = smoothing

    def call(self, y_true, y_pred):
        log_probs = keras.ops.log(keras.ops.clip(y_pred, 1e-7, 1.0))
        ids = keras.ops.expand_dims(keras.ops.cast(y_true, "int32"), -1)
        target = -keras.ops.take_along_axis(log_probs, ids, axis=-1)[..., 0]
        uniform = -keras.ops.mean(log_probs, axis=-1)
        return (1.0 - self.smoothing) * target + self.smoothing * uniform

    def get_config(self):
        return {**super().get_config(), "smoothing": self.smoothing}
