"""Shared fixtures: every test session gets its own TFDS data folder, registry and
checkpoint folder, so the suite never touches the user's `~/tensorflow_datasets`, the
shipped `saved_models/` or anything else in the checkout."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import collections  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402
from unittest import mock  # noqa: E402

import pytest  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    # hypothesis caches the literals it finds in the source under `.hypothesis/` in the working
    # directory (its pytest plugin does so while collecting, even without an example
    # database): keep that out of the checkout, in a folder removed at the end
    from hypothesis.configuration import set_hypothesis_home_dir

    folder = tempfile.mkdtemp(prefix="zoo-hypothesis-")
    set_hypothesis_home_dir(folder)
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


@pytest.fixture(scope="session", autouse=True)
def isolated_dirs(tmp_path_factory: pytest.TempPathFactory):
    data_dir = os.environ.get("ZOO_TEST_DATA_DIR") or str(tmp_path_factory.mktemp("tfds"))
    saved = {
        k: os.environ.get(k)
        for k in ("ZOO_DATA_DIR", "ZOO_REGISTRY", "ZOO_CHECKPOINTS", "ZOO_HUB", "ZOO_OFFLINE")
    }
    # no download from a hub the user configured: the hub tests start their own
    os.environ.pop("ZOO_HUB", None)
    os.environ.pop("ZOO_OFFLINE", None)
    os.environ["ZOO_DATA_DIR"] = data_dir
    os.environ["ZOO_REGISTRY"] = str(tmp_path_factory.mktemp("registry"))
    os.environ["ZOO_CHECKPOINTS"] = str(tmp_path_factory.mktemp("checkpoints"))
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def tiny_dataset():
    """`tiny_dataset(task, train=16, held_out=8)`: the task's embedded dataset cut to a handful
    of examples per role, as a `DatasetSpec` that `zoo.train`, `zoo.tune`, `task.load` and the
    registry take like any other. Training starts from the first examples of the training
    split (what `task.load("embedded", "train").take(train)` reads) and evaluation uses the
    last of the held-out splits, so roles that share one TFDS split (`train[:85%]`,
    `train[85%:]`) stay apart. For tests that check plumbing rather than learning."""

    def cut(task: str, *, train: int = 16, held_out: int = 8):
        import zoo

        spec = zoo.get_task(task)().dataset("embedded")

        def base(split: str) -> str:
            return split.split("[")[0]

        return dataclasses.replace(
            spec,
            train=f"{base(spec.train)}[:{train}]",
            validation=f"{base(spec.validation)}[-{held_out}:]",
            test=spec.test and f"{base(spec.test)}[-{held_out}:]",
        )

    return cut


@pytest.fixture(scope="session")
def tiny_registry_model(tiny_dataset):
    """`tiny_registry_model(task, root, preprocessing=None, **hparams)`: a tiny model of the
    task (units 8, NER with its CRF head, as shipped) on `tiny_dataset`'s examples, trained
    for no step, saved as version 1 of `tiny` in the registry folder `root` and loaded back
    as `zoo export` and `zoo predict` load it. `preprocessing` (field -> value) replaces
    fitted fields first, e.g. shorter lengths."""

    def made(task_name: str, root, preprocessing: dict | None = None, **hparams):
        import keras

        import zoo
        from zoo import registry
        from zoo.tasks.base import hyperparameters
        from zoo.training.fit import finish

        keras.utils.set_random_seed(0)
        task = zoo.TASKS[task_name]()
        spec = tiny_dataset(task_name)
        task.adapt(task.load(spec, "train"), spec)
        if preprocessing:
            task.preprocessing = dataclasses.replace(task.preprocessing, **preprocessing)
        hp = hyperparameters(
            {
                "units": 8,
                "embedding_dim": 8,
                "char_embedding_dim": 8,
                "char_units": 8,
                "cnn_filters": 8,
                "crf": True,
                **hparams,
            }
        )
        result = finish(
            task,
            task.build_model(hp),
            spec,
            hp=dict(hp.values),
            seed=0,
            epochs=1,
            batch_size=8,
            history={},
            seconds=0.0,
        )
        path = registry.save(result, "tiny", root=root)
        return registry.load(f"tiny@{path.name}", root=root)

    return made


@pytest.fixture(scope="session")
def same_results():
    """`same_results(ours, theirs)`: two `predict` results (or lists of them) are equal, with
    floats within 1e-4 (the readouts round probabilities to 4 places), keys in one order."""

    def check(ours, theirs, path: str = "") -> None:
        if isinstance(theirs, float):
            assert abs(ours - theirs) <= 1e-4 + 1e-9, path
        elif isinstance(theirs, dict):
            assert list(ours) == list(theirs), path
            for key in theirs:
                check(ours[key], theirs[key], f"{path}.{key}")
        elif isinstance(theirs, (list, tuple)):
            assert len(ours) == len(theirs), path
            for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
                check(a, b, f"{path}[{i}]")
        else:
            assert ours == theirs, path

    return check


@pytest.fixture
def umask_022():
    """The usual umask (group and others may read) while the test runs: files the zoo writes
    must get the permissions of any other new file, not private ones."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture
def first_examples_only(request: pytest.FixtureRequest):
    """For a `tfds.testing.DatasetBuilderTestCase` of an embedded builder: the builder writes
    only the first `FIRST_EXAMPLES` examples of each split (of its full, deterministic
    generation), so TFDS's harness checks features, encoding, keys, reloading and overlap
    between splits in seconds. The builders download nothing, so the harness reads nothing
    from their (empty) `dummy_data/` folders; full-size runs are marked slow."""
    n = request.cls.FIRST_EXAMPLES

    def first(builder, examples):
        yield from examples[:n]

    with mock.patch.object(request.cls.DATASET_CLASS, "_generate_examples", first):
        yield


# --- hostile input ------------------------------------------------------------------------
# `hostile(kind, fn, *args)` runs one generated case: a result or a ZooError with a message
# passes and is counted; any other exception fails the test. When `ZOO_HOSTILE_RECORDS`
# names a folder, each process (each xdist worker) saves its counts there at the end of the
# session: `benchmarks/bad_input.py` sets it, merges the counts and writes the README's
# bad-input table. The tests themselves never write into the checkout.
_COUNTS: collections.Counter = collections.Counter()
_RAN: set[str] = set()


@pytest.fixture
def hostile(request: pytest.FixtureRequest):
    from zoo.errors import ZooError

    def run(kind: str, fn, *args, **kwargs) -> None:
        try:
            fn(*args, **kwargs)
            outcome = "result"
        except ZooError as err:
            assert len(str(err).strip()) >= 20, (
                f"{kind}: the error says too little to act on: {err!r}"
            )
            outcome = type(err).__name__
        _COUNTS[f"{kind}\t{outcome}"] += 1
        _RAN.add(request.node.originalname)

    return run


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    records = os.environ.get("ZOO_HOSTILE_RECORDS")
    if records and _COUNTS:
        worker = getattr(session.config, "workerinput", {}).get("workerid", "main")
        record = {"counts": _COUNTS, "ran": sorted(_RAN)}
        (Path(records) / f"{worker}.json").write_text(json.dumps(record))
