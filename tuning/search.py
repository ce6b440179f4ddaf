"""Run, resume and distribute a keras-tuner search over a zoo task; register its best model.

Resume: the search directory holds the oracle's state and one folder per trial, written
by keras-tuner when a trial starts and ends. Rerunning the same command reloads them:
completed and failed trials are kept as they are, and a trial that was running when the
process died (SIGINT, kill -9) is run again from its first epoch with the same trial id
and hyperparameters, so no trial is lost or counted twice.

Distribution: with `KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP` and
`KERASTUNER_ORACLE_PORT` set, the process whose id contains `chief` serves the oracle
and the others (`tuner0`, `tuner1`, ...) run trials in parallel against it, sharing
`directory`. The chief registers the best model once every worker is done.
"""

from __future__ import annotations

import json
import os
import resource
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt

from zoo import registry
from zoo.constants import TUNERS
from zoo.errors import UnknownNameError, ZooError
from zoo.tasks.base import DatasetSpec
from zoo.training.fit import (
    configure_devices,
    distribution_strategy,
    finish,
    interruptible,
    raise_if_interrupted,
)
from zoo.tuning import records
from zoo.tuning.hypermodel import TaskHyperModel

#: the keras-tuner class of each of `zoo.constants.TUNERS`
TUNER_CLASSES: dict[str, type[kt.Tuner]] = {
    "random": kt.RandomSearch,
    "hyperband": kt.Hyperband,
    "bayesian": kt.BayesianOptimization,
}


def role() -> str:
    """`chief`, `worker` or `single`, from keras-tuner's environment variables.

    Returns:
        `single` without `KERASTUNER_ORACLE_IP`; else `chief` when `KERASTUNER_TUNER_ID`
        contains "chief", `worker` otherwise.
    """
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return "single"
    return "chief" if "chief" in os.environ.get("KERASTUNER_TUNER_ID", "") else "worker"


def resident_mb() -> float | None:
    """This process's resident memory now (Linux), to show whether trials leak.

    Returns:
        Resident memory in MiB, one decimal; None where `/proc/self/statm` cannot be read.
    """
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def _recording(base: type[kt.Tuner]) -> type[kt.Tuner]:
    """`base` that also writes each trial's epoch logs, duration and peak memory into the
    trial's folder, for the search record and `zoo search-report`, and that never marks
    an interrupted trial as ended (so a resumed search runs it again)."""

    class Recording(base):  # type: ignore[misc, valid-type]
        def on_trial_begin(self, trial: kt.engine.trial.Trial) -> None:
            """keras-tuner hook: a trial is not started after Ctrl-C."""
            raise_if_interrupted()
            super().on_trial_begin(trial)

        def on_trial_end(self, trial: kt.engine.trial.Trial) -> None:
            """keras-tuner hook: an interrupted trial is not marked as ended, so a resumed search
            runs it again.
            """
            raise_if_interrupted()
            super().on_trial_end(trial)

        def run_trial(self, trial: kt.engine.trial.Trial, *args: Any, **kwargs: Any) -> Any:
            """keras-tuner's `run_trial`; then the trial's epoch logs, seconds and memory go to
            `zoo_trial.json` in its folder, whether it succeeded or not."""
            try:
                return super().run_trial(trial, *args, **kwargs)
            finally:
                hypermodel: TaskHyperModel = self.hypermodel
                record = {
                    "history": hypermodel.last_history,
                    "seconds": round(hypermodel.last_seconds, 2),
                    "rss_mb": resident_mb(),
                    "peak_rss_mb": round(
                        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
                    ),
                    "tuner_id": self.tuner_id,
                }
                Path(self.get_trial_dir(trial.trial_id), records.TRIAL_RECORD).write_text(
                    json.dumps(record)
                )

    Recording.__name__ = base.__name__
    return Recording


def space(
    fixed: dict[str, Any] | None = None, choices: dict[str, list[Any]] | None = None
) -> kt.HyperParameters:
    """Narrow a task's search space: `fixed` values are not searched, `choices` replace a
    hyperparameter's declared range by a list. Everything else keeps the task's range.

    Args:
        fixed: hyperparameter name -> the one value to use.
        choices: hyperparameter name -> the values to search.

    Returns:
        The `keras_tuner.HyperParameters` to pass as a tuner's `hyperparameters`: the task's
        builder then declares the rest.
    """
    hp = kt.HyperParameters()
    for key, values in (choices or {}).items():
        hp.Choice(key, list(values))
    for key, value in (fixed or {}).items():
        hp.Fixed(key, value)
    return hp


@dataclass
class SearchResult:
    """What `tune` returns.

    Attributes:
        tuner: the keras-tuner tuner, with its oracle and trials.
        directory: the search folder, `<directory>/<task>`.
        saved: the registry version folder of the best model; None on a worker, or when no
            trial completed.
    """

    tuner: kt.Tuner
    directory: Path
    #: the registry version of the best model (None on a worker, or when nothing completed)
    saved: Path | None


def make_tuner(
    task: str,
    *,
    tuner: str = "random",
    directory: str | Path,
    project_name: str | None = None,
    dataset: str | DatasetSpec = "embedded",
    max_trials: int = 10,
    epochs: int | None = None,
    seed: int = 0,
    fixed: dict[str, Any] | None = None,
    choices: dict[str, list[Any]] | None = None,
    strategy: str | None = None,
    overwrite: bool = False,
) -> kt.Tuner:
    """A tuner over `task`, reloaded from `directory` when a search is already there.

    The data is loaded and the preprocessing fitted here (`TaskHyperModel`); the search
    seed is `seed + 1`, since keras-tuner reads 0 as "draw one".

    Args:
        task: the task's name.
        tuner: `random`, `hyperband` or `bayesian` (`zoo.constants.TUNERS`).
        directory: the folder that holds the search (`<directory>/<project_name>`).
        project_name: default: the task's name.
        dataset: a key of the task's datasets or a `DatasetSpec`.
        max_trials: most trials, for every tuner (Hyperband gets it on its oracle).
        epochs: epochs per trial (default: the task's own); Hyperband's most per trial.
        seed: seeds the trials' initial weights, the shuffle and the search.
        fixed: hyperparameters not searched (`space`).
        choices: hyperparameters searched over a given list (`space`).
        strategy: `default` (or None) or `mirrored`, for every trial.
        overwrite: start afresh instead of reloading the search in `directory`.

    Returns:
        The tuner, wrapped to record each trial (`zoo_trial.json`) and to rerun an
        interrupted trial on resume.

    Raises:
        UnknownNameError: an unknown tuner, task, dataset or strategy.
        DatasetUnavailableError: the dataset cannot be prepared here.
        ZooError: `directory` holds a search that these settings cannot resume.
    """
    if tuner not in TUNERS:
        raise UnknownNameError("tuner", tuner, TUNERS)
    configure_devices()
    hypermodel = TaskHyperModel(task, dataset, epochs=epochs, seed=seed)
    options: dict[str, Any] = dict(
        hypermodel=hypermodel,
        objective=hypermodel.objective,
        seed=seed + 1,  # keras-tuner takes seed 0 to mean "draw one at random"
        hyperparameters=space(fixed, choices),
        directory=str(directory),
        project_name=project_name or hypermodel.task.name,
        overwrite=overwrite,
        distribution_strategy=None
        if strategy in (None, "default")
        else distribution_strategy(strategy),
    )
    if tuner == "hyperband":
        options["max_epochs"] = hypermodel.epochs
    else:
        options["max_trials"] = max_trials
    try:
        built = _recording(TUNER_CLASSES[tuner])(**options)
    except RuntimeError as err:  # keras-tuner: the folder holds another search's oracle
        raise ZooError(
            f"{directory} holds a search that cannot be resumed with these settings ({err}). "
            "Use another --directory or add --overwrite."
        ) from err
    built.oracle.max_trials = max_trials  # Hyperband has no such argument; cap it the same way
    return built


def tune(
    task: str,
    *,
    tuner: str = "random",
    directory: str | Path,
    max_trials: int = 10,
    epochs: int | None = None,
    dataset: str | DatasetSpec = "embedded",
    seed: int = 0,
    fixed: dict[str, Any] | None = None,
    choices: dict[str, list[Any]] | None = None,
    strategy: str | None = None,
    tensorboard: bool = True,
    overwrite: bool = False,
    name: str | None = None,
    registry_root: str | Path | None = None,
    verbose: int | str = "auto",
) -> SearchResult:
    """Search, then save the best trial's model into the registry with the whole search
    (space and every trial) beside it. TensorBoard logs with the HParams dashboard go to
    `directory/<task>/tensorboard`.

    Rerunning the same call resumes the search (see the module docstring); with the
    keras-tuner environment variables set, it runs as a chief or a worker.

    Args:
        task: the task's name.
        tuner: `random`, `hyperband` or `bayesian`.
        directory: the folder for the search's state, shared by resume and workers.
        max_trials: most trials.
        epochs: epochs per trial (default: the task's own); Hyperband's most per trial.
        dataset: a key of the task's datasets or a `DatasetSpec`.
        seed: seeds the trials and the search.
        fixed: hyperparameters not searched.
        choices: hyperparameters searched over a given list.
        strategy: `default` (or None) or `mirrored`, for every trial.
        tensorboard: write TensorBoard logs.
        overwrite: start afresh instead of resuming.
        name: the registry name of the best model (default as `zoo.registry.save`).
        registry_root: the registry folder.
        verbose: Keras' progress output.

    Returns:
        The `SearchResult`.

    Raises:
        UnknownNameError: an unknown tuner, task, dataset or strategy.
        DatasetUnavailableError: the dataset cannot be prepared here.
        ZooError: the search cannot be resumed with these settings, too many trials in a
            row failed, or the registry cannot be written.
        KeyboardInterrupt: Ctrl-C; rerun the same call to resume.
    """
    built = make_tuner(
        task,
        tuner=tuner,
        directory=directory,
        dataset=dataset,
        max_trials=max_trials,
        epochs=epochs,
        seed=seed,
        fixed=fixed,
        choices=choices,
        strategy=strategy,
        overwrite=overwrite,
    )
    project = Path(built.project_dir)
    callbacks: list[keras.callbacks.Callback] = []  # fit_model adds the interrupt check itself
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(project / "tensorboard")))
    try:
        with interruptible():
            built.search(callbacks=callbacks, verbose=verbose)
    except RuntimeError as err:  # keras-tuner gives up after max_consecutive_failed_trials
        if "consecutive failures" not in str(err):
            raise
        reason = str(err).strip().splitlines()[-1]
        raise ZooError(
            f"the search stopped: {built.oracle.max_consecutive_failed_trials} trials in a row failed, the last "
            f"with: {reason} Narrow the space (--choice, --set) and start again with --overwrite."
        ) from err
    saved = (
        None
        if role() == "worker"
        else register_best(built, tuner_name=tuner, name=name, root=registry_root)
    )
    return SearchResult(tuner=built, directory=project, saved=saved)


def register_best(
    built: kt.Tuner, *, tuner_name: str, name: str | None, root: str | Path | None
) -> Path | None:
    """Load the best trial's checkpoint, measure it on validation and test, and save it
    with `search.json` (the space and every trial) and `search.png` (the report plot).

    Args:
        built: the tuner, after its search.
        tuner_name: the tuner's zoo name, for the card.
        name: the registry name (default as `zoo.registry.save`).
        root: the registry folder.

    Returns:
        The new version's folder, or None when no trial completed.

    Raises:
        ZooError: the search folder cannot be read, or the registry cannot be written.
    """
    project = Path(built.project_dir)
    search = records.load(project)
    best = built.oracle.get_best_trials(1)
    if not best:
        return None
    hypermodel: TaskHyperModel = built.hypermodel
    trial = best[0]
    with warnings.catch_warnings():  # the trial checkpoint also holds optimizer state, unused here
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model = built.load_model(trial)
    values = dict(trial.hyperparameters.values)
    batch_size = int(values.pop("batch_size", hypermodel.task.default_batch_size))
    hp = {k: v for k, v in values.items() if not k.startswith("tuner/")}
    trial_record = next(t for t in search["trials"] if t["trial_id"] == trial.trial_id)
    summary = {
        "tuner": tuner_name,
        "objective": hypermodel.objective.name,
        "best_trial": trial.trial_id,
        "completed": sum(t["status"] == "COMPLETED" for t in search["trials"]),
        "failed": sum(t["status"] in ("FAILED", "INVALID") for t in search["trials"]),
        "directory": str(project),
    }
    result = finish(
        hypermodel.task,
        model,
        hypermodel.dataset,
        hp=hp,
        seed=hypermodel.seed,
        epochs=len(trial_record["history"].get("loss", [])) or hypermodel.epochs,
        batch_size=batch_size,
        history=trial_record["history"],
        seconds=trial_record["seconds"] or 0.0,
        search=summary,
    )
    records.write(search, project / records.SEARCH_FILE)
    records.plot(search, project / records.PLOT_FILE)
    return registry.save(
        result,
        name,
        root=root,
        artifacts={
            records.SEARCH_FILE: project / records.SEARCH_FILE,
            records.PLOT_FILE: project / records.PLOT_FILE,
        },
    )
