"""Log one training run to MLflow; restarting an interrupted output dir resumes the same MLflow run."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from hydra.utils import to_absolute_path
from mlflow import MlflowClient
from mlflow.entities import LifecycleStage, Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from omegaconf import DictConfig, OmegaConf

from distillx.errors import DistillxError
from distillx.files import atomic_write_text

log = logging.getLogger(__name__)

RUN_ID_FILE = "mlflow_run_id"
# MLflow's limits (mlflow.utils.validation): longer values are rejected, larger batches refused.
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
PARAMS_PER_BATCH = 100
METRICS_PER_BATCH = 1000
_SQLITE_PREFIX = "sqlite:///"
_BAD_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-. /]")


def sanitize_key(key: str) -> str:
    """Make a metric/param key acceptable to MLflow, which rejects characters such as ``=``, ``,``, ``[``."""
    return _BAD_KEY_CHARS.sub("_", key).strip("/")


def resolve_tracking_uri(uri: str) -> str:
    """Anchor a relative sqlite path at Hydra's original cwd and create its folder.

    Without this, ``hydra.job.chdir=true`` would put each job's database in its own output dir.
    """
    if not uri.startswith(_SQLITE_PREFIX):
        return uri
    db_path = Path(to_absolute_path(uri[len(_SQLITE_PREFIX) :]))
    db_path.parent.mkdir(parents=True, exist_ok=True)
    return _SQLITE_PREFIX + str(db_path)


def get_or_create_experiment(client: MlflowClient, uri: str, name: str) -> str:
    """Return the experiment id, creating it with artifacts stored beside the sqlite database.

    MLflow's default artifact root is ``./mlruns`` relative to whatever the cwd happens to be.
    """
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        location = None
        if uri.startswith(_SQLITE_PREFIX):
            location = (Path(uri[len(_SQLITE_PREFIX) :]).parent / "mlartifacts").as_uri()
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


class MlflowTracker:
    """MLflow logging for one run; every method is a no-op when ``enabled`` is false (tests, quick runs)."""

    def __init__(self, uri: str, experiment: str, enabled: bool = True) -> None:
        self.enabled = enabled
        self.experiment = experiment
        self.uri = resolve_tracking_uri(uri) if enabled else uri
        self._client = MlflowClient(tracking_uri=self.uri) if enabled else None
        self._run_id: str | None = None

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
        """Start a run, or resume the one recorded in ``output_dir/mlflow_run_id``, and log the config."""
        if not self.enabled:
            return
        client = self._client
        id_file = Path(output_dir) / RUN_ID_FILE
        all_tags = dict(tags or {})
        if parent_run_id is not None:
            all_tags["mlflow.parentRunId"] = parent_run_id
        run_id = resumable_run_id(client, id_file)
        if run_id is None:
            experiment_id = get_or_create_experiment(client, self.uri, self.experiment)
            run_id = client.create_run(experiment_id, run_name=run_name).info.run_id
            atomic_write_text(run_id, id_file)
            logged: dict[str, str] = {}
        else:
            client.update_run(run_id, status="RUNNING")
            logged = client.get_run(run_id).data.params
            log.info("resuming MLflow run %s recorded in %s", run_id, id_file)
        self._run_id = run_id
        self.set_tags(all_tags)
        resolved = resolved_container(config)
        self._log_new_params(flatten_config(resolved), logged)
        client.log_text(run_id, OmegaConf.to_yaml(resolved), "config.yaml")

    def _log_new_params(self, params: dict[str, str], logged: Mapping[str, str]) -> None:
        """Log params not yet on the run; MLflow refuses to change a logged param, so changes are skipped."""
        new = []
        for key, value in params.items():
            if key not in logged:
                new.append(Param(key, value))
            elif logged[key] != value:
                log.warning(
                    "param %s changed since MLflow run %s started (%r -> %r): the run keeps the old value",
                    key,
                    self._run_id,
                    logged[key],
                    value,
                )
        for batch in _chunks(new, PARAMS_PER_BATCH):
            self._client.log_batch(self._run_id, params=batch)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        if not self.enabled:
            return
        now = int(time.time() * 1000)
        batch = [Metric(sanitize_key(k), float(v), now, step or 0) for k, v in metrics.items()]
        for chunk in _chunks(batch, METRICS_PER_BATCH):
            self._client.log_batch(self._require_run(), metrics=chunk)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        if self.enabled:
            self._client.log_artifact(self._require_run(), str(path), artifact_path)

    def log_artifacts(self, dir: str | Path, artifact_path: str | None = None) -> None:
        if self.enabled:
            self._client.log_artifacts(self._require_run(), str(dir), artifact_path)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        if self.enabled and tags:
            for chunk in _chunks(tags_batch(tags), PARAMS_PER_BATCH):
                self._client.log_batch(self._require_run(), tags=chunk)

    def end(self, status: str = "FINISHED") -> None:
        """Close the run as ``FINISHED``, ``FAILED`` or ``KILLED``; left open it shows as RUNNING forever."""
        if self.enabled:
            self._client.set_terminated(self._require_run(), status=status)

    def _require_run(self) -> str:
        if self._run_id is None:
            raise RuntimeError("MlflowTracker: call start() before logging")
        return self._run_id
