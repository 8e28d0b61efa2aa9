"""``make ui``: MLflow's UI over the store, with the address of the experiment's runs table printed once it is up.

MLflow 3 opens an experiment on its GenAI overview page (the experiment tag ``mlflow.experimentKind`` does not
change that), and its server announces only its root address, amid some twenty lines of start-up log. The UI's
``workflowType=machine_learning`` query selects the "Model training" view and ``#/experiments/<id>/runs`` the
runs table, so that is the address printed, after the server answers.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import LifecycleStage

from distillx.track.mlflow_tracker import SQLITE_PREFIX

MODEL_TRAINING = "workflowType=machine_learning"
START_SECONDS = 120


def experiment_id(uri: str, name: str) -> str | None:
    """The id of the live experiment ``name`` in the store at ``uri``; None before its first run (a sqlite file
    that does not exist is not created)."""
    if uri.startswith(SQLITE_PREFIX) and not Path(uri[len(SQLITE_PREFIX) :]).is_file():
        return None
    experiment = MlflowClient(uri).get_experiment_by_name(name)
    if experiment is None or experiment.lifecycle_stage == LifecycleStage.DELETED:
        return None
    return experiment.experiment_id


def runs_url(base: str, uri: str, experiment: str) -> str:
    """The runs table of ``experiment`` in the model-training view; the experiment list while it has no runs."""
    found = experiment_id(uri, experiment)
    route = f"experiments/{found}/runs" if found is not None else "experiments"
    return f"{base.rstrip('/')}/#/{route}?{MODEL_TRAINING}"


def wait_until_up(server: subprocess.Popen, base: str) -> bool:
    """True once the server answers its health check; False if it exits or stays silent for START_SECONDS."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m distillx.track.ui",
        description="MLflow's UI over a tracking store; prints the address of the experiment's runs table once up.",
    )
    parser.add_argument("--store", required=True, help="tracking URI, e.g. sqlite:///outputs/mlflow.db")
    parser.add_argument("--experiment", default="distillx")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    base = f"http://{args.host}:{args.port}"
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", args.store]
    server = subprocess.Popen([*command, "--host", args.host, "--port", str(args.port)])
    try:
        if wait_until_up(server, base):
            print(f"\nMLflow UI, runs of experiment {args.experiment}: {runs_url(base, args.store, args.experiment)}")
            print("(Ctrl-C stops the server)\n", flush=True)
        return server.wait()
    except KeyboardInterrupt:  # the server got the same Ctrl-C and shuts down
        return server.wait()


if __name__ == "__main__":
    sys.exit(main())
