"""Never silent garbage: a bad config value, an unset required value, a missing path, an unwritable directory or a
half of the data with no examples stops the run before any work, with one line naming the key and what to do."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CONF, REPO, TINY, compose_config

from distillx.cli import run
from distillx.config_check import check_config
from distillx.data.pipeline import DataPipeline
from distillx.data.schema import Example
from distillx.errors import DistillxError

METHODS = sorted(path.stem for path in (CONF / "method").glob("*.yaml"))
QUICK = [o for o in TINY if o.startswith("trainer.")]  # valid with every method and mPLM; short should a check miss


def cli(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess[str]:
    """``distillx`` run as a user runs it, writing only under tmp_path."""
    return subprocess.run(
        [sys.executable, "-m", "distillx.cli", "tracking=none", f"cache_dir={tmp_path}/cache", *overrides],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        timeout=300,
    )


def fails_before_any_work(overrides: list[str], tmp_path: Path, output_dir: Path | None = None) -> str:
    """The DistillxError message of a run of ``overrides``, checking that the run wrote nothing first."""
    cache, out = tmp_path / "cache", output_dir or tmp_path / "run"
    cfg = compose_config([*QUICK, *overrides], tmp_path, cache)
    with pytest.raises(DistillxError) as err:
        run(cfg, out, "x")
    message = str(err.value)
    assert "\n" not in message
    if not message.startswith(("cache_dir=", "hydra.run.dir ")):  # those two create what they can, then fail
        assert not cache.exists() and not out.exists() and not (tmp_path / "mlflow.db").exists()
    return message


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["trainer.epochs=0"], "trainer.epochs=0: must be an integer >= 1"),
        (["trainer.epochs=-1"], "trainer.epochs=-1: must be an integer >= 1"),
        (["trainer.epochs=2.5"], "trainer.epochs=2.5: must be an integer >= 1"),
        (["trainer.batch_size=0"], "trainer.batch_size=0: must be an integer >= 1"),
        (["trainer.warmup_ratio=1"], "trainer.warmup_ratio=1: must be in [0, 1)"),
        (["method=freetransfer", "method.kd.terms.kl.temperature=0"], "method.kd.terms.kl.temperature=0: must be > 0"),
        (["method.supervised.terms.ce.weight=-1"], "method.supervised.terms.ce.weight=-1: must be >= 0"),
        (["method=multikd", "method.sampler.alpha=-0.5"], "method.sampler.alpha=-0.5: must be >= 0"),
        (["split.annotated_fraction=0"], "split.annotated_fraction=0: must be strictly between 0 and 1"),
        (["split.annotated_fraction=1"], "split.annotated_fraction=1: must be strictly between 0 and 1"),
        (["split.limit=0"], "split.limit=0: must be an integer >= 1, or null"),
        (["max_length=0"], "max_length=0: must be an integer >= 1"),
        (["lean.layers=0"], "lean.layers=0: must be an integer >= 1"),
        (["lean.pretrain.trainer.epochs=0"], "lean.pretrain.trainer.epochs=0: must be an integer >= 1"),
        (
            ["method=selftrain", "method.step_trainer.hard.epochs=0"],
            "method.step_trainer.hard.epochs=0: must be an integer >= 1",
        ),
        (
            ["method=selftrain", "method.btf.trainer.batch_size=0"],
            "method.btf.trainer.batch_size=0: must be an integer >= 1",
        ),
        (["seed=abc"], "seed=abc: must be an integer"),
    ],
)
def test_a_value_out_of_range_names_its_key(tmp_path: Path, overrides: list[str], expected: str):
    assert fails_before_any_work(overrides, tmp_path).startswith(expected)


@pytest.mark.parametrize("method", METHODS)
def test_every_shipped_method_config_passes(tmp_path: Path, method: str):
    check_config(compose_config([f"method={method}"], tmp_path), tmp_path / "run")


def test_mplm_local_without_a_path_is_required(tmp_path: Path):
    message = fails_before_any_work(["mplm=local"], tmp_path)
    assert message.startswith("mplm.name_or_path is required: set it on the command line, e.g. mplm.name_or_path=")


def test_mplm_local_directory_that_does_not_exist(tmp_path: Path):
    message = fails_before_any_work(["mplm=local", f"mplm.name_or_path={tmp_path}/model"], tmp_path)
    assert message.startswith(f"mplm.name_or_path='{tmp_path}/model': no such local directory")


def test_dataset_path_that_does_not_exist(tmp_path: Path):
    message = fails_before_any_work(["dataset=mtop", f"dataset.path={tmp_path}/nowhere"], tmp_path)
    assert message.startswith(f"dataset.path={tmp_path}/nowhere: ") and "does not exist" in message


def test_dataset_path_is_required_for_custom_data(tmp_path: Path):
    assert fails_before_any_work(["dataset=custom"], tmp_path).startswith("dataset.path is required")


def test_unwritable_cache_dir(tmp_path: Path):
    (tmp_path / "file").write_text("not a directory")  # root ignores chmod: a path under a file cannot be made
    cache = tmp_path / "file" / "cache"
    cfg = compose_config(QUICK, tmp_path, cache)
    with pytest.raises(DistillxError, match=rf"^cache_dir={re.escape(str(cache))} is not writable: Not a directory"):
        run(cfg, tmp_path / "run", "x")
    assert not (tmp_path / "mlflow.db").exists()


def test_unwritable_output_dir(tmp_path: Path):
    (tmp_path / "file").write_text("not a directory")
    out = tmp_path / "file" / "run"
    message = fails_before_any_work([], tmp_path, out)
    assert message.startswith(f"hydra.run.dir {out} is not writable: Not a directory")
    assert not (tmp_path / "cache").exists()


def test_cli_unwritable_run_dir_is_one_line(tmp_path: Path):
    """Hydra makes the run directory before distillx's code runs: checked before Hydra starts."""
    (tmp_path / "file").write_text("not a directory")
    proc = cli(tmp_path, f"hydra.run.dir={tmp_path}/file/run")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"distillx: error: hydra.run.dir {tmp_path}/file/run is not writable: Not a directory: "
        f"{tmp_path}/file/run; point hydra.run.dir at a directory you can write to"
    )


def test_cli_two_hydra_modes_are_one_line(tmp_path: Path):
    proc = cli(tmp_path, "--multirun", "--info")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        "distillx: error: --multirun and --info given together: Hydra takes one of --run, --multirun, --cfg, "
        "--info, --shell-completion at a time; keep one"
    )


def test_cli_empty_half_stops_before_training(tmp_path: Path):
    """Two examples, 99% annotated: nothing is left for the KD steps (it used to end in a pyarrow traceback); the
    target's half (KD step 2) is checked before anything trains."""
    proc = cli(tmp_path, f"hydra.run.dir={tmp_path}/run", "split.limit=2", "split.annotated_fraction=0.99", *TINY)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert (
        "distillx: error: dataset demo, zh train: the unannotated half is empty (2 examples, "
        "split.annotated_fraction=0.99); lower split.annotated_fraction or raise split.limit (now 2)"
    ) in proc.stderr.splitlines()
    assert not (tmp_path / "run" / "stages").exists()  # no stage started


class Reader:
    """A dataset of ``sizes[language]`` train examples per language."""

    name, task, root = "toy", "intent", "."

    def __init__(self, sizes: dict[str, int]) -> None:
        self.sizes = sizes
        self.languages = list(sizes)

    def load(self, language: str) -> dict[str, list[Example]]:
        train = [Example(str(i), language, f"w{i}", intent=f"i{i % 2}") for i in range(self.sizes[language])]
        return {"train": train, "dev": train[:1], "test": train[:1]}


def halves(sizes: dict[str, int], language: str, fraction: float) -> tuple[list[Example], list[Example]]:
    pipeline = DataPipeline(
        Reader(sizes),
        {},
        {code: {"segmenter": {}} for code in sizes},
        lambda code: str.split,
        source="en",
        limit=None,
        annotated_fraction=fraction,
        split_seed=0,
        cache_root=None,
        log_metrics=lambda metrics: None,
    )
    return pipeline.halves(language)


def test_halves_a_stage_reads_must_have_examples():
    with pytest.raises(DistillxError, match=r"^dataset toy, de train: no examples; add de train data"):
        halves({"en": 10, "de": 0}, "de", 0.5)
    with pytest.raises(DistillxError, match=r"^dataset toy, de train: the unannotated half is empty \(1 examples"):
        halves({"en": 10, "de": 1}, "de", 0.9)
    with pytest.raises(DistillxError, match=r"^dataset toy, en train: the annotated half is empty \(4 examples, split"):
        halves({"en": 4, "de": 4}, "en", 0.1)
    # a target's annotated half is never read (label-free): empty is fine
    annotated, unannotated = halves({"en": 10, "de": 4}, "de", 0.1)
    assert not annotated and len(unannotated) == 4
