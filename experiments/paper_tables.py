"""Run a reduced grid of freetransfer-x.md Table 1/3 one job at a time and collect it into a Markdown table.

The presets under conf/experiment (``distillx +experiment=table1_multiatis``) are the paper's full settings;
on a 2-core CPU they take days. This script runs chosen cells of the same grid with fewer epochs, each cell a
plain ``distillx`` run with a fixed output directory, so an interrupted grid resumes where it stopped (finished
cells are skipped, unfinished stages continue from their last epoch; shared stages are trained once).

    python experiments/paper_tables.py run --dataset multiatis --archs transformer --recipes kd,translate_test \
        --languages de,zh --epochs 5
    python experiments/paper_tables.py collect --dataset multiatis --out benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "outputs" / "paper_tables"
LANGUAGES = {"mtop": "de,es,fr,hi,th", "multiatis": "de,es,fr,hi,ja,pt,tr,zh"}
PAPER_TABLE1 = {  # freetransfer-x.md Table 1: accuracy averaged over target languages (MTOP, MultiATIS++)
    "source": {"mtop": (88.3, 86.2, 90.5), "multiatis": (94.4, 90.8, 92.7)},
    "gold_supervised": {"mtop": (78.4, 65.0, 79.2), "multiatis": (84.6, 85.2, 86.6)},
    "translate_test": {"mtop": (69.6, 66.0, 73.8), "multiatis": (86.4, 80.7, 86.2)},
    "translate_train_pseudo": {"mtop": (64.2, 57.9, 67.4), "multiatis": (84.7, 81.2, 83.2)},
    "kd": {"mtop": (75.1, 72.3, 75.6), "multiatis": (87.7, 83.8, 85.0)},
    "kd_balanced": {"mtop": (79.3, 75.9, 77.8), "multiatis": (88.9, 85.2, 86.2)},
    "kd_balanced_augmented": {"mtop": (79.6, 79.1, 78.8), "multiatis": (88.7, 86.4, 86.9)},
}
ARCHS = ("transformer", "bilstm", "cnn")
DATA_DIRS = {"mtop": "mtop", "multiatis": "multiatis_pp"}
TARGET_ROLE = {"translate_test": "translate_test", "zero_shot": "mplm"}


def cell_dir(dataset: str, arch: str, recipe: str, language: str) -> Path:
    return OUT / dataset / arch / recipe / language


def wait_while_paused(pause_file: Path) -> None:
    """Hold before the next cell while ``pause_file`` exists: on a shared 2-core machine another CPU-heavy job
    (a test suite, a benchmark) would otherwise inflate the wall times recorded for the cells."""
    if pause_file.exists():
        print(f"[{time.strftime('%H:%M:%S')}] paused while {pause_file} exists", flush=True)
        while pause_file.exists():
            time.sleep(5)


def run(args: argparse.Namespace) -> None:
    for arch in args.archs.split(","):
        for recipe in args.recipes.split(","):
            for language in (args.languages or LANGUAGES[args.dataset]).split(","):
                out = cell_dir(args.dataset, arch, recipe, language)
                if (out / "results.json").exists():
                    continue
                cmd = [
                    sys.executable, "-m", "distillx.cli",
                    f"dataset={args.dataset}", f"dataset.path={args.data}/{DATA_DIRS[args.dataset]}",
                    "mplm=e5_small", f"mplm.name_or_path={args.mplm}", "trainer=paper", "size=paper",
                    f"trainer.epochs={args.epochs}", f"trainer.patience={args.patience}", "trainer.progress=false",
                    f"+same_arch={arch}", f"+recipe={recipe}", f"language={language}", f"hydra.run.dir={out}",
                    *args.extra,
                ]  # fmt: skip
                wait_while_paused(args.pause_file)
                print(f"[{time.strftime('%H:%M:%S')}] {arch} {recipe} {language}", flush=True)
                started = time.time()
                proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
                (out / "wall_s.txt").parent.mkdir(parents=True, exist_ok=True)
                (out / "stderr.txt").write_text(proc.stderr[-20000:])
                if proc.returncode:
                    print(f"  failed ({proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}", flush=True)
                    continue
                (out / "wall_s.txt").write_text(f"{time.time() - started:.0f}\n")


def collect(args: argparse.Namespace) -> str:
    rows = []
    for recipe in PAPER_TABLE1:
        cells, notes = [], set()
        for i, arch in enumerate(ARCHS):
            scores = []
            for language in LANGUAGES[args.dataset].split(","):
                src_recipe = "kd" if recipe == "source" else recipe
                out = cell_dir(args.dataset, arch, src_recipe, language)
                if not (out / "results.json").exists():
                    continue
                res = json.loads((out / "results.json").read_text())
                notes.update(res.get("notes", []))
                if recipe == "source":
                    scores.append(res["scores"]["teacher"]["en"]["accuracy"])
                    break
                role = TARGET_ROLE.get(recipe, "student")
                scores.append(res["scores"][role][language]["accuracy"])
            paper = PAPER_TABLE1[recipe][args.dataset][i]
            if scores:
                n = "" if recipe == "source" else f" ({len(scores)} lang)"
                cells.append(f"{100 * statistics.mean(scores):.1f}{n} / {paper}")
            else:
                cells.append(f"— / {paper}")
        label = "off-the-shelf en source" if recipe == "source" else recipe
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    table = (
        "| row | " + " | ".join(f"{a}: distillx / paper" for a in ARCHS) + " |\n|---|---|---|---|\n" + "\n".join(rows)
    )
    print(table)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--dataset", choices=sorted(LANGUAGES), required=True)
    r.add_argument("--archs", default="transformer,bilstm,cnn")
    r.add_argument("--recipes", default="kd")
    r.add_argument("--languages", default=None, help="default: the paper's target languages of the dataset")
    r.add_argument("--epochs", type=int, default=5)
    r.add_argument("--patience", default="null")
    r.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    r.add_argument("--mplm", default=str(Path.home() / ".cache" / "distillx" / "mplm" / "e5-small"))
    r.add_argument("--pause-file", type=Path, default=OUT / "PAUSE", help="hold between cells while it exists")
    r.add_argument("extra", nargs="*", help="more distillx overrides")
    c = sub.add_parser("collect")
    c.add_argument("--dataset", choices=sorted(LANGUAGES), required=True)
    args = parser.parse_args()
    run(args) if args.command == "run" else collect(args)


if __name__ == "__main__":
    main()
