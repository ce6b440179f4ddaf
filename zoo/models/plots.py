"""Pictures of what a model does: where a captioner looked for each word, and which
classes a classifier confuses."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display is needed or wanted
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

#: panels per row of an attention plot
PANELS_PER_ROW = 5


def plot_attention(attention: dict[str, Any], path: str | Path) -> Path:
    """Draw a caption's attention over its image, one panel per word: the word above, the
    image beneath a heat map of the word's weights, stretched from the grid to the image.

    Args:
        attention: what `predict(..., return_attention=True)` returns under `"attention"`:
            `tokens` (n words), `weights` float (n, grid height, grid width) and `image`
            uint8 (height, width, 3).
        path: the PNG file to write (its folder must exist).

    Returns:
        The path written.
    """
    tokens, weights, image = attention["tokens"], attention["weights"], attention["image"]
    panels = max(len(tokens), 1)  # an empty caption still shows its image
    columns = min(panels, PANELS_PER_ROW)
    rows = math.ceil(panels / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.4 * rows), squeeze=False)
    height, width = image.shape[:2]
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= panels:
            continue
        ax.imshow(image)
        if index < len(tokens):
            ax.imshow(
                weights[index],
                cmap="inferno",
                alpha=0.6,
                interpolation="bilinear",
                extent=(-0.5, width - 0.5, height - 0.5, -0.5),
            )
            ax.set_title(tokens[index], fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return Path(path)


def plot_confusion_matrix(confusion: dict[str, Any], path: str | Path, title: str = "") -> Path:
    """Draw a classifier's confusion matrix normalised by true class: row i holds the share
    of class i's examples predicted as each class, so the diagonal is each class's recall
    whatever its size; each cell also prints its count.

    Args:
        confusion: `{"labels": n names, "counts": n x n ints}`, row = gold class, column =
            predicted class (`zoo.training.classification.single_label_scores`).
        path: the PNG file to write (its folder must exist).
        title: a title above the matrix (e.g. the model and split).

    Returns:
        The path written.
    """
    labels = confusion["labels"]
    counts = np.asarray(confusion["counts"], dtype=np.float64)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = min(max(5.0, 0.45 * len(labels) + 2.5), 24.0)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    ticks = range(len(labels))
    ax.set_xticks(ticks, labels, rotation=90 if len(labels) > 6 else 0)
    ax.set_yticks(ticks, labels)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    if len(labels) <= 20:  # beyond that the numbers would not fit their cells
        for i in ticks:
            for j in ticks:
                ax.text(
                    j,
                    i,
                    f"{counts[i, j]:.0f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if shares[i, j] > 0.5 else "black",
                )
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
