"""A tracking store that fails never stops training nor loses what was logged; one that cannot be used at all
stops the run at start, in one line, within seconds."""

import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INTERNAL_ERROR, INVALID_PARAMETER_VALUE, TEMPORARILY_UNAVAILABLE
from sqlalchemy import event

from distillx.errors import DistillxError
from distillx.track import sync
from distillx.track.mlflow_tracker import PENDING_FILE, MlflowTracker

CONFIG = {"lr": 0.1, "student": {"hidden_size": 8}}


@pytest.fixture(autouse=True)
def _no_telemetry(monkeypatch):
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> tuple[str, Path]:
    """One sqlite store shared by these tests: creating its schema costs seconds."""
    db = tmp_path_factory.mktemp("store") / "mlflow.db"
    return f"sqlite:///{db}", db


class Outage:
    """Makes the MlflowClient methods the tracker writes with fail like a locked store while ``failures`` > 0."""

    METHODS = ("log_batch", "log_text", "log_artifact", "set_terminated")

    def __init__(self, monkeypatch, error_code: int = INTERNAL_ERROR) -> None:
        self.failures = 0
        self.error_code = error_code
        for name in self.METHODS:
            monkeypatch.setattr(MlflowClient, name, self._failing(getattr(MlflowClient, name)))

    def _failing(self, method):
        def call(client, *args, **kwargs):
            if self.failures > 0:
                self.failures -= 1
                raise MlflowException("database is locked", error_code=self.error_code)
            return method(client, *args, **kwargs)

        return call


def _start(uri: str, out: Path, retries: int = 1) -> MlflowTracker:
    tracker = MlflowTracker(uri=uri, experiment="faults", retries=retries, retry_seconds=0)
    tracker.start("run", CONFIG, output_dir=out)
    return tracker


def _steps(uri: str, run_id: str, key: str = "loss") -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in MlflowClient(uri).get_metric_history(run_id, key)]


def _warnings(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_transient_failures_are_buffered_then_flushed_in_order(store, tmp_path, monkeypatch, caplog):
    uri, _ = store
    tracker = _start(uri, tmp_path)
    outage = Outage(monkeypatch)
    outage.failures = 5  # 2 attempts of step 0, then one attempt each for steps 1-3; step 4 gets through
    windows = []
    with caplog.at_level(logging.INFO):
        for step in range(6):
            before = int(time.time() * 1000)
            tracker.log_metrics({"loss": 10.0 - step}, step=step)
            windows.append((before, int(time.time() * 1000)))
            if step < 4:
                assert (tmp_path / PENDING_FILE).is_file(), "the failed call must wait on disk"
            time.sleep(0.002)
        tracker.end()

    assert _steps(uri, tracker.run_id) == [(step, 10.0 - step) for step in range(6)]
    history = MlflowClient(uri).get_metric_history(tracker.run_id, "loss")
    for metric, (before, after) in zip(sorted(history, key=lambda m: m.step), windows, strict=True):
        assert before <= metric.timestamp <= after, "a buffered metric keeps the time it was logged"
    assert MlflowClient(uri).get_run(tracker.run_id).info.status == "FINISHED"
    assert not (tmp_path / PENDING_FILE).exists()
    (warning,) = _warnings(caplog)
    assert "unavailable (database is locked)" in warning.getMessage() and warning.exc_info is None
    assert "is back: 4 buffered tracking calls sent" in caplog.text


def test_a_blip_shorter_than_the_retries_leaves_no_trace(store, tmp_path, monkeypatch, caplog):
    uri, _ = store
    tracker = _start(uri, tmp_path, retries=3)
    Outage(monkeypatch, TEMPORARILY_UNAVAILABLE).failures = 3
    with caplog.at_level(logging.WARNING):
        tracker.log_metrics({"loss": 1.0}, step=1)
        tracker.end()
    assert _steps(uri, tracker.run_id) == [(1, 1.0)]
    assert not _warnings(caplog) and not (tmp_path / PENDING_FILE).exists()


def test_a_rejected_value_is_raised_not_buffered(store, tmp_path, monkeypatch):
    uri, _ = store
    tracker = _start(uri, tmp_path)
    Outage(monkeypatch, INVALID_PARAMETER_VALUE).failures = 1
    with pytest.raises(MlflowException) as caught:
        tracker.log_metrics({"loss": 1.0}, step=1)
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert not (tmp_path / PENDING_FILE).exists(), "a call MLflow rejects would block every call after it"


def test_store_down_until_end_keeps_calls_on_disk_and_sync_sends_them(store, tmp_path, monkeypatch, caplog, capsys):
    uri, _ = store
    out = tmp_path / "run"
    tracker = _start(uri, out)
    outage = Outage(monkeypatch, TEMPORARILY_UNAVAILABLE)
    outage.failures = 10**6
    (tmp_path / "results.md").write_text("| a |\n")
    with caplog.at_level(logging.WARNING):
        for step in range(4):
            tracker.log_metrics({"loss": float(step), "f1[en]": step / 10}, step=step)
        tracker.log_artifact(tmp_path / "results.md")
        tracker.end("FINISHED")

    calls = [json.loads(line) for line in (out / PENDING_FILE).read_text().splitlines()]
    assert [(c["kind"], c["step"]) for c in calls] == [("metrics", s) for s in range(4)] + [
        ("artifact", None),
        ("end", None),
    ]
    assert calls[-1]["payload"] == "FINISHED" and calls[0]["uri"] == uri
    assert MlflowClient(uri).get_run(tracker.run_id).info.status == "RUNNING"
    assert len(_warnings(caplog)) == 2, "one for the outage, one saying how to send what is left"
    assert f"python -m distillx.track.sync {out}" in caplog.text

    outage.failures = 0
    sync.main([str(out)])
    assert "6 tracking calls sent" in capsys.readouterr().out
    run = MlflowClient(uri).get_run(tracker.run_id)
    assert run.info.status == "FINISHED"
    assert _steps(uri, tracker.run_id) == [(s, float(s)) for s in range(4)]
    assert _steps(uri, tracker.run_id, "f1_en_") == [(s, s / 10) for s in range(4)]
    assert {a.path for a in MlflowClient(uri).list_artifacts(tracker.run_id)} == {"config.yaml", "results.md"}
    assert not (out / PENDING_FILE).exists()
    sync.main([str(out)])
    assert "up to date" in capsys.readouterr().out


def test_sync_keeps_what_it_cannot_send(store, tmp_path, monkeypatch, capsys):
    uri, _ = store
    tracker = _start(uri, tmp_path)
    outage = Outage(monkeypatch)
    outage.failures = 10**6
    for step in range(2):
        tracker.log_metrics({"loss": float(step)}, step=step)
    tracker.end("FAILED")

    outage.failures = 0

    def down_again(client, *args, **kwargs):
        raise MlflowException("database is locked", error_code=TEMPORARILY_UNAVAILABLE)

    monkeypatch.setattr(MlflowClient, "set_terminated", down_again)  # the store fails again before the last call
    with pytest.raises(SystemExit) as exit_:
        sync.main([str(tmp_path)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and ": database is locked; 1 of 3 calls remain in" in err
    (left,) = (tmp_path / PENDING_FILE).read_text().splitlines()
    assert json.loads(left)["kind"] == "end", "what was sent is not sent again; what was not stays"
    assert _steps(uri, tracker.run_id) == [(0, 0.0), (1, 1.0)]


def test_a_restarted_run_sends_what_the_earlier_process_left(store, tmp_path, monkeypatch):
    uri, _ = store
    first = _start(uri, tmp_path)
    outage = Outage(monkeypatch)
    outage.failures = 10**6
    first.log_metrics({"loss": 3.0}, step=0)
    first.end("FAILED")  # the store is down to the end: status and metric wait on disk

    outage.failures = 0
    second = _start(uri, tmp_path)
    assert second.run_id == first.run_id
    assert not (tmp_path / PENDING_FILE).exists()
    assert MlflowClient(uri).get_run(first.run_id).info.status == "RUNNING", "the old status must not stick"
    second.log_metrics({"loss": 2.0}, step=1)
    second.end()
    assert _steps(uri, first.run_id) == [(0, 3.0), (1, 2.0)]
    assert MlflowClient(uri).get_run(first.run_id).info.status == "FINISHED"


def _refused(uri: str, out: Path) -> str:
    started = time.monotonic()
    with pytest.raises(DistillxError) as caught:
        MlflowTracker(uri=uri, experiment="faults").start("run", CONFIG, output_dir=out)
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"tracking.uri={uri}: the MLflow store cannot be used (")
    assert "tracking=none" in message
    assert not (out / "mlflow_run_id").exists()
    return message


def _malformed(db: Path) -> None:
    """A sqlite file whose header is intact but whose schema page is overwritten."""
    connection = sqlite3.connect(db)
    connection.execute("CREATE TABLE t (x)")
    connection.commit()
    connection.close()
    data = bytearray(db.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)
    db.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [
        (lambda db: db.write_bytes(os.urandom(8192)), "file is not a database"),
        (_malformed, "database disk image is malformed"),
    ],
    ids=["garbage", "malformed"],
)
def test_a_corrupt_database_is_refused_at_start(tmp_path, corrupt, expected):
    db = tmp_path / "x.db"
    corrupt(db)
    assert f"({expected})" in _refused(f"sqlite:///{db}", tmp_path / "out")


@pytest.mark.parametrize("below", ["", "sub/"], ids=["parent", "grandparent"])
def test_a_database_whose_folder_cannot_exist_is_refused_at_start(tmp_path, below):
    (tmp_path / "afile").write_text("not a folder")
    message = _refused(f"sqlite:///{tmp_path}/afile/{below}mlflow.db", tmp_path / "out")
    assert "(Not a directory: " in message


REFUSE = """
import sys, time
from distillx.errors import DistillxError
from distillx.track.mlflow_tracker import MlflowTracker
started = time.monotonic()
try:
    MlflowTracker(sys.argv[1], "faults").start("run", {}, output_dir=sys.argv[2])
except DistillxError as err:
    print(f"{time.monotonic() - started:.1f} {err}")
"""


@pytest.mark.parametrize("read_only", ["folder", "file"])
def test_a_read_only_store_is_refused_at_start(read_only):
    """MLflow retries a folder it cannot write for 100 s. Root writes anywhere, so as root the tracker runs as
    nobody (in a folder outside pytest's, which only root may enter)."""
    nobody = 65534
    as_root = os.geteuid() == 0
    if as_root and not shutil.which("setpriv"):
        pytest.skip("setpriv is needed to drop root")
    with tempfile.TemporaryDirectory() as tmp:
        top = Path(tmp)
        top.chmod(0o755)
        (top / "out").mkdir()
        (top / "db").mkdir()
        db = top / "db" / "mlflow.db"
        if read_only == "file":
            sqlite3.connect(db).close()
            db.chmod(0o444)
        else:
            (top / "db").chmod(0o555)
        if as_root:
            for path in (top / "out", top / "db", db):
                if path.exists():
                    os.chown(path, nobody, nobody)
        command = [sys.executable, "-c", REFUSE, f"sqlite:///{db}", str(top / "out")]
        if as_root:
            command = ["setpriv", f"--reuid={nobody}", f"--regid={nobody}", "--clear-groups", *command]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src"), "MLFLOW_DISABLE_TELEMETRY": "true"}
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    (line,) = proc.stdout.splitlines() or [proc.stderr]
    seconds, message = line.split(" ", 1)
    assert float(seconds) < 10
    expected = top / "db" if read_only == "folder" else db
    assert message == (
        f"tracking.uri=sqlite:///{db}: the MLflow store cannot be used (Permission denied: {expected}); "
        "move or delete it, point tracking.uri elsewhere, or run with tracking=none"
    )


def test_a_uri_mlflow_cannot_open_is_refused_at_start(tmp_path):
    assert "unsupported URI 'bogus://x'" in _refused("bogus://x", tmp_path / "out")


def test_a_real_lock_is_waited_out_buffered_and_flushed(store, tmp_path, caplog):
    """Another process holds the database exclusively for longer than MLflow waits for a lock (20 s; shortened
    here to 0.1 s, so that the test takes a second): the calls wait on disk and arrive once the lock is gone."""
    uri, db = store
    tracker = _start(uri, tmp_path)
    engine = MlflowClient(uri)._tracking_client.store.engine

    def short_wait(conn, cursor, statement, parameters, context, executemany):
        return statement.replace("busy_timeout = 20000", "busy_timeout = 100"), parameters

    event.listen(engine, "before_cursor_execute", short_wait, retval=True)
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        with caplog.at_level(logging.INFO):
            holder.execute("BEGIN EXCLUSIVE")
            for step in range(3):
                tracker.log_metrics({"loss": float(step)}, step=step)
            assert len((tmp_path / PENDING_FILE).read_text().splitlines()) == 3
            holder.execute("ROLLBACK")
            tracker.log_metrics({"loss": 3.0}, step=3)
            tracker.end()
    finally:
        holder.close()
        event.remove(engine, "before_cursor_execute", short_wait)
    assert _steps(uri, tracker.run_id) == [(s, float(s)) for s in range(4)]
    assert MlflowClient(uri).get_run(tracker.run_id).info.status == "FINISHED"
    (warning,) = _warnings(caplog)
    assert "(database is locked)" in warning.getMessage()
    assert "Traceback" not in caplog.text and "SQL" not in caplog.text, "MLflow's per-query tracebacks stay quiet"
