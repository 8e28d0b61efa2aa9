"""``distillx-report``: tables read back from a store made by real tiny runs, seeds averaged, one-line errors."""

from __future__ import annotations

import csv
import json
import statistics

import pytest
from conftest import TINY, compose_config
from mlflow import MlflowClient

from distillx.cli import run
from distillx.errors import DistillxError
from distillx.report.mlflow_report import load_runs, main, report_table, split_overrides, to_csv, to_markdown

EXPERIMENT = "report-test"
# (run name as a sweep job would have it, its overrides): two seeds of one student, one run of another elsewhere
JOBS = {
    "seed=1,student=transformer": ["seed=1", "student=transformer"],
    "seed=2,student=transformer": ["seed=2", "student=transformer"],
    "language=de,seed=1,student=bilstm": ["seed=1", "student=bilstm", "language=de"],
}


@pytest.fixture(autouse=True)
def _no_telemetry(monkeypatch):
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture(scope="module")
def store(tmp_path_factory, shared_cache) -> dict:
    """Three real tiny runs nested under a sweep parent, plus two fake runs the report must leave out: one still
    RUNNING under the parent, one FINISHED outside it."""
    root = tmp_path_factory.mktemp("report")
    uri = f"sqlite:///{root}/mlflow.db"
    client = MlflowClient(uri)
    experiment_id = client.create_experiment(EXPERIMENT)
    parent = client.create_run(experiment_id, run_name="cli-sweep-test")
    parent_id = parent.info.run_id
    client.set_tag(parent_id, "distillx.sweep_dir", str(root))
    scores = {}
    for name, overrides in JOBS.items():
        cfg = compose_config(
            [*TINY, "split.limit=40", "trainer.threads=1", f"tracking.experiment={EXPERIMENT}", *overrides],
            root,
            shared_cache,
        )
        out = root / name.replace(",", "_").replace("=", "-")
        run(cfg, out, name, parent_run_id=parent_id)
        saved = json.loads((out / "results.json").read_text())
        scores[name] = saved["scores"]["student"][saved["target"]]["accuracy"]
    client.set_terminated(parent_id)
    running = client.create_run(experiment_id, run_name="seed=3,student=transformer")
    client.set_tag(running.info.run_id, "mlflow.parentRunId", parent_id)
    client.log_param(running.info.run_id, "language.code", "zh")
    client.log_metric(running.info.run_id, "test/student/zh/accuracy", 0.123)
    outside = client.create_run(experiment_id, run_name="seed=9,student=transformer")
    client.log_param(outside.info.run_id, "language.code", "zh")
    client.log_metric(outside.info.run_id, "test/student/zh/accuracy", 0.987)
    client.set_terminated(outside.info.run_id)
    return {"uri": uri, "root": root, "parent_id": parent_id, "scores": scores}


def test_table_reproduces_results_json_and_averages_seeds(store):
    runs = load_runs(store["uri"], EXPERIMENT, parent="cli-sweep-test")
    assert sorted(r.name for r in runs) == sorted(JOBS), "only the finished children of the parent"
    table = report_table(runs, rows="student", columns="language.code", metric="test/student/{target}/accuracy")
    assert table.rows == ["bilstm", "transformer"] and table.columns == ["de", "zh"]

    bilstm = table.cell("bilstm", "de")
    assert bilstm.n == 1 and bilstm.std is None
    assert bilstm.mean == pytest.approx(store["scores"]["language=de,seed=1,student=bilstm"])
    assert table.cell("bilstm", "zh") is None and table.cell("transformer", "de") is None

    seeds = [store["scores"]["seed=1,student=transformer"], store["scores"]["seed=2,student=transformer"]]
    transformer = table.cell("transformer", "zh")
    assert transformer.n == 2
    assert sorted(transformer.values) == pytest.approx(sorted(seeds))
    assert transformer.mean == pytest.approx(sum(seeds) / 2)
    assert transformer.std == pytest.approx(abs(seeds[0] - seeds[1]) / 2**0.5)  # sample std of two values
    assert transformer.std == pytest.approx(statistics.stdev(seeds))

    markdown = to_markdown(table)
    assert f"| transformer | — | {100 * transformer.mean:.1f} ± {100 * transformer.std:.1f} (n=2) |" in markdown
    assert f"| bilstm | {100 * bilstm.mean:.1f} | — |" in markdown


def test_without_parent_every_finished_run_counts_and_the_default_keys_work(store):
    runs = load_runs(store["uri"], EXPERIMENT)
    assert len(runs) == 4, "three children and the finished run outside the sweep; neither the parent nor RUNNING"
    table = report_table(
        runs, rows="student.encoder._target_", columns="target", metric="test/student/{target}/accuracy"
    )
    assert table.rows == ["BiLSTMEncoder", "TransformerEncoder", "—"], "the fake run logs no config: row —"
    assert table.cell("—", "zh").values == [pytest.approx(0.987)]
    assert table.cell("BiLSTMEncoder", "de").n == 1
    transformer = table.cell("TransformerEncoder", "zh")
    assert transformer.n == 2 and transformer.mean == pytest.approx(
        (store["scores"]["seed=1,student=transformer"] + store["scores"]["seed=2,student=transformer"]) / 2
    )


def test_runs_differing_beyond_seed_are_not_averaged(store):
    runs = load_runs(store["uri"], EXPERIMENT, parent=store["parent_id"])
    # one column for all three runs: bilstm and transformer share it but are two settings, never one mean
    table = report_table(runs, rows="source.code", columns="source.code", metric="test/student/{target}/accuracy")
    assert sorted(cell.n for cell in table.cells.values()) == [1, 2]
    assert all("[" in row for row in table.rows)


def test_filter_and_csv(store, tmp_path):
    runs = load_runs(store["uri"], EXPERIMENT, parent="cli-sweep-test", filter_string="params.seed = '1'")
    assert sorted(r.name for r in runs) == ["language=de,seed=1,student=bilstm", "seed=1,student=transformer"]
    table = report_table(runs, rows="student", columns="language", metric="test/student/{target}/accuracy")
    assert table.columns == ["de", "—"], "language is an override of the bilstm run only"
    to_csv(table, tmp_path / "t.csv")
    lines = list(csv.reader((tmp_path / "t.csv").open()))
    assert lines[0] == ["student", "language", "mean test/student/{target}/accuracy", "std", "n", "run_ids"]
    assert [(row[0], row[1], float(row[2]), row[3], row[4]) for row in lines[1:]] == [  # floats as logged
        ("bilstm", "de", store["scores"]["language=de,seed=1,student=bilstm"], "", "1"),
        ("transformer", "—", store["scores"]["seed=1,student=transformer"], "", "1"),
    ]


def test_errors_are_one_line(store, tmp_path):
    with pytest.raises(DistillxError, match=r"--experiment nope: no such experiment .*'report-test'") as err:
        load_runs(store["uri"], "nope")
    assert "\n" not in str(err.value)
    with pytest.raises(DistillxError, match=r"--parent nope: .*parent runs there: 'cli-sweep-test'"):
        load_runs(store["uri"], EXPERIMENT, parent="nope")
    with pytest.raises(DistillxError, match="no finished runs"):
        load_runs(store["uri"], EXPERIMENT, parent="cli-sweep-test", filter_string="params.seed = '77'")
    with pytest.raises(DistillxError, match=r"--filter"):
        load_runs(store["uri"], EXPERIMENT, filter_string="params.seed === 1")
    runs = load_runs(store["uri"], EXPERIMENT, parent="cli-sweep-test")
    with pytest.raises(DistillxError, match=r"--metric test/student/\{target\}/bleu: .*test/student/zh/accuracy"):
        report_table(runs, "student", "language.code", "test/student/{target}/bleu")
    with pytest.raises(DistillxError, match=r"no run has nokey"):
        report_table(runs, "student", "language.code", "test/student/{nokey}/accuracy")

    junk = tmp_path / "junk.db"
    junk.write_text("not a database\n" * 100)
    with pytest.raises(DistillxError, match=r"--uri .*cannot be opened \(file is not a database\)"):
        load_runs(f"sqlite:///{junk}", EXPERIMENT)
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(DistillxError, match="not an MLflow tracking store"):
        load_runs(f"sqlite:///{empty}", EXPERIMENT)
    assert empty.stat().st_size == 0, "the report must not write into a store"
    with pytest.raises(DistillxError, match="no such database file"):
        load_runs(f"sqlite:///{tmp_path}/missing/mlflow.db", EXPERIMENT)
    assert not (tmp_path / "missing").exists()


def test_main_writes_both_files(store, tmp_path, capsys):
    out = tmp_path / "report"
    main(
        ["--uri", store["uri"], "--experiment", EXPERIMENT, "--parent", "cli-sweep-test"]
        + ["--rows", "student", "--columns", "language.code", "--out", str(out)]
    )
    assert capsys.readouterr().out.startswith(f"wrote {out / 'report.md'}")
    markdown = (out / "report.md").read_text()
    assert "| transformer | — |" in markdown and " (n=2) |" in markdown
    rows = list(csv.DictReader((out / "report.csv").open()))
    assert {(r["student"], r["language.code"], r["n"]) for r in rows} == {
        ("bilstm", "de", "1"),
        ("transformer", "zh", "2"),
    }

    main(["--uri", store["uri"], "--experiment", EXPERIMENT, "--parent", "cli-sweep-test", "--rows", "student"])
    assert capsys.readouterr().out.startswith("**test/student/{target}/accuracy** (%)")


def test_main_error_is_one_line_exit_2(store, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--uri", store["uri"], "--experiment", "nope"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("distillx-report: error: --experiment nope: no such experiment")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_split_overrides_keeps_lists_whole():
    name = "++method.zero_shot=[fr,de],+kd_row=teacher,mplm.lr='a,b'"
    assert split_overrides(name) == ["++method.zero_shot=[fr,de]", "+kd_row=teacher", "mplm.lr='a,b'"]
