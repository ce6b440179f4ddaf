"""Scores and decisions of a classifier over a label set: single-label (binary or
multi-class) and multi-label. scikit-learn computes the scores; this module says which
ones the zoo reports and how it chooses multi-label decision thresholds and class weights.

Conventions, the same for every caller:
- single-label gold labels are int ids in [0, n), or -1 for a label the model does not
  know: such an example counts wrong in `accuracy`, and against the predicted class's
  precision.
- multi-label gold labels and decisions are 0/1 indicator arrays of shape (examples, n).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics as skm
from sklearn.utils.class_weight import compute_class_weight

from zoo.constants import CLASS_WEIGHTS
from zoo.errors import BadInputError

#: decision thresholds tried per class when a multi-label model is calibrated
THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)


def _per_class(
    labels: list[str], precision: np.ndarray, recall: np.ndarray, f1: np.ndarray, support: Any
) -> dict[str, dict[str, float]]:
    return {
        name: {
            "precision": float(p),
            "recall": float(r),
            "f1": float(f),
            "support": float(s),
        }
        for name, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
    }


def single_label_scores(
    gold: np.ndarray, predicted: np.ndarray, labels: list[str], *, details: bool = True
) -> dict[str, Any]:
    """Accuracy, macro-F1 and (with `details`) per-class precision, recall, F1 and support,
    and the confusion matrix.

    Macro-F1 is the unweighted mean of the per-class F1 scores (scikit-learn's
    `f1_score(average="macro")`); a class never predicted and never gold scores 0.

    Args:
        gold: int (examples,), label ids in [0, n), -1 for a label the model does not know.
        predicted: int (examples,), predicted label ids in [0, n).
        labels: the n class names, in id order.
        details: add `per_class` and `confusion_matrix`.

    Returns:
        `accuracy` and `macro_f1` (floats in [0, 1]); with `details`, `per_class` (name ->
        `{"precision", "recall", "f1", "support"}`, support as a float count of gold
        examples) and `confusion_matrix` (`{"labels": names, "counts": rows of ints}`, row =
        gold class, column = predicted class; unknown gold labels are not in it).
    """
    ids = list(range(len(labels)))
    gold, predicted = np.asarray(gold, dtype=np.int64), np.asarray(predicted, dtype=np.int64)
    scores: dict[str, Any] = {
        "accuracy": float(np.mean(gold == predicted)) if len(gold) else 0.0,
        "macro_f1": float(
            skm.f1_score(gold, predicted, labels=ids, average="macro", zero_division=0)
        ),
    }
    if details:
        scores["per_class"] = _per_class(
            labels,
            *skm.precision_recall_fscore_support(
                gold, predicted, labels=ids, average=None, zero_division=0
            ),
        )
        scores["confusion_matrix"] = {
            "labels": list(labels),
            "counts": skm.confusion_matrix(gold, predicted, labels=ids).tolist(),
        }
    return scores


def multi_label_scores(
    gold: np.ndarray, predicted: np.ndarray, labels: list[str], *, details: bool = True
) -> dict[str, Any]:
    """Subset accuracy, micro- and macro-F1 and (with `details`) per-class scores of
    multi-label decisions.

    Args:
        gold: 0/1 int (examples, n), the gold label sets.
        predicted: 0/1 int (examples, n), the decided label sets.
        labels: the n class names, in column order.
        details: add `per_class`.

    Returns:
        `accuracy` (subset accuracy: the share of examples whose whole label set is right,
        scikit-learn's `accuracy_score` on indicator arrays), `micro_f1`, `macro_f1`;
        with `details`, `per_class` as `single_label_scores` gives it.
    """
    gold, predicted = np.asarray(gold, dtype=np.int64), np.asarray(predicted, dtype=np.int64)
    scores: dict[str, Any] = {
        "accuracy": float(skm.accuracy_score(gold, predicted)) if len(gold) else 0.0,
        "micro_f1": float(skm.f1_score(gold, predicted, average="micro", zero_division=0)),
        "macro_f1": float(skm.f1_score(gold, predicted, average="macro", zero_division=0)),
    }
    if details:
        scores["per_class"] = _per_class(
            labels,
            *skm.precision_recall_fscore_support(gold, predicted, average=None, zero_division=0),
        )
    return scores


def choose_thresholds(gold: np.ndarray, probabilities: np.ndarray) -> list[float]:
    """Per-class decision thresholds of a multi-label model, each chosen to maximise that
    class's F1 on held-out data (the usual per-class tuning, e.g. Fan & Lin 2007, "A study
    on threshold selection for multi-label classification").

    Args:
        gold: 0/1 (examples, n), the gold label sets of the validation split.
        probabilities: float (examples, n), the model's sigmoid outputs for them.

    Returns:
        n thresholds from `THRESHOLD_GRID`; the best F1's, the one nearest 0.5 among ties,
        and 0.5 for a class with no gold example (nothing to choose on).
    """
    gold = np.asarray(gold, dtype=bool)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    by_closeness = sorted(THRESHOLD_GRID, key=lambda t: (abs(t - 0.5), t))
    thresholds = []
    for column in range(gold.shape[1]):
        truth = gold[:, column]
        if not truth.any():
            thresholds.append(0.5)
            continue
        f1 = {
            t: skm.f1_score(truth, probabilities[:, column] >= t, zero_division=0)
            for t in by_closeness
        }
        thresholds.append(float(max(by_closeness, key=lambda t: f1[t])))
    return thresholds


def class_weights(label_ids: np.ndarray, labels: list[str], kind: str) -> list[float]:
    """Per-class loss weights of single-label training data.

    Args:
        label_ids: int (examples,), the training labels' ids in [0, n).
        labels: the n class names.
        kind: `none` (every weight 1) or `balanced`: n_examples / (n * count of the class),
            scikit-learn's `compute_class_weight("balanced")` (King & Zeng 2001).

    Returns:
        n float weights, in id order.

    Raises:
        BadInputError: `kind` is not one of `CLASS_WEIGHTS`, or a class has no training
            example (no weight can balance it).
    """
    if kind not in CLASS_WEIGHTS:
        raise BadInputError(
            f"class_weight must be one of {', '.join(CLASS_WEIGHTS)}; got {kind!r}."
        )
    if kind == "none":
        return [1.0] * len(labels)
    counts = np.bincount(np.asarray(label_ids, dtype=np.int64), minlength=len(labels))
    absent = [name for name, count in zip(labels, counts, strict=True) if not count]
    if absent:
        raise BadInputError(
            f"class_weight=balanced: no training example of {', '.join(absent)}; add examples "
            "of every class or drop it from the data."
        )
    return compute_class_weight("balanced", classes=np.arange(len(labels)), y=label_ids).tolist()
