"""Shared fixtures: every test session gets its own TFDS data folder and registry, so the
suite never touches the user's `~/tensorflow_datasets` or the shipped `saved_models/`."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def isolated_dirs(tmp_path_factory: pytest.TempPathFactory):
    data_dir = os.environ.get("ZOO_TEST_DATA_DIR") or str(tmp_path_factory.mktemp("tfds"))
    saved = {k: os.environ.get(k) for k in ("ZOO_DATA_DIR", "ZOO_REGISTRY", "ZOO_CHECKPOINTS")}
    os.environ["ZOO_DATA_DIR"] = data_dir
    os.environ["ZOO_REGISTRY"] = str(tmp_path_factory.mktemp("registry"))
    os.environ["ZOO_CHECKPOINTS"] = str(tmp_path_factory.mktemp("checkpoints"))
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


# --- the hostile-input table -----------------------------------------------------------
# `hostile(kind, fn, *args)` runs one generated case: a result or a ZooError with a message
# passes and is counted; any other exception fails the test. Each process (xdist worker)
# saves its counts; the main process merges them and, when the whole hostile suite ran and
# passed, writes the README's table. The table is produced here, never typed by hand.
import collections  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

_COUNTS: collections.Counter = collections.Counter()
_RAN: set[str] = set()
_HOSTILE = Path(__file__).parent / "test_hostile_input.py"


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the main process: workers inherit the folder
        os.environ["ZOO_HOSTILE_RECORDS"] = tempfile.mkdtemp(prefix="zoo-hostile-")


@pytest.fixture
def hostile(request: pytest.FixtureRequest):
    from zoo.errors import ZooError

    def run(kind: str, fn, *args, **kwargs) -> None:
        try:
            fn(*args, **kwargs)
            outcome = "result"
        except ZooError as err:
            assert len(str(err).strip()) >= 20, f"{kind}: the error says too little to act on: {err!r}"
            outcome = type(err).__name__
        _COUNTS[f"{kind}\t{outcome}"] += 1
        _RAN.add(request.node.originalname)

    return run


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    folder = Path(os.environ.get("ZOO_HOSTILE_RECORDS", tempfile.gettempdir()))
    worker = getattr(session.config, "workerinput", {}).get("workerid", "main")
    if _COUNTS:
        (folder / f"{worker}.json").write_text(json.dumps({"counts": _COUNTS, "ran": sorted(_RAN)}))
    if worker != "main" or exitstatus != 0:
        return
    counts: collections.Counter = collections.Counter()
    ran: set[str] = set()
    for saved in folder.glob("*.json"):
        record = json.loads(saved.read_text())
        counts.update(record["counts"])
        ran.update(record["ran"])
    expected = set(re.findall(r"^def (test_\w+)", _HOSTILE.read_text(), flags=re.M))
    if ran and ran >= expected:
        _write_table(counts)


def _write_table(counts: collections.Counter) -> None:
    by_kind: dict[str, dict[str, int]] = collections.defaultdict(dict)
    for key, n in counts.items():
        kind, outcome = key.split("\t")
        by_kind[kind][outcome] = n
    lines = ["| class of input | cases | ended in a result | ended in a clear zoo error | other exception |", "|---|---|---|---|---|"]
    for kind in sorted(by_kind):
        outcomes = by_kind[kind]
        errors = ", ".join(f"{n} {name}" for name, n in sorted(outcomes.items()) if name != "result") or "0"
        lines.append(f"| {kind} | {sum(outcomes.values())} | {outcomes.get('result', 0)} | {errors} | 0 |")
    from report import write_readme_table

    write_readme_table("bad-input", "\n".join(lines))
