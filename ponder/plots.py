"""What every PNG that ponder writes shares: a headless matplotlib and one way to finish a figure."""

from __future__ import annotations

from pathlib import Path


def pyplot():
    """matplotlib.pyplot on the Agg backend, imported only when a plot is drawn (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, ax, path: Path, legend_size: float | None = 8) -> Path:
    """Grid, legend, tight layout, 120 dpi PNG; the figure is closed so long runs do not pile them up."""
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend_size)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    pyplot().close(fig)
    return path
