"""Bring an MLflow run up to date with the tracking calls its training kept on disk while the store was down.

``python -m distillx.track.sync <output_dir>`` sends ``<output_dir>/mlflow_pending.jsonl`` in order (each metric
with its original step and timestamp, the run's final status last) to the run named in ``<output_dir>/mlflow_run_id``.
A call that still fails stays in the file, with those after it, so the command can simply be run again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sqlalchemy.exc import SQLAlchemyError

from distillx.errors import DistillxError
from distillx.track.mlflow_tracker import (
    PENDING_FILE,
    RUN_ID_FILE,
    PendingCalls,
    check_store,
    quiet_store_logs,
    reason,
    replay,
)


def sync(output_dir: Path, uri: str | None = None) -> int:
    """Send the calls buffered in ``output_dir`` to its MLflow run, in the store ``uri`` (default: the one the
    run used, recorded with each call). Returns the number sent; raises DistillxError when one fails."""
    pending = PendingCalls(Path(output_dir) / PENDING_FILE)
    calls = pending.read()
    if not calls:
        return 0
    id_file = Path(output_dir) / RUN_ID_FILE
    if not id_file.is_file():
        raise DistillxError(f"{id_file} is missing: no MLflow run to send {pending.path} to")
    run_id = id_file.read_text().strip()
    uri = uri or calls[-1]["uri"]
    try:
        check_store(uri)
        with quiet_store_logs():
            client = MlflowClient(tracking_uri=uri)
            return pending.send(lambda call: replay(client, run_id, call))
    except (MlflowException, SQLAlchemyError, OSError) as err:
        raise DistillxError(
            f"MLflow run {run_id} in {uri}: {reason(err)}; {len(pending.read())} of {len(calls)} calls remain in "
            f"{pending.path}: run this again once the store is reachable (--uri to send them to another store)"
        ) from err


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m distillx.track.sync",
        description="Send the tracking calls a run buffered while its MLflow store was unreachable.",
    )
    parser.add_argument("output_dir", type=Path, help="the run's output directory (holds mlflow_pending.jsonl)")
    parser.add_argument("--uri", help="tracking URI (default: the one the run used)")
    args = parser.parse_args(argv)
    try:
        sent = sync(args.output_dir, args.uri)
    except DistillxError as err:
        print(f"distillx sync: error: {err}", file=sys.stderr)
        sys.exit(2)
    print(f"{args.output_dir}: {sent} tracking calls sent to MLflow" if sent else f"{args.output_dir}: up to date")


if __name__ == "__main__":
    main()
