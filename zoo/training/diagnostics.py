"""Gradient flow through time: how much of the loss's gradient reaches each earlier step.

The seed's claim, made measurable: the same recurrent weights multiply the gradient at
every unfolded step, so in a SimpleRNN the gradient reaching step t shrinks (or grows)
geometrically with its distance from the output, while an LSTM's additive cell state
lets it through. We measure ||dL/dx_t||, the gradient of the model's own loss with
respect to the input of its first recurrent layer at step t, on real batches. Since
dL/dx_t = dL/dh_t . dh_t/dx_t, it decays as dL/dh_t does, and it exists for every
architecture (even where the hidden states are never returned). Steps are aligned by
their distance from each sequence's last real (unmasked) step.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo import backend
from zoo.errors import ZooError

#: a step distance enters the profile only when at least this share of the sequences reach it
MIN_SHARE = 0.25
_FLOOR = np.finfo(np.float64).tiny  # an underflowed gradient, kept finite on a log scale
#: norms growing by more than this factor per step (backwards in time) count as exploding
EXPLODING_RATE = 1.01


@dataclass
class GradientProfile:
    """Per-step gradient norms of one model on a few batches, and what they imply."""

    label: str
    cell: str
    layer: str
    #: distance from the last real step (0) back towards the first
    distances: np.ndarray
    #: ||dL/dx_{T-d}|| / ||dL/dx_T||: geometric mean over sequences, 10th and 90th percentiles
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    #: global norm of the loss's gradient with respect to all weights, one per batch
    weight_norms: np.ndarray
    sequences: int
    #: a backward pass also feeds the early steps, so their norms say nothing of explosion
    bidirectional: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Geometric change of the norm per step back in time (least squares on log norms):
        below 1 the gradient vanishes, above 1 it explodes.

        Returns:
            exp(slope) of a least-squares line through log(`mean`) against `distances`; NaN
            when fewer than two distances were kept.
        """
        if self.distances.size < 2:
            return float("nan")
        slope = np.polyfit(self.distances, np.log(self.mean), 1)[0]
        return float(math.exp(slope))

    @property
    def exploding(self) -> bool:
        """Whether the gradients explode.

        Returns:
            True when the norm grows by more than `EXPLODING_RATE` per step back (not judged
            for a bidirectional layer), when one batch's weight-gradient norm exceeds 10 times
            the median, or when any weight-gradient norm is NaN or infinite.
        """
        weights = self.weight_norms[np.isfinite(self.weight_norms)]
        spiky = weights.size > 1 and weights.max() > 10 * np.median(weights)
        growing = self.rate > EXPLODING_RATE and not self.bidirectional
        return growing or spiky or not np.isfinite(self.weight_norms).all()

    @property
    def recommended_clipnorm(self) -> float:
        """The median weight-gradient norm, to two significant digits: clipping there leaves
        typical updates alone and caps the rare explosive ones (Pascanu et al. 2013 advise a
        threshold from the average norm over many updates; "On the difficulty of training
        recurrent neural networks", https://arxiv.org/abs/1211.5063).

        Returns:
            The median of the finite weight-gradient norms, rounded to two significant digits;
            1.0 when that median is 0.

        Raises:
            ZooError: every measured norm is NaN or infinite.
        """
        finite = self.weight_norms[np.isfinite(self.weight_norms)]
        if finite.size == 0:
            raise ZooError(
                f"{self.label}: every measured gradient is NaN or Inf; lower the learning rate and retrain."
            )
        median = float(np.median(finite))
        return float(f"{median:.2g}") if median > 0 else 1.0

    def summary(self) -> str:
        """The profile in a few lines for the terminal: the rate and what it means, the share of
        the gradient reaching the earliest kept step, the weight-gradient norms, the clipnorm
        to use, and the notes.

        Returns:
            Multi-line text.

        Raises:
            ZooError: every weight-gradient norm is NaN or infinite (`recommended_clipnorm`).
        """
        rate = self.rate
        if not math.isfinite(rate):
            trend = "too few steps to fit a rate"
        elif rate < 1:
            trend = f"x{rate:.3f} per step back in time (vanishing: halves every {math.log(0.5) / math.log(rate):.1f} steps)"
        elif self.bidirectional:
            trend = f"x{rate:.3f} per step back in time (the backward pass feeds the early steps)"
        else:
            trend = f"x{rate:.3f} per step back in time ({'exploding' if rate > EXPLODING_RATE else 'steady'})"
        span = int(self.distances[-1])
        lines = [
            f"{self.label} ({self.cell}, layer {self.layer}, {self.sequences} sequences)",
            f"  ||dL/dx_t||: {trend}",
            f"  step T-{span} gets {self.mean[-1]:.3g} of the gradient at the last step (geometric mean over sequences)",
            f"  weight-gradient norm: median {np.median(self.weight_norms):.3g}, "
            f"max {np.max(self.weight_norms):.3g} over {self.weight_norms.size} batches",
            f"  {'EXPLODING gradients: ' if self.exploding else ''}recommended clipnorm: {self.recommended_clipnorm:g}",
        ]
        return "\n".join(lines + [f"  note: {note}" for note in self.notes])

    def as_json(self) -> dict[str, Any]:
        """The profile as JSON data (`zoo diagnose gradients --json`).

        Returns:
            The fields (arrays as lists) plus `rate_per_step`, `exploding`,
            `recommended_clipnorm` and `first_over_last` (the share of the last step's gradient
            that reaches the earliest kept step).

        Raises:
            ZooError: every weight-gradient norm is NaN or infinite (`recommended_clipnorm`).
        """
        return {
            "label": self.label,
            "cell": self.cell,
            "layer": self.layer,
            "sequences": self.sequences,
            "notes": self.notes,
            "bidirectional": self.bidirectional,
            "rate_per_step": self.rate,
            "exploding": self.exploding,
            "recommended_clipnorm": self.recommended_clipnorm,
            "first_over_last": float(self.mean[-1]),
            "distances": self.distances.tolist(),
            "mean": self.mean.tolist(),
            "low": self.low.tolist(),
            "high": self.high.tolist(),
            "weight_norms": self.weight_norms.tolist(),
        }

    @classmethod
    def from_json(cls, saved: dict[str, Any]) -> GradientProfile:
        """A profile from the data `as_json` wrote.

        Args:
            saved: a dict as `as_json` writes it; derived entries are ignored, and a missing
                `bidirectional` reads as False.

        Returns:
            The profile.
        """
        arrays = {
            key: np.asarray(saved[key])
            for key in ("distances", "mean", "low", "high", "weight_norms")
        }
        return cls(
            label=saved["label"],
            cell=saved["cell"],
            layer=saved["layer"],
            sequences=saved["sequences"],
            bidirectional=saved.get("bidirectional", False),
            notes=saved["notes"],
            **arrays,
        )


def first_recurrent_layer(model: keras.Model) -> keras.layers.Layer:
    """The first recurrent layer (or its `Bidirectional` wrapper) in the model's layer order,
    looking inside nested sub-models (an encoder) but not inside custom layers (a character
    encoder reads characters, not the sequence).

    Args:
        model: a Keras model.

    Returns:
        A `keras.layers.RNN` or a `keras.layers.Bidirectional`.

    Raises:
        ZooError: the model has no recurrent layer.
    """
    for layer in model.layers:
        if isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional)):
            return layer
        if isinstance(layer, keras.Model):
            try:
                return first_recurrent_layer(layer)
            except ZooError:
                continue
    raise ZooError(f"model {model.name!r} has no recurrent layer to diagnose.")


def _cell(layer: keras.layers.Layer) -> str:
    from zoo.constants import CELLS
    from zoo.models.custom_layers import recurrent_class

    inner = layer.forward_layer if isinstance(layer, keras.layers.Bidirectional) else layer
    return next(
        (cell for cell in CELLS if type(inner) is recurrent_class(cell)), type(inner).__name__
    )


@dataclass
class _Watch:
    """The tape of the batch in progress, and the tensor and mask the probe saw in it."""

    tape: tf.GradientTape | None = None
    inputs: tf.Tensor | None = None
    mask: tf.Tensor | None = None


class _Probe(keras.layers.Layer):
    """Identity placed just before the diagnosed recurrent layer: it shows the tape the
    exact tensor (and mask) that layer reads.

    Call arguments:
        inputs: the sequence the recurrent layer reads, (batch, time, features), in its
            own dtype (no autocast).
        mask: its mask, (batch, time), or None.

    Returns:
        `inputs`, with the same mask; the tape in `watch` watches it.
    """

    def __init__(self, watch: _Watch, **kwargs: Any):
        super().__init__(autocast=False, **kwargs)  # the tensor passes on in its own dtype
        self.supports_masking = True  # and with its mask
        self.watch = watch

    def call(self, inputs: tf.Tensor, mask: tf.Tensor | None = None) -> tf.Tensor:
        self.watch.tape.watch(inputs)
        self.watch.inputs, self.watch.mask = inputs, mask
        return inputs

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape  # also keeps `call` out of the symbolic pass that builds the model


def _watched(
    model: keras.Model, layer: keras.layers.Layer, label: str
) -> tuple[keras.Model, _Watch]:
    """A copy of `model` that shares its layers and weights, with a `_Probe` before `layer`
    (also inside nested sub-models), and the probe's `_Watch`."""
    watch = _Watch()
    probe = _Probe(watch, name="gradient_probe")

    def call_with_probe(op: keras.layers.Layer, *args: Any, **kwargs: Any) -> Any:
        """Call one layer of the copy, with the probe in front of the diagnosed one.

        Args:
            op: the layer being called.
            *args: its positional arguments; the first is the input the probe sees.
            **kwargs: its keyword arguments (`mask`, `initial_state`, ...).

        Returns:
            The layer's outputs.
        """
        if op is layer:
            # the probe gets the mask passed to the layer, else the sequence's own: Keras hands
            # none to a layer that also reads an initial state (a decoder), yet its padded steps
            # must not count as the last real ones
            args = (probe(args[0], mask=kwargs.get("mask")), *args[1:])
        return op(*args, **kwargs)

    try:
        copy = keras.models.clone_model(
            model,
            clone_function=lambda same: same,
            call_function=call_with_probe,
            recursive=True,  # same layers, same weights
        )
    except ValueError as err:  # a Sequential or subclassed model: its layer calls cannot be rewired
        raise ZooError(
            f"{label}: gradients through time are measured on functional models "
            f"(keras.Model(inputs, outputs)); this one cannot be rewired: {err}"
        ) from err
    return copy, watch


def _batch_gradients(
    model: keras.Model, watched: keras.Model, watch: _Watch, batch: tuple
) -> tuple[np.ndarray, np.ndarray, float]:
    """One batch: per-step input-gradient norms (B, T), the valid-step mask (B, T) and the
    global weight-gradient norm. `watched` is `model` with the probe, so the tape watches
    exactly the tensor the recurrent layer reads; `model` holds the compiled loss."""
    x, y, *weights = batch
    with tf.GradientTape() as tape:
        watch.tape = tape
        y_pred = watched(x, training=False)
        loss = model.compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=weights[0] if weights else None
        )
    gradients = tape.gradient(loss, [watch.inputs, *model.trainable_variables])
    per_step = np.linalg.norm(np.asarray(gradients[0], dtype=np.float64), axis=-1)
    mask = np.ones(per_step.shape, bool) if watch.mask is None else np.asarray(watch.mask, bool)
    weight_norm = float(tf.linalg.global_norm([g for g in gradients[1:] if g is not None]))
    return per_step, mask, weight_norm


def gradient_profile(
    model: keras.Model, batches: Any, *, label: str, max_batches: int = 8
) -> GradientProfile:
    """Measure `model` (compiled: its loss is what is differentiated) on up to `max_batches`
    batches of `(inputs, targets[, weights])`, as `Task.batches` yields them.

    The model runs in inference mode (dropout off). For every sequence, the per-step norms
    ||dL/dx_t|| are divided by the norm at its last unmasked step and aligned by distance
    from it; sequences whose last step gets no gradient are skipped.

    Args:
        model: a compiled functional model.
        batches: a `tf.data.Dataset` or a list of batches.
        label: names the model in the profile and in error messages.
        max_batches: most batches measured.

    Returns:
        The profile: by distance d, the geometric mean and the 10th and 90th percentiles of
        ||dL/dx_{T-d}|| / ||dL/dx_T|| over sequences, kept for distances that at least
        `MIN_SHARE` of the sequences reach; one global weight-gradient norm per batch.

    Raises:
        ZooError: Keras runs a backend other than TensorFlow (the gradients are taken with
            `tf.GradientTape`), or the model is not compiled, has no recurrent layer, cannot be rewired (it
            is not functional), or no gradient reached the recurrent layer.
    """
    backend.require_tensorflow("zoo diagnose gradients")
    if not getattr(model, "compiled", False):
        raise ZooError(
            f"{label}: the model must be compiled, since its loss is what the gradients are of."
        )
    layer = first_recurrent_layer(model)
    watched, watch = _watched(model, layer, label)
    by_distance: list[list[float]] = []
    weight_norms, sequences = [], 0
    for batch in (
        batches.take(max_batches) if isinstance(batches, tf.data.Dataset) else batches[:max_batches]
    ):
        per_step, mask, weight_norm = _batch_gradients(model, watched, watch, tuple(batch))
        weight_norms.append(weight_norm)
        for norms, valid in zip(per_step, mask, strict=True):
            backwards = norms[valid][::-1]
            if not backwards.size or backwards[0] == 0:
                continue  # no gradient reaches this sequence at all
            # relative to the sequence's own last step: sequences of different lengths and
            # losses then average without biasing the decay
            for distance, ratio in enumerate(np.maximum(backwards / backwards[0], _FLOOR)):
                if distance == len(by_distance):
                    by_distance.append([])
                by_distance[distance].append(ratio)
            sequences += 1
    if not sequences:
        raise ZooError(f"{label}: no gradient reached the recurrent layer on the batches given.")
    kept = [np.log(v) for v in by_distance if len(v) >= max(1, MIN_SHARE * sequences)]
    bidirectional = isinstance(layer, keras.layers.Bidirectional)
    notes = (
        [
            "bidirectional layer: its backward pass reads from the end, so early steps get gradient from both sides; "
            "build with bidirectional=false to see the decay of one direction"
        ]
        if bidirectional
        else []
    )
    return GradientProfile(
        label=label,
        cell=_cell(layer),
        layer=layer.name,
        distances=np.arange(len(kept)),
        mean=np.exp([v.mean() for v in kept]),
        low=np.exp([np.percentile(v, 10) for v in kept]),
        high=np.exp([np.percentile(v, 90) for v in kept]),
        weight_norms=np.asarray(weight_norms),
        sequences=sequences,
        bidirectional=bidirectional,
        notes=notes,
    )


def plot(
    profiles: list[GradientProfile],
    path: Path | str,
    *,
    title: str = "Gradient reaching each time step",
) -> Path:
    """One panel per profile, side by side on a shared log scale: the share of the last
    step's gradient that reaches each earlier step, with the 10-90 % band over sequences.

    Args:
        profiles: the profiles, one panel each, left to right.
        path: the PNG file to write; missing parent folders are created.
        title: the figure's title.

    Returns:
        `path`, as a `Path`.
    """
    from zoo.registry.cards import plt  # the Agg backend is set there

    fig, axes = plt.subplots(
        1, len(profiles), figsize=(4.2 * len(profiles), 3.4), sharey=True, squeeze=False
    )
    for ax, profile in zip(axes[0], profiles, strict=True):
        ax.fill_between(profile.distances, profile.low, profile.high, alpha=0.25)
        ax.plot(profile.distances, profile.mean, lw=2)
        ax.set_yscale("log")
        ax.set_title(f"{profile.label}\nx{profile.rate:.3f} per step", fontsize=9)
        ax.set_xlabel("steps back from the last (T - t)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("||dL/dx_t|| / ||dL/dx_T|| (log)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


#: how each cell is spelled in registry names: shipped models say `simple-rnn`, names made by
#: `zoo.save` from the hyperparameters say `simple_rnn`
_CELL_SPELLINGS = {"simple_rnn": ("simple-rnn", "simple_rnn"), "lstm": ("lstm",), "gru": ("gru",)}


def _siblings(ref: str, root: Path | str | None) -> list[str]:
    """The same zoo model with each other cell, those the registry has: the name with its
    cell part swapped (`sentiment-mr-lstm` -> `sentiment-mr-simple-rnn`,
    `sentiment-mr-gru`; the default names `many-to-one-lstm-embedded` ->
    `many-to-one-simple_rnn-embedded`, `many-to-one-gru-embedded`)."""
    from zoo import registry

    name = ref.split("@")[0].split(":")[0]
    found: list[str] = []
    for cell, spellings in _CELL_SPELLINGS.items():
        others = [s for c, group in _CELL_SPELLINGS.items() if c != cell for s in group]
        for mine in spellings:
            pattern = rf"(?<![^-]){re.escape(mine)}(?![^-])"
            if not re.search(pattern, name):
                continue
            for other in others:
                candidate = re.sub(pattern, other, name, count=1)
                if candidate not in found and candidate in registry.list_models(
                    candidate, root=root
                ):
                    found.append(candidate)
            return found
    return found


def _registry_profile(
    ref: str,
    *,
    dataset: str | None,
    split: str,
    batch_size: int,
    batches: int,
    root: Path | str | None,
) -> GradientProfile:
    from zoo import registry
    from zoo.tasks.base import hyperparameters

    loaded = registry.load(ref, root=root)
    # rebuilt from the card, so that the model is compiled with its training loss
    model = loaded.task.build_model(
        hyperparameters(loaded.task.card_hyperparameters(loaded.card.hyperparameters))
    )
    model.set_weights(loaded.model.get_weights())
    try:
        raw = loaded.task.load(dataset or loaded.training_dataset(), split)
    except ZooError as err:
        raise ZooError(
            f"{err}\nTo measure on the task's embedded data instead, add --dataset embedded."
        ) from err
    label = f"{loaded.name}@{loaded.version}"
    return gradient_profile(
        model,
        loaded.task.batches(raw, batch_size, training=False),
        label=label,
        max_batches=batches,
    )


def _fresh_profiles(
    task_name: str,
    *,
    dataset: str | None,
    split: str,
    batch_size: int,
    batches: int,
    hparams: dict[str, Any],
    seed: int,
) -> list[GradientProfile]:
    from zoo.constants import CELLS
    from zoo.tasks.base import get_task, hyperparameters
    from zoo.training.fit import load_and_adapt

    task = get_task(task_name)()
    fitted = hyperparameters(hparams)
    load_and_adapt(task, task.dataset(dataset or "embedded"), fitted)
    raw = task.load(dataset or "embedded", split)
    profiles = []
    for cell in CELLS:
        keras.utils.set_random_seed(seed)
        chosen = hyperparameters({**hparams, "cell": cell})
        chosen.declared |= fitted.declared  # what fitting the preprocessing read counts
        model = task.build_checked(chosen)
        label = f"{task.name} {cell} (initial weights)"
        profiles.append(
            gradient_profile(
                model,
                task.batches(raw, batch_size, training=False),
                label=label,
                max_batches=batches,
            )
        )
    return profiles


def diagnose(
    targets: list[str],
    *,
    dataset: str | None = None,
    split: str = "validation",
    batch_size: int = 32,
    batches: int = 8,
    hparams: dict[str, Any] | None = None,
    seed: int = 0,
    root: Path | str | None = None,
) -> list[GradientProfile]:
    """Profiles for a task (a freshly built SimpleRNN, LSTM and GRU, side by side) or for registry
    models; a single zoo model is shown beside its siblings with the other cells, if shipped.

    Args:
        targets: one task name, or registry references (`NAME`, `NAME@3`, `NAME:alias`).
        dataset: the dataset to measure on; default the task's `embedded` for a task, the
            training data for a registry model.
        split: the split role: `train`, `validation` or `test`.
        batch_size: sequences per batch.
        batches: most batches measured per model.
        hparams: hyperparameters of the freshly built task models; tasks only.
        seed: seed of the fresh models' initial weights.
        root: one registry folder to read alone (default: the local registries, then the hubs).

    Returns:
        For a task, the profiles of its SimpleRNN, LSTM and GRU at their initial (untrained)
        weights; else one profile per model, plus the siblings of a single model (its name
        with the cell part swapped, `_siblings`) that the registry has.

    Raises:
        UnknownNameError: an unknown model, version or alias; for a task, an unknown
            dataset or split.
        IntegrityError: a registry model fails its checks.
        DatasetUnavailableError: for a task, the data cannot be prepared here.
        ZooError: `hparams` given for registry models; for a registry model, data that
            cannot be loaded (the message suggests `--dataset embedded`); any error of
            `gradient_profile`.
    """
    from zoo.tasks.base import all_tasks

    options = dict(dataset=dataset, split=split, batch_size=batch_size, batches=batches)
    if len(targets) == 1 and targets[0].replace("_", "-") in all_tasks():
        return _fresh_profiles(targets[0], hparams=dict(hparams or {}), seed=seed, **options)
    if hparams:
        raise ZooError(
            "--set applies to a freshly built task model; a registry model keeps its own hyperparameters."
        )
    if len(targets) == 1:
        targets = [*targets, *_siblings(targets[0], root)]
    return [_registry_profile(ref, root=root, **options) for ref in targets]
