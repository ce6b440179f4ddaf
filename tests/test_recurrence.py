"""The seed's recurrent-network ideas as checkable behaviour: gradients through time
(`zoo diagnose gradients`), the adding-problem builder, unroll, stateful streaming and
masking of variable-length sequences."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow_datasets as tfds

import zoo.data.builders  # noqa: F401  (registers the builders)
from zoo.cli import main
from zoo.constants import CELLS
from zoo.data.builders.zoo_adding import zoo_adding
from zoo.errors import ZooError
from zoo.tasks.base import get_task, hyperparameters
from zoo.training import diagnostics
from zoo.training.fit import load_and_adapt


@pytest.mark.usefixtures("first_examples_only")
class ZooAddingTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = zoo_adding.ZooAdding
    BUILDER_CONFIG_NAMES_TO_TEST = ["length_10"]
    FIRST_EXAMPLES = 5
    SPLITS = dict.fromkeys(zoo_adding.SIZES, FIRST_EXAMPLES)
    SKIP_CHECKSUMS = True


@pytest.mark.slow
class ZooAddingFullTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = zoo_adding.ZooAdding
    BUILDER_CONFIG_NAMES_TO_TEST = ["length_10"]
    SPLITS = zoo_adding.SIZES
    SKIP_CHECKSUMS = True


def test_adding_examples_mean_what_the_docstring_says() -> None:
    sequences, targets = zoo_adding.generate(50, 200, np.random.default_rng(0))
    values, markers = sequences[..., 0], sequences[..., 1]
    assert (markers.sum(axis=1) == 2).all()
    assert (markers[:, :25].sum(axis=1) == 1).all() and (markers[:, 25:].sum(axis=1) == 1).all()
    np.testing.assert_allclose(targets, (values * markers).sum(axis=1), rtol=1e-6)
    assert ((values >= 0) & (values < 1)).all()


def _linear_rnn(gain: float, *, masked: bool = False) -> keras.Model:
    """h_t = gain * h_{t-1} + x_t: the gradient reaching step t is gain**(T - t) times that
    at the last step, exactly, so the measured rate must be `gain`."""
    inputs = keras.Input((None, 2))
    x = keras.layers.Masking(0.0)(inputs) if masked else inputs
    rnn = keras.layers.SimpleRNN(
        2,
        activation="linear",
        use_bias=False,
        kernel_initializer="identity",
        recurrent_initializer=keras.initializers.Identity(gain),
        name="rnn",
    )
    model = keras.Model(
        inputs, keras.layers.Dense(1, kernel_initializer="ones", use_bias=False)(rnn(x))
    )
    model.compile(optimizer="sgd", loss="mse")
    return model


@pytest.mark.parametrize("gain", [0.5, 0.9, 1.2])
def test_gradient_profile_measures_the_recurrent_gain(gain: float) -> None:
    x = np.random.default_rng(0).random((16, 12, 2)).astype("float32") + 0.1
    profile = diagnostics.gradient_profile(
        _linear_rnn(gain), [(x, np.zeros((16, 1), "float32"))], label="linear"
    )
    assert profile.rate == pytest.approx(gain, rel=1e-3)
    assert profile.distances.size == 12
    assert profile.exploding == (gain > 1)
    assert profile.recommended_clipnorm > 0


def test_steps_are_aligned_by_each_sequence_s_last_real_step() -> None:
    """Right-padded sequences of different lengths: distance 0 is each one's own last step,
    so the decay is still exactly the gain (padding would otherwise blur it)."""
    rng = np.random.default_rng(1)
    x = rng.random((16, 12, 2)).astype("float32") + 0.1
    lengths = rng.integers(6, 13, size=16)
    for row, length in enumerate(lengths):
        x[row, length:] = 0.0
    profile = diagnostics.gradient_profile(
        _linear_rnn(0.7, masked=True), [(x, np.zeros((16, 1), "float32"))], label="padded"
    )
    assert profile.rate == pytest.approx(0.7, rel=1e-3)
    assert profile.distances.size == sum(
        1 for d in range(12) if (lengths > d).sum() >= 4
    )  # MIN_SHARE of 16


def test_steps_are_aligned_when_the_layer_also_reads_an_initial_state() -> None:
    """A decoder's recurrent layer reads the sequence and an initial state: Keras then passes
    it no mask, yet the profile still aligns steps by the sequence's own (masked) padding."""
    rng = np.random.default_rng(2)
    x = rng.random((16, 12, 2)).astype("float32") + 0.1
    lengths = rng.integers(6, 13, size=16)
    for row, length in enumerate(lengths):
        x[row, length:] = 0.0
    inputs, state = keras.Input((None, 2)), keras.Input((2,))
    rnn = keras.layers.SimpleRNN(
        2,
        activation="linear",
        use_bias=False,
        kernel_initializer="identity",
        recurrent_initializer=keras.initializers.Identity(0.7),
        name="rnn",
    )
    h = rnn(keras.layers.Masking(0.0)(inputs), initial_state=[state])
    model = keras.Model(
        [inputs, state], keras.layers.Dense(1, kernel_initializer="ones", use_bias=False)(h)
    )
    model.compile(optimizer="sgd", loss="mse")
    batch = ([x, np.zeros((16, 2), "float32")], np.zeros((16, 1), "float32"))
    profile = diagnostics.gradient_profile(model, [batch], label="decoder")
    assert profile.sequences == 16
    assert profile.rate == pytest.approx(0.7, rel=1e-3)
    assert (
        profile.distances.size == sum(1 for d in range(12) if (lengths > d).sum() >= 4) < 12
    )  # not the padded length


def test_a_model_that_cannot_be_rewired_is_a_clear_error() -> None:
    model = keras.Sequential(
        [keras.Input((5, 2)), keras.layers.SimpleRNN(2), keras.layers.Dense(1)]
    )
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ZooError, match="functional models"):
        diagnostics.gradient_profile(
            model, [(np.ones((2, 5, 2), "float32"), np.zeros((2, 1), "float32"))], label="seq"
        )


def test_diagnose_gradients_command_writes_plot_and_numbers(tmp_path: Path, capsys) -> None:
    png, numbers = tmp_path / "g.png", tmp_path / "g.json"
    code = main(
        [
            "diagnose",
            "gradients",
            "many-to-one",
            "--set",
            "bidirectional=false",
            "--batches",
            "2",
            "--output",
            str(png),
            "--json",
            str(numbers),
        ]
    )
    assert code == 0
    assert png.stat().st_size > 10_000
    profiles = json.loads(numbers.read_text())
    assert [p["cell"] for p in profiles] == ["simple_rnn", "lstm", "gru"]
    assert all(0 < p["rate_per_step"] < 1.5 and p["recommended_clipnorm"] > 0 for p in profiles)
    assert "recommended clipnorm" in capsys.readouterr().out


def test_diagnose_unknown_model_is_a_clear_error(capsys) -> None:
    assert main(["diagnose", "gradients", "no-such-model"]) == 2
    assert "no-such-model" in capsys.readouterr().err


@pytest.fixture(scope="module")
def reviews():
    task = get_task("many-to-one")()
    load_and_adapt(task, task.dataset("embedded"))
    return task


def test_unroll_works_for_fixed_length_and_is_refused_for_variable_length(reviews) -> None:
    digits = get_task("one-to-one")()
    load_and_adapt(digits, digits.dataset("embedded"))
    model = digits.build_model(hyperparameters({"unroll": True, "steps": 3}))
    assert model.get_layer("rnn").unroll
    with pytest.raises(ZooError, match="fixed number of time steps"):
        reviews.build_model(hyperparameters({"unroll": True}))


@pytest.mark.parametrize("cell", CELLS)
def test_stateful_stream_equals_reading_the_whole_text(reviews, cell: str) -> None:
    keras.utils.set_random_seed(0)
    model = reviews.build_model(hyperparameters({"cell": cell, "bidirectional": False}))
    text = "a slow , dull start but the acting is superb and the ending works"
    streamed = list(reviews.stream(model, [text], window=4))
    assert len(streamed) == 4  # 14 tokens in windows of 4
    assert streamed[-1] == reviews.predict(model, [text])[0]
    assert streamed[0] == reviews.predict(model, ["a slow , dull"])[0]
    # a second stream starts from a fresh state
    assert list(reviews.stream(model, [text], window=4)) == streamed


def test_bidirectional_or_pooled_models_refuse_to_stream(reviews) -> None:
    with pytest.raises(ZooError, match="bidirectional=false"):
        list(reviews.stream(reviews.build_model(hyperparameters({})), ["good film"]))
    with pytest.raises(ZooError, match="pooling=last"):
        list(
            reviews.stream(
                reviews.build_model(hyperparameters({"bidirectional": False, "pooling": "max"})),
                ["good film"],
            )
        )


@pytest.mark.parametrize(
    "task_name, short, long",
    [
        (
            "many-to-one",
            "a fine film",
            "a long and winding review that goes on and on about nothing much at all",
        ),
        (
            "many-to-many-equal",
            "Anna lives in Paris",
            "the meeting in Berlin was chaired by Maria Lopez of the Acme company today",
        ),
        (
            "many-to-many-unequal",
            "twenty one",
            "three hundred and forty five thousand six hundred and seventy eight",
        ),
    ],
)
def test_padding_next_to_a_longer_input_changes_nothing(
    task_name: str, short: str, long: str
) -> None:
    """Masking: an input's output is the same alone and padded to a longer neighbour's length."""
    task = get_task(task_name)()
    load_and_adapt(task, task.dataset("embedded"))
    keras.utils.set_random_seed(0)
    model = task.build_model(hyperparameters({}))
    assert task.predict(model, [short])[0] == task.predict(model, [short, long])[0]


def test_stream_command_reads_a_file_in_windows(tmp_path: Path, capsys, tiny_dataset) -> None:
    import zoo

    result = zoo.train(
        "many-to-one",
        dataset=tiny_dataset("many-to-one"),
        epochs=1,
        hparams={"bidirectional": False, "units": 16},
        verbose=0,
    )
    zoo.save(result, "streaming", root=tmp_path)
    capsys.readouterr()  # what preparing the data printed is not the command's output
    document = tmp_path / "review.txt"
    document.write_text("the plot was dull .\nbut the acting was superb and the ending works .\n")
    assert (
        main(["stream", "streaming", str(document), "--window", "4", "--registry", str(tmp_path)])
        == 0
    )
    lines = capsys.readouterr().out.strip().splitlines()
    # 15 tokens over two lines: windows of 4 run across the line break
    assert [line.split(":")[0] for line in lines] == [
        "after window 1",
        "after window 2",
        "after window 3",
        "after window 4",
    ]
    assert json.loads(lines[-1].split(": ", 1)[1])["label"] in ("pos", "neg")
    # a stream of blank lines is refused as `zoo predict` refuses a blank input (it printed
    # nothing and exited 0)
    blank = tmp_path / "blank.txt"
    blank.write_text("\n   \n<br />\n")
    assert main(["stream", "streaming", str(blank), "--registry", str(tmp_path)]) == 2
    assert "has no words once normalised" in capsys.readouterr().err
    assert (
        main(["stream", "streaming", str(tmp_path / "missing.txt"), "--registry", str(tmp_path)])
        == 2
    )
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.slow
def test_a_registry_model_is_profiled_beside_its_other_cell_siblings(
    tmp_path, tiny_dataset
) -> None:
    # names made by zoo.save from the hyperparameters spell the cell `simple_rnn`
    import zoo

    for cell in ("lstm", "simple_rnn", "gru"):
        result = zoo.train(
            "many-to-one",
            dataset=tiny_dataset("many-to-one"),
            epochs=1,
            hparams={"cell": cell, "units": 8, "embedding_dim": 8, "bidirectional": False},
            verbose=0,
        )
        zoo.save(result, root=tmp_path)
    profiles = diagnostics.diagnose(
        ["many-to-one-lstm-embedded"], dataset="embedded", batches=1, root=tmp_path
    )
    assert [p.cell for p in profiles] == ["lstm", "simple_rnn", "gru"]
