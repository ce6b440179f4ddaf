"""keras-tuner searches: every tuner, failed trials, resume after a kill, chief plus
workers, the search record in the registry, and MirroredStrategy training."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from zoo.backend import BACKENDS, available
from zoo.tuning import records

# digits: ten classes, so chance is 0.1; two short epochs reach well above it
TASK = "one-to-one"
SMALL = {"units": 32, "layers": 1}
#: training examples for a search with a diverging learning rate: at least two steps of the
#: largest batch size offered, since the loss first logged (before any update) is finite
DIVERGES = 384
#: a seed whose random search, offered learning rates {1e38, 3e-3}, mixes failed and completed trials
SEED_WITH_FAILURES = 2


def _zoo(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "zoo", *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _trial_status(project: Path) -> dict[str, str]:
    statuses = {}
    for path in project.glob("trial_*/trial.json"):
        with contextlib.suppress(OSError, ValueError):  # being written right now
            statuses[path.parent.name] = json.loads(path.read_text())["status"]
    return statuses


# slow: the best trial must beat chance, which takes real training
@pytest.mark.slow
@pytest.mark.parametrize("tuner", ["random", "hyperband", "bayesian"])
def test_each_tuner_finds_a_model_that_beats_chance_and_registers_it(
    tuner: str, tmp_path: Path
) -> None:
    import zoo
    from zoo.tuning import tune

    result = tune(
        TASK,
        tuner=tuner,
        directory=tmp_path / "search",
        max_trials=3,
        epochs=2,
        seed=1,
        fixed=SMALL,
        tensorboard=False,
        name=f"tuned-{tuner}",
        verbose=0,
    )
    search = records.load(result.directory)
    completed = [t for t in search["trials"] if t["status"] == "COMPLETED"]
    assert 2 <= len(search["trials"]) <= 3 and completed
    best = max(completed, key=lambda t: t["score"])
    assert best["score"] > 0.3  # 3x chance

    model = zoo.load(f"tuned-{tuner}")
    card = model.card
    assert card.search.tuner == tuner and card.search.best_trial == best["trial_id"]
    stored = json.loads((result.saved / records.SEARCH_FILE).read_text())
    assert [t["trial_id"] for t in stored["trials"]] == [t["trial_id"] for t in search["trials"]]
    assert {hp["name"] for hp in stored["space"]} >= {
        "cell",
        "units",
        "layers",
        "dropout",
        "learning_rate",
        "clipnorm",
        "batch_size",
    }
    # the registered model is the best trial: same hyperparameters, same validation score
    assert {k: card.hyperparameters[k] for k in ("cell", "steps", "dropout")} == {
        k: best["hyperparameters"][k] for k in ("cell", "steps", "dropout")
    }
    assert card.training.batch_size == best["hyperparameters"]["batch_size"]
    assert card.metrics["validation"]["accuracy"] == pytest.approx(best["score"], abs=1e-6)


@pytest.mark.slow
def test_a_diverging_trial_is_recorded_as_failed_and_the_search_goes_on(
    tmp_path: Path, tiny_dataset
) -> None:
    from zoo.tuning import tune

    result = tune(
        TASK,
        directory=tmp_path,
        max_trials=4,
        epochs=1,
        seed=SEED_WITH_FAILURES,
        fixed=SMALL,
        tensorboard=False,
        choices={"learning_rate": [1e38, 3e-3]},
        dataset=tiny_dataset(TASK, train=DIVERGES),
        verbose=0,
    )
    search = records.load(result.directory)
    trials = sorted(search["trials"], key=lambda t: t["trial_id"])
    failed = [t for t in trials if t["status"] == "FAILED"]
    assert failed and all(t["hyperparameters"]["learning_rate"] == 1e38 for t in failed)
    assert all("diverged" in t["message"][0] for t in failed)
    first_failure = trials.index(failed[0])
    assert (
        any(t["status"] == "COMPLETED" for t in trials[first_failure:]) and len(trials) == 4
    )  # it went on
    assert result.saved is not None


@pytest.mark.slow
def test_search_report_prints_a_table_and_writes_a_plot(tmp_path: Path, tiny_dataset) -> None:
    from zoo.tuning import tune

    tune(
        TASK,
        directory=tmp_path,
        max_trials=2,
        epochs=1,
        fixed=SMALL,
        tensorboard=True,
        dataset=tiny_dataset(TASK),
        verbose=0,
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "zoo",
            "search-report",
            str(tmp_path),
            "--plot",
            str(tmp_path / "r.png"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| trial | status | val_accuracy | seconds |") and len(lines) == 3
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    # TensorBoard logs with the HParams plugin's data, one run per trial
    runs = sorted((tmp_path / TASK / "tensorboard").glob("*/execution0"))
    assert len(runs) == 2
    for run in runs:
        assert any(b"hparams" in event.read_bytes() for event in run.rglob("events.out.tfevents.*"))


# slow: two `zoo tune` processes, with trials long enough to be killed in the middle
@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_an_interrupted_search_resumes_without_losing_or_repeating_trials(
    sig: signal.Signals, tmp_path: Path
) -> None:
    command = [
        "tune",
        TASK,
        "--directory",
        str(tmp_path),
        "--max-trials",
        "3",
        "--epochs",
        "3",
        "--set",
        "units=32",
        "--no-tensorboard",
        "--name",
        "resumed",
    ]
    project = tmp_path / TASK
    first = _zoo(*command)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # kill while trial 1 runs, after trial 0 completed
        statuses = _trial_status(project)
        if statuses.get("trial_0") == "COMPLETED" and statuses.get("trial_1") == "RUNNING":
            break
        assert first.poll() is None, first.stdout.read()
        time.sleep(0.1)
    else:
        pytest.fail("the search never reached its second trial")
    before = json.loads((project / "trial_0" / "trial.json").read_text())
    first.send_signal(sig)
    first.communicate(timeout=60)
    assert first.returncode == (130 if sig == signal.SIGINT else -signal.SIGKILL)

    second = _zoo(*command)
    output, _ = second.communicate(timeout=300)
    assert second.returncode == 0, output
    trials = records.load(project)["trials"]
    assert sorted(t["trial_id"] for t in trials) == ["0", "1", "2"]
    assert all(t["status"] == "COMPLETED" for t in trials)
    # trial 0 was kept as it was, not run again; trial 1 ran again with its own values
    assert json.loads((project / "trial_0" / "trial.json").read_text()) == before


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _distributed_search(
    directory: Path, *, trials: int, epochs: int, keras_backend: str = "tensorflow"
) -> tuple[list, dict]:
    """The `zoo tune` arguments of a small search run by a chief and workers on one
    backend, and the oracle's address that they all share. They include `--overwrite`: a
    worker given the chief's command emptied the chief's folder under the running search."""
    command = [
        "tune",
        "--overwrite",
        TASK,
        "--backend",
        keras_backend,
        "--directory",
        str(directory),
        "--max-trials",
        str(trials),
        "--epochs",
        str(epochs),
        "--set",
        "units=32",
        "--no-tensorboard",
        "--name",
        "distributed",
    ]
    network = {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(_free_port())}
    return command, network


# slow: three `zoo tune` processes searching together
@pytest.mark.slow
@pytest.mark.parametrize("keras_backend", BACKENDS)
def test_a_chief_and_two_workers_share_one_search(tmp_path: Path, keras_backend: str) -> None:
    if not available(keras_backend):
        pytest.skip(f"{keras_backend} is not installed")
    command, network = _distributed_search(
        tmp_path, trials=4, epochs=2, keras_backend=keras_backend
    )
    chief = _zoo(*command, env={**network, "KERASTUNER_TUNER_ID": "chief"})
    time.sleep(3)  # the workers need the chief's server; they retry, but not for long
    workers = [
        _zoo(*command, env={**network, "KERASTUNER_TUNER_ID": f"tuner{i}"}) for i in range(2)
    ]
    outputs = [p.communicate(timeout=420)[0] for p in (*workers, chief)]
    assert [p.returncode for p in (*workers, chief)] == [0, 0, 0], "\n\n".join(
        o[-3000:] for o in outputs
    )

    trials = records.load(tmp_path)["trials"]
    assert len(trials) == 4 and all(t["status"] == "COMPLETED" for t in trials)
    assert {t["tuner_id"] for t in trials} == {"tuner0", "tuner1"}  # both workers ran trials
    assert "best model saved to" in outputs[-1]


# slow: a chief and two workers, one of them started with other settings
@pytest.mark.slow
def test_a_worker_with_other_settings_than_its_chief_is_refused(tmp_path: Path) -> None:
    command, network = _distributed_search(tmp_path, trials=2, epochs=1)
    chief = _zoo(*command, env={**network, "KERASTUNER_TUNER_ID": "chief"})
    deadline = time.monotonic() + 240
    while not (tmp_path / TASK / "oracle.json").is_file():  # the chief has its data and serves
        assert chief.poll() is None and time.monotonic() < deadline, chief.stdout.read()
        time.sleep(0.2)
    odd = _zoo(*command, "--set", "units=64", env={**network, "KERASTUNER_TUNER_ID": "tuner1"})
    output, _ = odd.communicate(timeout=300)
    assert odd.returncode == 2, output
    last = output.strip().splitlines()[-1]
    assert last.startswith("zoo: error: this worker's settings differ") and "'units': 64" in last
    worker = _zoo(*command, env={**network, "KERASTUNER_TUNER_ID": "tuner0"})
    outputs = [p.communicate(timeout=300)[0] for p in (worker, chief)]
    assert [worker.returncode, chief.returncode] == [0, 0], "\n\n".join(o[-3000:] for o in outputs)
    trials = records.load(tmp_path)["trials"]
    assert {t["tuner_id"] for t in trials} == {"tuner0"}
    assert all(t["hyperparameters"]["units"] == 32 for t in trials)


# slow: real training to beat chance, in a fresh process
@pytest.mark.slow
def test_mirrored_strategy_trains_on_two_logical_devices(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import json, sys
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from zoo.training.fit import train
        result = train("one-to-one", epochs=3, hparams={"units": 64}, strategy="mirrored", verbose=0)
        print(json.dumps({"replicas": result.replicas, "strategy": result.strategy, **result.metrics["validation"]}))
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2 and result["strategy"] == "mirrored"
    assert result["accuracy"] > 0.5  # chance is 0.1


@pytest.mark.slow
def test_the_same_seed_proposes_the_same_trials(tmp_path: Path, tiny_dataset) -> None:
    from zoo.tuning import tune

    proposed = []
    for run in ("a", "b"):
        result = tune(
            TASK,
            directory=tmp_path / run,
            max_trials=2,
            epochs=1,
            seed=0,
            fixed=SMALL,
            tensorboard=False,
            registry_root=tmp_path / "registry",
            dataset=tiny_dataset(TASK),
            verbose=0,
        )
        proposed.append(
            [
                t["hyperparameters"]
                for t in sorted(
                    records.load(result.directory)["trials"], key=lambda t: t["trial_id"]
                )
            ]
        )
    assert proposed[0] == proposed[1]


@pytest.mark.slow
def test_the_search_state_files_are_replaced_whole_never_rewritten_in_place(
    tmp_path: Path, tiny_dataset, umask_022
) -> None:
    """A file rewritten in place (truncated, then written) is empty for a moment, and a search
    stopped then could not be resumed; a file replaced by a rename gets a new inode."""
    from zoo.tuning import tune

    options = dict(
        directory=tmp_path,
        epochs=1,
        seed=0,
        fixed=SMALL,
        tensorboard=False,
        registry_root=tmp_path / "registry",
        dataset=tiny_dataset(TASK),
        verbose=0,
    )
    project = tune(TASK, max_trials=1, **options).directory
    state = ["oracle.json", "tuner0.json", records.SETTINGS_FILE, "trial_0/trial.json"]
    inodes = {name: (project / name).stat().st_ino for name in state}
    tune(TASK, max_trials=2, **options)  # resumed: one more trial rewrites the search's state
    for name in ("oracle.json", "tuner0.json"):
        assert (project / name).stat().st_ino != inodes[name], name
    written = sorted(project.rglob("*.json"))
    assert {p.name for p in written} >= {
        "oracle.json",
        "tuner0.json",
        "trial.json",
        "zoo_trial.json",
    }
    for path in written:
        json.loads(path.read_text())
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    assert not list(project.rglob("*.partial"))


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder` with its size and modification time: what a refused
    command must leave exactly as it was."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.slow
def test_a_resumed_search_refuses_changed_settings_and_resumes_unchanged_ones(
    tmp_path: Path, tiny_dataset
) -> None:
    from zoo.errors import ZooError
    from zoo.tuning import make_tuner, tune

    settings = dict(
        directory=tmp_path,
        max_trials=1,
        epochs=1,
        seed=0,
        fixed=SMALL,
        tensorboard=False,
        registry_root=tmp_path / "registry",
        dataset=tiny_dataset(TASK),
        verbose=0,
    )
    tune(TASK, **settings)
    project = tmp_path / TASK
    before = _snapshot(project)
    changes = {
        "the space": dict(choices={"cell": ["simple_rnn"]}),
        "a fixed value": dict(fixed={**SMALL, "units": 64}),
        "the dataset": dict(dataset=tiny_dataset(TASK, train=32)),
        "the tuner": dict(tuner="bayesian"),
        "the epochs per trial": dict(epochs=2),
        "the seed": dict(seed=1),
    }
    for change, options in changes.items():
        with pytest.raises(ZooError, match="--overwrite") as refused:
            tune(TASK, **{**settings, **options})
        assert "\n" not in str(refused.value), change
        assert _snapshot(project) == before, f"{change}: the search folder was written"
    # another task in the same search folder (a project name given through the Python API)
    with pytest.raises(ZooError, match=r"task: 'one-to-one' → 'many-to-one'"):
        make_tuner("many-to-one", directory=tmp_path, project_name=TASK, epochs=1)
    assert _snapshot(project) == before

    # the same settings resume: the finished trial is kept, a second one is added
    trial_0 = (project / "trial_0" / "trial.json").read_text()
    result = tune(TASK, **{**settings, "max_trials": 2})
    trials = records.load(result.directory)["trials"]
    assert [t["trial_id"] for t in trials] == ["0", "1"]
    assert all(t["status"] == "COMPLETED" for t in trials)
    assert (project / "trial_0" / "trial.json").read_text() == trial_0

    # --overwrite starts afresh with the new settings, which a later resume then keeps
    tune(TASK, **{**settings, "fixed": {**SMALL, "units": 64}, "overwrite": True})
    trials = records.load(project)["trials"]
    assert [t["hyperparameters"]["units"] for t in trials] == [64]
    with pytest.raises(ZooError, match="--overwrite"):
        tune(TASK, **settings)
    # a search that records no settings (started by an older zoo) cannot be checked
    (project / records.SETTINGS_FILE).unlink()
    with pytest.raises(ZooError, match="does not record the settings.*--overwrite"):
        tune(TASK, **{**settings, "fixed": {**SMALL, "units": 64}})


@pytest.mark.slow
def test_zoo_tune_refuses_to_resume_a_search_with_new_options(tmp_path: Path, capsys) -> None:
    from zoo.cli import main

    command = [
        "tune",
        TASK,
        "--directory",
        str(tmp_path / "search"),
        "--max-trials",
        "1",
        "--epochs",
        "1",
        "--set",
        "units=32",
        "--set",
        "layers=1",
        "--no-tensorboard",
        "--registry",
        str(tmp_path / "registry"),
        "--name",
        "tuned",
    ]
    assert main(command) == 0
    before = _snapshot(tmp_path)
    capsys.readouterr()
    # the example: a new choice of cell and a new fixed number of units
    assert main([*command, "--choice", "cell=simple_rnn", "--set", "units=64"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("zoo: error: ")
    assert "--overwrite" in err[0] and "new --directory" in err[0]
    assert "choices" in err[0] and "fixed" in err[0]
    assert _snapshot(tmp_path) == before  # no new trial, no new model in the registry


@pytest.mark.slow
def test_a_search_whose_trials_all_fail_stops_with_a_clear_error_and_records_them_failed(
    tmp_path: Path, tiny_dataset, capsys
) -> None:
    from zoo.cli.training import cmd_search_report
    from zoo.errors import ZooError
    from zoo.tuning import tune

    settings = dict(
        directory=tmp_path,
        max_trials=5,
        epochs=1,
        fixed={**SMALL, "learning_rate": 1e38},
        tensorboard=False,
        dataset=tiny_dataset(TASK, train=DIVERGES),
        verbose=0,
    )
    with pytest.raises(
        ZooError, match="3 trials in a row failed, the last with: .*training diverged"
    ):
        tune(TASK, **settings)
    project = tmp_path / TASK
    trials = records.load(project)["trials"]
    assert [t["status"] for t in trials] == ["FAILED"] * 3
    assert all("training diverged" in t["message"][0] for t in trials)
    oracle = json.loads((project / "oracle.json").read_text())
    assert oracle["ongoing_trials"] == {} and sorted(oracle["end_order"]) == ["0", "1", "2"]
    capsys.readouterr()
    cmd_search_report(SimpleNamespace(directory=str(tmp_path), plot=str(tmp_path / "r.png")))
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")][1:]
    assert len(rows) == 3 and all(row.split(" | ")[1] == "FAILED" for row in rows)

    # the same command again stops at once, with the same reason, and runs no new trial
    with pytest.raises(ZooError, match="3 trials in a row failed, the last with: .*diverged"):
        tune(TASK, **settings)
    assert [t["status"] for t in records.load(project)["trials"]] == ["FAILED"] * 3


#: a seed whose random search over units {32, 0} builds units=32 first, then units=0
SEED_BUILD_FAILS_SECOND = 0


@pytest.mark.slow
def test_a_trial_whose_model_cannot_be_built_keeps_no_earlier_trials_record(
    tmp_path: Path, tiny_dataset
) -> None:
    from zoo.tuning import tune

    tune(
        TASK,
        directory=tmp_path,
        max_trials=2,
        epochs=1,
        seed=SEED_BUILD_FAILS_SECOND,
        # everything fixed but the units, so the two trials are units 32 and units 0, which
        # Keras refuses when it builds the recurrent layer
        fixed={
            "layers": 1,
            "steps": 1,
            "cell": "lstm",
            "dropout": 0.0,
            "learning_rate": 3e-3,
            "clipnorm": 1.0,
            "batch_size": 64,
        },
        choices={"units": [32, 0]},
        tensorboard=False,
        registry_root=tmp_path / "registry",
        dataset=tiny_dataset(TASK),
        verbose=0,
    )
    first, second = sorted(records.load(tmp_path)["trials"], key=lambda t: t["trial_id"])
    assert (first["hyperparameters"]["units"], first["status"]) == (32, "COMPLETED")
    assert first["history"]["loss"] and first["seconds"] > 0
    assert second["hyperparameters"]["units"] == 0 and second["status"] in ("FAILED", "INVALID")
    assert "units" in second["message"][0]
    assert second["history"] == {} and second["seconds"] == 0.0


@pytest.mark.parametrize(
    "narrowed",
    [{"fixed": {"optimizer": "adamw"}}, {"choices": {"char_encoder": ["rnn", "transformer"]}}],
)
def test_an_unknown_named_value_is_refused_before_anything_is_loaded_or_written(
    tmp_path: Path, monkeypatch, narrowed: dict
) -> None:
    import zoo
    from zoo.tuning import tune

    def no_data(*args, **kwargs):
        raise AssertionError("data was loaded")

    monkeypatch.setattr("zoo.tasks.base.Task.dataset", no_data)
    with pytest.raises(zoo.UnknownNameError, match="Known: "):
        tune(TASK, directory=tmp_path / "search", **narrowed)
    assert not (tmp_path / "search").exists()


def test_the_search_plot_has_no_overlapping_tick_labels(tmp_path: Path) -> None:
    """Eight optimizers, long attention names and six-digit unit counts drew their tick
    labels over one another (issue 28, item 16)."""
    import itertools

    import matplotlib.pyplot as plt

    optimizers = ["adam", "rmsprop", "sgd", "adamw", "nadam", "adagrad", "adadelta", "lion"]
    attention = ["none", "luong_dot", "bahdanau_additive", "luong_general"]
    search = {
        "objective": "val_accuracy",
        "space": [
            {"name": "optimizer", "type": "Choice"},
            {"name": "attention", "type": "Choice"},
            {"name": "units", "type": "Int"},
        ],
        "trials": [
            {
                "trial_id": f"{i:04d}",
                "status": "COMPLETED",
                "score": i / 30,
                "seconds": 1.0,
                "hyperparameters": {
                    "optimizer": optimizers[i % 8],
                    "attention": attention[i % 4],
                    "units": [16, 1024, 100_000, 250_000][i % 4],
                },
            }
            for i in range(30)
        ],
    }
    fig = records.figure(search)
    renderer = fig.canvas.get_renderer()
    labelled = {ax.get_xlabel(): ax for ax in fig.axes if ax.get_xlabel()}
    assert set(labelled) == {"trial", "optimizer", "attention", "units"}
    for name, ax in labelled.items():
        for axis in (ax.xaxis, ax.yaxis):
            boxes = [t.get_window_extent(renderer) for t in axis.get_ticklabels() if t.get_text()]
            assert len(boxes) >= 2
            overlapping = [(a, b) for a, b in itertools.combinations(boxes, 2) if a.overlaps(b)]
            assert not overlapping, f"{name}: {axis.axis_name} tick labels overlap"
    assert [t.get_text() for t in labelled["optimizer"].get_xticklabels()] == optimizers
    plt.close(fig)
    records.plot(search, tmp_path / "search.png")
    assert (tmp_path / "search.png").stat().st_size > 10_000
