"""Every task on both Keras backends, and models that travel between them.

Keras reads `KERAS_BACKEND` once per process, so each backend runs in a subprocess:
`tests/backend_worker.py` trains a tiny model for one step, saves and exports it under one
backend; the other backend loads it (the registry re-checks its reference outputs), and
both must give the same outputs, predictions and exported signature. The whole task
harness also runs under JAX. One case of each runs by default; the others are marked slow.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zoo
from zoo import backend
from zoo.errors import UnknownNameError, ZooError
from zoo.registry.store import _TOLERANCE

WORKER = Path(__file__).parent / "backend_worker.py"
HARNESS = Path(__file__).parent / "tasks" / "test_task_harness.py"
#: every task with the LSTM, the SimpleRNN where its state differs in kind (a decoder
#: carries one state tensor, not two), and the CRF tagger; a cell's weights travel through
#: the same code whatever the cell (the harness below builds every cell under JAX). The
#: first of each kind runs in the default suite
CASES = [(name, "lstm", {}) for name in sorted(zoo.TASKS)] + [
    ("many-to-many-unequal", "simple_rnn", {}),
    ("many-to-many-equal", "lstm", {"crf": True}),
]
FAST = {("many-to-one", "lstm", "jax"), ("many-to-many-equal", "lstm", "tensorflow")}


def run_under(keras_backend: str, *args: str) -> subprocess.CompletedProcess:
    """Run a command with `sys.executable` under one Keras backend; fail with its output."""
    env = {**os.environ, "KERAS_BACKEND": keras_backend, "ZOO_BACKEND": keras_backend}
    # a nested test session reuses this session's prepared datasets
    env["ZOO_TEST_DATA_DIR"] = os.environ["ZOO_DATA_DIR"]
    done = subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=1800
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def assert_close(a: Any, b: Any) -> None:
    """Nested outputs equal within the registry's reference tolerance."""
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=_TOLERANCE, rtol=0)


def _params() -> list[Any]:
    return [
        pytest.param(
            name,
            cell,
            variant,
            trained_on,
            marks=() if (name, cell, trained_on) in FAST and not variant else pytest.mark.slow,
            id=f"{name}-{cell}{'-crf' if variant else ''}-trained-on-{trained_on}",
        )
        for name, cell, variant in CASES
        for trained_on in backend.BACKENDS
    ]


@pytest.mark.skipif(not backend.available("jax"), reason="JAX is not installed (rnn-zoo[jax])")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("name", "cell", "variant", "trained_on"), _params())
def test_model_travels_between_backends(
    name: str, cell: str, variant: dict, trained_on: str, tmp_path: Path, tiny_dataset
) -> None:
    spec = tiny_dataset(name)
    splits = {k: v for k, v in dataclasses.asdict(spec).items() if k in ("train", "validation")}
    other = next(b for b in backend.BACKENDS if b != trained_on)
    run_under(
        trained_on, str(WORKER), "train", name, cell, json.dumps(variant), json.dumps(splits),
        str(tmp_path),
    )  # fmt: skip
    run_under(other, str(WORKER), "load", str(tmp_path))
    trained = json.loads((tmp_path / "trained.json").read_text())
    loaded = json.loads((tmp_path / f"loaded-{other}.json").read_text())

    assert (trained["backend"], loaded["backend"]) == (trained_on, other)
    assert trained["card_backend"] == loaded["card_backend"] == trained_on
    # the raw model outputs on one batch, on both backends
    assert_close(loaded["outputs"], trained["outputs"])
    # readable predictions: labels, tags and texts equal, probabilities within tolerance
    assert json.dumps(loaded["predicted"]).count('"') == json.dumps(trained["predicted"]).count('"')
    for a, b in zip(loaded["predicted"], trained["predicted"], strict=True):
        assert a.keys() == b.keys()
        for key in a:
            if isinstance(a[key], float):
                assert abs(a[key] - b[key]) <= _TOLERANCE
            else:
                assert a[key] == b[key], key
    # the SavedModel each backend exports gives what `predict` gives
    for side in (trained, loaded):
        for key, values in side["served"].items():
            for value, prediction in zip(values, side["predicted"], strict=True):
                if key not in prediction:
                    continue
                expected = prediction[key]
                if isinstance(expected, list):  # (token, tag) pairs, "" at padding
                    assert value[: len(expected)] == [tag for _, tag in expected], key
                else:
                    assert value == expected, key


@pytest.mark.skipif(not backend.available("jax"), reason="JAX is not installed (rnn-zoo[jax])")
@pytest.mark.parametrize(
    "selection",
    [
        pytest.param("many-to-one and lstm", id="many-to-one-lstm"),
        pytest.param(
            "many-to-many-unequal and simple_rnn",
            id="translation-simple_rnn",
            marks=pytest.mark.slow,
        ),
        pytest.param(None, id="every-task", marks=pytest.mark.slow),
    ],
)
def test_task_harness_under_jax(selection: str | None) -> None:
    """The shared harness (build, fit a step, predict, serve, registry round trip) under JAX."""
    select = ["-k", selection] if selection else []
    done = run_under("jax", "-m", "pytest", "-q", "-p", "no:cacheprovider", str(HARNESS), *select)
    assert " passed" in done.stdout and " failed" not in done.stdout, done.stdout[-3000:]


def test_backend_is_chosen_before_keras(monkeypatch: pytest.MonkeyPatch) -> None:
    # Keras is imported in this test process: only its own backend can be selected
    import keras

    running = keras.config.backend()
    assert backend.select(None) == running
    assert backend.select(running) == running
    other = next(b for b in backend.BACKENDS if b != running)
    # an installed other backend is refused as too late; a missing one as not installed
    expected = "before Keras is imported" if backend.available(other) else "is not installed"
    with pytest.raises(ZooError, match=expected):
        backend.select(other)
    with pytest.raises(UnknownNameError):
        backend.select("torch")


def test_default_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    # as a fresh process sees it: Keras not imported yet
    monkeypatch.delitem(sys.modules, "keras")
    for variable in (backend.ENVIRONMENT, "KERAS_BACKEND"):
        monkeypatch.delenv(variable, raising=False)
    # TensorFlow for every command, training ones too, even where JAX is installed: JAX is
    # opt-in (--backend, ZOO_BACKEND, KERAS_BACKEND)
    assert backend.default() == "tensorflow"
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert backend.default() == "jax"
    monkeypatch.setenv(backend.ENVIRONMENT, "tensorflow")
    assert backend.default() == "tensorflow"


@pytest.mark.skipif(not backend.available("jax"), reason="JAX is not installed (rnn-zoo[jax])")
def test_cli_trains_on_the_backend_asked_for(tmp_path: Path, tiny_dataset) -> None:
    """`zoo train --backend jax` trains under JAX and the card says so; `--strategy mirrored`
    under JAX is refused in one line."""
    registry = tmp_path / "registry"
    zoo_cli = [
        "-c",
        "import sys; from zoo.cli import main; sys.exit(main(sys.argv[1:]))",
    ]
    env_backend = "tensorflow"  # --backend must win over the environment
    run_under(
        env_backend, *zoo_cli, "train", "many-to-one", "--backend", "jax", "--epochs", "1",
        "--set", "units=8", "--set", "embedding_dim=8", "--registry", str(registry),
        "--name", "cli-jax",
    )  # fmt: skip
    card = json.loads(next(registry.glob("cli-jax/*/card.json")).read_text())
    assert card["training"]["backend"] == "jax"
    assert "--backend jax" in card["training"]["command"]
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    refused = subprocess.run(
        [sys.executable, *zoo_cli, "train", "many-to-one", "--backend", "jax",
         "--strategy", "mirrored", "--registry", str(registry)],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert refused.stderr.strip().splitlines()[-1].startswith("zoo: error: --strategy mirrored")


def test_tensorflow_only_features_refused_under_jax(monkeypatch: pytest.MonkeyPatch) -> None:
    # as a process that runs JAX sees it; this one runs TensorFlow
    import keras

    monkeypatch.setattr(keras.config, "backend", lambda: "jax")
    with pytest.raises(ZooError, match="zoo diagnose gradients needs the TensorFlow backend"):
        backend.require_tensorflow("zoo diagnose gradients")
    from zoo.training.fit import distribution_strategy

    with pytest.raises(ZooError, match="--strategy mirrored is TensorFlow's"):
        distribution_strategy("mirrored")
