"""Run a reduced grid of freetransfer-x.md Table 1/3 one job at a time and collect it into a Markdown table.

The presets under conf/experiment (``distillx +experiment=table1_multiatis``) are the paper's full settings;
on a 2-core CPU they take days. This script runs chosen cells of the same grid with fewer epochs, each cell a
plain ``distillx`` run with a fixed output directory, so an interrupted grid resumes where it stopped (finished
cells are skipped, unfinished stages continue from their last epoch; shared stages are trained once).

    python experiments/paper_tables.py run --dataset multiatis --archs transformer --recipes kd,translate_test \
        --languages de,zh --epochs 5
    python experiments/paper_tables.py collect --dataset multiatis --epochs 5 --write   # into benchmarks/RESULTS.md
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
sys.path.insert(0, str(ROOT / "benchmarks"))
from results_md import replace_section  # noqa: E402

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


NAMES = {"mtop": "MTOP", "multiatis": "MultiATIS++"}
STAGES = ("source_model", "kd1_mplm", "gold_mplm", "kd2_student", "translate_train_pseudo")


def cell_results(dataset: str) -> dict[tuple[str, str, str], dict]:
    """(arch, recipe, language) -> results.json of every finished cell, with its wall time and stage times."""
    cells = {}
    for path in sorted((OUT / dataset).glob("*/*/*/results.json")):
        arch, recipe, language = path.parent.relative_to(OUT / dataset).parts
        res = json.loads(path.read_text())
        wall = path.parent / "wall_s.txt"
        res["wall_s"] = float(wall.read_text()) if wall.exists() else None
        res["stage_s"] = {}
        for stage in STAGES:
            done = path.parent / "stages" / stage / "done.json"
            if done.exists():
                info = json.loads(done.read_text())
                epoch_s = [h["epoch_seconds"] for h in info["history"] if "epoch_seconds" in h]
                slowed = bool(epoch_s) and max(epoch_s) > 3 * statistics.median(epoch_s)
                res["stage_s"][stage] = (
                    str(done.resolve().parent),
                    info.get("seconds", 0.0),
                    info["epochs_run"],
                    slowed,
                )
        cells[arch, recipe, language] = res
    return cells


def target_accuracy(res: dict, recipe: str, language: str) -> float:
    return 100 * res["scores"][TARGET_ROLE.get(recipe, "student")][language]["accuracy"]


def collect(args: argparse.Namespace) -> str:
    """The Markdown section for one dataset: Table 1 in the paper's format (distillx / paper), per-language
    accuracies, and the wall time of every stage."""
    dataset, cells = args.dataset, cell_results(args.dataset)
    languages = LANGUAGES[dataset].split(",")
    mt_languages = sorted(
        {lang for (_, recipe, lang) in cells if recipe in ("translate_test", "translate_train_pseudo")}
    )
    lines = [f"## FreeTransfer-X Table 1, reduced: {NAMES[dataset]}", ""]
    lines.append(
        f"Intent accuracy (%) on the {NAMES[dataset]} test sets, averaged over the target languages a row has "
        f"(count in brackets; the paper averages {', '.join(languages)}). distillx / paper (Table 1). Run with "
        f"`experiments/paper_tables.py` (commands below): mPLM = offline multilingual-e5-small (the paper: "
        f"XLM-R base), `trainer=paper size=paper` (Table-2 models, 10k BPE, LR range test for the from-scratch "
        f"stages, best dev checkpoint by label-free teacher agreement) but **{args.epochs} epochs instead of 50**. "
        "MT rows use the dataset's own human translations (oracle `translator=parallel`, an upper bound for "
        "M2M-100, which is not available offline here), so they exist only for languages whose utterances are "
        "parallel with English; Translate-test with the human translation scores the source model on the English "
        "originals of the test utterances, so that row is the source model's accuracy, not an MT result."
    )
    if not mt_languages:
        lines[-1] += (
            f" {NAMES[dataset]}'s languages are not parallel (no shared utterance ids), so the MT rows (Translate-*, "
            "balanced, augmented) need a real MT model and are not run here."
        )
    lines += ["", "| row | " + " | ".join(f"{a}: distillx / paper" for a in ARCHS) + " |", "|---|---|---|---|"]
    rows = [("source", "off-the-shelf en source", None), *((r, r, None) for r in list(PAPER_TABLE1)[1:])]
    if mt_languages:
        rows.insert(5, ("kd", f"kd on the MT rows' languages ({', '.join(mt_languages)})", mt_languages))
    for recipe, label, only in rows:
        row = []
        for i, arch in enumerate(ARCHS):
            paper = PAPER_TABLE1[recipe][dataset][i]
            if recipe == "source":
                found = [r for (a, rc, _), r in cells.items() if a == arch and "teacher" in r["scores"]]
                score = [100 * found[0]["scores"]["teacher"]["en"]["accuracy"]] if found else []
                n = ""
            else:
                score = [
                    target_accuracy(r, recipe, lang)
                    for (a, rc, lang), r in cells.items()
                    if a == arch and rc == recipe and (only is None or lang in only)
                ]
                n = f" ({len(score)})"
            row.append(f"{statistics.mean(score):.1f}{n} / {paper}" if score else f"— / {paper}")
        lines.append(f"| {label} | " + " | ".join(row) + " |")
    lines += ["", "Per language (distillx):", ""]
    lines += ["| arch | row | " + " | ".join(languages) + " |", "|---|---|" + "---:|" * len(languages)]
    for arch in ARCHS:
        for recipe in list(PAPER_TABLE1)[1:]:
            accs = [cells.get((arch, recipe, lang)) for lang in languages]
            if any(accs):
                values = [
                    f"{target_accuracy(r, recipe, lang):.1f}" if r else "—"
                    for r, lang in zip(accs, languages, strict=True)
                ]
                lines.append(f"| {arch} | {recipe} | " + " | ".join(values) + " |")
    lines += ["", "Wall time (2-core CPU, seconds; a shared stage is trained once and counted once):", ""]
    lines += ["| arch | row | " + " | ".join(STAGES) + " | whole cells |", "|---|---|" + "---:|" * (len(STAGES) + 1)]
    for arch in ARCHS:
        for recipe in PAPER_TABLE1:
            mine = [r for (a, rc, _), r in cells.items() if a == arch and rc == recipe]
            if not mine:
                continue
            per_stage = []
            for stage in STAGES:
                runs = {r["stage_s"][stage][0]: r["stage_s"][stage][1:] for r in mine if stage in r["stage_s"]}
                if not runs:
                    per_stage.append("")
                    continue
                secs = [s for s, _, _ in runs.values()]
                epochs_run = sorted({e for _, e, _ in runs.values()})
                text = f"{sum(secs):.0f}" if len(runs) == 1 else f"{statistics.mean(secs):.0f} x {len(runs)}"
                mark = "*" if any(slowed for _, _, slowed in runs.values()) else ""
                per_stage.append(f"{text}{mark} ({'/'.join(map(str, epochs_run))} ep)")
            walls = [r["wall_s"] for r in mine if r["wall_s"] is not None]
            lines.append(
                f"| {arch} | {recipe} | " + " | ".join(per_stage) + f" | {sum(walls):.0f} ({len(walls)} cells) |"
            )
    notes = sorted({n for r in cells.values() for n in r.get("notes", [])})
    lines += [
        "",
        "Stage times are the epochs' training + evaluation (`done.json` `seconds`); a cell's wall time also "
        "covers loading, preprocessing (cached after the first run), teacher predictions and test scoring. "
        "`N x k` = mean over k per-language stages. `*`: an epoch of the stage took over 3x its median epoch "
        "(another job competed for the 2 cores then; with 2 OpenMP threads a step slows far more than "
        "proportionally), so that figure overstates the stage.",
        "",
        f"Notes written by the runs: {'; '.join(notes) or 'none'}.",
        "",
        "Reproduce (resumable; finished cells are skipped):",
        "",
        "```",
        *(
            args.commands
            or [f"python experiments/paper_tables.py run --dataset {dataset} --recipes ... --epochs {args.epochs}"]
        ),
        f"python experiments/paper_tables.py collect --dataset {dataset} --epochs {args.epochs} --write",
        "```",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        replace_section(ROOT / "benchmarks" / "RESULTS.md", lines[0], text)
    return text


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
    c.add_argument("--epochs", type=int, required=True, help="the epochs the cells were run with (for the text)")
    c.add_argument("--command", dest="commands", action="append", help="a run command to show (repeatable)")
    c.add_argument("--write", action="store_true", help="replace this dataset's section of benchmarks/RESULTS.md")
    args = parser.parse_args()
    run(args) if args.command == "run" else collect(args)


if __name__ == "__main__":
    main()
