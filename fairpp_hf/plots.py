"""Figures for reports and model cards, drawn with matplotlib's Agg backend (no display needed,
no global pyplot state touched)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def similarity_heatmap(
    matrix: Sequence[Sequence[float]] | np.ndarray,
    labels: Sequence[str],
    path: str | Path,
    *,
    title: str | None = None,
    annotate: bool = True,
    vmin: float | None = None,
    vmax: float = 1.0,
) -> Path:
    """Save a square similarity matrix (e.g. personas 1..7 + model) as an annotated PNG heatmap.

    ``labels`` name the rows/columns in order. Returns the written path. The colour scale runs from
    ``vmin`` (default: the matrix minimum) to ``vmax`` so that small differences near 1 stay visible.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    data = np.asarray(matrix, dtype=np.float64)
    if data.ndim != 2 or data.shape[0] != data.shape[1]:
        raise ValueError(f"matrix must be square; got shape {data.shape}")
    if len(labels) != data.shape[0]:
        raise ValueError(f"labels has {len(labels)} name(s) for a {data.shape[0]} x {data.shape[0]} matrix")
    if not np.isfinite(data).all():
        r, c = (int(i) for i in np.argwhere(~np.isfinite(data))[0])
        raise ValueError(f"matrix[{r}][{c}] = {data[r, c]} is not finite")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    size = 1.6 + 0.75 * len(labels)
    fig = Figure(figsize=(size + 1.2, size))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    low = float(data.min()) if vmin is None else vmin
    image = ax.imshow(data, cmap="viridis", vmin=min(low, vmax - 1e-9), vmax=vmax)
    ax.set_xticks(range(len(labels)), labels=list(labels), rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels=list(labels))
    if annotate:
        middle = (min(low, vmax) + vmax) / 2
        for r in range(data.shape[0]):
            for c in range(data.shape[1]):
                colour = "black" if data[r, c] > middle else "white"
                ax.text(c, r, f"{data[r, c]:.3f}", ha="center", va="center", fontsize=7, color=colour)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="similarity (1 - JS distance)")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path
