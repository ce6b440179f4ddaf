"""The README's examples, run as a new user pastes them: every block in order in a fresh copy
of the checkout (`benchmarks/readme_examples.py`), with the outputs it shows for shipped
models checked against what they print, and nothing left for `git status` to show."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest

import readme_examples
from readme_examples import RUNNABLE, blocks

README = Path(__file__).resolve().parent.parent / "README.md"
CATALOGUE = README.parent / "zoo" / "registry" / "catalogue.json"


def close(shown: object, printed: object, tolerance: float = 2e-3) -> bool:
    """Equal, but for floats that differ by at most `tolerance` (the last digit the README
    shows may round the other way on another CPU)."""
    if isinstance(shown, float) or isinstance(printed, float):
        return isinstance(printed, int | float) and math.isclose(shown, printed, abs_tol=tolerance)
    if isinstance(shown, dict) and isinstance(printed, dict):
        return shown.keys() == printed.keys() and all(close(shown[k], printed[k]) for k in shown)
    if isinstance(shown, list) and isinstance(printed, list):
        return len(shown) == len(printed) and all(map(close, shown, printed))
    return shown == printed


def test_every_example_can_run_where_a_user_has_it() -> None:
    examples = [b for b in blocks(README.read_text()) if b.language in RUNNABLE]
    assert len(examples) >= 20
    for block in examples:
        # a user's clone has no ../shared (the team's data folder) and no MODEL to fill in
        assert "../shared" not in block.code, f"README line {block.line}"
        assert " MODEL " not in block.code, f"README line {block.line}"
        for _, _, shown in block.shown_outputs():
            assert set(shown) <= {"line", "input", "output"}, f"README line {block.line}"
    skipped = [b.skip for b in examples if b.skip]
    assert len(skipped) == 2 and all(len(reason) > 10 for reason in skipped)


def test_the_parser_reads_languages_skips_and_shown_outputs() -> None:
    text = "\n".join(
        [
            "<!-- readme-example: skip (needs a GPU to be useful) -->",
            "```bash",
            "nvidia-smi",
            "```",
            "```bash",
            '.venv/bin/zoo predict sentiment-mr-lstm@5 "a fine film"',
            '# {"input": "a fine film", "output": {"label": "pos", "probability": 0.7}}',
            ".venv/bin/zoo retrain sentiment-mr-lstm --data zoo_reviews --format tfds",
            "# sentiment-mr-lstm@5 fine-tuned on zoo_reviews in 6.4 s (output head kept)",
            "```",
            "```",
            '# {"input": "not run", "output": {}}',
            "```",
        ]
    )
    first, second, third = blocks(text)
    assert (first.line, first.skip, first.lines) == (2, "needs a GPU to be useful", ("nvidia-smi",))
    assert (second.language, second.skip) == ("bash", None)
    assert list(second.shown_outputs()) == [
        (
            1,
            "sentiment-mr-lstm@5",
            {"input": "a fine film", "output": {"label": "pos", "probability": 0.7}},
        )
    ]
    assert list(second.shown_retrains()) == [
        (3, "sentiment-mr-lstm@5 fine-tuned on zoo_reviews in 6.4 s (output head kept)")
    ]
    assert third.language == ""


@pytest.mark.slow
def test_every_readme_block_runs_in_order_in_a_fresh_clone(tmp_path: Path) -> None:
    checkout = readme_examples.fresh_copy(tmp_path / "clone")
    runs = list(readme_examples.run_blocks(checkout, tmp_path))
    last = runs[-1]
    assert last.returncode == 0, (
        f"README line {last.block.line} exited {last.returncode}:\n{last.stdout[-2000:]}\n"
        f"{last.stderr[-3000:]}"
    )
    runnable = [b for b in blocks(README.read_text()) if b.language in RUNNABLE and not b.skip]
    assert [run.block.line for run in runs] == [b.line for b in runnable]

    # what the README shows of shipped models is what they print now
    shipped = set(json.loads(CATALOGUE.read_text())["models"])
    for run in runs:
        printed = run.results()
        for _, model, shown in run.block.shown_outputs():
            same_input = [
                r
                for r in printed
                if (r["input"], r.get("line")) == (shown["input"], shown.get("line"))
            ]
            assert same_input, (
                f"README line {run.block.line}: nothing printed for {shown['input']!r}"
            )
            if model and model.split("@")[0].split(":")[0] in shipped:
                assert close(shown["output"], same_input[0]["output"]), (
                    f"README block at line {run.block.line} shows {shown['output']}, "
                    f"{model} prints {same_input[0]['output']}"
                )
        # and `zoo retrain` fine-tunes the parent version it shows (its seconds vary)
        shown_parents = [
            readme_examples.FINE_TUNED.match(line)["parent"]
            for _, line in run.block.shown_retrains()
        ]
        printed_parents = [
            readme_examples.FINE_TUNED.match(line)["parent"] for line in run.retrains()
        ]
        assert shown_parents == printed_parents[: len(shown_parents)], (
            f"README block at line {run.block.line} shows {shown_parents} fine-tuned, "
            f"the run printed {printed_parents}"
        )

    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=checkout, capture_output=True, text=True, check=True
    ).stdout
    assert status == "", f"the README's examples left files for git to show:\n{status}"
