"""Run, resume and distribute a keras-tuner search over a zoo task; register its best model.

Resume: the search directory holds the oracle's state and one folder per trial, written
by keras-tuner when a trial starts and ends. Rerunning the same command reloads them:
completed and failed trials are kept as they are, and a trial that was running when the
process died (SIGINT, kill -9) is run again from its first epoch with the same trial id
and hyperparameters, so no trial is lost or counted twice. keras-tuner reloads the saved
space and ignores new options, so the settings that define a search (`settings`) are
recorded when it starts, and a rerun with other settings is refused before anything is
written; `overwrite` starts afresh.

Failures: keras-tuner ends a search after 3 failed trials in a row. It checks that while
it ends the third trial, before saving it, so that trial stayed RUNNING on disk; here the
trial is saved as FAILED with its reason first, and the search then stops
(`_stop_at_failure_limit`).

Distribution: with `KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP` and
`KERASTUNER_ORACLE_PORT` set, the process whose id contains `chief` serves the oracle
and the others (`tuner0`, `tuner1`, ...) run trials in parallel against it, sharing
`directory`. The chief registers the best model once every worker is done. Workers record
no settings: each checks its own against those its chief recorded.
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
from zoo.data import loading
from zoo.errors import UnknownNameError, ZooError
from zoo.models import hyperparameters as limits
from zoo.registry.layout import write_json_atomic
from zoo.tasks.base import DatasetSpec, Task, get_task
from zoo.training.fit import (
    configure_devices,
    distribution_strategy,
    finish,
    interruptible,
    raise_if_interrupted,
)
from zoo.tuning import records
from zoo.tuning.hypermodel import TaskHyperModel, objective

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
    trial's folder, for the search record and `zoo search-report`, that never marks an
    interrupted trial as ended (so a resumed search runs it again), and that writes its
    state files atomically."""

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
            hypermodel: TaskHyperModel = self.hypermodel
            # a trial that fails before `fit` (its model cannot be built) trained for no time:
            # its record must not be the previous trial's
            hypermodel.last_history, hypermodel.last_seconds = {}, 0.0
            try:
                return super().run_trial(trial, *args, **kwargs)
            finally:
                record = {
                    "history": hypermodel.last_history,
                    "seconds": round(hypermodel.last_seconds, 2),
                    "rss_mb": resident_mb(),
                    "peak_rss_mb": round(
                        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
                    ),
                    "tuner_id": self.tuner_id,
                }
                write_json_atomic(
                    Path(self.get_trial_dir(trial.trial_id), records.TRIAL_RECORD), record
                )

        def save(self) -> None:
            """keras-tuner's `save` (the oracle's state, then this tuner's), each file
            written whole or not at all (see `_save_state_atomically`)."""
            if not self._is_worker():
                self.oracle.save()
            write_json_atomic(Path(self._get_tuner_fname()), self.get_state(), indent=None)

    Recording.__name__ = base.__name__
    return Recording


def failure_limit_reached(oracle: kt.Oracle) -> str | None:
    """Whether keras-tuner's limit of consecutive failed trials is reached, and why.

    Args:
        oracle: a search's oracle (the chief's or a single process's, not a worker's proxy).

    Returns:
        The last line of the last failed trial's message once `max_consecutive_failed_trials`
        trials in a row failed; None otherwise.
    """
    try:
        type(oracle)._check_consecutive_failures(oracle)  # keras-tuner's own rule
    except RuntimeError as err:
        return str(err).strip().splitlines()[-1]
    return None


def _stop_at_failure_limit(oracle: kt.Oracle) -> None:
    """Make keras-tuner's limit of consecutive failed trials end a search as `max_trials` does.

    keras-tuner checks the limit inside `Oracle.end_trial` and raises before it saves the
    trial that reached it: that trial stayed RUNNING in `trial.json` and `oracle.json`, and
    on a chief the error went back to the worker instead of stopping the search. Here
    `end_trial` records every trial in full, and the limit is checked when the next trial
    is asked for: the oracle then proposes none (STOPPED), so a single process, a chief and
    its workers all end their search; `tune` reports why (`failure_limit_reached`).

    Args:
        oracle: the oracle of a new or reloaded tuner, changed in place.
    """
    populate = oracle.populate_space

    def populate_space(trial_id: str) -> dict[str, Any]:
        if failure_limit_reached(oracle):
            return {"status": kt.engine.trial.TrialStatus.STOPPED}
        return populate(trial_id)

    oracle._check_consecutive_failures = lambda: None  # checked in `populate_space` instead
    oracle.populate_space = populate_space


def settings(
    task: Task,
    spec: DatasetSpec,
    *,
    tuner: str,
    epochs: int,
    seed: int,
    fixed: dict[str, Any] | None,
    choices: dict[str, list[Any]] | None,
    metric: str | None = None,
) -> dict[str, Any]:
    """What defines a search: a search resumed with other values would mix trials that
    differ in more than their hyperparameters, or silently keep the old ones.

    The number of trials, the strategy and the output options are not part of it: a
    search can be resumed with more trials, or on other devices.

    Args:
        task: the task searched.
        spec: its dataset.
        tuner: the tuner's name.
        epochs: epochs per trial (Hyperband: the most).
        seed: the search's seed.
        fixed: hyperparameters not searched.
        choices: hyperparameters searched over a given list.
        metric: the validation metric maximised (default: the headline one).

    Returns:
        Plain JSON data (as it reads back from `records.SETTINGS_FILE`): `task`, `dataset`
        (TFDS name and version, splits, fields, renamed features, and the checksum of a
        dataset made from files), `tuner`, `objective`, `fixed`, `choices`, `epochs`, `seed`.
    """
    goal = objective(task, metric)
    return json.loads(
        json.dumps(
            {
                "task": task.name,
                "dataset": {
                    "name": spec.tfds_name,
                    "version": str(loading.info(spec.tfds_name).version),
                    "train": spec.train,
                    "validation": spec.validation,
                    "test": spec.test,
                    "fields": spec.fields,
                    "rename": spec.rename,
                    "sha256": (spec.source or {}).get("sha256"),
                },
                "tuner": tuner,
                "objective": f"{goal.name} ({goal.direction})",
                "fixed": fixed or {},
                "choices": choices or {},
                "epochs": epochs,
                "seed": seed,
            }
        )
    )


def _changes(started: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """`name: old → new` for each setting that differs, the dataset's one by one."""

    def flat(values: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in values.items():
            if key == "dataset" and isinstance(value, dict):
                out.update({f"dataset {k}": v for k, v in value.items()})
            else:
                out[key] = value
        return out

    before, after = flat(started), flat(now)
    return [
        f"{key}: {before.get(key)!r} → {after.get(key)!r}"
        for key in dict.fromkeys([*after, *before])
        if before.get(key) != after.get(key)
    ]


def _record_settings(project: Path, defined: dict[str, Any]) -> None:
    """Write a new search's `settings` into its folder, whole or not at all (a process killed
    while writing leaves none, and a folder without a search), with the permissions of any
    other file there, for workers on other machines."""
    write_json_atomic(project / records.SETTINGS_FILE, defined, indent=1)


def _refuse_other_settings(project: Path, now: dict[str, Any], *, worker: bool) -> None:
    """Refuse to resume (or, on a worker, to join) the search in `project` with settings
    other than those it was started with.

    Raises:
        ZooError: the settings differ, or a search there recorded none (a chief's or a
            single process's only: a worker's chief may be an older zoo).
    """
    started = records.started_with(project)
    if started is None:
        if worker:
            return
        raise ZooError(
            f"{project} holds a search that does not record the settings it was started with "
            "(made by an older zoo), so resuming it could silently mix them with these: "
            "add --overwrite to start it afresh, or use a new --directory."
        )
    changes = _changes(started, now)
    if not changes:
        return
    if worker:
        raise ZooError(
            f"this worker's settings differ from those of its chief's search in {project} "
            f"({'; '.join(changes)}): start every worker with the chief's command."
        )
    raise ZooError(
        f"{project} holds a search started with other settings ({'; '.join(changes)}), which "
        "a resumed search would ignore: add --overwrite to start it afresh, or use a new "
        "--directory."
    )


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

    Raises:
        UnknownNameError: an unknown hyperparameter, or an unknown name for one that takes
            names (`zoo.models.hyperparameters.check`).
        ZooError: a value of the wrong type or out of its range.
    """
    hp = kt.HyperParameters()
    for key, values in (choices or {}).items():
        for value in values:
            limits.check(key, value)
        hp.Choice(key, list(values))
    for key, value in (fixed or {}).items():
        limits.check(key, value)
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


def _save_state_atomically(oracle: kt.Oracle) -> None:
    """Make the oracle write its state files (`oracle.json`, each `trial_*/trial.json`) whole
    or not at all, as `_recording`'s tuner writes its own.

    keras-tuner rewrites these files in place after every epoch; a search stopped by Ctrl-C
    or a kill while one is being written left it empty, and the search could then not be
    resumed (`JSONDecodeError` on reload). Here each goes through a partial file and one
    rename (`zoo.registry.layout.write_json_atomic`), with keras-tuner's own content.

    Args:
        oracle: the oracle of a new or reloaded tuner (not a worker's proxy), changed in place.
    """

    def save() -> None:
        write_json_atomic(Path(oracle._get_oracle_fname()), oracle.get_state(), indent=None)

    def save_trial(trial: kt.engine.trial.Trial) -> None:
        folder = Path(oracle._get_trial_dir(trial.trial_id))
        write_json_atomic(folder / "trial.json", trial.get_state(), indent=None)

    oracle.save = save
    oracle._save_trial = save_trial


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
    metric: str | None = None,
    strategy: str | None = None,
    overwrite: bool = False,
) -> kt.Tuner:
    """A tuner over `task`, reloaded from `directory` when a search is already there.

    The data is loaded and the preprocessing fitted here (`TaskHyperModel`); the search
    seed is `seed + 1`, since keras-tuner reads 0 as "draw one". A new search records its
    `settings` in its folder; a search there is resumed only with the same ones, checked
    before anything is loaded or written (a worker checks after its chief has started).

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
        metric: the validation metric maximised (`zoo.tuning.hypermodel.objective`;
            default: the task's headline metric).
        strategy: `default` (or None) or `mirrored`, for every trial.
        overwrite: start afresh instead of reloading the search in `directory` (ignored by
            a worker: the chief owns the folder).

    Returns:
        The tuner, wrapped to record each trial (`zoo_trial.json`) and to rerun an
        interrupted trial on resume.

    Raises:
        UnknownNameError: an unknown tuner, task, dataset or strategy, or an unknown name
            for a hyperparameter that takes one (`space`).
        DatasetUnavailableError: the dataset cannot be prepared here.
        ZooError: `directory` holds a search started with other settings, or one that does
            not record its settings.
    """
    if tuner not in TUNERS:
        raise UnknownNameError("tuner", tuner, TUNERS)
    narrowed = space(fixed, choices)  # checks named values before any data is loaded
    searched = get_task(task)()
    spec = searched.dataset(dataset)
    project = Path(directory) / (project_name or searched.name)
    defined = settings(
        searched,
        spec,
        tuner=tuner,
        epochs=epochs or searched.default_epochs,
        seed=seed,
        fixed=fixed,
        choices=choices,
        metric=metric,
    )
    worker = role() == "worker"
    resuming = not overwrite and (project / "oracle.json").is_file()
    if resuming and not worker:
        _refuse_other_settings(project, defined, worker=False)
    configure_devices()
    hypermodel = TaskHyperModel(
        searched.name, spec, epochs=epochs, seed=seed, fixed=fixed, metric=metric
    )
    options: dict[str, Any] = dict(
        hypermodel=hypermodel,
        objective=hypermodel.objective,
        seed=seed + 1,  # keras-tuner takes seed 0 to mean "draw one at random"
        hyperparameters=narrowed,
        directory=str(directory),
        project_name=project.name,
        # the folder is the chief's: a worker started with the chief's command (as told)
        # would otherwise empty it under the running search
        overwrite=overwrite and not worker,
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
    if worker:
        built.oracle.get_space()  # waits for the chief, which recorded its settings before serving
        _refuse_other_settings(project, defined, worker=True)
    else:
        # a new search (keras-tuner has emptied the folder for `overwrite`; `project_dir`
        # makes it again) records its settings before its first trial
        if not resuming:
            _record_settings(Path(built.project_dir), defined)
        _stop_at_failure_limit(built.oracle)
        _save_state_atomically(built.oracle)
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
    objective: str | None = None,
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
        objective: the validation metric maximised, e.g. `macro_f1` (default: the task's
            headline metric); part of the search's settings.
        strategy: `default` (or None) or `mirrored`, for every trial.
        tensorboard: write TensorBoard logs.
        overwrite: start afresh instead of resuming.
        name: the registry name of the best model (default as `zoo.registry.save`).
        registry_root: the registry folder.
        verbose: Keras' progress output.

    Returns:
        The `SearchResult`.

    Raises:
        UnknownNameError: an unknown tuner, task, dataset, strategy or objective.
        DatasetUnavailableError: the dataset cannot be prepared here.
        ZooError: `directory` holds a search started with other settings, too many trials
            in a row failed, or the registry cannot be written.
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
        metric=objective,
        strategy=strategy,
        overwrite=overwrite,
    )
    project = Path(built.project_dir)
    callbacks: list[keras.callbacks.Callback] = []  # fit_model adds the interrupt check itself
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(project / "tensorboard")))
    with interruptible():
        built.search(callbacks=callbacks, verbose=verbose)
    if role() == "worker":
        return SearchResult(tuner=built, directory=project, saved=None)
    reason = failure_limit_reached(built.oracle)
    if reason:
        raise ZooError(
            f"the search stopped: {built.oracle.max_consecutive_failed_trials} trials in a row failed, the last "
            f"with: {reason} Narrow the space (--choice, --set) and start again with --overwrite."
        )
    saved = register_best(built, tuner_name=tuner, name=name, root=registry_root)
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
