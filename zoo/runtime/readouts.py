"""Model outputs -> `predict`'s results, for the zoo and the runtime alike: classification
heads (binary, multi-class, multi-label) with their decisions and rounding, image labels,
Viterbi over a CRF's scores, and the entities of a tag sequence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: the three heads of a text classifier (`zoo.tasks.many_to_one`'s table)
BINARY, MULTI_CLASS, MULTI_LABEL = "binary", "multi-class", "multi-label"
#: decimals of every probability `predict` reports
DECIMALS = 4


def head_of(labels: Sequence[str], multi_label: bool) -> str:
    """Which head a label set takes.

    Args:
        labels: the class names.
        multi_label: a text may have any number of labels.

    Returns:
        `MULTI_LABEL`, else `BINARY` for two labels, `MULTI_CLASS` for more.
    """
    if multi_label:
        return MULTI_LABEL
    return BINARY if len(labels) == 2 else MULTI_CLASS


def decision_thresholds(thresholds: Sequence[float], labels: Sequence[str]) -> np.ndarray:
    """Per label, the probability from which a multi-label model predicts it.

    Args:
        thresholds: the calibrated thresholds, or empty while none are chosen.
        labels: the class names.

    Returns:
        float64 (labels,): `thresholds`, or 0.5 each.
    """
    return np.asarray(thresholds or [0.5] * len(labels), dtype=np.float64)


def decide(probabilities: np.ndarray, head: str, thresholds: np.ndarray) -> np.ndarray:
    """A classifier's outputs -> its decisions.

    Args:
        probabilities: float (examples, 1) for a binary head, (examples, labels) otherwise.
        head: `BINARY`, `MULTI_CLASS` or `MULTI_LABEL`.
        thresholds: float (labels,), for `MULTI_LABEL` (`decision_thresholds`).

    Returns:
        int label ids (examples,) for single-label heads (binary: P(labels[1]) >= 0.5), 0/1
        int (examples, labels) for multi-label ones.
    """
    if head == BINARY:
        return (probabilities[:, 0] >= 0.5).astype(np.int64)
    if head == MULTI_CLASS:
        return probabilities.argmax(axis=1)
    return (probabilities >= thresholds).astype(np.int64)


def top(probabilities: dict[str, float], k: int | None) -> dict[str, float]:
    """The `k` (default: all) most probable labels, most probable first, rounded.

    Args:
        probabilities: label -> probability.
        k: how many to keep; None keeps all.

    Returns:
        Label -> probability rounded to `DECIMALS`.
    """
    ranked = sorted(probabilities.items(), key=lambda item: -item[1])[:k]
    return {name: round(float(p), DECIMALS) for name, p in ranked}


def classification(
    probabilities: Any,
    labels: Sequence[str],
    *,
    multi_label: bool = False,
    thresholds: Sequence[float] = (),
    top_k: int | None = None,
) -> list[dict[str, Any]]:
    """A text classifier's outputs -> `predict`'s results (`zoo.tasks.many_to_one`).

    Args:
        probabilities: float (examples, 1) for a binary head, (examples, labels) otherwise.
        labels: the class names in the head's order.
        multi_label: the head is multi-label.
        thresholds: multi-label decision thresholds (empty: 0.5 each).
        top_k: keep this many labels under `"probabilities"` (binary heads add them only
            when it is given); None keeps all.

    Returns:
        Per example: binary `{"label", "probability"}`; multi-class `{"label",
        "probability", "probabilities"}`; multi-label `{"labels", "probabilities"}`.
    """
    head = head_of(labels, multi_label)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if head == BINARY:
        negative, positive = labels
        return [
            {
                "label": positive if p >= 0.5 else negative,
                "probability": round(float(p if p >= 0.5 else 1 - p), DECIMALS),
                **({"probabilities": top({negative: 1 - p, positive: p}, top_k)} if top_k else {}),
            }
            for p in probabilities[:, 0]
        ]
    results: list[dict[str, Any]] = []
    decided = decide(probabilities, head, decision_thresholds(thresholds, labels))
    for row, decision in zip(probabilities, decided, strict=True):
        every = dict(zip(labels, row.tolist(), strict=True))
        if head == MULTI_LABEL:
            chosen = [name for name, d in zip(labels, decision, strict=True) if d]
            results.append({"labels": sorted(chosen, key=lambda n: -every[n])})
        else:
            name = labels[decision]
            results.append({"label": name, "probability": round(every[name], DECIMALS)})
        results[-1]["probabilities"] = top(every, top_k)
    return results


def image_labels(probabilities: Any, labels: Sequence[str]) -> list[dict[str, Any]]:
    """An image classifier's outputs -> `{"label", "probability"}` per image.

    Args:
        probabilities: float (images, classes).
        labels: the class names.

    Returns:
        The top class and its probability, rounded to `DECIMALS`, per image.
    """
    return [
        {"label": labels[int(p.argmax())], "probability": round(float(p.max()), DECIMALS)}
        for p in np.asarray(probabilities)
    ]


def viterbi(
    emissions: np.ndarray,
    transitions: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
) -> list[int]:
    """The most likely tag sequence of one sentence under a linear-chain CRF, in the
    float32 steps of `zoo.models.custom_layers.LinearChainCRF.decode` (ties to the lower tag).

    Args:
        emissions: float (tokens, tags), the sentence's real tokens only.
        transitions: float (tags, tags), from -> to.
        start: float (tags,), scores of starting on each tag.
        end: float (tags,), scores of ending on each tag.

    Returns:
        One tag id per token.
    """
    emissions = np.asarray(emissions, dtype=np.float32)
    transitions = np.asarray(transitions, dtype=np.float32)
    delta = np.asarray(start, dtype=np.float32) + emissions[0]
    pointers = []
    for scores in emissions[1:]:
        paths = delta[:, None] + transitions
        pointers.append(paths.argmax(axis=0))
        delta = paths.max(axis=0) + scores
    tags = [int((delta + np.asarray(end, dtype=np.float32)).argmax())]
    for pointer in reversed(pointers):
        tags.append(int(pointer[tags[-1]]))
    return tags[::-1]


def entities(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """The entities of a tag sequence, as seqeval's `get_entities` reads IOB1, IOB2 and
    BIOES tags (an `I-` after another type, or after `O`, opens an entity).

    Args:
        tags: one tag per token, e.g. `["B-PER", "I-PER", "O"]`.

    Returns:
        `(type, first token, last token)` per entity, in order.
    """
    chunks: list[tuple[str, int, int]] = []
    previous, previous_type, begin = "O", "", 0
    for i, chunk in enumerate([*tags, "O"]):
        tag, kind = chunk[0], chunk[1:].split("-", maxsplit=1)[-1] or "_"
        ends = (
            previous in "ES"
            or (previous in "BI" and tag in "BSO")
            or (previous not in "O." and previous_type != kind)
        )
        if ends:
            chunks.append((previous_type, begin, i - 1))
        starts = (
            tag in "BS"
            or (previous in "ESO" and tag in "EI")
            or (tag not in "O." and previous_type != kind)
        )
        if starts:
            begin = i
        previous, previous_type = tag, kind
    return chunks


def tagged(tokens: Sequence[str], tags: Sequence[str]) -> dict[str, Any]:
    """A tagger's result for one sentence.

    Args:
        tokens: the sentence's tokens.
        tags: one tag name per token.

    Returns:
        `{"tags": [(token, tag), ...], "entities": [{"type", "text"}, ...]}`.
    """
    return {
        "tags": list(zip(tokens, tags, strict=True)),
        "entities": [
            {"type": kind, "text": " ".join(tokens[a : b + 1])}
            for kind, a, b in entities(list(tags))
        ],
    }
