"""Cross-architecture transfer (freetransfer-x.md §4.3, Figures 4 and 5): source x target architecture grids of
the target models' test score and of its drop from the source model, as heatmaps (PNG) and Markdown tables.

Rows are the source (teacher) architecture, columns the target (student) architecture: transfer goes from rows
to columns, as in the paper. Plotting uses matplotlib's Agg canvas directly (no pyplot), so it needs no display
and changes no global matplotlib state of the process that calls it (a Hydra sweep's launcher).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from distillx.files import atomic_write, digest
from distillx.report.results import METRIC_NAMES

ARCHS = ("transformer", "bilstm", "cnn")
"""The grid's axes by default, in the paper's order; architectures outside it are appended when present."""
ARCH_LABELS = {"transformer": "Transformer", "bilstm": "BiLSTM", "cnn": "CNN"}
HEADLINE_METRICS = ("accuracy", "slot_f1")
"""The metrics plotted: intent accuracy (intent tasks) and slot F1 (tagging tasks)."""
MEAN = "mean"
"""The ``language`` of a grid averaged over several target languages, as the paper's figures are."""

Kind = Literal["score", "drop"]
Cell = float | None


def arch_name(encoder_target: str) -> str:
    """``distillx.models.cnn.CNNEncoder`` -> ``cnn``: the same name ``RunContext.small_model`` gives a model."""
    return encoder_target.rsplit(".", 1)[-1].removesuffix("Encoder").lower()


@dataclass(frozen=True)
class TransferRun:
    """One finished run, reduced to what a cross-architecture grid needs."""

    teacher: str
    student: str
    target_score: float
    """The student's test score on the target language."""
    source_score: float | None
    """The source model's (teacher's) test score on the source language; None when not recorded."""
    language: str = ""
    source: str = ""
    metric: str = "accuracy"
    setting: str = ""
    """What else set this run apart in its sweep (``method.balanced=True``): runs of different settings never
    share a grid, so a cell never averages, say, two methods."""

    @property
    def drop(self) -> float | None:
        return None if self.source_score is None else self.source_score - self.target_score


@dataclass
class Grid:
    """Per-cell means over the runs of each (teacher, student) pair (seeds, or target languages for ``mean``)."""

    rows: list[str]
    cols: list[str]
    score: list[list[Cell]]
    drop: list[list[Cell]]
    counts: list[list[int]]
    metric: str = "accuracy"
    language: str = ""
    source: str = ""
    setting: str = ""
    languages: list[str] = field(default_factory=list)
    """The target languages averaged over (``language == MEAN``), else ``[language]``."""

    def values(self, kind: Kind) -> list[list[Cell]]:
        return self.score if kind == "score" else self.drop

    @property
    def stem(self) -> str:
        """A file name stem unique per (setting, source, target language, metric)."""
        parts = [f"{self.source}-{self.language}" if self.source else self.language, self.metric]
        if self.setting:
            setting = _safe_name(self.setting)
            if len(setting) > 80:
                setting = setting[:70] + "-" + digest(self.setting)[:8]
            parts.append(setting)
        return _safe_name("_".join(p for p in parts if p))


def _mean(values: Sequence[float]) -> Cell:
    return sum(values) / len(values) if values else None


def axes(runs: Iterable[TransferRun], archs: Sequence[str] = ARCHS) -> tuple[list[str], list[str]]:
    """Rows and columns: every arch of ``archs`` (blank where no run has it), then any other arch present."""
    runs = list(runs)
    rows = list(archs) + sorted({r.teacher for r in runs} - set(archs))
    cols = list(archs) + sorted({r.student for r in runs} - set(archs))
    return rows, cols


def build_grid(
    runs: Iterable[TransferRun],
    metric: str = "accuracy",
    archs: Sequence[str] = ARCHS,
    language: str | None = None,
) -> Grid:
    """The grid of ``metric`` for one target language (or all runs given, if ``language`` is None).

    A cell's score is the mean target score of its runs; its drop the mean of each run's source score minus
    its target score (runs without a source score count for the score only). Cells without runs are None.
    """
    runs = [r for r in runs if r.metric == metric and (language is None or r.language == language)]
    rows, cols = axes(runs, archs)
    scores: dict[tuple[str, str], list[float]] = defaultdict(list)
    drops: dict[tuple[str, str], list[float]] = defaultdict(list)
    for run in runs:
        scores[run.teacher, run.student].append(run.target_score)
        if run.drop is not None:
            drops[run.teacher, run.student].append(run.drop)
    languages = sorted({r.language for r in runs})
    sources = sorted({r.source for r in runs})
    settings = sorted({r.setting for r in runs})
    return Grid(
        rows=rows,
        cols=cols,
        score=[[_mean(scores.get((t, s), [])) for s in cols] for t in rows],
        drop=[[_mean(drops.get((t, s), [])) for s in cols] for t in rows],
        counts=[[len(scores.get((t, s), [])) for s in cols] for t in rows],
        metric=metric,
        language=language if language is not None else (languages[0] if len(languages) == 1 else MEAN),
        source=sources[0] if len(sources) == 1 else "",
        setting=settings[0] if len(settings) == 1 else "",
        languages=languages,
    )


def mean_grid(per_language: Sequence[Grid]) -> Grid:
    """Average per-language grids of one metric cell by cell, each language weighing the same (the paper's
    figures: "averaged over all target languages"); a cell is the mean over the languages that have it."""
    first = per_language[0]
    rows = list(dict.fromkeys(r for g in per_language for r in g.rows))
    cols = list(dict.fromkeys(c for g in per_language for c in g.cols))

    def cell(kind: Kind, t: str, s: str) -> Cell:
        found = [g.values(kind)[g.rows.index(t)][g.cols.index(s)] for g in per_language if t in g.rows and s in g.cols]
        return _mean([v for v in found if v is not None])

    def count(t: str, s: str) -> int:
        return sum(g.counts[g.rows.index(t)][g.cols.index(s)] for g in per_language if t in g.rows and s in g.cols)

    sources = {g.source for g in per_language}
    return Grid(
        rows=rows,
        cols=cols,
        score=[[cell("score", t, s) for s in cols] for t in rows],
        drop=[[cell("drop", t, s) for s in cols] for t in rows],
        counts=[[count(t, s) for s in cols] for t in rows],
        metric=first.metric,
        language=MEAN,
        source=first.source if len(sources) == 1 else "",
        setting=first.setting,
        languages=sorted({lang for g in per_language for lang in g.languages}),
    )


# ---------------------------------------------------------------------------------------------- from MLflow
def transfer_runs(runs: Iterable[Any], metrics: Sequence[str] = HEADLINE_METRICS) -> list[TransferRun]:
    """Reduce finished MLflow runs of ``distillx`` to one ``TransferRun`` per headline metric they have.

    Reads the flattened config params (``teacher.encoder._target_``, ``student.encoder._target_``,
    ``source.code``, ``language.code``) and the metrics ``test/student/<target>/<metric>`` and
    ``test/teacher/<source>/<metric>`` that ``Results.metrics`` logs. Other runs are skipped.
    """
    eligible = [
        run
        for run in runs
        if run.info.status == "FINISHED" and all(key in run.data.params for key in (_TEACHER, _STUDENT, *_CODES))
    ]
    settings = run_settings([run.data.params for run in eligible])
    out = []
    for run, setting in zip(eligible, settings, strict=True):
        params, values = run.data.params, run.data.metrics
        teacher, student = arch_name(params[_TEACHER]), arch_name(params[_STUDENT])
        source, target = params["source.code"], params["language.code"]
        for metric in metrics:
            target_score = values.get(f"test/student/{target}/{metric}")
            if target_score is None:
                continue
            source_score = values.get(f"test/teacher/{source}/{metric}")
            out.append(TransferRun(teacher, student, target_score, source_score, target, source, metric, setting))
    return out


_TEACHER, _STUDENT = "teacher.encoder._target_", "student.encoder._target_"
_CODES = ("source.code", "language.code")
_GIVEN = (_TEACHER, _STUDENT, *_CODES, "seed")
"""What tells a run's place in the grids (architectures, languages), and the seed, whose runs are averaged."""


def run_settings(params: Sequence[Mapping[str, str]]) -> list[str]:
    """Per run, the params that set it apart from the others beyond the grid's axes (``key=value, ...``).

    A param counts unless it places the run in the grids (architectures, languages), is the seed (runs of
    several seeds are averaged), or follows from those (an arch's own hyperparameters, ``split.seed: ${seed}``):
    a sweep ``method=freetransfer,freetransfer_balanced student=transformer,cnn`` gives two sets of grids, and so
    does ``teacher.encoder.hidden_size=48,96``.
    """
    keys = sorted({key for p in params for key in p})
    varying = [key for key in keys if key not in _GIVEN and len({p.get(key) for p in params}) > 1]

    def follows(key: str) -> bool:
        seen: dict[tuple[str | None, ...], str | None] = {}
        return all(seen.setdefault(tuple(p.get(k) for k in _GIVEN), p.get(key)) == p.get(key) for p in params)

    setting_keys = [key for key in varying if not follows(key)]
    return [", ".join(f"{k}={_short(p.get(k, '—'))}" for k in setting_keys) for p in params]


def _short(value: str) -> str:
    """``distillx.distill.baselines.GoldSupervised`` -> ``GoldSupervised``: enough to tell settings apart."""
    return value.rsplit(".", 1)[-1] if value.startswith("distillx.") else value


def is_cross_architecture(runs: Iterable[TransferRun]) -> bool:
    """Whether the runs span at least two (teacher, student) architecture pairs: only then is a grid worth it."""
    return len({(r.teacher, r.student) for r in runs}) >= 2


def grids(runs: Sequence[TransferRun]) -> list[Grid]:
    """One grid per (setting, source, target language, metric) present; plus, per (setting, source, metric)
    over several target languages, their mean."""
    out = []
    for metric in HEADLINE_METRICS:
        for setting, source in sorted({(r.setting, r.source) for r in runs if r.metric == metric}):
            of_source = [r for r in runs if r.metric == metric and r.source == source and r.setting == setting]
            per_language = [
                build_grid(of_source, metric, language=lang) for lang in sorted({r.language for r in of_source})
            ]
            out += per_language
            if len(per_language) >= 2:
                out.append(mean_grid(per_language))
    return out


# ---------------------------------------------------------------------------------------------- output
def _pct(value: Cell) -> str:
    return "—" if value is None or math.isnan(value) else f"{100 * value:.1f}"


def _label(arch: str) -> str:
    return ARCH_LABELS.get(arch, arch)


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def titles(grid: Grid) -> dict[Kind, str]:
    """Titles after the paper's Figures 4 and 5."""
    metric = METRIC_NAMES.get(grid.metric, grid.metric)
    if grid.language == MEAN:
        where = f"averaged over target languages {', '.join(grid.languages)}"
    else:
        where = f"target language {grid.language}"
    source = f"{grid.source} " if grid.source else ""
    if grid.setting:
        where += f"; {grid.setting}"
    return {
        "score": f"{metric.capitalize()} of the target models via cross-architecture transfer\n({where})",
        "drop": f"{metric.capitalize()} drop from the {source}source models to the target models\n({where})",
    }


def markdown(grid: Grid) -> str:
    """Both grids as Markdown tables (in %, ``—`` where no run), rows -> columns as in the heatmaps."""
    blocks = []
    header = "| source \\ target | " + " | ".join(_label(c) for c in grid.cols) + " |"
    for kind, title in titles(grid).items():
        lines = [f"**{title.replace(chr(10), ' ')}** (%)", "", header, "|---" * (len(grid.cols) + 1) + "|"]
        for row, values in zip(grid.rows, grid.values(kind), strict=True):
            lines.append(f"| {_label(row)} | " + " | ".join(_pct(v) for v in values) + " |")
        blocks.append("\n".join(lines))
    blocks.append(
        "Rows: architecture of the source model (teacher); columns: architecture of the target model (student). "
        "Drop = source model's score on the source language minus the target model's score on the target language."
    )
    return "\n\n".join(blocks) + "\n"


def plot(grid: Grid, kind: Kind, path: Path) -> Path:
    """One annotated heatmap (cells in %, blank with ``—`` where no run, colour bar) saved as PNG at ``path``."""
    import numpy as np
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    values = np.array([[np.nan if v is None else 100 * v for v in row] for row in grid.values(kind)], dtype=float)
    data = np.ma.masked_invalid(values)
    full = colormaps["Blues" if kind == "score" else "Reds"]
    # Without its white end, so the lowest score stays visibly a cell and only a missing one is blank.
    cmap = ListedColormap(full(np.linspace(0.15, 1.0, 256))).with_extremes(bad="white")
    fig = Figure(figsize=(1.2 * len(grid.cols) + 2.6, 1.0 * len(grid.rows) + 1.9), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    finite = values[np.isfinite(values)]
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if vmin == vmax:
        vmin, vmax = vmin - 1.0, vmax + 1.0
    image = ax.imshow(data, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    bar = fig.colorbar(image, ax=ax)
    metric = METRIC_NAMES.get(grid.metric, grid.metric)
    bar.set_label(f"{metric} drop (points)" if kind == "drop" else f"{metric} (%)")
    ax.set_xticks(range(len(grid.cols)), [_label(c) for c in grid.cols])
    ax.set_yticks(range(len(grid.rows)), [_label(r) for r in grid.rows])
    ax.set_xlabel("target model")
    ax.set_ylabel("source model")
    ax.set_title(titles(grid)[kind], fontsize=9)
    middle = (vmin + vmax) / 2
    for i in range(len(grid.rows)):
        for j in range(len(grid.cols)):
            value = values[i, j]
            if np.isnan(value):
                ax.text(j, i, "—", ha="center", va="center", color="0.5")
            else:
                color = "white" if value > middle else "black"  # readable on the dark end of either colour map
                ax.text(j, i, f"{value:.1f}", ha="center", va="center", color=color)
    ax.set_xticks(np.arange(len(grid.cols) + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(len(grid.rows) + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="0.85", linewidth=0.8)
    ax.tick_params(which="minor", length=0)
    fig.tight_layout()
    atomic_write(path, lambda fh: fig.savefig(fh, format="png"))
    return path


def write(grid: Grid, out_dir: Path) -> list[Path]:
    """``<stem>_score.png``, ``<stem>_drop.png`` and ``<stem>.md`` under ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    paths = [plot(grid, kind, out_dir / f"{grid.stem}_{kind}.png") for kind in ("score", "drop")]
    md = out_dir / f"{grid.stem}.md"
    atomic_write(md, lambda fh: fh.write(markdown(grid).encode("utf-8")))
    return [*paths, md]


def write_all(runs: Sequence[TransferRun], out_dir: Path) -> list[Path]:
    """Every grid of ``runs`` (see :func:`grids`) written under ``out_dir``."""
    return [path for grid in grids(runs) for path in write(grid, out_dir)]
