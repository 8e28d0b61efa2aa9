"""The papers' tables from the runs of an MLflow store (``distillx-report --table NAME``).

Each preset places the runs' logged test metrics into cells through the same
:func:`~distillx.report.mlflow_report.tabulate` as a plain report, so a cell is the mean ± sample std over seeds
and runs that differ by more than their seed (and what the table averages over) are never averaged:

- ``freetransfer-table1`` / ``freetransfer-table3`` (freetransfer-x.md Tables 1 and 3): a row per recipe (the
  ``+recipe`` override, else the method's class) and ``source``, the off-the-shelf source model on the source
  language; a column per architecture (per dataset and architecture when the runs span several datasets); a cell
  is the intent accuracy (Table 1) or slot F1 (Table 3) of the model the run ends with on its target language,
  averaged over the target languages it has (their count in brackets), each language weighing the same.
- ``freetransfer-table4`` / ``freetransfer-table5``: the step-1 mPLM, per language: a row per source architecture
  and naive / balanced distillation (Table 4, with the gold-supervised mPLM) or per source architecture and mPLM
  (Table 5); columns: the source model on the source language, the mPLM on every language, and their average over
  the target languages. Every run that trains a step-1 mPLM counts (FreeTransfer-X runs as well as zero-shot ones).
- ``cross-architecture`` (§4.3, Figures 4 and 5): source x target architecture grids of the target models' score
  and of its drop from the source model, averaged over target languages; PNG heatmaps.
- ``per-language`` (the multilingual tables of mblm-multikd.md, kd-limitations-zero-shot.md and
  selftraining-without-parallel.md): rows by ``--rows``, a column per value of ``{target}`` in ``--metric`` that a
  run logs (every language it was tested on, and AVG(S) / AVG(Z) / AVG(A) where logged).

Every table is written as Markdown, CSV and a PNG: grouped bars (mean, the std over seeds as error bar) or, for
``cross-architecture``, the heatmaps of :mod:`distillx.report.heatmap`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from distillx.errors import DistillxError
from distillx.files import atomic_write
from distillx.report import charts, heatmap
from distillx.report.mlflow_report import (
    DEFAULT_METRIC,
    DEFAULT_ROWS,
    MISSING,
    PLACEHOLDER,
    Entry,
    RunRecord,
    Table,
    missing_metric,
    short_label,
    tabulate,
    to_csv,
    to_markdown,
)
from distillx.report.results import METRIC_NAMES

PRESETS = (
    "freetransfer-table1",
    "freetransfer-table3",
    "freetransfer-table4",
    "freetransfer-table5",
    "cross-architecture",
    "per-language",
)
SOURCE = "source"
RECIPES = ("gold_supervised", "translate_test", "translate_train_pseudo", "kd", "kd_balanced", "kd_balanced_augmented")
"""Table 1's rows in the paper's order (``conf/recipe``); Table 3 has the first four and ``kd``."""
TARGET_ROLES = ("student", "translate_test", "mplm")
"""The model a run ends with on its target language, the first of these it has: FreeTransfer-X's student, the
Translate-test two-pass model, the zero-shot mPLM."""
DATASETS = {"MultiAtisDataset": "MultiATIS++", "MtopDataset": "MTOP"}
AVERAGES = {"avg_s": "AVG(S)", "avg_z": "AVG(Z)", "avg_a": "AVG(A)"}
AVG = "Avg"
_MPLM_SCORE = re.compile(r"test/mplm/(?P<language>[^/]+)/accuracy")
NOT_THE_MPLM = ("language.", "method._target_", "augmentation.", "student.")
"""Params a step-1 mPLM does not depend on: its runs are placed by source architecture, not by these."""


@dataclass
class Figure:
    """One table of a preset: the stem of its files and how it is drawn as PNG."""

    stem: str
    table: Table
    draw: Callable[[Path], Path]


def architecture(run: RunRecord) -> str:
    """``transformer``: the run's teacher (source model) and student architecture when they are the same (Tables 1
    and 3: "identical to its corresponding English source model"), else ``teacher->student``."""
    teacher, student = _arch(run, "teacher"), _arch(run, "student")
    return teacher if teacher == student else f"{teacher}->{student}"


def _arch(run: RunRecord, role: str) -> str:
    if run.params.get(f"{role}.base") == "lean":  # the small encoder built from the mPLM (student=lean)
        return "lean"
    target = run.params.get(f"{role}.encoder._target_")
    return heatmap.arch_name(target) if target else MISSING


def dataset(run: RunRecord) -> str:
    name = short_label(run.params.get("dataset._target_", MISSING))
    return DATASETS.get(name, name.removesuffix("Dataset"))


def recipe(run: RunRecord) -> str:
    """The run's Table 1/3 row: its ``+recipe`` override, else its method's class name."""
    return run.get("recipe") or short_label(run.params.get("method._target_", MISSING))


def target_score(run: RunRecord, metric: str) -> float | None:
    """``metric`` of the model the run ends with (:data:`TARGET_ROLES`) on its target language."""
    target = run.get("target")
    found = (run.metrics.get(f"test/{role}/{target}/{metric}") for role in TARGET_ROLES)
    return next((value for value in found if value is not None), None)


def freetransfer_table(runs: Sequence[RunRecord], metric: str = "accuracy", per_language: bool = False) -> Table:
    """Table 1 (``accuracy``) or 3 (``slot_f1``); with ``per_language``, a column per target language instead of
    per architecture (and no source row), for the runs of one architecture."""
    datasets = sorted({dataset(run) for run in runs})
    archs = [*heatmap.ARCHS, *sorted({architecture(run) for run in runs} - set(heatmap.ARCHS))]

    def column(run: RunRecord) -> str:
        return architecture(run) if len(datasets) == 1 else f"{dataset(run)} {architecture(run)}"

    entries = []
    for run in runs:
        score = target_score(run, metric)
        if score is None:
            continue
        if per_language:
            entries.append(Entry(run, recipe(run), run.get("target") or MISSING, score))
            continue
        entries.append(Entry(run, recipe(run), column(run), score, part=run.get("target") or MISSING))
        source = run.metrics.get(f"test/teacher/{run.get('source')}/{metric}")
        if source is not None:  # the same source model under every recipe and target language
            ignore = ("method.", "augmentation.", "language.", "translator.")
            entries.append(Entry(run, SOURCE, column(run), source, ignore=ignore))
    columns = [a if len(datasets) == 1 else f"{d} {a}" for d in datasets for a in archs]
    name, number = {"accuracy": ("intent accuracy", 1), "slot_f1": ("slot F1", 3)}[metric]
    where = "per target language" if per_language else "averaged over the target languages a cell has (count)"
    source = "" if per_language else f"; `{SOURCE}`: the off-the-shelf source model on the source language"
    return tabulate(
        entries,
        "recipe",
        "target language" if per_language else "architecture",
        f"test/{'|'.join(TARGET_ROLES)}/{{target}}/{metric}",
        row_order=[SOURCE, *RECIPES],
        column_order=[] if per_language else columns,
        title=f"**FreeTransfer-X Table {number}**: {name} (%) of the target models {where}, mean ± sample std over "
        f"seeds (n){source}",
    )


def mplm_table(runs: Sequence[RunRecord], table: int) -> Table:
    """Table 4 (rows: source architecture x naive / balanced step 1, and the gold-supervised mPLM) or Table 5
    (rows: source architecture x mPLM) of the step-1 mPLM's accuracy per language."""
    entries = []
    for run in runs:
        target, source = run.get("target"), run.get("source")
        if run.metrics.get(f"test/mplm/{target}/accuracy") is None:
            continue
        gold = run.params.get("method._target_", "").endswith("GoldSupervised")
        row = "gold-supervised" if gold else f"{_arch(run, 'teacher')} {_step1(run, table)}"
        ignore = (*NOT_THE_MPLM, "teacher.") if gold else NOT_THE_MPLM
        teacher = run.metrics.get(f"test/teacher/{source}/accuracy")
        if teacher is not None and not gold:
            entries.append(Entry(run, row, f"{source} (source model)", teacher, ignore=ignore))
        for name, value in run.metrics.items():
            found = _MPLM_SCORE.fullmatch(name)
            if found and found["language"] not in AVERAGES:
                entries.append(Entry(run, row, found["language"], value, ignore=ignore))
        entries.append(Entry(run, row, AVG, run.metrics[f"test/mplm/{target}/accuracy"], part=target, ignore=ignore))
    sources = sorted({e.run.get("source") or MISSING for e in entries})
    languages = sorted({e.column for e in entries} - {AVG, *sources} - {f"{s} (source model)" for s in sources})
    title = {
        4: "the step-1 mPLM from each source architecture, naive or language-balanced KD",
        5: "the step-1 mPLM from each source architecture, per mPLM",
    }[table]
    return tabulate(
        entries,
        "source architecture",
        "language",
        "test/mplm/{language}/accuracy",
        row_order=["gold-supervised", *(f"{a} {s}" for a in heatmap.ARCHS for s in ("naive KD", "+ balanced"))],
        column_order=[*(f"{s} (source model)" for s in sources), *sources, *languages, AVG],
        title=f"**FreeTransfer-X Table {table}**: intent accuracy (%) of {title}; `{AVG}`: over the target "
        "languages (count), mean ± sample std over seeds (n)",
    )


def _step1(run: RunRecord, table: int) -> str:
    """Table 4: naive or balanced KD step 1; Table 5: the mPLM (its ``mplm=`` choice, else the folder of its
    ``name_or_path``, else, built by distillx, its builder's class)."""
    if table == 4:
        return "+ balanced" if run.params.get("method.balanced") == "True" else "naive KD"
    path = run.params.get("mplm.name_or_path", "None")
    built = short_label(run.params.get("mplm.build._target_", MISSING))
    return run.get("mplm") or (Path(path).name if path != "None" else built)


def cross_architecture(runs: Sequence[RunRecord]) -> tuple[Table, Table, heatmap.Grid]:
    """The score and drop tables (rows: source architecture, columns: target architecture) and their heatmap grid,
    of the first headline metric the runs' students log."""
    logged = {name.rsplit("/", 1)[-1] for run in runs for name in run.metrics if name.startswith("test/student/")}
    metric = next((m for m in heatmap.HEADLINE_METRICS if m in logged), heatmap.HEADLINE_METRICS[0])
    score, drop = [], []
    for run in runs:
        target = run.get("target") or MISSING
        value = run.metrics.get(f"test/student/{target}/{metric}")
        if value is None:
            continue
        place = (_arch(run, "teacher"), _arch(run, "student"))
        score.append(Entry(run, *place, value, part=target))
        source = run.metrics.get(f"test/teacher/{run.get('source')}/{metric}")
        if source is not None:
            drop.append(Entry(run, *place, source - value, part=target))
    name = METRIC_NAMES.get(metric, metric)
    tables = [
        tabulate(
            entries,
            "source model",
            "target model",
            pattern,
            row_order=heatmap.ARCHS,
            column_order=heatmap.ARCHS,
            title=f"**Cross-architecture transfer, {what}** (%), averaged over target languages (count), mean ± "
            "sample std over seeds (n); rows: source model (teacher), columns: target model (student)",
        )
        for entries, pattern, what in (
            (score, f"test/student/{{target}}/{metric}", f"{name} of the target models"),
            (drop, f"test/teacher/{{source}}/{metric} - test/student/{{target}}/{metric}", f"{name} drop"),
        )
    ]
    return tables[0], tables[1], _grid(*tables, metric)


def _grid(score: Table, drop: Table, metric: str) -> heatmap.Grid:
    """The heatmap grid of the two tables' means (in the score table's rows and columns)."""

    def means(table: Table) -> list[list[float | None]]:
        return [[cell.mean if (cell := table.cell(r, c)) else None for c in score.columns] for r in score.rows]

    languages = sorted({p for cell in score.cells.values() for p in cell.parts})
    return heatmap.Grid(
        rows=score.rows,
        cols=score.columns,
        score=means(score),
        drop=means(drop),
        counts=[[cell.n if (cell := score.cell(r, c)) else 0 for c in score.columns] for r in score.rows],
        metric=metric,
        language=languages[0] if len(languages) == 1 else heatmap.MEAN,
        languages=languages,
    )


def per_language(runs: Sequence[RunRecord], rows: str, metric: str) -> Table:
    """Rows by the key ``rows``, a column per value of ``{target}`` in ``metric`` that a run logs: the supervised
    languages of multilingual methods (``method.supervised``) first, as in mblm-multikd.md, then the others."""
    if "{target}" not in metric:
        raise DistillxError(f"--metric {metric}: --table per-language needs {{target}} in it (the columns)")
    entries = []
    for run in runs:
        pattern = _columns(run, metric)
        found = (pattern.fullmatch(name) for name in run.metrics) if pattern else ()
        for match in filter(None, found):
            column = AVERAGES.get(match["column"], match["column"])
            entries.append(Entry(run, short_label(run.get(rows) or MISSING), column, run.metrics[match[0]]))
    if not entries:
        raise missing_metric(runs, metric, "--table per-language")
    languages = {e.column for e in entries} - set(AVERAGES.values())
    named = (re.findall(r"[\w-]+", e.run.params.get("method.supervised", "")) for e in entries)
    supervised = [lang for lang in dict.fromkeys(lang for found in named for lang in found) if lang in languages]
    return tabulate(
        entries,
        rows,
        "language",
        metric,
        column_order=[*supervised, *sorted(languages - set(supervised)), *AVERAGES.values()],
        title=f"**{metric}** per language{' (%)' if metric.rsplit('/', 1)[-1] in METRIC_NAMES else ''}: "
        "mean ± sample std over seeds (n)",
    )


def _columns(run: RunRecord, metric: str) -> re.Pattern[str] | None:
    """``metric`` as a pattern: ``{target}`` matches any one name part (the column), other keys the run's values;
    None when the run has no value for one of them."""
    parts, at = [], 0
    for match in PLACEHOLDER.finditer(metric):
        value = "(?P<column>[^/]+)" if match[1] == "target" else run.get(match[1])
        if value is None:
            return None
        parts += [re.escape(metric[at : match.start()]), value if match[1] == "target" else re.escape(value)]
        at = match.end()
    return re.compile("".join([*parts, re.escape(metric[at:])]))


def build(name: str, runs: Sequence[RunRecord], rows: str | None = None, metric: str | None = None) -> list[Figure]:
    """The figures of preset ``name``; ``rows`` and ``metric`` (None: the plain report's defaults) are the
    ``per-language`` preset's, refused by the others (their rows and metrics are the paper's)."""
    if name == "per-language":
        table = per_language(runs, rows or DEFAULT_ROWS, metric or DEFAULT_METRIC)
        return [Figure(name, table, partial(charts.bars, table))]
    if rows is not None or metric is not None:
        given = "--rows" if rows is not None else "--metric"
        raise DistillxError(f"{given}: --table {name} has the paper's rows and metric; only per-language takes it")
    if name == "cross-architecture":
        score, drop, grid = cross_architecture(runs)
        figures = [
            Figure(f"{name}-score", score, partial(heatmap.plot, grid, "score")),
            Figure(f"{name}-drop", drop, partial(heatmap.plot, grid, "drop")),
        ]
    elif name in ("freetransfer-table1", "freetransfer-table3"):
        table = freetransfer_table(runs, "accuracy" if name.endswith("1") else "slot_f1")
        figures = [Figure(name, table, partial(charts.bars, table))]
    elif name in ("freetransfer-table4", "freetransfer-table5"):
        table = mplm_table(runs, int(name[-1]))
        figures = [Figure(name, table, partial(charts.bars, table))]
    else:
        raise DistillxError(f"--table {name}: no such table; choose one of {', '.join(PRESETS)}")
    if not figures[0].table.cells:
        raise missing_metric(runs, figures[0].table.metric, f"--table {name}")
    return figures


def markdown(figures: Sequence[Figure]) -> str:
    return "\n".join(to_markdown(figure.table) for figure in figures)


def write(name: str, figures: Sequence[Figure], out: Path) -> list[Path]:
    """``<name>.md`` (every table) and per table ``<stem>.csv`` and ``<stem>.png`` under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(figures)
    paths = [out / f"{name}.md"]
    atomic_write(paths[0], lambda fh: fh.write(text.encode("utf-8")))
    for figure in figures:
        to_csv(figure.table, out / f"{figure.stem}.csv")
        paths += [out / f"{figure.stem}.csv", figure.draw(out / f"{figure.stem}.png")]
    return paths
