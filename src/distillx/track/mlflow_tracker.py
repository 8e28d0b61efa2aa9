"""Log one training run to MLflow; restarting an interrupted output dir resumes the same MLflow run.

Tracking never stops training: a store that fails mid-run (a lock held by another process, a server that is
down) gets a few retries, then the calls are kept in ``<output_dir>/mlflow_pending.jsonl`` and sent, in order,
by the next call that gets through, by ``end()`` or by ``python -m distillx.track.sync <output_dir>``. A store
that cannot be used at all is refused by ``start()``, in one line, before any training.

With ``system_metrics`` on, MLflow's own monitor samples CPU, memory, disk, network and (with ``pynvml``) GPU
use into ``system/...`` metrics every 10 s (``MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL``). It writes from its own
thread, outside the journal: samples taken while the store is down are dropped, as they are not results.
"""

from __future__ import annotations

import errno
import importlib.util
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from hydra.utils import to_absolute_path
from mlflow import MlflowClient
from mlflow.entities import LifecycleStage, Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from omegaconf import DictConfig, OmegaConf
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from distillx.errors import DistillxError
from distillx.files import atomic_write_text, locked
from distillx.track.inputs import SplitInput

if TYPE_CHECKING:
    from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

log = logging.getLogger(__name__)

RUN_ID_FILE = "mlflow_run_id"
PENDING_FILE = "mlflow_pending.jsonl"
SYNC_COMMAND = "python -m distillx.track.sync"
# MLflow's limits (mlflow.utils.validation): longer values are rejected, larger batches refused.
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
PARAMS_PER_BATCH = 100
METRICS_PER_BATCH = 1000
SQLITE_PREFIX = "sqlite:///"
_BAD_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-. /]")
# Logs a traceback with the SQL statement for each failed query, which the tracker retries or buffers anyway.
_STORE_LOGGER = "mlflow.store.db.utils"
T = TypeVar("T")


def sanitize_key(key: str) -> str:
    """Make a metric/param key acceptable to MLflow, which rejects characters such as ``=``, ``,``, ``[``."""
    return _BAD_KEY_CHARS.sub("_", key).strip("/")


def resolve_tracking_uri(uri: str) -> str:
    """Anchor a relative sqlite path at Hydra's original cwd (MLflow creates its folder).

    Without this, ``hydra.job.chdir=true`` would put each job's database in its own output dir.
    """
    if not uri.startswith(SQLITE_PREFIX):
        return uri
    return SQLITE_PREFIX + to_absolute_path(uri[len(SQLITE_PREFIX) :])


def check_store(uri: str) -> None:
    """Raise OSError at once for a sqlite store that cannot be written (its folder cannot be made or written, or
    the file is read-only): MLflow would retry for 100 s, then print a traceback. Opening the store is left to
    MLflow, which fails fast on a file that is not a database."""
    if not uri.startswith(SQLITE_PREFIX):
        return
    db = Path(uri[len(SQLITE_PREFIX) :])
    if db.parent.exists() and not db.parent.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(db.parent))
    db.parent.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryFile(dir=db.parent):  # sqlite writes its journal beside the database
            pass
    except OSError as err:  # named after the folder, not the temporary file
        raise type(err)(err.errno, err.strerror, str(db.parent)) from None
    if db.exists():
        with db.open("r+b"):
            pass


@contextmanager
def creation_lock(uri: str) -> Iterator[None]:
    """Held while a process opens a sqlite store: MLflow creates and migrates a new database on first use, and two
    jobs doing that at once (two runs started together on a fresh ``outputs/mlflow.db``) break each other's
    schema migration. Other stores need no lock."""
    if not uri.startswith(SQLITE_PREFIX):
        yield
        return
    db = Path(uri[len(SQLITE_PREFIX) :])
    with locked(db.parent / f".{db.name}.lock", "opening the MLflow store"):
        yield


def _causes(err: BaseException) -> list[BaseException]:
    """``err`` and the exceptions it was raised from: MLflow wraps SQLAlchemy's, which wraps the driver's."""
    chain = [err]
    while chain[-1].__cause__ is not None:
        chain.append(chain[-1].__cause__)
    return chain


def store_fault(err: BaseException) -> bool:
    """A fault of the store (locked, down, unreachable, even corrupt), which is retried, then buffered. Anything
    else (a value MLflow rejects, a duplicate key, a missing file) is a fault in what is logged: no retry mends it,
    so it is raised."""
    for cause in _causes(err):
        if isinstance(cause, DBAPIError):
            return not isinstance(cause, IntegrityError)
    if isinstance(err, MlflowException):
        code = err.get_http_status_code()
        return code >= 500 or code == 429
    return isinstance(err, (ConnectionError, TimeoutError))


def concurrent_dataset_insert(err: BaseException) -> bool:
    """MLflow's SQL store looks a dataset up by (experiment, name, digest) and inserts it when missing: two jobs of
    a parallel sweep that read the same split race between the two, and the second insert breaks the unique key."""
    return any(isinstance(c, IntegrityError) and "datasets" in str(c.orig) for c in _causes(err))


def reason(err: BaseException) -> str:
    """The root cause in a few words: MLflow's messages embed SQLAlchemy's, which quote whole SQL statements."""
    root = _causes(err)[-1]
    if isinstance(root, DBAPIError):
        return str(root.orig)
    if isinstance(root, OSError) and root.strerror:
        return f"{root.strerror}: {root.filename}" if root.filename else root.strerror
    text = str(root.message if isinstance(root, MlflowException) else root).strip()
    return text.splitlines()[0] if text else type(root).__name__


def unusable(uri: str, err: BaseException) -> DistillxError:
    return DistillxError(
        f"tracking.uri={uri}: the MLflow store cannot be used ({reason(err)}); "
        "move or delete it, point tracking.uri elsewhere, or run with tracking=none"
    )


@contextmanager
def quiet_store_logs() -> Iterator[None]:
    """Silence MLflow's per-query tracebacks while the tracker handles store faults itself."""
    logger = logging.getLogger(_STORE_LOGGER)
    previous = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = previous


def get_or_create_experiment(client: MlflowClient, uri: str, name: str) -> str:
    """Return the experiment id, creating it with artifacts stored beside the sqlite database.

    MLflow's default artifact root is ``./mlruns`` relative to whatever the cwd happens to be.
    """
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        location = None
        if uri.startswith(SQLITE_PREFIX):
            location = (Path(uri[len(SQLITE_PREFIX) :]).parent / "mlartifacts").as_uri()
        try:
            return client.create_experiment(name, artifact_location=location)
        except MlflowException as err:  # another sweep job created it first
            if err.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            experiment = client.get_experiment_by_name(name)
    if experiment.lifecycle_stage == LifecycleStage.DELETED:
        raise DistillxError(
            f"tracking.experiment: MLflow experiment {name!r} is deleted in {uri}; restore it or choose another name"
        )
    return experiment.experiment_id


def resumable_run_id(client: MlflowClient, id_file: Path) -> str | None:
    """Return the run id recorded in ``id_file`` if that run still exists in this store, else None."""
    if not id_file.is_file():
        return None
    run_id = id_file.read_text().strip()
    try:
        run = client.get_run(run_id)
    except MlflowException as err:
        if err.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        log.warning("%s names MLflow run %s, unknown to this tracking store: starting a new run", id_file, run_id)
        return None
    if run.info.lifecycle_stage == LifecycleStage.DELETED:
        log.warning("%s names MLflow run %s, which is deleted: starting a new run", id_file, run_id)
        return None
    return run_id


def tags_batch(tags: Mapping[str, Any]) -> list[RunTag]:
    return [RunTag(key, str(value)[:MAX_TAG_VALUE_LENGTH]) for key, value in tags.items()]


def resolved_container(config: DictConfig | Mapping[str, Any]) -> dict[str, Any]:
    """The config as plain containers with interpolations resolved: the values the run actually used."""
    return OmegaConf.to_container(config, resolve=True) if isinstance(config, DictConfig) else dict(config)


def flatten_config(config: Mapping[str, Any]) -> dict[str, str]:
    """Flatten to ``{"student.hidden_size": "384"}``; lists stay whole, as their string."""
    return dict(_flatten(config, ""))


def _flatten(node: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, str]]:
    for key, value in node.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from _flatten(value, dotted + ".")
        else:
            yield sanitize_key(dotted), str(value)[:MAX_PARAM_VALUE_LENGTH]


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def replay(client: MlflowClient, run_id: str, call: Mapping[str, Any]) -> None:
    """Send one recorded tracking call (see ``MlflowTracker._submit``) to the run; sending it twice is harmless:
    MLflow skips a metric it has and a dataset input the run has, and params, tags and artifacts get the same
    values again."""
    payload = call["payload"]
    match call["kind"]:
        case "metrics":
            batch = [Metric(key, value, call["timestamp"], call["step"]) for key, value in payload.items()]
            for chunk in _chunks(batch, METRICS_PER_BATCH):
                client.log_batch(run_id, metrics=chunk)
        case "params":
            for chunk in _chunks([Param(key, value) for key, value in payload.items()], PARAMS_PER_BATCH):
                client.log_batch(run_id, params=chunk)
        case "tags":
            for chunk in _chunks(tags_batch(payload), PARAMS_PER_BATCH):
                client.log_batch(run_id, tags=chunk)
        case "text":
            client.log_text(run_id, payload["text"], payload["artifact_file"])
        case "inputs":
            datasets = [SplitInput(**record).to_mlflow() for record in payload]
            try:
                client.log_inputs(run_id, datasets=datasets)
            except MlflowException as err:
                if not concurrent_dataset_insert(err):
                    raise
                client.log_inputs(run_id, datasets=datasets)  # the other run's row exists now: this one links it
        case "artifact":
            client.log_artifact(run_id, payload["path"], payload["artifact_path"])
        case "artifacts":
            client.log_artifacts(run_id, payload["dir"], payload["artifact_path"])
        case "end":
            client.set_terminated(run_id, status=payload, end_time=call["timestamp"])
        case kind:
            raise ValueError(f"unknown tracking call {kind!r}")


class PendingCalls:
    """The tracking calls that have not reached the store yet, oldest first, one JSON object a line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def append(self, call: Mapping[str, Any]) -> None:
        with self.path.open("a") as fh:
            fh.write(json.dumps(call) + "\n")

    def send(self, deliver: Callable[[dict[str, Any]], None]) -> int:
        """``deliver`` each call in order; when one fails, keep it and those after it on disk and raise.
        Returns the number delivered."""
        calls = self.read()
        for i, call in enumerate(calls):
            try:
                deliver(call)
            except BaseException:
                if i:
                    atomic_write_text("".join(json.dumps(c) + "\n" for c in calls[i:]), self.path)
                raise
        self.path.unlink(missing_ok=True)
        return len(calls)


class MlflowTracker:
    """MLflow logging for one run; every method is a no-op when ``enabled`` is false (tests, quick runs).

    Each call during the run goes through ``_submit``: up to ``retries`` retries ``retry_seconds`` apart (doubling)
    on a store fault, then it is buffered in ``<output_dir>/mlflow_pending.jsonl`` with one warning per outage.
    While the outage lasts, each call makes one attempt, so a store that stays down does not stall training.
    """

    def __init__(
        self,
        uri: str,
        experiment: str,
        enabled: bool = True,
        retries: int = 3,
        retry_seconds: float = 2.0,
        system_metrics: bool = False,
    ) -> None:
        self.enabled = enabled
        self.experiment = experiment
        self.uri = resolve_tracking_uri(uri) if enabled else uri
        self.retries = retries
        self.retry_seconds = retry_seconds
        self.system_metrics = system_metrics
        self._client: MlflowClient | None = None  # opened by start(), after check_store
        self._run_id: str | None = None
        self._pending: PendingCalls | None = None
        self._outage = False
        self._monitor: SystemMetricsMonitor | None = None

    @property
    def run_id(self) -> str | None:
        return self._run_id

    def start(
        self,
        run_name: str,
        config: DictConfig | Mapping[str, Any],
        output_dir: Path,
        parent_run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Start a run, or resume the one recorded in ``output_dir/mlflow_run_id``, and log the config.

        Raises DistillxError, in one line, when the store cannot be used: better now than after training.
        """
        if not self.enabled:
            return
        if self.system_metrics and importlib.util.find_spec("psutil") is None:
            raise DistillxError(
                "tracking.system_metrics=true: MLflow's system metrics need psutil (pip install psutil); "
                "install it or set tracking.system_metrics=false"
            )
        id_file = Path(output_dir) / RUN_ID_FILE
        self._pending = PendingCalls(Path(output_dir) / PENDING_FILE)
        try:
            check_store(self.uri)
            with creation_lock(self.uri):
                with quiet_store_logs():  # MLflow retries opening the database itself
                    self._client = MlflowClient(tracking_uri=self.uri)
                self._run_id = self._retrying(lambda: self._open_run(run_name, id_file))
            sent = self._pending.send(self._replay_with_retries)  # left by an earlier process of this output dir
            if sent:
                log.info("sent %d tracking calls buffered in %s", sent, self._pending.path)
            self._retrying(lambda: self._client.update_run(self._run_id, status="RUNNING"))
            logged = self._retrying(lambda: self._client.get_run(self._run_id).data.params)
        except DistillxError:
            raise
        except (MlflowException, SQLAlchemyError, OSError) as err:
            raise unusable(self.uri, err) from err
        all_tags = dict(tags or {})
        if parent_run_id is not None:
            all_tags["mlflow.parentRunId"] = parent_run_id
        self.set_tags(all_tags)
        resolved = resolved_container(config)
        self._log_new_params(flatten_config(resolved), logged)
        self._submit("text", {"text": OmegaConf.to_yaml(resolved), "artifact_file": "config.yaml"})
        if self.system_metrics:
            self._monitor = start_system_metrics(self.uri, self._run_id)

    def _open_run(self, run_name: str, id_file: Path) -> str:
        """The run recorded in ``id_file`` if the store has it, else a new one, recorded there."""
        run_id = resumable_run_id(self._client, id_file)
        if run_id is not None:
            log.info("resuming MLflow run %s recorded in %s", run_id, id_file)
            return run_id
        experiment_id = get_or_create_experiment(self._client, self.uri, self.experiment)
        run_id = self._client.create_run(experiment_id, run_name=run_name).info.run_id
        atomic_write_text(run_id, id_file)
        return run_id

    def _log_new_params(self, params: dict[str, str], logged: Mapping[str, str]) -> None:
        """Log params not yet on the run; MLflow refuses to change a logged param, so changes are skipped."""
        new = {}
        for key, value in params.items():
            if key not in logged:
                new[key] = value
            elif logged[key] != value:
                log.warning(
                    "param %s changed since MLflow run %s started (%r -> %r): the run keeps the old value",
                    key,
                    self._run_id,
                    logged[key],
                    value,
                )
        if new:
            self._submit("params", new)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        if self.enabled:
            self._submit("metrics", {sanitize_key(k): float(v) for k, v in metrics.items()}, step=step or 0)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        if self.enabled:
            self._submit("artifact", {"path": str(path), "artifact_path": artifact_path})

    def log_artifacts(self, dir: str | Path, artifact_path: str | None = None) -> None:
        if self.enabled:
            self._submit("artifacts", {"dir": str(dir), "artifact_path": artifact_path})

    def log_inputs(self, inputs: Sequence[SplitInput]) -> None:
        """Record data splits the run read as MLflow dataset inputs; logging one again is harmless."""
        if self.enabled and inputs:
            self._submit("inputs", [asdict(split) for split in inputs])

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        if self.enabled and tags:
            self._submit("tags", {key: str(value) for key, value in tags.items()})

    def end(self, status: str = "FINISHED") -> None:
        """Close the run as ``FINISHED``, ``FAILED`` or ``KILLED``; left open it shows as RUNNING forever.

        The last chance to send what is buffered, with full retries even during an outage; what still cannot
        be sent, the status included, stays on disk for the sync command named in the log.
        """
        if not self.enabled:
            return
        if self._monitor is not None:  # its last samples go in while the run is still RUNNING
            self._monitor.finish()
            self._monitor = None
        self._submit("end", status, attempts=self.retries + 1)
        left = len(self._pending.read())
        if left:
            output_dir = self._pending.path.parent
            log.warning(
                "MLflow run %s lacks %d tracking calls (its final status included), kept in %s; "
                "once %s is reachable, bring it up to date with: %s %s",
                self._run_id,
                left,
                self._pending.path,
                self.uri,
                SYNC_COMMAND,
                output_dir,
            )

    def _submit(self, kind: str, payload: Any, step: int | None = None, attempts: int | None = None) -> None:
        """Send one call after whatever is buffered, or buffer it when the store stays down: tracking never
        stops training, and no metric is lost (each keeps its step and timestamp)."""
        call = {"kind": kind, "payload": payload, "step": step, "timestamp": int(time.time() * 1000)}
        run_id = self._require_run()
        attempts = attempts or (1 if self._outage else self.retries + 1)
        try:
            sent = self._pending.send(lambda earlier: self._replay_with_retries(earlier, attempts))
            self._replay_with_retries(call, attempts)
        except Exception as err:
            if not store_fault(err):
                raise
            self._pending.append({**call, "uri": self.uri})
            if not self._outage:
                self._outage = True
                log.warning(
                    "MLflow store %s is unavailable (%s): tracking calls are kept in %s and sent once it is back; "
                    "training continues",
                    self.uri,
                    reason(err),
                    self._pending.path,
                )
            return
        if self._outage:
            self._outage = False
            log.info("MLflow store %s is back: %d buffered tracking calls sent to run %s", self.uri, sent, run_id)

    def _replay_with_retries(self, call: Mapping[str, Any], attempts: int | None = None) -> None:
        self._retrying(lambda: replay(self._client, self._run_id, call), attempts)

    def _retrying(self, action: Callable[[], T], attempts: int | None = None) -> T:
        """``action()``, retried on a transient store fault ``retry_seconds`` apart, doubling each time."""
        attempts = attempts or self.retries + 1
        for attempt in range(attempts - 1):
            try:
                with quiet_store_logs():
                    return action()
            except Exception as err:
                if not store_fault(err):
                    raise
                log.debug("MLflow store %s: %s; retrying", self.uri, reason(err))
                time.sleep(self.retry_seconds * 2**attempt)
        with quiet_store_logs():
            return action()

    def _require_run(self) -> str:
        if self._run_id is None:
            raise RuntimeError("MlflowTracker: call start() before logging")
        return self._run_id


def start_system_metrics(uri: str, run_id: str) -> SystemMetricsMonitor:
    """MLflow's system metrics monitor on ``run_id``, continuing the steps of a resumed run."""
    # Imported here: the monitor's modules import psutil, which only this option needs.
    from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor  # noqa: PLC0415

    monitor = SystemMetricsMonitor(run_id, resume_logging=True, tracking_uri=uri)
    monitor.start()
    return monitor
