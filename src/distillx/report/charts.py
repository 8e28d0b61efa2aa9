"""Grouped bar charts of report tables: which row wins in which column shows at a glance, and the error bars
say whether a gap is larger than the spread over seeds. Drawn on matplotlib's Agg canvas (no pyplot, no display,
no global state), like :mod:`distillx.report.heatmap`."""

from __future__ import annotations

from pathlib import Path

from distillx.files import atomic_write
from distillx.report.mlflow_report import Table


def bars(table: Table, path: Path) -> Path:
    """A group of bars per column, a bar per row (its mean; the sample std over seeds as error bar where a cell has
    several; no bar where no run), saved as PNG at ``path``."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    scale = 100.0 if table.percent else 1.0
    width = 0.8 / max(len(table.rows), 1)
    fig = Figure(figsize=(max(6.0, 0.25 * len(table.columns) * len(table.rows) + 3.0), 4.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x = np.arange(len(table.columns))
    for i, row in enumerate(table.rows):
        cells = [table.cell(row, column) for column in table.columns]
        means = [np.nan if c is None else scale * c.mean for c in cells]
        stds = [np.nan if c is None or c.std is None else scale * c.std for c in cells]
        ax.bar(x + (i - (len(table.rows) - 1) / 2) * width, means, width, yerr=stds, capsize=2, label=row)
    crowded = len(table.columns) > 6 or max((len(c) for c in table.columns), default=0) > 10
    ax.set_xticks(x, table.columns, rotation=30 if crowded else 0, ha="right" if crowded else "center")
    ax.set_xlabel(table.columns_key)
    ax.set_ylabel(f"{table.metric.rsplit('/', 1)[-1]}{' (%)' if table.percent else ''}")
    ax.set_title(table.title.split(":", 1)[0].replace("**", "") or table.metric, fontsize=9)
    ax.legend(title=table.rows_key, fontsize=7, title_fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", color="0.9")
    ax.set_axisbelow(True)
    fig.tight_layout()
    atomic_write(path, lambda fh: fig.savefig(fh, format="png"))
    return path
