"""Wall time of the demo run on 1 process vs 2 data-parallel processes (``trainer.devices=2``, torch DDP over
gloo), one thread each, and the scores both reach.

Both runs use the user's cache (the demo mPLM and the preprocessed splits are built there once, before timing)
with ``share_stages=false``, so each trains every stage in its own run directory. CPU figures are for
correctness, not speed: on a 2-core machine the second process takes the core the first would use for its
second thread, and every step adds a gradient all-reduce; on N GPUs each process has its own device.

Usage (from the repository root): ``.venv/bin/python benchmarks/data_parallel.py [--epochs 8] [--write]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results_md import publish

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "data_parallel.json"
HEADING = "## Data-parallel training: 1 vs 2 processes (torch DDP, CPU)"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "MLFLOW_DISABLE_TELEMETRY": "true", "TOKENIZERS_PARALLELISM": "false"}


def demo(out: Path, epochs: int, devices: int) -> dict:
    """Run the demo into ``out``: wall seconds, each stage's training seconds, the student's zh accuracy."""
    command = [
        str(ROOT / ".venv" / "bin" / "distillx"),
        f"trainer.devices={devices}",
        "trainer.threads=1",
        "trainer.progress=false",
        f"trainer.epochs={epochs}",
        "share_stages=false",
        "tracking=none",
        f"hydra.run.dir={out}",
    ]
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"demo run failed (devices={devices}):\n{done.stderr[-2000:]}")
    wall = time.monotonic() - started
    stages = {
        d.name: round(json.loads((d / "done.json").read_text())["seconds"], 1)
        for d in sorted((out / "stages").iterdir())
        if (d / "done.json").exists()
    }
    scores = json.loads((out / "results.json").read_text())["scores"]
    student = scores["student"]["zh"]["accuracy"]
    return {"wall_s": round(wall, 1), "stage_s": stages, "student_zh_accuracy": round(100 * student, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--write", action="store_true", help="write benchmarks/results/ and the RESULTS.md section")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        demo(Path(tmp) / "warm", 1, 1)  # the demo mPLM and splits in the cache, outside the timing
        runs = {n: demo(Path(tmp) / f"devices{n}", args.epochs, n) for n in (1, 2)}
    figures = {"epochs": args.epochs, **{f"devices_{n}": r for n, r in runs.items()}}
    rows = [
        f"| {n} | {r['wall_s']:.0f} | {sum(r['stage_s'].values()):.0f} | "
        + ", ".join(f"{k} {v:.0f}" for k, v in r["stage_s"].items())
        + f" | {r['student_zh_accuracy']:.1f} |"
        for n, r in runs.items()
    ]
    text = "\n".join(
        [
            HEADING,
            "",
            f"The demo (FreeTransfer-X en -> zh, {args.epochs} epochs, one thread per process, stages trained in the "
            "run directory) with `trainer.devices=1` and `trainer.devices=2`:",
            "",
            "| processes | wall (s) | training (s) | per stage (s) | student zh accuracy (%) |",
            "|---|---|---|---|---|",
            *rows,
            "",
            "CPU figures are for correctness, not speed: two gloo processes on two cores take the cores one process "
            "would use with two threads, and add an all-reduce per step. Scores differ between the rows because "
            "dropout draws differ per rank; without dropout the two agree to float precision "
            "(tests/test_distributed.py).",
            "",
            "Reproduce: `.venv/bin/python benchmarks/data_parallel.py --write`.",
        ]
    )
    print(text)
    if args.write:
        publish(figures, RESULTS, ROOT / "benchmarks" / "RESULTS.md", HEADING, text)


if __name__ == "__main__":
    main()
