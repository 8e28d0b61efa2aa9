"""``distillx-report``: tables read back from a store made by real tiny runs, seeds averaged, one-line errors."""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import shutil
import statistics

import pytest
from conftest import REPO, TINY, compose_config
from mlflow import MlflowClient

from distillx.cli import run
from distillx.errors import DistillxError
from distillx.report import tables
from distillx.report.mlflow_report import (
    RunRecord,
    load_runs,
    main,
    report_table,
    split_overrides,
    to_csv,
    to_markdown,
)

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
    scores, teachers = {}, {}
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
        teachers[name] = saved["scores"]["teacher"][saved["source"]]["accuracy"]
    client.set_terminated(parent_id)
    running = client.create_run(experiment_id, run_name="seed=3,student=transformer")
    client.set_tag(running.info.run_id, "mlflow.parentRunId", parent_id)
    client.log_param(running.info.run_id, "language.code", "zh")
    client.log_metric(running.info.run_id, "test/student/zh/accuracy", 0.123)
    outside = client.create_run(experiment_id, run_name="seed=9,student=transformer")
    client.log_param(outside.info.run_id, "language.code", "zh")
    client.log_metric(outside.info.run_id, "test/student/zh/accuracy", 0.987)
    client.set_terminated(outside.info.run_id)
    return {"uri": uri, "root": root, "parent_id": parent_id, "scores": scores, "teachers": teachers}


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
    assert lines[0] == ["student", "language", "mean test/student/{target}/accuracy", "std", "n", "run_ids", "parts"]
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


# ------------------------------------------------------------------------------------- the papers' tables
PAPER_EXPERIMENT = "report-paper"
# (recipe, target language, seed): a small Table 1 grid of one architecture, kd with two seeds
PAPER_JOBS = [("kd", "de", 1), ("kd", "de", 2), ("kd", "zh", 1), ("kd", "zh", 2), ("translate_test", "zh", 1)]


@pytest.fixture(scope="module")
def paper_store(store, shared_cache) -> dict:
    """The grid of PAPER_JOBS in the store of ``store``, one top-level run per cell and seed as
    ``experiments/paper_tables.py run`` makes them. Their directories are deleted: a table's figures can only
    come from MLflow."""
    scores = {}
    for recipe, language, seed in PAPER_JOBS:
        overrides = [f"+recipe={recipe}", "+same_arch=transformer", f"language={language}", f"seed={seed}"]
        cfg = compose_config(
            [*TINY, "split.limit=40", "trainer.threads=1", f"tracking.experiment={PAPER_EXPERIMENT}", *overrides],
            store["root"],
            shared_cache,
        )
        out = store["root"] / "paper" / f"{recipe}-{language}-{seed}"
        scores[recipe, language, seed] = run(cfg, out, ",".join(overrides)).scores
        shutil.rmtree(out)
    return {"uri": store["uri"], "scores": scores}


def _kd(paper_store: dict, language: str, seed: int, role: str = "student") -> float:
    return paper_store["scores"]["kd", language, seed][role][language]["accuracy"]


def _kd_per_seed(paper_store: dict) -> list[float]:
    """Table 1's kd cell per seed: the mean over its target languages."""
    return [statistics.fmean(_kd(paper_store, lang, seed) for lang in ("de", "zh")) for seed in (1, 2)]


def _pct(values: list[float]) -> str:
    return f"{100 * statistics.fmean(values):.1f} ± {100 * statistics.stdev(values):.1f}"


def _png(path) -> bytes:
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 5000, path
    return data


def test_freetransfer_table1_cells_come_from_mlflow(paper_store, tmp_path, capsys):
    table = tables.freetransfer_table(load_runs(paper_store["uri"], PAPER_EXPERIMENT), "accuracy")
    assert table.rows == ["source", "translate_test", "kd"] and table.columns == ["transformer"]
    kd = table.cell("kd", "transformer")
    assert kd.parts == ["de", "zh"] and kd.seeds == ["1", "2"]
    assert kd.values == pytest.approx(_kd_per_seed(paper_store)), "per seed: the mean over its target languages"
    translate_test = paper_store["scores"]["translate_test", "zh", 1]["translate_test"]["zh"]["accuracy"]
    assert table.cell("translate_test", "transformer").values == [pytest.approx(translate_test)]
    source = table.cell("source", "transformer")  # one source model per seed, whatever the recipe and language
    by_seed = [
        [s["teacher"]["en"]["accuracy"] for (_, _, sd), s in paper_store["scores"].items() if sd == seed]
        for seed in (1, 2)
    ]
    assert source.parts == [] and source.values == pytest.approx([statistics.fmean(v) for v in by_seed])

    out = tmp_path / "table1"
    main(
        ["--uri", paper_store["uri"], "--experiment", PAPER_EXPERIMENT, "--table", "freetransfer-table1"]
        + ["--out", str(out)]
    )
    assert capsys.readouterr().out.startswith(f"wrote {out / 'freetransfer-table1.md'}")
    markdown = (out / "freetransfer-table1.md").read_text()
    assert f"| kd | {_pct(_kd_per_seed(paper_store))} (2, n=2) |" in markdown
    assert f"| translate_test | {100 * translate_test:.1f} (1) |" in markdown
    cells = {(r[0], r[1]): r[2:] for r in list(csv.reader((out / "freetransfer-table1.csv").open()))[1:]}
    mean, std, n, _, parts = cells["kd", "transformer"]
    assert (float(mean), float(std)) == pytest.approx(
        (statistics.fmean(_kd_per_seed(paper_store)), statistics.stdev(_kd_per_seed(paper_store)))
    )
    assert (n, parts) == ("2", "de zh")
    _png(out / "freetransfer-table1.png")


def test_a_seed_without_every_language_is_left_out_of_an_average():
    arch = {
        f"{role}.encoder._target_": "distillx.models.transformer.TransformerEncoder" for role in ("teacher", "student")
    }
    runs = [
        RunRecord(
            f"r{i}",
            "+recipe=kd",
            {**arch, "seed": seed, "language.code": lang},
            {},
            {f"test/student/{lang}/accuracy": x},
        )
        for i, (seed, lang, x) in enumerate([("1", "de", 0.2), ("1", "zh", 0.4), ("2", "de", 0.9)])
    ]
    table = tables.freetransfer_table(runs)
    cell = table.cell("kd", "transformer")
    assert cell.values == [pytest.approx(0.3)] and cell.seeds == ["1"] and cell.run_ids == ["r0", "r1"]
    assert table.notes == ["kd / transformer: seed 2 left out, it has no run for zh"]


def test_a_lean_student_gets_its_own_column():
    """student=lean wraps the mPLM's encoder class: its column says lean, apart from the from-scratch students."""
    transformer = "distillx.models.transformer.TransformerEncoder"
    runs = [
        RunRecord(
            f"r{i}",
            "+recipe=kd",
            {"teacher.encoder._target_": transformer, "student.encoder._target_": student, "language.code": "de"}
            | extra,
            {},
            {"test/student/de/accuracy": x},
        )
        for i, (student, extra, x) in enumerate(
            [(transformer, {}, 0.5), ("distillx.models.mplm.PretrainedEncoder", {"student.base": "lean"}, 0.8)]
        )
    ]
    table = tables.freetransfer_table(runs)
    assert table.cell("kd", "transformer").values == [pytest.approx(0.5)]
    assert table.cell("kd", "transformer->lean").values == [pytest.approx(0.8)]


def test_freetransfer_table4_the_step1_mplm_per_language(paper_store):
    table = tables.mplm_table(load_runs(paper_store["uri"], PAPER_EXPERIMENT), 4)
    row = "transformer naive KD"
    assert table.rows == [row], "the runs of both target languages share the row: the mPLM depends on neither"
    assert table.columns == ["en (source model)", "en", "de", "zh", "Avg"]
    assert table.cell(row, "de").values == pytest.approx([_kd(paper_store, "de", s, "mplm") for s in (1, 2)])
    assert table.cell(row, "en").n == 2, "one value per seed, however many runs scored the same mPLM"
    avg = table.cell(row, "Avg")
    assert avg.parts == ["de", "zh"]
    assert avg.values == pytest.approx(
        [statistics.fmean(_kd(paper_store, lang, s, "mplm") for lang in ("de", "zh")) for s in (1, 2)]
    )


def test_cross_architecture_heatmaps(store, tmp_path):
    out = tmp_path / "cross"
    main(
        ["--uri", store["uri"], "--experiment", EXPERIMENT, "--parent", "cli-sweep-test"]
        + ["--table", "cross-architecture", "--out", str(out)]
    )
    score, drop = (
        {(r[0], r[1]): float(r[2]) for r in list(csv.reader((out / f"cross-architecture-{kind}.csv").open()))[1:]}
        for kind in ("score", "drop")
    )
    seeds = [store["scores"][f"seed={s},student=transformer"] for s in (1, 2)]
    bilstm = "language=de,seed=1,student=bilstm"
    assert score == pytest.approx(
        {("transformer", "transformer"): statistics.fmean(seeds), ("transformer", "bilstm"): store["scores"][bilstm]}
    )
    assert drop["transformer", "bilstm"] == pytest.approx(store["teachers"][bilstm] - store["scores"][bilstm])
    assert _png(out / "cross-architecture-score.png") != _png(out / "cross-architecture-drop.png")


def test_per_language_table_and_preset_options(store, capsys):
    runs = load_runs(store["uri"], EXPERIMENT, parent="cli-sweep-test")
    table = tables.per_language(runs, "student", "test/student/{target}/accuracy")
    assert table.columns == ["de", "zh"] and table.cell("transformer", "zh").n == 2
    with pytest.raises(DistillxError, match="--rows: --table freetransfer-table1 has the paper's rows"):
        tables.build("freetransfer-table1", runs, rows="student")
    with pytest.raises(DistillxError, match="needs {target}"):
        tables.build("per-language", runs, metric="test/student/zh/accuracy")
    with pytest.raises(SystemExit):
        main(["--uri", store["uri"], "--experiment", EXPERIMENT, "--table", "per-language", "--columns", "seed"])
    assert "--columns: --table per-language has its own columns" in capsys.readouterr().err


def _paper_tables():
    """experiments/paper_tables.py, with the demo dataset as a --dataset (the paper's figures: 1.0, 2.0, 3.0)."""
    spec = importlib.util.spec_from_file_location("paper_tables", REPO / "experiments" / "paper_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.LANGUAGES["demo"], module.NAMES["demo"] = "de,zh", "the demo"
    module.READERS["demo"] = "distillx.data.demo.DemoDataset"
    for paper in module.PAPER_TABLE1.values():
        paper["demo"] = (1.0, 2.0, 3.0)
    return module


def test_paper_tables_collect_reads_the_store(paper_store):
    paper_tables = _paper_tables()
    args = argparse.Namespace(
        dataset="demo", epochs=2, uri=paper_store["uri"], experiment=PAPER_EXPERIMENT, commands=None, write=False
    )
    text = paper_tables.collect(args)
    assert f"| kd | {_pct(_kd_per_seed(paper_store))} (2, n=2) / 1.0 | — / 2.0 | — / 3.0 |" in text
    zh = [_kd(paper_store, "zh", seed) for seed in (1, 2)]
    assert f"| kd on the MT rows' languages (zh) | {_pct(zh)} (1, n=2) / 1.0 |" in text
    de = [_kd(paper_store, "de", seed) for seed in (1, 2)]
    assert f"| transformer | kd | {_pct(de)} (n=2) | {_pct(zh)} (n=2) |" in text
    wall = next(line for line in text.splitlines() if line.startswith("| transformer | kd |") and "cells)" in line)
    assert " x 4 (2 ep) |" in wall and wall.endswith(" (4 cells) |"), "kd2_student: trained by each of the 4 runs"
    assert "Notes written by the runs: " in text and "oracle" in text.split("Notes written by the runs: ")[1]
    args.epochs = 3
    assert "| kd | — / 1.0 | — / 2.0 | — / 3.0 |" in paper_tables.collect(args), "--epochs selects the runs"
