"""The pure helpers of the benchmark scripts (`benchmarks/peers.py`,
`benchmarks/performance.py`): what they compute from given numbers, never a timing."""

from __future__ import annotations

import json

import pytest

import peers


def test_entity_spans_follow_conlleval_for_iob1_and_iob2() -> None:
    # IOB1: an I- after O (or after another type) opens an entity; B- only splits two alike
    assert peers.entity_spans(["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"]) == {
        ("PER", 0, 1),
        ("LOC", 3, 3),
        ("LOC", 4, 4),
        ("ORG", 5, 5),
    }
    assert peers.entity_spans(["B-MISC", "I-MISC", "O"]) == {("MISC", 0, 1)}
    assert peers.entity_spans(["O", "O"]) == set()


def test_span_f1_is_micro_averaged_over_sentences() -> None:
    gold = [{("PER", 0, 1)}, {("LOC", 2, 2), ("ORG", 4, 5)}]
    predicted = [{("PER", 0, 1)}, {("LOC", 2, 3), ("ORG", 4, 5), ("MISC", 7, 7)}]
    # 2 right of 4 predicted, of 3 gold: P 0.5, R 2/3
    assert peers.span_f1(gold, predicted) == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert peers.span_f1([set()], [set()]) == 0.0
    with pytest.raises(ValueError):  # sentences must pair up
        peers.span_f1([set()], [])


def test_score_within_takes_the_last_epoch_that_ended_in_time() -> None:
    elapsed, scores = [10.0, 20.0, 30.0], [0.5, 0.6, 0.7]
    assert peers.score_within(elapsed, scores, 25.0) == 0.6
    assert peers.score_within(elapsed, scores, 30.0) == 0.7
    assert peers.score_within(elapsed, scores, 9.0) is None


def test_steady_rate_leaves_out_the_first_epoch() -> None:
    assert peers.steady_rate(100, [50.0, 10.0, 20.0, 10.0]) == pytest.approx(10.0)
    assert peers.steady_rate(100, [4.0]) == pytest.approx(25.0)


def test_chunks_keep_order_and_the_remainder() -> None:
    assert peers.chunks(list(range(5)), 2) == [[0, 1], [2, 3], [4]]


def test_real_lines_repeat_the_data_in_order(tmp_path) -> None:
    performance = pytest.importorskip("performance")
    (tmp_path / "sentiment").mkdir()
    (tmp_path / "sentiment" / "rt-polarity.pos").write_bytes(
        "a good film\ncaf\xe9\n".encode("latin-1")
    )
    (tmp_path / "sentiment" / "rt-polarity.neg").write_bytes(b"bad\n\n")
    assert performance.real_lines("sentiment-mr-lstm", 5, tmp_path) == [
        "a good film",
        "caf\xe9",
        "bad",
        "a good film",
        "caf\xe9",
    ]
    (tmp_path / "ner").mkdir()
    (tmp_path / "ner" / "eng.train").write_text(
        "EU I-ORG\nrejects O\n\nPeter I-PER\n\n-DOCSTART- O\n"
    )
    lines = performance.real_lines("ner-conll2003-lstm", 3, tmp_path)
    assert [json.loads(line) for line in lines] == [["EU", "rejects"], ["Peter"], ["EU", "rejects"]]


def test_engine_speed_keeps_warm_up_and_compilation_apart() -> None:
    performance = pytest.importorskip("performance")
    calls = {"single": 0, "batch": 0}

    def single() -> None:
        calls["single"] += 1

    def batch() -> None:
        calls["batch"] += 1

    speed = performance.engine_speed(single, batch, batch_size=8, repeats=4)
    # the first call, the warm-up calls, the timed ones; the first batch, warm-up, timed
    assert calls["single"] == 1 + performance.WARMUP_CALLS + 4
    assert calls["batch"] == 1 + performance.WARMUP_BATCHES - 1 + performance.TIMED_BATCHES
    assert set(speed) == {
        "first_ms",
        "p50_ms",
        "p99_ms",
        "batch_first_ms",
        "batch_size",
        "batch_per_s",
    }
    assert speed["batch_size"] == 8


def test_goal_lines_give_each_ratio_and_what_is_missed() -> None:
    def side(rate: float, score: float, p50: float, batch: float) -> dict:
        return {
            "sentences_per_s": rate,
            "scores": [score],
            "single_p50_ms": p50,
            "batch_per_s": batch,
        }

    rows = [
        {
            "task": "ner",
            "sides": {"zoo": side(600, 0.8, 2.0, 1000), "flair": side(100, 0.7, 4.0, 100)},
        }
    ]
    lines = peers.goal_lines(rows)
    assert lines[0].startswith("- ner, training sentences/s at an equal or better score (+0.1000")
    assert lines[0].endswith("6.00× (goal 3×): met")
    assert (
        lines[1]
        == "- ner, one sentence (p50 latency): 2.00× (goal 5×): **missed** (40% of the goal)"
    )
    assert lines[2].endswith("10.00× (goal 5×): met")
    # faster but with a lower score: training misses
    rows[0]["sides"]["zoo"]["scores"] = [0.6]
    assert "**missed**" in peers.goal_lines(rows)[0]


def test_the_simulated_new_domain_renames_merges_and_drops_entity_types(tmp_path) -> None:
    import retrain_small

    assert [
        retrain_small.relabel(t) for t in ["B-PER", "I-PER", "I-ORG", "B-MISC", "I-LOC", "O"]
    ] == ["B-PERSON", "I-PERSON", "I-GROUP", "B-GROUP", "O", "O"]
    path = tmp_path / "eng.testa"
    path.write_text("-DOCSTART- -X- O O\n\nAnna NNP I-PER\nin IN O\nOslo NNP I-LOC\n\nBye UH O\n")
    found = retrain_small.sentences(path)
    assert found == [[("Anna", "I-PER"), ("in", "O"), ("Oslo", "I-LOC")], [("Bye", "O")]]
    retrain_small.write(tmp_path / "train.txt", found)
    assert (tmp_path / "train.txt").read_text() == "Anna I-PERSON\nin O\nOslo O\n\nBye O\n\n"


def test_last_results_are_read_back_or_the_default(tmp_path, monkeypatch) -> None:
    """`--only` runs keep the other models' rows: what `write_json` wrote is what
    `read_json` gives back, and a benchmark never run gives the default."""
    import report

    monkeypatch.setattr(report, "ROOT", tmp_path)
    assert report.read_json("export-formats", {}) == {}
    report.write_json("export-formats", {"ner-conll2003-lstm": {"onnx": {"bytes": 5}}})
    assert report.read_json("export-formats", {}) == {"ner-conll2003-lstm": {"onnx": {"bytes": 5}}}
    assert (tmp_path / "benchmarks" / "results" / "export-formats.json").exists()


def test_a_partial_run_keeps_the_rows_it_does_not_measure_again(tmp_path, monkeypatch) -> None:
    """`serve.py --only`, `deploy.py --only` and `peers.py --tasks` used to replace every
    model's or task's last rows with the ones they measured: the others are kept."""
    import report

    monkeypatch.setattr(report, "ROOT", tmp_path)
    assert report.kept_rows("serve", "model", lambda name: True) == []
    report.write_json(
        "serve",
        [
            {"model": "sentiment-mr-lstm", "requests_per_s": 900},
            {"model": "ner-conll2003-lstm", "requests_per_s": 500},
            {"model": "sentiment-mr-lstm", "requests_per_s": 300},
        ],
    )
    kept = report.kept_rows("serve", "model", lambda name: name.startswith("ner"))
    assert kept == [
        {"model": "sentiment-mr-lstm", "requests_per_s": 900},
        {"model": "sentiment-mr-lstm", "requests_per_s": 300},
    ]
    assert report.kept_rows("serve", "model", lambda name: True) == []
