"""Which Keras backend runs the models: TensorFlow or JAX.

Keras reads `KERAS_BACKEND` once, when it is first imported, so the choice is made here,
before anything imports Keras: the command line calls `select` with `--backend` (or
`ZOO_BACKEND`) first thing. This module imports neither Keras nor TensorFlow.

Whatever the backend, the data pipeline (`tf.data`, TFDS, string and image preprocessing)
runs in TensorFlow; only the Keras model runs on the backend (`zoo.models.compiled`).
"""

from __future__ import annotations

import importlib.util
import os
import sys

from zoo.errors import UnknownNameError, ZooError

BACKENDS = ("tensorflow", "jax")
#: the variable naming the backend, read before Keras's own `KERAS_BACKEND`
ENVIRONMENT = "ZOO_BACKEND"


def available(name: str) -> bool:
    """Whether a backend's library is installed.

    Args:
        name: one of `BACKENDS`.

    Returns:
        True if it can be imported (without importing it).
    """
    return importlib.util.find_spec(name) is not None


def default() -> str:
    """The backend to use when the caller names none.

    TensorFlow, which every installation has and every command supports, for every command
    (training ones too): JAX is opt-in until the whole test suite runs on it.

    Returns:
        The backend Keras already runs if it is imported; else `ZOO_BACKEND` if set, else
        `KERAS_BACKEND` if set, else `tensorflow`.
    """
    if "keras" in sys.modules:
        return sys.modules["keras"].config.backend()
    for variable in (ENVIRONMENT, "KERAS_BACKEND"):
        if os.environ.get(variable):
            return os.environ[variable]
    return "tensorflow"


def select(name: str | None = None) -> str:
    """Make `name` (or `default()`) the Keras backend of this process.

    Must run before Keras is imported; once it is, only the backend it already runs can be
    selected.

    Args:
        name: `tensorflow` or `jax`; None for `default()`.

    Returns:
        The selected backend's name.

    Raises:
        UnknownNameError: not one of `BACKENDS`.
        ZooError: its library is not installed, or Keras already runs another backend.
    """
    name = name or default()
    if name not in BACKENDS:
        raise UnknownNameError("backend", name, BACKENDS)
    if not available(name):
        raise ZooError(
            f"backend {name!r} is not installed: pip install 'rnn-zoo[{name}]', or choose "
            f"--backend {' or '.join(b for b in BACKENDS if b != name)}."
        )
    keras = sys.modules.get("keras")
    if keras is not None and keras.config.backend() != name:
        raise ZooError(
            f"Keras already runs the {keras.config.backend()!r} backend in this process: "
            f"choose the backend ({ENVIRONMENT}={name} or KERAS_BACKEND={name}) before Keras is imported."
        )
    os.environ["KERAS_BACKEND"] = name
    return name


def require_tensorflow(what: str) -> None:
    """Refuse, in one line, a feature that only the TensorFlow backend has.

    Args:
        what: the feature, as the user named it (e.g. `zoo diagnose gradients`).

    Raises:
        ZooError: Keras runs another backend in this process.
    """
    keras = sys.modules.get("keras")
    running = keras.config.backend() if keras else os.environ.get("KERAS_BACKEND", "tensorflow")
    if running != "tensorflow":
        raise ZooError(
            f"{what} needs the TensorFlow backend (Keras runs {running!r}): run it with "
            f"{ENVIRONMENT}=tensorflow."
        )
