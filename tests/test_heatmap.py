"""Cross-architecture heatmaps (freetransfer-x.md §4.3, Figures 4/5): the grids, their PNG/Markdown files, the
sweep callback logging them to the parent run, and the ``+experiment=cross_architecture`` preset."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from conftest import CONF, compose_config
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from mlflow import MlflowClient
from omegaconf import OmegaConf

from distillx.report import heatmap
from distillx.report.heatmap import TransferRun, arch_name, build_grid, grids, markdown, mean_grid, write
from distillx.track.mlflow_tracker import MlflowTracker, get_or_create_experiment
from distillx.track.sweep_callback import CROSS_ARCH_DIR, PARENT_RUN_ID_FILE, MlflowSweepCallback

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ENCODERS = {
    "transformer": "distillx.models.transformer.TransformerEncoder",
    "bilstm": "distillx.models.bilstm.BiLSTMEncoder",
    "cnn": "distillx.models.cnn.CNNEncoder",
}


@pytest.fixture(autouse=True)
def _no_telemetry(monkeypatch):
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")


def _run(teacher: str, student: str, target: float, source: float | None = 0.9, lang: str = "de") -> TransferRun:
    return TransferRun(teacher, student, target, source, language=lang, source="en", metric="accuracy")


def test_arch_name_matches_run_context():
    assert {arch_name(target) for target in ENCODERS.values()} == set(ENCODERS)


def test_grid_has_score_and_drop_per_cell_blank_where_no_run():
    runs = [
        _run("transformer", "transformer", 0.80, 0.95),
        _run("transformer", "cnn", 0.70, 0.95),
        _run("bilstm", "cnn", 0.60, 0.90),
        _run("bilstm", "cnn", 0.64, 0.90),  # a second seed: the cell is the mean
        _run("cnn", "bilstm", 0.50, None),  # no source score: a score, no drop
        _run("cnn", "cnn", 0.99, 0.99, lang="fr"),  # another language: not in the de grid
        TransferRun("cnn", "cnn", 0.5, 0.6, language="de", source="en", metric="slot_f1"),  # another metric
    ]
    grid = build_grid(runs, "accuracy", language="de")
    assert grid.rows == grid.cols == ["transformer", "bilstm", "cnn"]
    t, b, c = 0, 1, 2
    assert grid.score[t][t] == pytest.approx(0.80) and grid.drop[t][t] == pytest.approx(0.15)
    assert grid.score[t][c] == pytest.approx(0.70) and grid.drop[t][c] == pytest.approx(0.25)
    assert grid.score[b][c] == pytest.approx(0.62) and grid.drop[b][c] == pytest.approx(0.28)
    assert grid.counts[b][c] == 2
    assert grid.score[c][b] == pytest.approx(0.50) and grid.drop[c][b] is None
    assert grid.score[c][c] is None and grid.drop[t][b] is None and grid.counts[c][c] == 0
    assert grid.stem == "en-de_accuracy"

    # An architecture outside the paper's three is appended, not dropped.
    extra = build_grid([*runs, _run("gru", "cnn", 0.4)], "accuracy", language="de")
    assert extra.rows == ["transformer", "bilstm", "cnn", "gru"] and extra.cols == ["transformer", "bilstm", "cnn"]


def test_several_target_languages_also_get_their_mean():
    runs = [
        _run("transformer", "cnn", 0.6, lang="de"),
        _run("transformer", "cnn", 0.8, lang="fr"),
        _run("cnn", "cnn", 0.5, lang="fr"),
    ]
    made = grids(runs)
    assert [g.language for g in made] == ["de", "fr", heatmap.MEAN]
    mean = made[-1]
    assert mean.score[0][2] == pytest.approx(0.7) and mean.drop[0][2] == pytest.approx(0.2)
    assert mean.score[2][2] == pytest.approx(0.5), "a cell is the mean over the languages that have it"
    assert mean.languages == ["de", "fr"] and mean == mean_grid(made[:2])


def _params(teacher: str, student: str, lang: str = "de", seed: int = 42, **extra: str) -> dict[str, str]:
    lr = {"transformer": "0.0005", "bilstm": "0.001", "cnn": "0.001"}
    return {
        "teacher.encoder._target_": ENCODERS[teacher],
        "teacher.lr": lr[teacher],
        "student.encoder._target_": ENCODERS[student],
        "source.code": "en",
        "language.code": lang,
        "language.name": lang.upper(),
        "seed": str(seed),
        "split.seed": str(seed),
        "method._target_": "distillx.distill.freetransfer.FreeTransfer",
        **extra,
    }


def test_runs_that_differ_beyond_the_grid_never_share_a_cell():
    # Architectures, languages and seeds (and what follows from them) place or average runs ...
    same = [
        _params(t, s, lang, seed)
        for t in ENCODERS
        for s in ("cnn", "bilstm")
        for lang in ("de", "fr")
        for seed in (1, 2)
    ]
    assert set(heatmap.run_settings(same)) == {""}
    # ... anything else that varies is a setting of its own.
    mixed = [_params("cnn", s, **{"method.balanced": b}) for s in ("cnn", "bilstm") for b in ("False", "True")]
    mixed.append(_params("cnn", "cnn", **{"method._target_": "distillx.distill.baselines.GoldSupervised"}))
    assert heatmap.run_settings(mixed) == [
        "method._target_=FreeTransfer, method.balanced=False",
        "method._target_=FreeTransfer, method.balanced=True",
        "method._target_=FreeTransfer, method.balanced=False",
        "method._target_=FreeTransfer, method.balanced=True",
        "method._target_=GoldSupervised, method.balanced=—",
    ]
    runs = [
        TransferRun("cnn", "cnn", 0.5, 0.9, "de", "en", setting="method.balanced=False"),
        TransferRun("cnn", "cnn", 0.7, 0.9, "de", "en", setting="method.balanced=True"),
    ]
    made = grids(runs)
    assert [(g.setting, g.score[2][2]) for g in made] == [("method.balanced=False", 0.5), ("method.balanced=True", 0.7)]
    assert made[1].stem == "en-de_accuracy_method.balanced_True"
    assert "method.balanced=True" in markdown(made[1])


def test_png_and_markdown_are_written(tmp_path: Path):
    grid = build_grid([_run("transformer", "transformer", 0.8, 0.95), _run("bilstm", "cnn", 0.6, 0.9)], "accuracy")
    paths = write(grid, tmp_path)
    assert sorted(p.name for p in paths) == ["en-de_accuracy.md", "en-de_accuracy_drop.png", "en-de_accuracy_score.png"]
    for png in paths[:2]:
        assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 5000
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths), "no temp files left"
    md = markdown(grid)
    assert md == (tmp_path / "en-de_accuracy.md").read_text()
    assert "| source \\ target | Transformer | BiLSTM | CNN |" in md
    assert "| Transformer | 80.0 | — | — |" in md  # score
    assert "| Transformer | 15.0 | — | — |" in md  # drop
    assert "| BiLSTM | — | — | 60.0 |" in md and "| BiLSTM | — | — | 30.0 |" in md
    assert "intent accuracy drop from the en source models" in md.lower()


# ------------------------------------------------------------------------------------------ the sweep callback
@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """One sqlite store for the callback tests: creating its schema costs seconds."""
    return f"sqlite:///{tmp_path_factory.mktemp('store')}/mlflow.db"


def _sweep(store: str, sweep: Path, children: list[tuple[str, str, str]], metric: str = "accuracy") -> str:
    """A parent run and finished child runs as ``distillx`` jobs log them; returns the parent's id."""
    client = MlflowClient(store)
    experiment_id = get_or_create_experiment(client, store, "distillx")
    parent_id = client.create_run(experiment_id, run_name="sweep").info.run_id
    sweep.mkdir(parents=True)
    (sweep / PARENT_RUN_ID_FILE).write_text(parent_id)
    for i, (teacher, student, lang) in enumerate(children):
        config = {
            "teacher": {"encoder": {"_target_": ENCODERS[teacher], "hidden_size": 96}},
            "student": {"encoder": {"_target_": ENCODERS[student], "hidden_size": 96}},
            "source": {"code": "en"},
            "language": {"code": lang},
        }
        tracker = MlflowTracker(uri=store, experiment="distillx")
        tracker.start(f"teacher={teacher},student={student}", config, sweep / str(i), parent_run_id=parent_id)
        tracker.log_metrics(
            {
                f"test/teacher/en/{metric}": 0.9,
                f"test/mplm/en/{metric}": 0.92,
                f"test/mplm/{lang}/{metric}": 0.75,
                f"test/student/{lang}/{metric}": 0.5 + 0.1 * i,
            }
        )
        tracker.end()
    return parent_id


def _end_sweep(store: str, sweep: Path) -> None:
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}, "runtime": {"cwd": str(sweep.parent)}}})
    MlflowSweepCallback(uri=store, experiment="distillx").on_multirun_end(config)


def _artifacts(client: MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    return {a.path for a in client.list_artifacts(run_id, path)}


def test_sweep_over_architectures_logs_heatmaps_to_the_parent(store: str, tmp_path: Path):
    sweep = tmp_path / "sweep"
    children = [("transformer", "transformer", "de"), ("transformer", "cnn", "de"), ("bilstm", "cnn", "de")]
    parent_id = _sweep(store, sweep, children, metric="slot_f1")
    _end_sweep(store, sweep)

    client = MlflowClient(store)
    assert client.get_run(parent_id).info.status == "FINISHED"
    assert {"sweep_summary.csv", CROSS_ARCH_DIR} <= _artifacts(client, parent_id)
    expected = {f"{CROSS_ARCH_DIR}/en-de_slot_f1{end}" for end in ("_score.png", "_drop.png", ".md")}
    assert _artifacts(client, parent_id, CROSS_ARCH_DIR) == expected
    assert {p.name for p in (sweep / CROSS_ARCH_DIR).iterdir()} == {p.rsplit("/", 1)[1] for p in expected}
    md = (sweep / CROSS_ARCH_DIR / "en-de_slot_f1.md").read_text()
    assert "| Transformer | 50.0 | — | 60.0 |" in md and "| BiLSTM | — | — | 70.0 |" in md  # students' slot F1
    assert "| BiLSTM | — | — | 20.0 |" in md  # drop: 90.0 - 70.0


def test_sweep_over_languages_only_makes_no_heatmaps(store: str, tmp_path: Path):
    sweep = tmp_path / "sweep"
    parent_id = _sweep(store, sweep, [("cnn", "cnn", "de"), ("cnn", "cnn", "fr")])
    _end_sweep(store, sweep)
    client = MlflowClient(store)
    assert CROSS_ARCH_DIR not in _artifacts(client, parent_id)
    assert not (sweep / CROSS_ARCH_DIR).exists()
    assert client.get_run(parent_id).info.status == "FINISHED"


def test_a_plotting_error_is_a_warning_not_a_failed_sweep(store: str, tmp_path: Path, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("no fonts")

    monkeypatch.setattr(heatmap, "write_all", broken)
    sweep = tmp_path / "sweep"
    parent_id = _sweep(store, sweep, [("cnn", "cnn", "de"), ("bilstm", "cnn", "de")])
    with caplog.at_level(logging.WARNING):
        _end_sweep(store, sweep)
    assert "cross-architecture heatmaps not made: RuntimeError: no fonts" in caplog.text
    client = MlflowClient(store)
    assert client.get_run(parent_id).info.status == "FINISHED"
    assert "sweep_summary.csv" in _artifacts(client, parent_id)


# ------------------------------------------------------------------------------------------ the preset
def test_cross_architecture_preset_is_a_3x3_multirun(tmp_path: Path):
    cfg = compose_config(["+experiment=cross_architecture"], tmp_path)
    assert cfg.teacher.encoder._target_ == ENCODERS["transformer"]  # the job config itself is the default one

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        full = compose(config_name="config", overrides=["+experiment=cross_architecture"], return_hydra_config=True)
    assert str(full.hydra.mode).endswith("MULTIRUN")
    assert dict(full.hydra.sweeper.params) == {"teacher": "transformer,bilstm,cnn", "student": "transformer,bilstm,cnn"}
