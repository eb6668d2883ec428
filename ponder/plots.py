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


def plot_policy_flops(
    searched: dict[str, tuple[list[float], list[float]]],
    sizes: dict[str, tuple[list[float], list[float]]],
    path: Path,
    title: str,
) -> Path:
    """Accuracy (%) against policy FLOPs per problem (2 x parameters x generated tokens), log scale:
    a solid line per search strategy of the searched policy, a dashed one per model size (its greedy,
    then majority vote). Where a size's dashed line lies under a search line at the same FLOPs, the
    smaller model's search beat the larger model (Snell et al. 2024's comparison)."""
    fig, ax = pyplot().subplots(figsize=(7, 4.5))
    for label, (xs, ys) in searched.items():
        ax.plot(xs, ys, marker=".", label=label)
    for label, (xs, ys) in sizes.items():
        ax.plot(xs, ys, marker="s", linestyle="--", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("policy FLOPs per problem (2 x parameters x generated tokens)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title, fontsize=9)
    return save_figure(fig, ax, path, legend_size=7)
