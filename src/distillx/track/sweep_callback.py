"""One MLflow parent run per Hydra multirun sweep, with every job's run nested under it.

Hydra instantiates this callback from ``hydra.callbacks`` in the sweep's launching process. The parent run id
travels to the jobs through a file in the sweep dir, as launchers such as joblib run jobs in other processes.
Note that Hydra turns exceptions raised by callbacks into warnings, so a broken store never stops a sweep.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from mlflow import MlflowClient
from mlflow.entities import Metric, Run
from omegaconf import DictConfig

from distillx.files import atomic_write_text
from distillx.track.mlflow_tracker import (
    METRICS_PER_BATCH,
    get_or_create_experiment,
    resolve_tracking_uri,
    resumable_run_id,
    sanitize_key,
    tags_batch,
)

log = logging.getLogger(__name__)

PARENT_RUN_ID_FILE = "mlflow_parent_run_id"
CROSS_ARCH_DIR = "cross_architecture"


def sweep_dir(hydra_cfg: DictConfig) -> Path:
    """The sweep dir as an absolute path: relative ones are relative to the cwd Hydra started in."""
    path = Path(str(hydra_cfg.sweep.dir))
    return path if path.is_absolute() else Path(hydra_cfg.runtime.cwd) / path


def parent_run_id_for_job(hydra_cfg: DictConfig) -> str | None:
    """The sweep's parent run id for a job (pass ``HydraConfig.get()``); None outside a tracked multirun."""
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return None
    id_file = sweep_dir(hydra_cfg) / PARENT_RUN_ID_FILE
    return id_file.read_text().strip() if id_file.is_file() else None


def _child_metric_key(run: Run, key: str) -> str:
    """``<child run name>/<metric>``, or the child's short run id where its name would pass MLflow's 250
    characters (a job named after many overrides)."""
    name = run.info.run_name or run.info.run_id[:8]
    if len(name) + len(key) + 1 > 250:
        name = run.info.run_id[:8]
    return f"{name}/{key}"


class MlflowSweepCallback(Callback):
    """Opens the sweep's parent run; at the end logs a summary of the child runs to it and closes it."""

    def __init__(self, uri: str, experiment: str, enabled: bool = True) -> None:
        self.uri = uri
        self.experiment = experiment
        self.enabled = enabled

    def _client(self) -> MlflowClient:
        self.uri = resolve_tracking_uri(self.uri)
        return MlflowClient(tracking_uri=self.uri)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Create (or, for a restarted sweep dir, resume) the parent run; record its id in the sweep dir."""
        if not self.enabled:
            return
        hydra_cfg = config.hydra
        client = self._client()
        id_file = sweep_dir(hydra_cfg) / PARENT_RUN_ID_FILE
        run_id = resumable_run_id(client, id_file)
        if run_id is None:
            experiment_id = get_or_create_experiment(client, self.uri, self.experiment)
            name = f"{hydra_cfg.job.name}-sweep-{time.strftime('%Y%m%d-%H%M%S')}"
            run_id = client.create_run(experiment_id, run_name=name).info.run_id
            atomic_write_text(run_id, id_file)
        else:
            client.update_run(run_id, status="RUNNING")
        tags = {
            "distillx.sweep_overrides": " ".join(hydra_cfg.overrides.task),
            "distillx.sweep_dir": id_file.parent,
        }
        client.log_batch(run_id, tags=tags_batch(tags))

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        """Mark the parent FAILED when a job fails: Hydra then raises before ``on_multirun_end`` is called."""
        if not self.enabled or job_return.status != JobStatus.FAILED:
            return
        parent_id = parent_run_id_for_job(config.hydra)
        if parent_id is not None:
            self._client().set_terminated(parent_id, status="FAILED")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Log each child's final metrics, ``sweep_summary.csv`` and, for a sweep over architectures, the
        cross-architecture heatmaps to the parent, then close it."""
        if not self.enabled:
            return
        directory = sweep_dir(config.hydra)
        parent_id = (directory / PARENT_RUN_ID_FILE).read_text().strip()
        client = self._client()
        children = child_runs(client, parent_id)
        now = int(time.time() * 1000)
        metrics = [
            Metric(sanitize_key(_child_metric_key(run, key)), value, now, 0)
            for run in children
            for key, value in run.data.metrics.items()
            if key.startswith("test/")  # the final results; per-epoch curves stay on the children
        ]
        for i in range(0, len(metrics), METRICS_PER_BATCH):
            client.log_batch(parent_id, metrics=metrics[i : i + METRICS_PER_BATCH])
        client.log_text(parent_id, summary_csv(children), "sweep_summary.csv")
        log_cross_architecture(client, parent_id, children, directory / CROSS_ARCH_DIR)
        failed = any(run.info.status == "FAILED" for run in children)
        client.set_terminated(parent_id, status="FAILED" if failed else "FINISHED")


def child_runs(client: MlflowClient, parent_id: str) -> list[Run]:
    """All runs nested under ``parent_id`` in its experiment, oldest first."""
    experiment_id = client.get_run(parent_id).info.experiment_id
    runs: list[Run] = []
    token = None
    while True:
        page = client.search_runs(
            [experiment_id],
            filter_string=f"tags.`mlflow.parentRunId` = '{parent_id}'",
            order_by=["attributes.start_time ASC"],
            page_token=token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def log_cross_architecture(client: MlflowClient, parent_id: str, children: list[Run], out_dir: Path) -> list[Path]:
    """Where the children span >= 2 (teacher, student) architecture pairs, write the heatmaps of
    freetransfer-x.md Figures 4/5 under ``out_dir`` and log them to the parent under ``cross_architecture/``.

    A plot is a by-product of a sweep whose runs are already recorded: any error here is a warning, never a
    failed sweep (nor a parent left RUNNING). Returns the files written (none when not applicable or failed).
    """
    try:
        from distillx.report import heatmap  # matplotlib only in the launcher, and only when needed

        runs = heatmap.transfer_runs(children)
        if not heatmap.is_cross_architecture(runs):
            return []
        paths = heatmap.write_all(runs, out_dir)
        for path in paths:  # file by file: the folder of a restarted sweep may hold stale files
            client.log_artifact(parent_id, str(path), CROSS_ARCH_DIR)
        log.info("cross-architecture heatmaps: %s", out_dir)
        return paths
    except Exception as err:  # deliberately broad: see the docstring
        log.warning("cross-architecture heatmaps not made: %s: %s", type(err).__name__, err, exc_info=True)
        return []


def summary_csv(runs: list[Run]) -> str:
    """One row per run: name, id, status, the params whose values differ between runs, and final metrics."""
    param_keys = sorted({key for run in runs for key in run.data.params})
    varying = [key for key in param_keys if len({run.data.params.get(key) for run in runs}) > 1]
    metric_keys = sorted({key for run in runs for key in run.data.metrics})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["run_name", "run_id", "status", *varying, *metric_keys])
    for run in runs:
        writer.writerow(
            [
                run.info.run_name,
                run.info.run_id,
                run.info.status,
                *(run.data.params.get(key, "") for key in varying),
                *(run.data.metrics.get(key, "") for key in metric_keys),
            ]
        )
    return out.getvalue()
