"""Autoregressive decoding shared by the decoder tasks (captioning, translation), the zoo's
and the runtime's (pure numpy).

A task supplies a `step` function: the previous token of every hypothesis, the decoder's
state tensors and the row of them each hypothesis continues from in; next-token
log-probabilities plus the hypotheses' new states out. States include whatever the decoder
attends to (encoder outputs, masks): they follow the beams, which is harmless for tensors
that do not change. The step takes the rows itself, so that taking them and running the
decoder are one compiled call (`zoo.models.seq2seq`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

#: a translation may run to `max_tokens` plus this many tokens per source token beyond it...
OUTPUT_RATIO = 2
#: ... and at most this many times `max_tokens` (plus [end])
MAX_OUTPUT_FACTOR = 4


Step = Callable[[np.ndarray, list[Any], np.ndarray], tuple[Any, list[Any]]]


def top_k(candidates: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the `k` largest values of each row, best first, ties to the lower
    index: what a stable descending `argsort` cut to `k` gives, without sorting every
    column (beam search ranks beams x vocabulary candidates at every step).

    Args:
        candidates: float array (rows, columns), columns >= `k`.
        k: how many to keep per row.

    Returns:
        int array (rows, k).
    """
    part = np.argpartition(-candidates, k - 1, axis=1)[:, :k]  # unordered; ties cut anyhow
    values = np.take_along_axis(candidates, part, axis=1)
    kth = values.min(axis=1, keepdims=True)
    # a row whose k-th value recurs beyond the kept ones must choose by index: sort it whole
    tied = (candidates == kth).sum(axis=1) != (values == kth).sum(axis=1)
    order = np.lexsort((part, -values), axis=1)
    best = np.take_along_axis(part, order, axis=1)
    if tied.any():
        best[tied] = np.argsort(-candidates[tied], axis=1, kind="stable")[:, :k]
    return best


def beam_search(
    step: Step,
    states: Sequence[Any],
    *,
    start_id: int,
    end_id: int,
    max_length: int | Sequence[int],
    beam_width: int = 4,
    length_penalty: float = 0.6,
) -> list[list[int]]:
    """Best token sequence (without start/end tokens) for each row of `states`.

    `beam_width=1` is greedy decoding. Finished hypotheses keep their score; the final
    choice divides by the GNMT length penalty ((5 + length) / 6) ** alpha so that beam
    search does not simply prefer short outputs (Wu et al. 2016, "Google's Neural Machine
    Translation System", https://arxiv.org/abs/1609.08144).

    Args:
        step: `(tokens, states, rows) -> (log_probs, new_states)`: tokens and rows int32
            numpy arrays (batch * k,), hypothesis i extending token `tokens[i]` from row
            `rows[i]` of every state; log-probabilities (batch * k, vocabulary) and new
            states with one row per hypothesis (tensors of the backend).
        states: the decoder's initial states (tensors of the backend), leading axis batch
            (its size known); the first step reads each input's row for all its k
            hypotheses.
        start_id: the token fed at the first step.
        end_id: the token that finishes a hypothesis.
        max_length: most steps, [end] included: one bound for every row, or one per row. A
            row's hypotheses stop at its bound, so its output can be cut there (then it holds
            `max_length` tokens and no `end_id`); decoding stops early once every hypothesis
            has finished.
        beam_width: k, the hypotheses kept per input.
        length_penalty: alpha; 0 compares summed log-probabilities as they are.

    Returns:
        One list of int token ids per row of `states`, cut before the first `end_id`.
    """
    batch = int(states[0].shape[0])
    limits = np.broadcast_to(np.asarray(max_length, dtype=np.int64), (batch,))
    k = beam_width
    states = list(states)
    tokens = np.full(batch * k, start_id, dtype=np.int32)
    gather = np.repeat(np.arange(batch, dtype=np.int32), k)  # each input's row, k times
    scores = np.full((batch, k), -np.inf)
    scores[:, 0] = 0.0  # all beams start identical: keep one so the first step fans out
    sequences = np.zeros((batch, k, 0), dtype=np.int32)
    lengths = np.zeros((batch, k), dtype=np.int32)
    finished = np.zeros((batch, k), dtype=bool)
    rows = np.arange(batch)[:, None]
    for t in range(int(limits.max(initial=0))):
        log_probs, states = step(tokens, states, gather)
        log_probs = np.asarray(log_probs, dtype=np.float64).reshape(batch, k, -1)
        vocab = log_probs.shape[-1]
        log_probs[finished] = -np.inf
        log_probs[finished, end_id] = 0.0  # a finished hypothesis only "extends" by end, for free
        candidates = (scores[:, :, None] + log_probs).reshape(batch, k * vocab)
        top = top_k(candidates, k)
        beam, token = top // vocab, (top % vocab).astype(np.int32)
        scores = np.take_along_axis(candidates, top, axis=1)
        sequences = np.concatenate([sequences[rows, beam], token[:, :, None]], axis=2)
        was_finished = finished[rows, beam]
        lengths = lengths[rows, beam] + ~was_finished
        finished = was_finished | (token == end_id)
        finished[limits <= t + 1] = True  # rows at their bound stop, their outputs cut there
        # each hypothesis continues from the state of the one it extends (greedy: its own)
        gather = (rows * k + beam).reshape(-1).astype(np.int32)
        tokens = token.reshape(-1)
        if finished.all():
            break
    normalised = scores / (((5.0 + lengths) / 6.0) ** length_penalty)
    best = np.argmax(normalised, axis=1)
    results = []
    for b in range(batch):
        seq = sequences[b, best[b]].tolist()
        results.append(seq[: seq.index(end_id)] if end_id in seq else seq)
    return results


def translation_bounds(source_lengths: np.ndarray, max_tokens: int) -> np.ndarray:
    """Most tokens a translation may take, [end] included, per source.

    Args:
        source_lengths: int (batch,), tokens read per source.
        max_tokens: the preprocessing's `max_tokens`.

    Returns:
        int (batch,): `max_tokens` plus `OUTPUT_RATIO` per source token beyond it, at most
        `MAX_OUTPUT_FACTOR * max_tokens`, plus 1.
    """
    beyond = np.maximum(np.asarray(source_lengths) - max_tokens, 0)
    return np.minimum(max_tokens + OUTPUT_RATIO * beyond, MAX_OUTPUT_FACTOR * max_tokens) + 1
