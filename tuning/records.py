"""The record of a search, read from its keras-tuner folder: the space and every trial.

It reads files only (keras-tuner's `oracle.json` and `trial_*/trial.json`, plus the zoo's
`trial_*/zoo_trial.json` with epoch logs, duration and memory, and `zoo_search.json` with
the settings the search was started with), so a report needs neither the data nor a
model, and works while the search is still running.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from zoo.errors import ZooError  # noqa: E402
from zoo.registry.layout import write_json_atomic  # noqa: E402

TRIAL_RECORD = "zoo_trial.json"
#: the settings that define a search (task, dataset, tuner, space...), written when it starts
SETTINGS_FILE = "zoo_search.json"
SEARCH_FILE = "search.json"
PLOT_FILE = "search.png"
_INTERNAL = "tuner/"  # Hyperband's bookkeeping values, not hyperparameters


def project_dir(directory: str | Path) -> Path:
    """The search folder itself, or the `--directory` that holds exactly one search.

    Args:
        directory: a search folder (with `oracle.json`), or the folder holding one.

    Returns:
        The search folder.

    Raises:
        ZooError: no search is there, or several are.
    """
    directory = Path(directory)
    if (directory / "oracle.json").is_file():
        return directory
    found = sorted(p.parent for p in directory.glob("*/oracle.json")) if directory.is_dir() else []
    if len(found) == 1:
        return found[0]
    if not found:
        raise ZooError(
            f"no keras-tuner search in {directory}: pass the --directory a `zoo tune` wrote."
        )
    raise ZooError(
        f"{directory} holds several searches ({', '.join(p.name for p in found)}): pass one of those folders."
    )


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ZooError(f"{path} is unreadable ({err}); the search folder is damaged.") from err


def started_with(project: Path) -> dict[str, Any] | None:
    """The settings a search was started with, as `zoo.tuning.search.settings` made them.

    Args:
        project: the search folder.

    Returns:
        The settings; None when the folder holds none (no search started there, or one
        started by a zoo that did not record them).

    Raises:
        ZooError: the settings file cannot be read.
    """
    path = project / SETTINGS_FILE
    return _read(path) if path.is_file() else None


def load(directory: str | Path) -> dict[str, Any]:
    """The search as plain data: objective, space, and per trial its hyperparameters,
    status, score, seconds, peak memory and epoch logs.

    Args:
        directory: a search folder, or the `--directory` holding one (`project_dir`).

    Returns:
        `{"project", "objective", "space", "trials"}`: the search folder; the objective's
        name (`score` before any trial reports one); one entry per hyperparameter (`name`,
        `type` and its range); and per trial in id order `trial_id`, `status`, `score`
        (None unless finite), `hyperparameters` (without Hyperband's `tuner/` values),
        `epochs` (Hyperband's), `seconds`, `rss_mb`, `peak_rss_mb` (MiB), `tuner_id`,
        `message` (a list holding the last line of a failed trial's message, or None) and
        `history`.

    Raises:
        ZooError: no search, several, or a file of the search that cannot be read.
    """
    project = project_dir(directory)
    oracle = _read(project / "oracle.json")
    trials, objective = [], None
    for path in sorted(project.glob("trial_*/trial.json")):
        trial = _read(path)
        objective = objective or next(iter(trial.get("metrics", {}).get("metrics", {})), None)
        extra_path = path.parent / TRIAL_RECORD
        extra = _read(extra_path) if extra_path.is_file() else {}
        score = trial.get("score")
        trials.append(
            {
                "trial_id": trial["trial_id"],
                "status": trial["status"],
                "score": score if score is None or math.isfinite(score) else None,
                "hyperparameters": {
                    k: v
                    for k, v in trial["hyperparameters"]["values"].items()
                    if not k.startswith(_INTERNAL)
                },
                "epochs": trial["hyperparameters"]["values"].get(f"{_INTERNAL}epochs"),
                "seconds": extra.get("seconds"),
                "rss_mb": extra.get("rss_mb"),
                "peak_rss_mb": extra.get("peak_rss_mb"),
                "tuner_id": extra.get("tuner_id"),
                "message": (trial.get("message") or "").strip().splitlines()[-1:] or None,
                "history": extra.get("history", {}),
            }
        )
    space = [
        {
            "name": hp["config"]["name"],
            "type": hp["class_name"],
            **{
                k: v
                for k, v in hp["config"].items()
                if k in ("values", "min_value", "max_value", "step", "sampling", "default", "value")
            },
        }
        for hp in oracle["hyperparameters"]["space"]
    ]
    return {
        "project": str(project),
        "objective": objective or "score",
        "space": space,
        "trials": trials,
    }


def write(search: dict[str, Any], path: Path) -> None:
    """Write the search record as JSON (`search.json`).

    Args:
        search: the record from `load`.
        path: the file to write.
    """
    write_json_atomic(path, search, indent=1)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def table(search: dict[str, Any]) -> str:
    """A Markdown table, best trial first, failed trials last.

    Args:
        search: the record from `load`.

    Returns:
        The table: trial, status, objective, seconds and each searched (not fixed)
        hyperparameter; trials sorted by score, highest first.
    """
    trials = sorted(search["trials"], key=lambda t: (t["score"] is None, -(t["score"] or 0.0)))
    names = [hp["name"] for hp in search["space"] if hp["type"] != "Fixed"]
    header = ["trial", "status", search["objective"], "seconds", *names]
    rows = [
        [
            t["trial_id"],
            t["status"],
            t["score"],
            t["seconds"],
            *(t["hyperparameters"].get(n) for n in names),
        ]
        for t in trials
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def plot(search: dict[str, Any], path: Path) -> None:
    """Write `figure` as a PNG file.

    Args:
        search: the record from `load`.
        path: the PNG file to write.
    """
    fig = figure(search)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def figure(search: dict[str, Any]) -> Figure:
    """Score per trial, then score against each searched hyperparameter.

    Only completed trials are drawn, and only hyperparameters that took more than one
    value; a log-sampled one gets a log axis. A panel whose tick labels would overlap
    (many or long choices, wide numbers) has them upright.

    Args:
        search: the record from `load`.

    Returns:
        The figure, laid out; close it with `plt.close` when done.
    """
    done = [t for t in search["trials"] if t["score"] is not None]
    names = [
        hp["name"]
        for hp in search["space"]
        if hp["type"] != "Fixed"
        and len({str(t["hyperparameters"].get(hp["name"])) for t in done}) > 1
    ]
    panels = 1 + len(names)
    columns = min(4, panels)
    rows = math.ceil(panels / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 3.0 * rows), squeeze=False)
    axes = axes.ravel()
    objective = search["objective"]
    order = sorted(done, key=lambda t: t["trial_id"])
    best = [max(t["score"] for t in order[: i + 1]) for i in range(len(order))]
    axes[0].plot(range(len(order)), [t["score"] for t in order], "o", label="trial")
    axes[0].plot(range(len(order)), best, "-", label="best so far")
    axes[0].set_xlabel("trial")
    axes[0].set_ylabel(objective)
    axes[0].legend()
    for ax, name in zip(axes[1:], names, strict=False):
        values = [t["hyperparameters"].get(name) for t in done]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        xs = values if numeric else [str(v) for v in values]
        ax.plot(xs, [t["score"] for t in done], "o")
        if numeric and any(
            hp["name"] == name and hp.get("sampling") == "log" for hp in search["space"]
        ):
            ax.set_xscale("log")
        ax.set_xlabel(name)
        ax.set_ylabel(objective)
    for ax in axes[panels:]:
        ax.axis("off")
    for ax in axes[:panels]:
        ax.grid(alpha=0.3)
    fig.suptitle(f"{len(done)} completed of {len(search['trials'])} trials")
    fig.tight_layout()
    if _upright_overlapping_tick_labels(fig):
        fig.tight_layout()  # room for the upright labels
    return fig


def _upright_overlapping_tick_labels(fig: Figure) -> bool:
    """Turn upright the x tick labels of each panel where two neighbours overlap, as drawn
    (matplotlib places ticks without measuring their labels); whether any was turned."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    turned = False
    for ax in fig.axes:
        boxes = [
            label.get_window_extent(renderer) for label in ax.get_xticklabels() if label.get_text()
        ]
        if any(left.overlaps(right) for left, right in itertools.pairwise(boxes)):
            ax.tick_params(axis="x", labelrotation=90)
            turned = True
    return turned
