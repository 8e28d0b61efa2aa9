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
the cell is their mean ± the *sample* standard deviation (n - 1 in the denominator; none for a single run) and n.
Runs in one cell that differ by any other param (bookkeeping aside: ``tracking.*``, ``*.progress``,
``*.threads``, ``cache_dir``...) are never averaged: their rows are split, the row label naming params that set
them apart (``TransformerEncoder [method.balanced=True]``); a param missing from a run (logged by an older
version) shows as ``—``. Labels that name a distillx class are shortened to the class name.
"""

from __future__ import annotations

import argparse
import csv
import re
import sqlite3
import statistics
import sys
from collections.abc import Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from distillx.errors import DistillxError
from distillx.report.results import METRIC_NAMES

DEFAULT_URI = "sqlite:///outputs/mlflow.db"
DEFAULT_EXPERIMENT = "distillx"
"""``tracking.experiment`` in ``conf/tracking/mlflow.yaml``."""
DEFAULT_METRIC = "test/student/{target}/accuracy"
ALIASES = {"target": "language.code", "source": "source.code"}
MISSING = "—"
MAX_LISTED = 10
MAX_RUN_NAME = 250
"""The CLI cuts run names at MLflow's limit: the last override of a name this long may be cut too."""
_SQLITE_PREFIX = "sqlite:///"
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


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

        name = _PLACEHOLDER.sub(fill, pattern)
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


def _seed_key(key: str) -> bool:
    return key == "seed" or key.endswith(".seed")


def _client(uri: str):
    """An MlflowClient on ``uri``; a sqlite store must already exist and be an MLflow store, checked read-only
    first: MLflow would create (write) a database at a missing path or in an empty file."""
    if uri.startswith(_SQLITE_PREFIX):
        path = Path(uri[len(_SQLITE_PREFIX) :])
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
            run.info.run_id, run.info.run_name or "", dict(run.data.params), dict(run.data.tags), dict(run.data.metrics)
        )
        for run in runs
        if "distillx.sweep_dir" not in run.data.tags  # a sweep's parent: a summary of its children, not a run
    ]
    if not records:
        where = f"under parent run {parent!r}" if parent is not None else f"in experiment {experiment!r}"
        extra = f" matching --filter {filter_string!r}" if filter_string.strip() else ""
        raise DistillxError(f"no finished runs {where}{extra} in {uri}")
    return records


@dataclass
class Cell:
    values: list[float]
    run_ids: list[str]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def std(self) -> float | None:
        """Sample standard deviation (n - 1); None for a single run."""
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

    @property
    def percent(self) -> bool:
        """Scores in [0, 1] (accuracy, slot F1, exact match) are shown in % in Markdown, as in ``results.md``."""
        return self.metric.rsplit("/", 1)[-1] in METRIC_NAMES

    def cell(self, row: str, column: str) -> Cell | None:
        return self.cells.get((row, column))


def _natural(value: str) -> tuple:
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


BOOKKEEPING = ("tracking.", "cache_dir", "log_checkpoints", "share_stages", "preprocess_cache")
"""Params that do not change a run's numbers (nor do ``*.progress`` and ``*.threads``): they never split a row."""


def _counts(key: str) -> bool:
    """Whether ``key`` can set runs apart: not a seed, not bookkeeping."""
    return not (_seed_key(key) or key.startswith(BOOKKEEPING) or key.endswith((".progress", ".threads")))


def _setting_keys(runs: Sequence[RunRecord], places: Sequence[tuple[str, str]]) -> list[str]:
    """The params (seeds and bookkeeping aside) that tell apart runs sharing a cell, a small set: a key is taken
    when it splits runs the keys before it leave together, then dropped again when the others split as well
    without it (``method._target_`` and ``method.balanced`` say the same)."""
    keys = sorted({key for run in runs for key in run.params if _counts(key)})

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


def report_table(runs: Sequence[RunRecord], rows: str, columns: str, metric: str = DEFAULT_METRIC) -> Table:
    """A table of ``metric`` (a pattern, see the module docstring) with rows and columns by the values of the keys
    ``rows`` and ``columns``; runs that differ only by seed share a cell (mean ± sample std, n). Runs without the
    metric are left out (noted); none with it is a DistillxError naming metrics they do have."""
    with_metric: list[tuple[RunRecord, float]] = []
    for run in runs:
        name = run.metric_name(metric)
        if name is not None and name in run.metrics:
            with_metric.append((run, run.metrics[name]))
    if not with_metric:
        logged = sorted({m for run in runs for m in run.metrics if m.startswith("test/")}) or sorted(
            {m for run in runs for m in run.metrics}
        )
        unknown = sorted({k for k in _PLACEHOLDER.findall(metric) if all(run.get(k) is None for run in runs)})
        why = f" (no run has {', '.join(unknown)})" if unknown else ""
        raise DistillxError(
            f"--metric {metric}: none of the {len(runs)} runs logs it{why}; they log e.g. {_listing(logged[:8])}"
        )
    places = [(_short(run.get(rows) or MISSING), _short(run.get(columns) or MISSING)) for run, _ in with_metric]
    by_row: dict[str, list[int]] = {}
    for i, (row, _) in enumerate(places):
        by_row.setdefault(row, []).append(i)
    settings = {  # per row value: only a row whose cells mix settings is split
        row: _setting_keys([with_metric[i][0] for i in found], [places[i] for i in found])
        for row, found in by_row.items()
    }
    cells: dict[tuple[str, str], Cell] = {}
    for (run, value), (row, column) in zip(with_metric, places, strict=True):
        setting_keys = settings[row]
        if setting_keys:
            row += " [" + ", ".join(f"{k}={_short(run.params.get(k, MISSING))}" for k in setting_keys) + "]"
        cell = cells.setdefault((row, column), Cell([], []))
        cell.values.append(value)
        cell.run_ids.append(run.run_id)
    notes = []
    if len(with_metric) < len(runs):
        notes.append(f"{len(runs) - len(with_metric)} of {len(runs)} runs do not log {metric} and are left out")
    return Table(
        rows_key=rows,
        columns_key=columns,
        metric=metric,
        rows=sorted({r for r, _ in cells}, key=_natural),
        columns=sorted({c for _, c in cells}, key=_natural),
        cells=cells,
        notes=notes,
    )


def _short(value: str) -> str:
    """``distillx.models.cnn.CNNEncoder`` -> ``CNNEncoder``: labels stay short and still tell values apart."""
    return value.rsplit(".", 1)[-1] if value.startswith("distillx.") else value


def format_cell(cell: Cell | None, percent: bool) -> str:
    """``81.2 ± 1.3 (n=3)``, ``81.2`` for one run, ``—`` for none."""
    if cell is None:
        return MISSING
    scale, digits = (100.0, 1) if percent else (1.0, 4)
    text = f"{scale * cell.mean:.{digits}f}"
    if cell.std is not None:
        text += f" ± {scale * cell.std:.{digits}f} (n={cell.n})"
    return text


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(table: Table) -> str:
    unit = " (%)" if table.percent else ""
    lines = [
        f"**{table.metric}**{unit}: mean ± sample std over seeds (n runs)",
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


CSV_FIELDS = ("row", "column", "mean", "std", "n", "run_ids")


def to_csv(table: Table, path: str | Path) -> None:
    """One line per filled cell: the row and column values, the mean and sample std of the metric as logged (not
    in %; std empty for one run), n and the run ids (space-separated); the header names the keys and the metric."""
    with Path(path).open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([table.rows_key, table.columns_key, f"mean {table.metric}", "std", "n", "run_ids"])
        for row in table.rows:
            for column in table.columns:
                cell = table.cell(row, column)
                if cell is None:
                    continue
                std = "" if cell.std is None else repr(cell.std)
                writer.writerow([row, column, repr(cell.mean), std, cell.n, " ".join(cell.run_ids)])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="distillx-report",
        description="Result tables from the distillx runs in an MLflow store (mean ± sample std over seeds).",
    )
    parser.add_argument("--uri", default=DEFAULT_URI, help=f"MLflow tracking URI (default: {DEFAULT_URI})")
    parser.add_argument("--experiment", default=DEFAULT_EXPERIMENT, help="experiment name (default: %(default)s)")
    parser.add_argument("--parent", help="only the children of this sweep parent run (run id or run name)")
    parser.add_argument("--filter", default="", help="MLflow search filter, e.g. \"params.seed = '42'\"")
    parser.add_argument("--rows", default="student.encoder._target_", help="key of the rows (default: %(default)s)")
    parser.add_argument("--columns", default="language.code", help="key of the columns (default: %(default)s)")
    parser.add_argument(
        "--metric", default=DEFAULT_METRIC, help="metric name, {key} filled in per run (default: %(default)s)"
    )
    parser.add_argument("--out", type=Path, help="write report.md and report.csv into this folder (default: stdout)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``distillx-report`` console script."""
    args = parse_args(argv)
    try:
        runs = load_runs(args.uri, args.experiment, args.parent, args.filter)
        table = report_table(runs, args.rows, args.columns, args.metric)
        markdown = to_markdown(table)
        if args.out is None:
            sys.stdout.write(markdown)
            return
        try:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "report.md").write_text(markdown)
            to_csv(table, args.out / "report.csv")
        except OSError as err:
            raise DistillxError(f"--out {args.out}: {err.strerror or err}: {err.filename or args.out}") from None
        print(f"wrote {args.out / 'report.md'} and {args.out / 'report.csv'}")
    except DistillxError as err:
        print(f"distillx-report: error: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
