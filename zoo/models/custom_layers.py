"""Every serialisable Keras class the zoo defines, registered under the `zoo>` package name.

A saved zoo model refers to these classes by their registered names (`zoo>CharacterEncoder`),
and Keras' safe mode loads only registered or built-in classes. This module imports nothing
but Keras, so that `import zoo` can register them the moment Keras is imported (see
`zoo/__init__.py`): `keras.saving.load_model("…/model.keras")` then works after `import zoo`.
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="zoo")
class CharacterEncoder(keras.layers.Layer):
    """Characters of every word -> one vector per word, from a bidirectional recurrent layer.

    Input `(batch, time, characters)` ids (0 = padding); output `(batch, time, 2 * units)`.
    Words are folded into the batch axis ((B, T, W) -> (B*T, W)) rather than wrapped in
    `TimeDistributed`, which falls back to a slow `vectorized_map` over an unknown time axis.
    The character-level word representation of Lample et al. 2016, "Neural Architectures for
    Named Entity Recognition" (https://arxiv.org/abs/1603.01360).

    Args:
        vocabulary_size: character ids, the 2 reserved ones included.
        embedding_dim: size of a character's embedding.
        units: units of each direction.
        cell: `lstm`, else a SimpleRNN.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        ids: int tensor of shape (batch, time, characters), 0 for padding.

    Returns:
        float tensor of shape (batch, time, 2 * units): the final forward and backward states
        over each word's characters, concatenated. Its mask, (batch, time), is False for
        padding words (no characters).
    """

    def __init__(
        self, vocabulary_size: int, embedding_dim: int, units: int, cell: str = "lstm", **kwargs
    ):
        super().__init__(**kwargs)
        self.vocabulary_size, self.embedding_dim, self.units, self.cell = (
            vocabulary_size,
            embedding_dim,
            units,
            cell,
        )
        self.embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, name="char_embedding"
        )
        layer = keras.layers.LSTM if cell == "lstm" else keras.layers.SimpleRNN
        self.rnn = keras.layers.Bidirectional(layer(units), name="char_rnn")

    def build(self, input_shape):
        self.embedding.build((None, None))
        self.rnn.build((None, None, self.embedding_dim))
        super().build(input_shape)

    def call(self, ids):
        shape = keras.ops.shape(ids)
        words = keras.ops.reshape(keras.ops.cast(ids, "int32"), (-1, shape[2]))
        # Padding words have no characters; a fully masked row would take cuDNN off its fast
        # path, so the first position always counts (their vectors are masked downstream).
        first = keras.ops.arange(shape[2]) == 0
        mask = keras.ops.logical_or(keras.ops.not_equal(words, 0), first[None, :])
        vectors = self.rnn(self.embedding(words), mask=mask)
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
