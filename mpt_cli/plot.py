"""Accuracy per language as a chart (``--plot FILE``): a hundred languages read as a picture, not a table.

One bar per language, sorted by accuracy and coloured by group (``--groups``), the source prompt's accuracy
on the same language marked beside it. PNG or SVG by the file's extension. matplotlib is an optional extra
(``pip install 'mpt-cli[plot]'``); without it ``--plot`` is refused before any work starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import MptError
from .outputs import atomic_path, check_writable

FORMATS = (".png", ".svg")
INSTALL = "pip install 'mpt-cli[plot]'"  # the extra that brings matplotlib


@dataclass(frozen=True)
class Bar:
    language: str
    accuracy: float  # 0-1
    source_accuracy: float | None = None  # the source prompt on this language (soft-prompt transfer)
    group: str | None = None


@dataclass(frozen=True)
class Panel:
    """One chart of a figure: a method's bars under its title."""

    title: str
    bars: Sequence[Bar]


def check_plot(path: Path, overwrite: bool, inputs=()) -> None:
    """Refuse a ``--plot`` that cannot be written (format, matplotlib, an existing file) before any work."""
    if Path(path).suffix.lower() not in FORMATS:
        raise MptError(f"--plot {path}: the file must end in {' or '.join(FORMATS)}")
    _pyplot()
    check_writable(Path(path), overwrite, inputs=inputs)


def plot(path: Path, panels: Sequence[Panel], overwrite: bool = False, grouped_by: str | None = None) -> None:
    """Draw ``panels`` one above the other into ``path`` (written whole or not at all)."""
    pyplot = _pyplot()
    widest = max(len(panel.bars) for panel in panels)
    figure, axes = pyplot.subplots(
        len(panels), 1, figsize=(max(6.0, 0.16 * widest + 1.5), 3.6 * len(panels)), squeeze=False, layout="constrained"
    )
    groups = list(dict.fromkeys(bar.group or "no group" for panel in panels for bar in panel.bars))
    palette = pyplot.get_cmap("tab10")
    colour = {group: palette(i % 10) for i, group in enumerate(groups)}
    for ax, panel in zip(axes[:, 0], panels):
        bars = sorted(panel.bars, key=lambda bar: bar.accuracy, reverse=True)
        x = range(len(bars))
        ax.bar(x, [100 * b.accuracy for b in bars], color=[colour[b.group or "no group"] for b in bars], width=0.8)
        marked = [(i, 100 * b.source_accuracy) for i, b in enumerate(bars) if b.source_accuracy is not None]
        if marked:
            ax.scatter(*zip(*marked), marker="_", s=60, color="black", zorder=3, label="source prompt")
        ax.set_xticks(list(x), [b.language for b in bars], rotation=90, fontsize=6 if len(bars) > 60 else 8)
        ax.set_xlim(-0.6, len(bars) - 0.4)
        ax.set_ylim(0, 100)
        ax.set_ylabel("accuracy (%)")
        ax.set_title(panel.title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    handles = [pyplot.Rectangle((0, 0), 1, 1, color=colour[g]) for g in groups] if len(groups) > 1 else []
    labels = groups if handles else []
    source = axes[0, 0].get_legend_handles_labels()
    if handles or source[0]:
        axes[0, 0].legend(handles + source[0], labels + source[1], title=grouped_by if handles else None, fontsize=7,
                          title_fontsize=7, loc="upper right")  # fmt: skip
    with atomic_path(Path(path), overwrite) as tmp:
        figure.savefig(tmp, format=Path(path).suffix.lower().lstrip("."), dpi=150)
    pyplot.close(figure)


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: never a window, on a server or in a test
        from matplotlib import pyplot
    except ImportError:
        raise MptError(f"--plot needs matplotlib: {INSTALL}") from None
    return pyplot
