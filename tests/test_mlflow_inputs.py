"""Each run records the data splits it read as MLflow dataset inputs (name, language, split, digest), once, and a
store fault does not lose them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import TINY, compose_config
from hydra.utils import instantiate
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INTERNAL_ERROR
from sqlalchemy.exc import IntegrityError

from distillx.cli import run
from distillx.context import RunContext
from distillx.distill.teachers import examples_digest
from distillx.track.inputs import SplitInput
from distillx.track.mlflow_tracker import PENDING_FILE, RUN_ID_FILE, MlflowTracker

SPLITS = ("train", "dev", "test")


@pytest.fixture(autouse=True)
def _no_telemetry(monkeypatch):
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")


def recorded(client: MlflowClient, run_id: str) -> dict[str, tuple[str, str, str, int]]:
    """name -> (split context, language, digest, rows) of the run's dataset inputs, read back from the store."""
    out = {}
    for found in client.get_run(run_id).inputs.dataset_inputs:
        tags = {tag.key: tag.value for tag in found.tags}
        rows = json.loads(found.dataset.profile)["num_rows"]
        out[found.dataset.name] = (tags["mlflow.data.context"], tags["distillx.language"], found.dataset.digest, rows)
    return out


def test_a_demo_run_records_each_split_it_read_once(tmp_path: Path, shared_cache, monkeypatch):
    calls = []
    log_inputs = MlflowClient.log_inputs
    monkeypatch.setattr(
        MlflowClient, "log_inputs", lambda client, *a, **k: calls.append(k) or log_inputs(client, *a, **k)
    )
    cfg = compose_config([*TINY, "method=zero_shot", "trainer.epochs=1"], tmp_path, shared_cache)
    run(cfg, tmp_path / "run", "inputs")

    uri = cfg.tracking.uri
    run_id = (tmp_path / "run" / RUN_ID_FILE).read_text()
    records = recorded(MlflowClient(uri), run_id)
    corpus = {f"demo/{lang}/train" for lang in ("de", "en", "es", "fr", "hi", "ja", "th", "zh")}  # the demo mPLM's
    assert set(records) == corpus | {"demo/en/dev", "demo/en/test", "demo/zh/test"}  # + source model, scoring
    data = RunContext(cfg, tmp_path / "expected", MlflowTracker(uri, "unused", enabled=False)).data
    for name, (split, language, digest, rows) in records.items():
        assert name == f"demo/{language}/{split}"
        examples = data.split(language, split)
        assert (digest, rows) == (examples_digest(examples), len(examples)), name
    assert len(calls) == len(records), "one call per split, when it is first read"


def test_inputs_wait_in_the_journal_while_the_store_is_down(tmp_path: Path, monkeypatch):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    tracker = MlflowTracker(uri=uri, experiment="faults", retries=1, retry_seconds=0)
    tracker.start("run", {"lr": 0.1}, output_dir=tmp_path / "out")
    failures = [2]  # both attempts of the first call
    log_inputs = MlflowClient.log_inputs

    def locked(client, *args, **kwargs):
        if failures[0] > 0:
            failures[0] -= 1
            raise MlflowException("database is locked", error_code=INTERNAL_ERROR)
        return log_inputs(client, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "log_inputs", locked)
    split = SplitInput("demo", "de", "test", "0123456789abcdef", 3, "/data/demo")
    tracker.log_inputs([split])
    (pending,) = [json.loads(line) for line in (tmp_path / "out" / PENDING_FILE).read_text().splitlines()]
    assert pending["kind"] == "inputs" and pending["payload"] == [vars(split)]
    assert not MlflowClient(uri).get_run(tracker.run_id).inputs.dataset_inputs

    tracker.log_metrics({"loss": 1.0}, step=0)  # the store is back: the journal goes first
    tracker.end()
    assert recorded(MlflowClient(uri), tracker.run_id) == {"demo/de/test": ("test", "de", "0123456789abcdef", 3)}
    assert not (tmp_path / "out" / PENDING_FILE).exists()


def test_a_dataset_another_job_inserted_meanwhile_is_linked_not_fatal(tmp_path: Path, monkeypatch):
    """Two jobs of a parallel sweep log the same split at once: MLflow's SQL store inserts the dataset for both and
    the second insert breaks its unique key. The tracker logs it again (now it finds the row) instead of failing."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    tracker = MlflowTracker(uri=uri, experiment="race", retries=0, retry_seconds=0)
    tracker.start("run", {"lr": 0.1}, output_dir=tmp_path / "out")
    raced = [True]
    log_inputs = MlflowClient.log_inputs

    def racing(client, *args, **kwargs):
        if raced[0]:
            raced[0] = False
            unique = IntegrityError("INSERT INTO datasets", {}, Exception("UNIQUE constraint failed: datasets.name"))
            raise MlflowException("(sqlite3.IntegrityError) UNIQUE constraint failed") from unique
        return log_inputs(client, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "log_inputs", racing)
    split = SplitInput("demo", "de", "test", "0123456789abcdef", 3, "/data/demo")
    tracker.log_inputs([split])
    tracker.end()
    assert recorded(MlflowClient(uri), tracker.run_id) == {"demo/de/test": ("test", "de", "0123456789abcdef", 3)}
    assert not (tmp_path / "out" / PENDING_FILE).exists()


def test_tracking_none_records_no_inputs(tmp_path: Path):
    cfg = compose_config(["tracking=none"], tmp_path)
    tracker = instantiate(cfg.tracking)
    tracker.start("run", cfg, output_dir=tmp_path / "out")
    tracker.log_inputs([SplitInput("demo", "de", "test", "0123456789abcdef", 3, "/data/demo")])
    tracker.end()
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "out").exists()
