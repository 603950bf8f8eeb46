"""Pictures a run leaves behind: training curves and confusion matrices."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def plot_curves(histories: Sequence[Sequence[dict[str, float]]], path: Path, title: str) -> None:
    """Loss (and any `val_` metrics) per epoch, one line per fold or stage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({k for h in histories for row in h for k in row if k not in ("epoch", "learning_rate")})
    bases = sorted({k.removeprefix("val_") for k in keys})
    fig, axes = plt.subplots(1, len(bases), figsize=(4.5 * len(bases), 3.5), squeeze=False)
    for ax, base in zip(axes[0], bases, strict=True):
        for i, history in enumerate(histories):
            epochs = [row.get("epoch", j) + 1 for j, row in enumerate(history)]
            for key, style in ((base, "-"), (f"val_{base}", "--")):
                if history and key in history[0]:
                    ax.plot(epochs, [row[key] for row in history], style, color=f"C{i % 10}", lw=1)
        ax.set_title(base)
        ax.set_xlabel("epoch")
    fig.suptitle(f"{title} (solid: training, dashed: validation)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_confusion(matrix: np.ndarray, rows: Sequence[str], columns: Sequence[str], path: Path, title: str) -> None:
    """Counts with each row's share shaded (rows: reference, columns: model)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(matrix, dtype=np.float64)
    share = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * len(columns), 0.8 + 0.6 * len(rows)))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", color="white" if share[i, j] > 0.6 else "black")
    ax.set_xticks(range(len(columns)), columns)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("model")
    ax.set_ylabel("reference")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_fold_figures(figures: dict[str, Sequence[dict[str, float]]], stats: Sequence[str], fold_names: Sequence[str],
                      path: Path, title: str) -> None:  # fmt: skip
    """One panel per statistic, one bar per fold and run: how far runs differ fold by fold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(stats), 1, figsize=(max(6.0, 0.9 * len(fold_names)), 2.2 * len(stats)), squeeze=False)
    width = 0.8 / max(len(figures), 1)
    x = np.arange(len(fold_names))
    for ax, stat in zip(axes[:, 0], stats, strict=True):
        for i, (name, per_fold) in enumerate(figures.items()):
            # No bar where a fold has nothing to score (no S beats held out, say).
            values = [100 * f[stat] if f[stat] is not None else np.nan for f in per_fold]
            ax.bar(x + (i - (len(figures) - 1) / 2) * width, values, width, label=name, color=f"C{i % 10}")
        ax.set_ylabel(f"{stat} %")
        ax.set_ylim(0, 105)
        ax.set_xticks(x, fold_names, fontsize=7)
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="upper right", fontsize=7, ncol=len(figures))
    fig.suptitle(title, x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)
