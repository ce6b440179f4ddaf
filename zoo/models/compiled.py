"""The model's forward pass, compiled for the Keras backend that runs it.

This is the one place where the code differs by backend (`zoo.backend` chooses it). The
preprocessing (strings, images) always runs as TensorFlow ops; the model runs as follows:

| | `compiled_call` (predict, evaluate, decoding steps) | `graph_call` (inside a serving `tf.function`) |
|---|---|---|
| TensorFlow | preprocessing, model and decoding in one traced `tf.function` | the model itself |
| JAX | preprocessing in a `tf.function`, then model and decoding in one `jax.jit` | the model and decoding converted by `jax2tf`, reading `tf.Variable` copies of the weights |

Under JAX the jitted function takes the model's variables as arguments (a stateless call),
so it always reads the current weights, also between epochs of training.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

#: model -> {(prepare, decode) key: compiled function}, dropped together with the model
_CALLS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: model -> {(decode key, fixed shapes): the latest JAX graph call}: what `export_resources`
#: hands to the SavedModel writer
_GRAPH_CALLS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

Decode = Callable[[Any, Any], Any]


def _key(function: Any) -> tuple[str | None, int]:
    # An id is safe as a key here (unlike in Keras's object-sharing scope, see
    # `zoo.registry.store.load_keras_file`): the cached call holds the bound method, so its
    # object stays alive and no other object can take its address while the entry exists.
    return getattr(function, "__qualname__", None), id(getattr(function, "__self__", None))


def _stateless(model: keras.Model, decode: Decode | None) -> Callable[[list[Any], Any], Any]:
    """`(variable values, x) -> decode(x, model(x))` with the model's variables read from the
    values given, as JAX transformations need. The model is held weakly."""
    owner = weakref.ref(model)

    def run(values: list[Any], x: Any) -> Any:
        model = owner()
        with keras.StatelessScope(state_mapping=list(zip(model.variables, values, strict=True))):
            outputs = model(x, training=False)
            # inside the scope: a decoding that reads weights (a CRF's transitions) reads `values`
            return decode(x, outputs) if decode else outputs

    return run


def compiled_call(
    model: keras.Model,
    prepare: Any = None,
    decode: Decode | None = None,
    *,
    round_lengths: bool = False,
) -> Any:
    """`decode(x, model(x, training=False))` for `x = prepare(inputs)`, compiled once per
    model: one prediction then costs about a millisecond instead of the tens that an eager
    Keras call (or `model.predict`) spends on Python overhead.

    Under TensorFlow, `prepare`, the model and `decode` are one `tf.function`, traced
    shape-generic (`reduce_retracing`), so varying lengths do not retrace. Under JAX,
    `prepare` is a `tf.function` and the model with `decode` one `jax.jit` (compiled once per
    input shape): with `round_lengths`, every variable axis of the model's inputs (a `None`
    after the batch axis) is padded with 0 up to `padded_length`, so that batches of other
    lengths reuse a few compilations instead of compiling one each (file order batches of
    sentences: about one new shape a batch).

    Args:
        model: a Keras model. The cache holds it weakly: its functions go with it.
        prepare: TensorFlow ops from one batch of raw inputs to the model's inputs (e.g.
            `TextClassificationPreprocessing.model_inputs`), or None to feed the inputs as they are.
        decode: `keras.ops` from `(model inputs, model outputs)` to the result (e.g. Viterbi
            over a CRF's scores), or None for the outputs as they are. Functions are cached
            per model, `prepare` and `decode` (their qualified names and the objects they are
            bound to).
        round_lengths: pad variable lengths under JAX (see above). Only for models that read
            0 as padding (masked) and callers that cut results back to each input's length:
            a time axis of the outputs comes back padded. No effect under TensorFlow.

    Returns:
        A function from one batch (a tensor, array, or dict or list of them) to the model's
        outputs (or what `decode` makes of them) as tensors or arrays that `np.asarray`
        reads, e.g. float32 probabilities of shape (batch, classes).
    """
    calls = _CALLS.setdefault(model, {})
    jax = keras.config.backend() == "jax"
    key = (_key(prepare), _key(decode), round_lengths and jax)
    if key not in calls:
        calls[key] = (
            _jax_call(model, prepare, decode, round_lengths)
            if jax
            else _tf_call(model, prepare, decode)
        )
    return calls[key]


def padded_length(length: int) -> int:
    """The length `compiled_call(..., round_lengths=True)` pads a variable axis to under
    JAX: the next power of two, at least `JAX_SHAPE_MULTIPLE` (8, 16, 32, ...). A batch
    computes at most twice its steps, and sentences up to 128 tokens meet five shapes.

    Args:
        length: the axis's size, at least 0.

    Returns:
        The padded size, at least `length`.
    """
    from zoo.data.pipeline import JAX_SHAPE_MULTIPLE

    return max(JAX_SHAPE_MULTIPLE, 1 << max(0, length - 1).bit_length())


def _variable_axes(model: keras.Model) -> dict[str, tuple[int, ...]]:
    """Per input name of `model`: the axes after the batch axis whose size is `None`."""
    return {
        tensor.name: tuple(axis for axis, size in enumerate(tensor.shape) if axis and size is None)
        for tensor in model.inputs
    }


def _rounded(x: Any, axes: dict[str, tuple[int, ...]]) -> Any:
    """Model inputs (an array, or a dict of arrays by input name) with each variable axis
    right-padded with 0 to its `padded_length`."""

    def pad(array: np.ndarray, variable: tuple[int, ...]) -> np.ndarray:
        widths = [
            (0, padded_length(size) - size if axis in variable else 0)
            for axis, size in enumerate(array.shape)
        ]
        return np.pad(array, widths) if any(after for _, after in widths) else array

    if isinstance(x, dict):
        return {name: pad(array, axes.get(name, ())) for name, array in x.items()}
    if len(axes) == 1 and isinstance(x, np.ndarray):
        return pad(x, next(iter(axes.values())))
    return x


def _tf_call(model: keras.Model, prepare: Any, decode: Decode | None) -> Any:
    owner = weakref.ref(model)  # the cache must not keep the model alive

    @tf.function(reduce_retracing=True)
    def call(inputs):
        """One batch of raw inputs (with `prepare`) or of model inputs -> the outputs."""
        x = prepare(inputs) if prepare else inputs
        outputs = owner()(x, training=False)
        return decode(x, outputs) if decode else outputs

    # every loaded model gets a function of this same Python code, each traced once per
    # input signature: TensorFlow counts their first traces together and would warn of
    # "retracing" after five models loaded in one process (its own attribute for that)
    call._omit_frequent_tracing_warning = True
    return call


def _jax_call(model: keras.Model, prepare: Any, decode: Decode | None, round_lengths: bool) -> Any:
    import jax

    owner = weakref.ref(model)
    prepared = tf.function(prepare, reduce_retracing=True) if prepare else None
    run = jax.jit(_stateless(model, decode))
    axes = _variable_axes(model) if round_lengths else None

    def call(inputs):
        """One batch of raw inputs (with `prepare`) or of model inputs -> the outputs."""
        x = prepared(inputs) if prepared else inputs
        x = keras.tree.map_structure(np.asarray, x)  # TensorFlow tensors -> arrays for JAX
        if axes is not None:
            x = _rounded(x, axes)
        return run([v.value for v in owner().variables], x)

    call.compilations = run._cache_size  # how many input shapes it has compiled
    return call


def compiled_function(function: Callable[..., Any]) -> Callable[..., Any]:
    """A function of `keras.ops` (no model, no weights) compiled for the backend: a
    `tf.function` traced shape-generic under TensorFlow, `jax.jit` under JAX. One call of
    it costs one dispatch instead of one per op.

    Args:
        function: a pure function of backend tensors or arrays (and nested lists of them).

    Returns:
        The compiled function, taking and returning what `function` does.
    """
    if keras.config.backend() == "jax":
        import jax

        return jax.jit(function)
    return tf.function(function, reduce_retracing=True)


def graph_call(
    model: keras.Model,
    decode: Decode | None = None,
    *,
    fixed_shapes: dict[str, tuple[int | None, ...]] | None = None,
    constraints: tuple[str, ...] = (),
) -> Callable[[Any], Any]:
    """`decode(x, model(x, training=False))` as TensorFlow ops, to call inside a serving
    `tf.function` (`Task.serving_function`) between TensorFlow preprocessing and
    postprocessing.

    Under JAX the model (and `decode`) is converted by `jax2tf` with shape polymorphism:
    a `None` axis of the model's inputs is symbolic, the same symbol for the same axis of
    every input (axis 0 the batch, axis 1 the time steps of every sequence input). Call
    it eagerly, outside any `tf.function`: it copies the current weights into
    `tf.Variable`s, which `export_resources` hands to the SavedModel writer.

    Args:
        model: a Keras model.
        decode: `keras.ops` from `(model inputs, model outputs)` to the result, or None.
        fixed_shapes: input name -> shape for inputs whose `None` axes are known at the call
            (e.g. the decoder's previous token, `(None, 1)`, in step-by-step decoding).
        constraints: what JAX's shape polymorphism may assume about the symbolic axes
            (`b` the batch, `t1` axis 1, ...), e.g. `("t1 >= 2",)` for a Viterbi decoding
            that slices off the first step; the caller must feed inputs that satisfy them.
            Ignored under TensorFlow.

    Returns:
        A function from the model's inputs as TensorFlow tensors to its outputs (or
        `decode`'s) as TensorFlow tensors.
    """
    if keras.config.backend() != "jax":
        return lambda x: _direct(model, decode, x)
    call = _JaxGraphCall(model, decode, fixed_shapes or {}, constraints)
    key = (_key(decode), tuple(sorted((fixed_shapes or {}).items())))
    _GRAPH_CALLS.setdefault(model, {})[key] = call
    return call


def _direct(model: keras.Model, decode: Decode | None, x: Any) -> Any:
    outputs = model(x, training=False)
    return decode(x, outputs) if decode else outputs


class _JaxGraphCall(tf.Module):
    """A JAX model (and decoding) as a TensorFlow function over `tf.Variable` copies of its
    weights (the way `keras.export.ExportArchive` exports a JAX model)."""

    def __init__(
        self,
        model: keras.Model,
        decode: Decode | None,
        fixed: dict[str, tuple],
        constraints: tuple[str, ...],
    ):
        from jax.experimental import jax2tf

        super().__init__(name=f"{model.name}_jax")
        self.weights = [tf.Variable(np.asarray(v.value), trainable=False) for v in model.variables]

        def polymorphic(tensor: Any) -> str:
            shape = fixed.get(tensor.name, tensor.shape)
            axes = [
                str(size) if size is not None else ("b" if axis == 0 else f"t{axis}")
                for axis, size in enumerate(shape)
            ]
            return f"({', '.join(axes)})"

        self._function = jax2tf.convert(
            _stateless(model, decode),
            polymorphic_shapes=[
                [polymorphic(w) for w in self.weights],
                keras.tree.map_structure(polymorphic, model.input),
            ],
            polymorphic_constraints=constraints,
            # serving is inference only: no gradient to trace (the SavedModel writer would
            # trace one for every output, and Viterbi's int32 path has none)
            with_gradient=False,
        )

    def __call__(self, x: Any) -> Any:
        return self._function(list(self.weights), x)


def export_resources(model: keras.Model) -> list[Any]:
    """What a SavedModel of `model`'s serving functions must track to hold its weights.

    Args:
        model: the model whose serving function (built with `graph_call` on it or its direct
            sub-models) is being exported.

    Returns:
        Under TensorFlow, `[model]`; under JAX, the latest `graph_call` of the model and of
        each of its layers (their `tf.Variable` weights).
    """
    if keras.config.backend() != "jax":
        return [model]
    return [
        call
        for owner in (model, *model.layers)
        if owner in _GRAPH_CALLS
        for call in _GRAPH_CALLS[owner].values()
    ]
