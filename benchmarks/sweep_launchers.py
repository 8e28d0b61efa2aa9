"""Wall time of one small sweep run one job after another (Hydra's basic launcher) and as 2 jobs at once
(``hydra/launcher=parallel``, joblib) on this machine, each from an empty cache so both build the demo mPLM,
vocabularies, source model and KD step 1 (once: the parallel jobs share them under a file lock).

The sweep: the embedded demo, en -> de and en -> fr, ``trainer.threads=1`` per job (the parallel jobs get one core
each), ``--epochs`` epochs. CPU figures are for correctness and scheduling, not speed claims; run it on idle cores.

Usage (from the repository root): ``.venv/bin/python benchmarks/sweep_launchers.py [--epochs 3] [--write]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results_md import publish

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "sweep_launchers.json"
HEADING = "## Sweeps: one job at a time vs 2 parallel jobs"


def sweep(out: Path, epochs: int, *launcher: str) -> float:
    """Seconds for ``distillx --multirun language=de,fr`` into ``out`` with its own empty cache."""
    command = [
        str(ROOT / ".venv" / "bin" / "distillx"),
        "--multirun",
        "language=de,fr",
        *launcher,
        "trainer.threads=1",
        "trainer.progress=false",
        f"trainer.epochs={epochs}",
        f"cache_dir={out / 'cache'}",
        f"tracking.uri=sqlite:///{out / 'mlflow.db'}",
        f"hydra.sweep.dir={out / 'sweep'}",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MLFLOW_DISABLE_TELEMETRY": "true", "TOKENIZERS_PARALLELISM": "false"}
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"sweep failed ({' '.join(launcher) or 'basic launcher'}):\n{done.stderr[-2000:]}")
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="write benchmarks/results/ and the RESULTS.md section")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sequential = sweep(Path(tmp) / "sequential", args.epochs)
        parallel = sweep(Path(tmp) / "parallel", args.epochs, "hydra/launcher=parallel")
    figures = {"epochs": args.epochs, "sequential_s": round(sequential, 1), "parallel_2_jobs_s": round(parallel, 1)}
    text = "\n".join(
        [
            HEADING,
            "",
            f"The demo sweep `language=de,fr` ({args.epochs} epochs, one thread per job, empty caches): one job after "
            f"another {sequential:.0f} s, 2 jobs at once (`hydra/launcher=parallel`) {parallel:.0f} s "
            f"({sequential / parallel:.2f}x). Both build the shared stages once; the parallel jobs wait on each "
            "other's locks while they do, and in the demo those shared stages (demo mPLM, source model, KD step 1) "
            "are most of the sweep: only KD step 2 runs in parallel, so 2 jobs barely pay off here. CPU figures, "
            "for scheduling, not speed claims.",
            "",
            "Reproduce: `.venv/bin/python benchmarks/sweep_launchers.py --write`.",
        ]
    )
    print(text)
    if args.write:
        publish(figures, RESULTS, ROOT / "benchmarks" / "RESULTS.md", HEADING, text)


if __name__ == "__main__":
    main()
