"""``distillx-report``: result tables (Markdown, CSV) from the runs in an MLflow tracking store.

Each finished run of an experiment (or the children of one sweep's parent run) is placed in a table by two
*keys*, one for the rows and one for the columns, and gives the cell one metric. A key is looked up in a run in
this order:

1. its logged params: the flattened config (``student.encoder._target_``, ``language.code``, ``seed``);
2. the overrides its name lists (a job of a sweep is named after them, ``student=bilstm,language=de``): config
   group choices such as ``student`` or ``+kd_row`` are only there (a leading ``+``/``~`` is optional);
3. its tags (``distillx.notes``); and ``run_name`` / ``run_id``;
4. the aliases ``target`` (``language.code``) and ``source`` (``source.code``).

The metric is a logged metric name in which ``{key}`` is replaced by that run's value of the key, so the
target-language score of the student is ``test/student/{target}/accuracy`` (the default) and the teacher on the
source language ``test/teacher/{source}/accuracy`` (names: :meth:`distillx.report.results.Results.metrics`).

Runs that land in the same cell and differ only by seed (the param ``seed`` and any ``*.seed``) are averaged:
the cell is the mean over its seeds ± their *sample* standard deviation (n - 1 in the denominator; none for one
seed) and n, the number of seeds (runs that share a seed count as one, by their mean).
Runs in one cell that differ by any other param (bookkeeping aside: ``tracking.*``, ``*.progress``,
``*.threads``, ``cache_dir``...) are never averaged: their rows are split, the row label naming params that set
them apart (``TransformerEncoder [method.balanced=True]``); a param missing from a run (logged by an older
version) shows as ``—``. Labels that name a distillx class are shortened to the class name.

``--table NAME`` writes one of the papers' tables instead (:mod:`distillx.report.tables`), built on the same
run loading and cells.
"""

from __future__ import annotations

import argparse
import csv
import re
import sqlite3
import statistics
import sys
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from distillx.errors import DistillxError
from distillx.report.results import METRIC_NAMES
from distillx.track.mlflow_tracker import SQLITE_PREFIX

if TYPE_CHECKING:
    from mlflow.entities import Metric

DEFAULT_URI = "sqlite:///outputs/mlflow.db"
DEFAULT_EXPERIMENT = "distillx"
"""``tracking.experiment`` in ``conf/tracking/mlflow.yaml``."""
DEFAULT_METRIC = "test/student/{target}/accuracy"
DEFAULT_ROWS = "student.encoder._target_"
DEFAULT_COLUMNS = "language.code"
ALIASES = {"target": "language.code", "source": "source.code"}
MISSING = "—"
MAX_LISTED = 10
MAX_RUN_NAME = 250
"""The CLI cuts run names at MLflow's limit: the last override of a name this long may be cut too."""
PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
T = TypeVar("T")


@dataclass
class RunRecord:
    """One finished MLflow run, as the report needs it."""

    run_id: str
    name: str
    params: dict[str, str] = field(default_factory=dict)
    """The flattened config, as logged (``student.encoder.hidden_size`` -> ``"48"``)."""
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    """The latest value of each metric."""
    start_time: int | None = None
    end_time: int | None = None
    """Milliseconds since the epoch, as MLflow records them: a run's wall time without reading its directory."""

    @property
    def seed(self) -> str:
        """The run's seed (``—`` when it has none): what a cell averages over."""
        return self.get("seed") or MISSING

    @property
    def overrides(self) -> dict[str, str]:
        """``key=value`` pairs of the run name (Hydra's ``override_dirname``), keys without ``+``/``++``/``~``."""
        items = split_overrides(self.name)
        if len(self.name) >= MAX_RUN_NAME and items:
            items = items[:-1]  # the name was cut: its last value may be incomplete
        out = {}
        for item in items:
            key, sep, value = item.partition("=")
            if sep:
                out[key.lstrip("+~")] = value
        return out

    def get(self, key: str) -> str | None:
        """The run's value of ``key`` (see the module docstring for the lookup order), None when it has none."""
        if key in self.params:
            return self.params[key]
        overrides = self.overrides
        if key.lstrip("+~") in overrides:
            return overrides[key.lstrip("+~")]
        if key in self.tags:
            return self.tags[key]
        if key == "run_name":
            return self.name
        if key == "run_id":
            return self.run_id
        if key in ALIASES:
            return self.get(ALIASES[key])
        return None

    def metric_name(self, pattern: str) -> str | None:
        """``pattern`` with its ``{key}`` placeholders filled in from this run; None when a key is unknown."""
        missing = False

        def fill(match: re.Match[str]) -> str:
            nonlocal missing
            value = self.get(match.group(1))
            missing = missing or value is None
            return value or ""

        name = PLACEHOLDER.sub(fill, pattern)
        return None if missing else name


def split_overrides(name: str) -> list[str]:
    """Split a run name at the commas between overrides, not those inside ``[...]``, ``{...}``, ``(...)`` or
    quotes (``++method.zero_shot=[fr,de],student=cnn``)."""
    items, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(name):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{(":
            depth += 1
        elif char in "]})":
            depth = max(depth - 1, 0)
        elif char == "," and depth == 0:
            items.append(name[start:i])
            start = i + 1
    items.append(name[start:])
    return [item for item in items if item]


class NoRuns(DistillxError):
    """No finished run matches: an empty selection, which a caller may take for an empty table."""


def _seed_key(key: str) -> bool:
    return key == "seed" or key.endswith(".seed")


def _client(uri: str):
    """An MlflowClient on ``uri``; a sqlite store must already exist and be an MLflow store, checked read-only
    first: MLflow would create (write) a database at a missing path or in an empty file."""
    if uri.startswith(SQLITE_PREFIX):
        path = Path(uri[len(SQLITE_PREFIX) :])
        if not path.is_file():
            raise DistillxError(f"--uri {uri}: no such database file {path}")
        try:
            with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
                tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.Error as err:
            raise DistillxError(f"--uri {uri}: the MLflow store cannot be opened ({err})") from None
        if not {"experiments", "runs"} <= tables:
            raise DistillxError(f"--uri {uri}: {path} is not an MLflow tracking store (no runs table)")
    from mlflow import MlflowClient  # noqa: PLC0415 - importing mlflow costs seconds; --help does not need it

    try:
        client = MlflowClient(tracking_uri=uri)
        client.search_experiments(max_results=1)  # opens the store now
    except Exception as err:  # MLflow, SQLAlchemy, the driver or the network: all mean the same here
        raise DistillxError(f"--uri {uri}: the MLflow store cannot be opened ({_reason(err)})") from None
    return client


def _reason(err: BaseException) -> str:
    from distillx.track.mlflow_tracker import reason  # noqa: PLC0415

    return reason(err)


def _listing(names: Iterable[str]) -> str:
    names = list(names)
    shown = ", ".join(repr(n) for n in names[:MAX_LISTED])
    more = f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else ""
    return (shown + more) if names else "none"


def _search(client, experiment_id: str, filter_string: str) -> list:
    runs, token = [], None
    while True:
        page = client.search_runs(
            [experiment_id], filter_string=filter_string, order_by=["attributes.start_time ASC"], page_token=token
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _parent_id(client, experiment_id: str, experiment: str, parent: str) -> str:
    """The id of the parent run named ``parent`` (a run id or a run name) in the experiment."""
    everything = _search(client, experiment_id, "")
    by_id = {run.info.run_id: run for run in everything}
    if parent in by_id:
        return parent
    named = [run.info.run_id for run in everything if run.info.run_name == parent]
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        raise DistillxError(f"--parent {parent}: {len(named)} runs have that name; give a run id: {_listing(named)}")
    parents = {run.data.tags.get("mlflow.parentRunId") for run in everything} - {None}
    names = [by_id[p].info.run_name for p in reversed(list(by_id)) if p in parents]  # newest first
    raise DistillxError(
        f"--parent {parent}: no run of that id or name in experiment {experiment!r}; parent runs there: "
        + _listing(names)
    )


def load_runs(uri: str, experiment: str, parent: str | None = None, filter_string: str = "") -> list[RunRecord]:
    """The FINISHED runs of ``experiment`` in the store at ``uri``, oldest first: all of them but sweep parent
    runs, or the children of ``parent`` (a run id or a run name) when given; ``filter_string`` is MLflow's search
    syntax (``params.method._target_ LIKE '%Balanced'``). Raises DistillxError in one line when the store cannot
    be opened, the experiment or parent is unknown, or no finished run matches."""
    client = _client(uri)
    found = client.get_experiment_by_name(experiment)
    if found is None or found.lifecycle_stage != "active":
        names = [e.name for e in client.search_experiments(max_results=1000)]
        raise DistillxError(f"--experiment {experiment}: no such experiment in {uri}; there: {_listing(names)}")
    experiment_id = found.experiment_id
    clauses = ["attributes.status = 'FINISHED'"]
    if parent is not None:
        clauses.append(f"tags.`mlflow.parentRunId` = '{_parent_id(client, experiment_id, experiment, parent)}'")
    if filter_string.strip():
        clauses.append(filter_string.strip())
    try:
        runs = _search(client, experiment_id, " and ".join(clauses))
    except Exception as err:
        if filter_string.strip():
            raise DistillxError(f"--filter {filter_string}: {_reason(err)}") from None
        raise DistillxError(f"--uri {uri}: the MLflow store cannot be read ({_reason(err)})") from None
    records = [
        RunRecord(
            run.info.run_id,
            run.info.run_name or "",
            dict(run.data.params),
            dict(run.data.tags),
            dict(run.data.metrics),
            run.info.start_time,
            run.info.end_time,
        )
        for run in runs
        if "distillx.sweep_dir" not in run.data.tags  # a sweep's parent: a summary of its children, not a run
    ]
    if not records:
        where = f"under parent run {parent!r}" if parent is not None else f"in experiment {experiment!r}"
        extra = f" matching --filter {filter_string!r}" if filter_string.strip() else ""
        raise NoRuns(f"no finished runs {where}{extra} in {uri}")
    return records


def metric_histories(uri: str, runs: Sequence[RunRecord], suffix: str) -> dict[str, dict[str, list[float]]]:
    """Per run id, every value (in step order, the last logged per step) of each of its metrics whose name ends
    in ``suffix``: a run keeps only the latest value of a metric, and a stage's time is the sum of its epochs'."""
    client = _client(uri)
    out: dict[str, dict[str, list[float]]] = {}
    for run in runs:
        for key in sorted(k for k in run.metrics if k.endswith(suffix)):
            by_step = {m.step: m.value for m in sorted(client.get_metric_history(run.run_id, key), key=_logged)}
            out.setdefault(run.run_id, {})[key] = [by_step[step] for step in sorted(by_step)]
    return out


def _logged(metric: Metric) -> tuple[int, int]:
    return metric.timestamp, metric.step


@dataclass
class Cell:
    values: list[float]
    """One per seed: the mean of that seed's runs in the cell (over ``parts`` first, each weighing the same)."""
    run_ids: list[str]
    seeds: list[str] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    """What each value averages over besides repeats of a seed (a row's target languages); empty for nothing."""

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def std(self) -> float | None:
        """Sample standard deviation over the seeds (n - 1); None for a single seed."""
        return statistics.stdev(self.values) if self.n > 1 else None


@dataclass
class Table:
    rows_key: str
    columns_key: str
    metric: str
    rows: list[str]
    columns: list[str]
    cells: dict[tuple[str, str], Cell]
    notes: list[str] = field(default_factory=list)
    title: str = ""
    """The Markdown heading; the metric's name when empty."""

    @property
    def percent(self) -> bool:
        """Scores in [0, 1] (accuracy, slot F1, exact match) are shown in % in Markdown, as in ``results.md``."""
        return self.metric.rsplit("/", 1)[-1] in METRIC_NAMES

    def cell(self, row: str, column: str) -> Cell | None:
        return self.cells.get((row, column))


@dataclass(frozen=True)
class Entry:
    """One value a run gives a table: its row and column, and ``part``, what the cell averages over besides seeds
    (a target language, so that each language weighs the same; ``""`` for nothing)."""

    run: RunRecord
    row: str
    column: str
    value: float
    part: str = ""
    ignore: tuple[str, ...] = ()
    """Prefixes of params the value does not depend on (the source model's score: ``method.``): runs that differ
    only by them share its row."""


def _natural(value: str) -> tuple:
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def _ordered(labels: Iterable[str], order: Sequence[str]) -> list[str]:
    """``labels`` in ``order`` (a row split by settings, ``kd [x=1]``, where ``kd`` is), the others after them."""

    def key(label: str) -> tuple:
        base = label.split(" [", 1)[0]
        return (order.index(base) if base in order else len(order), _natural(label))

    return sorted(set(labels), key=key)


BOOKKEEPING = ("tracking.", "cache_dir", "log_checkpoints", "share_stages", "preprocess_cache")
"""Params that do not change a run's numbers (nor do ``*.progress`` and ``*.threads``): they never split a row."""


def _counts(key: str, ignore: tuple[str, ...] = ()) -> bool:
    """Whether ``key`` can set runs apart: not a seed, not bookkeeping, not one of the table's ``ignore``."""
    return not (_seed_key(key) or key.startswith(BOOKKEEPING + ignore) or key.endswith((".progress", ".threads")))


def _setting_keys(runs: Sequence[RunRecord], places: Sequence[tuple], ignore: tuple[str, ...] = ()) -> list[str]:
    """The params (seeds and bookkeeping aside) that tell apart runs sharing a cell, a small set: a key is taken
    when it splits runs the keys before it leave together, then dropped again when the others split as well
    without it (``method._target_`` and ``method.balanced`` say the same)."""
    keys = sorted({key for run in runs for key in run.params if _counts(key, ignore)})

    def groups(with_keys: Sequence[str]) -> int:
        return len({(place, *(run.params.get(k) for k in with_keys)) for run, place in zip(runs, places, strict=True)})

    chosen: list[str] = []
    for key in keys:
        if groups([*chosen, key]) > groups(chosen):
            chosen.append(key)
    full = groups(chosen)
    for key in list(chosen):
        if groups([k for k in chosen if k != key]) == full:
            chosen.remove(key)
    return chosen


def tabulate(
    entries: Sequence[Entry],
    rows_key: str,
    columns_key: str,
    metric: str,
    *,
    row_order: Sequence[str] = (),
    column_order: Sequence[str] = (),
    notes: Sequence[str] = (),
    title: str = "",
) -> Table:
    """The table of ``entries``. Runs of one row that differ by a param other than their seeds, bookkeeping, what
    its entries ``ignore`` and what follows from their places and parts split the row, its labels naming what
    differs. A cell's value for a seed is the mean over its parts of that seed's runs in each part; a seed without
    a run in every part is left out (noted), so that one mean never mixes two sets of languages."""
    places = [(e.row, e.column, e.part) for e in entries]
    by_row: dict[str, list[int]] = {}
    for i, entry in enumerate(entries):
        by_row.setdefault(entry.row, []).append(i)
    settings = {  # per row: only a row whose cells mix settings is split
        row: _setting_keys(
            [entries[i].run for i in found],
            [places[i] for i in found],
            tuple(dict.fromkeys(prefix for i in found for prefix in entries[i].ignore)),
        )
        for row, found in by_row.items()
    }
    grouped: dict[tuple[str, str], list[Entry]] = {}
    for entry in entries:
        row = entry.row
        if settings[row]:
            row += " [" + ", ".join(f"{k}={short_label(entry.run.params.get(k, MISSING))}" for k in settings[row]) + "]"
        grouped.setdefault((row, entry.column), []).append(entry)
    cells: dict[tuple[str, str], Cell] = {}
    notes = list(notes)
    for (row, column), found in grouped.items():
        cell, left_out = _cell(found)
        notes += [f"{row} / {column}: seed {seed} left out, it has no run for {parts}" for seed, parts in left_out]
        if cell is not None:
            cells[row, column] = cell
    return Table(
        rows_key=rows_key,
        columns_key=columns_key,
        metric=metric,
        rows=_ordered((r for r, _ in cells), row_order),
        columns=_ordered((c for _, c in cells), column_order),
        cells=cells,
        notes=notes,
        title=title,
    )


def _cell(entries: Sequence[Entry]) -> tuple[Cell | None, list[tuple[str, str]]]:
    """The cell of ``entries`` and the seeds left out of it, each with the parts it lacks."""
    by_part: dict[str, dict[str, list[float]]] = {}
    for entry in entries:
        by_part.setdefault(entry.part, {}).setdefault(entry.run.seed, []).append(entry.value)
    every = {entry.run.seed for entry in entries}
    common = every.intersection(*by_part.values())
    left_out = [
        (seed, ", ".join(p for p in sorted(by_part, key=_natural) if seed not in by_part[p]))
        for seed in sorted(every - common, key=_natural)
    ]
    if not common:
        return None, left_out
    seeds = sorted(common, key=_natural)
    values = [statistics.fmean(statistics.fmean(seeded[seed]) for seeded in by_part.values()) for seed in seeds]
    run_ids = list(dict.fromkeys(e.run.run_id for e in entries if e.run.seed in common))
    parts = sorted((p for p in by_part if p), key=_natural)
    return Cell(values, run_ids, seeds, parts), left_out


def missing_metric(runs: Sequence[RunRecord], metric: str, asked: str = "--metric") -> DistillxError:
    """The one-line error for a metric (pattern) none of ``runs`` logs, naming metrics they do log; ``asked``: the
    option that asked for it."""
    logged = sorted({m for run in runs for m in run.metrics if m.startswith("test/")}) or sorted(
        {m for run in runs for m in run.metrics}
    )
    unknown = sorted({k for k in PLACEHOLDER.findall(metric) if all(run.get(k) is None for run in runs)})
    why = f" (no run has {', '.join(unknown)})" if unknown else ""
    return DistillxError(
        f"{asked} {metric}: none of the {len(runs)} runs logs it{why}; they log e.g. {_listing(logged[:8])}"
    )


def report_table(runs: Sequence[RunRecord], rows: str, columns: str, metric: str = DEFAULT_METRIC) -> Table:
    """A table of ``metric`` (a pattern, see the module docstring) with rows and columns by the values of the keys
    ``rows`` and ``columns``; runs that differ only by seed share a cell (mean ± sample std, n). Runs without the
    metric are left out (noted); none with it is a DistillxError naming metrics they do have."""
    entries = []
    for run in runs:
        name = run.metric_name(metric)
        if name is not None and name in run.metrics:
            place = (short_label(run.get(rows) or MISSING), short_label(run.get(columns) or MISSING))
            entries.append(Entry(run, *place, run.metrics[name]))
    if not entries:
        raise missing_metric(runs, metric)
    notes = []
    if len(entries) < len(runs):
        notes.append(f"{len(runs) - len(entries)} of {len(runs)} runs do not log {metric} and are left out")
    return tabulate(entries, rows, columns, metric, notes=notes)


def short_label(value: str) -> str:
    """``distillx.models.cnn.CNNEncoder`` -> ``CNNEncoder``: labels stay short and still tell values apart."""
    return value.rsplit(".", 1)[-1] if value.startswith("distillx.") else value


def format_cell(cell: Cell | None, percent: bool) -> str:
    """``81.2 ± 1.3 (n=3)``, ``81.2`` for one seed, ``—`` for none; a cell averaged over k parts (target
    languages) says so first: ``79.8 (8)``, ``79.8 ± 1.2 (8, n=3)``."""
    if cell is None:
        return MISSING
    scale, digits = (100.0, 1) if percent else (1.0, 4)
    text = f"{scale * cell.mean:.{digits}f}"
    if cell.std is not None:
        text += f" ± {scale * cell.std:.{digits}f}"
    counts = ([str(len(cell.parts))] if cell.parts else []) + ([f"n={cell.n}"] if cell.n > 1 else [])
    return text + (f" ({', '.join(counts)})" if counts else "")


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(table: Table) -> str:
    unit = " (%)" if table.percent else ""
    title = table.title or f"**{table.metric}**{unit}: mean ± sample std over seeds (n seeds)"
    lines = [
        title,
        "",
        f"| {_escape(table.rows_key)} \\ {_escape(table.columns_key)} | "
        + " | ".join(_escape(c) for c in table.columns)
        + " |",
        "|---" * (len(table.columns) + 1) + "|",
    ]
    for row in table.rows:
        cells = [format_cell(table.cell(row, column), table.percent) for column in table.columns]
        lines.append(f"| {_escape(row)} | " + " | ".join(cells) + " |")
    lines += [f"\nNote: {note}" for note in table.notes]
    return "\n".join(lines) + "\n"


def to_csv(table: Table, path: str | Path) -> None:
    """One line per filled cell: the row and column values, the mean and sample std over seeds of the metric as
    logged (not in %; std empty for one seed), n (seeds), the run ids and the parts averaged over
    (space-separated); the header names the keys and the metric."""
    with Path(path).open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([table.rows_key, table.columns_key, f"mean {table.metric}", "std", "n", "run_ids", "parts"])
        for row in table.rows:
            for column in table.columns:
                cell = table.cell(row, column)
                if cell is None:
                    continue
                std = "" if cell.std is None else repr(cell.std)
                ids, parts = " ".join(cell.run_ids), " ".join(cell.parts)
                writer.writerow([row, column, repr(cell.mean), std, cell.n, ids, parts])


def parse_args(argv: Sequence[str] | None, presets: Sequence[str] = ()) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="distillx-report",
        description="Result tables from the distillx runs in an MLflow store (mean ± sample std over seeds).",
    )
    parser.add_argument("--uri", default=DEFAULT_URI, help=f"MLflow tracking URI (default: {DEFAULT_URI})")
    parser.add_argument("--experiment", default=DEFAULT_EXPERIMENT, help="experiment name (default: %(default)s)")
    parser.add_argument("--parent", help="only the children of this sweep parent run (run id or run name)")
    parser.add_argument("--filter", default="", help="MLflow search filter, e.g. \"params.seed = '42'\"")
    parser.add_argument("--table", choices=presets, help="one of the papers' tables (see distillx.report.tables)")
    parser.add_argument("--rows", help=f"key of the rows (default: {DEFAULT_ROWS})")
    parser.add_argument("--columns", help=f"key of the columns (default: {DEFAULT_COLUMNS}; not with --table)")
    parser.add_argument("--metric", help=f"metric name, {{key}} filled in per run (default: {DEFAULT_METRIC})")
    parser.add_argument(
        "--out", type=Path, help="write report.md and report.csv (--table: NAME.md, .csv and .png) into this folder"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``distillx-report`` console script."""
    from distillx.report import tables  # noqa: PLC0415 - the presets build on this module

    args = parse_args(argv, tables.PRESETS)
    try:
        if args.table is not None and args.columns is not None:
            raise DistillxError(f"--columns: --table {args.table} has its own columns")
        runs = load_runs(args.uri, args.experiment, args.parent, args.filter)
        if args.table is not None:
            figures = tables.build(args.table, runs, args.rows, args.metric)
            if args.out is None:
                sys.stdout.write(tables.markdown(figures))
                return
            paths = _writing(args.out, lambda: tables.write(args.table, figures, args.out))
            print("wrote " + ", ".join(str(path) for path in paths))
            return
        table = report_table(
            runs, args.rows or DEFAULT_ROWS, args.columns or DEFAULT_COLUMNS, args.metric or DEFAULT_METRIC
        )
        markdown = to_markdown(table)
        if args.out is None:
            sys.stdout.write(markdown)
            return
        _writing(args.out, lambda: _write_report(table, markdown, args.out))
        print(f"wrote {args.out / 'report.md'} and {args.out / 'report.csv'}")
    except DistillxError as err:
        print(f"distillx-report: error: {err}", file=sys.stderr)
        sys.exit(2)


def _write_report(table: Table, markdown: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(markdown)
    to_csv(table, out / "report.csv")


def _writing(out: Path, write: Callable[[], T]) -> T:
    """``write()``, a failure to write under ``out`` (read-only, not a folder) as a one-line error."""
    try:
        return write()
    except OSError as err:
        raise DistillxError(f"--out {out}: {err.strerror or err}: {err.filename or out}") from None


if __name__ == "__main__":
    main()
