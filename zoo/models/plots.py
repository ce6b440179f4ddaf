"""Pictures of what a model does with one input: where a captioner looked for each word."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display is needed or wanted
import matplotlib.pyplot as plt  # noqa: E402

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
