"""Run a reduced grid of freetransfer-x.md Table 1/3 one job at a time and collect it from the MLflow store into a
Markdown table.

The presets under conf/experiment (``distillx +experiment=table1_multiatis``) are the paper's full settings;
on a 2-core CPU they take days. This script runs chosen cells of the same grid with fewer epochs, each cell a
plain ``distillx`` run with a fixed output directory, so an interrupted grid resumes where it stopped (finished
cells are skipped, unfinished stages continue from their last epoch; shared stages are trained once). ``collect``
reads the cells' figures back from the MLflow store they log to (``distillx.report.tables``), not from their
directories.

    python experiments/paper_tables.py run --dataset multiatis --archs transformer --recipes kd,translate_test \
        --languages de,zh --epochs 5
    python experiments/paper_tables.py collect --dataset multiatis --epochs 5 --write   # into benchmarks/RESULTS.md
    python experiments/paper_tables.py mt --dataset mtop --epochs 5 --write   # Spanish: Apertium beside the oracle
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import sys
import time
from pathlib import Path

from distillx.report import tables
from distillx.report.mlflow_report import (
    DEFAULT_EXPERIMENT,
    NoRuns,
    RunRecord,
    Table,
    format_cell,
    load_runs,
    metric_histories,
)

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
# freetransfer-x.md Appendix A (MultiATIS++ only): the Spanish column per architecture
PAPER_ES = {
    "multiatis": {
        "translate_test": (88.1, 83.4, 86.3),
        "translate_train_pseudo": (90.0, 85.4, 85.6),
        "kd": (93.3, 89.7, 88.1),
        "kd_balanced": (92.9, 88.7, 87.8),
        "kd_balanced_augmented": (93.3, 90.9, 89.2),
    }
}
ARCHS = ("transformer", "bilstm", "cnn")
DATA_DIRS = {"mtop": "mtop", "multiatis": "multiatis_pp"}


def cell_dir(
    dataset: str,
    arch: str,
    recipe: str,
    language: str,
    translator: str | None = None,
    seed: int | None = None,
    student: str | None = None,
) -> Path:
    """A cell's run directory; cells with another MT system than the dataset's default, another student than the
    source model's architecture, or a given seed, get their own (``kd_balanced@apertium``, ``transformer-to-lean``,
    ``.../seed2``)."""
    arch = f"{arch}-to-{student}" if student else arch  # no ">": Hydra's override grammar refuses it
    out = OUT / dataset / arch / (f"{recipe}@{translator}" if translator else recipe) / language
    return out / f"seed{seed}" if seed is not None else out


def wait_while_paused(pause_file: Path) -> None:
    """Hold before the next cell while ``pause_file`` exists: on a shared 2-core machine another CPU-heavy job
    (a test suite, a benchmark) would otherwise inflate the wall times recorded for the cells."""
    if pause_file.exists():
        print(f"[{time.strftime('%H:%M:%S')}] paused while {pause_file} exists", flush=True)
        while pause_file.exists():
            time.sleep(5)


def run(args: argparse.Namespace) -> None:
    seeds = [int(seed) for seed in args.seeds.split(",")] if args.seeds else [None]
    for arch, recipe, language, seed in itertools.product(
        args.archs.split(","), args.recipes.split(","), (args.languages or LANGUAGES[args.dataset]).split(","), seeds
    ):
        out = cell_dir(args.dataset, arch, recipe, language, args.translator, seed, args.student)
        if (out / "results.json").exists():
            continue
        chosen = [f"translator={args.translator}"] if args.translator else []
        chosen += [f"student={args.student}"] if args.student else []
        chosen += [f"seed={seed}"] if seed is not None else []
        cmd = [
            sys.executable, "-m", "distillx.cli",
            f"dataset={args.dataset}", f"dataset.path={args.data}/{DATA_DIRS[args.dataset]}",
            "mplm=e5_small", f"mplm.name_or_path={args.mplm}", "trainer=paper", "size=paper",
            f"trainer.epochs={args.epochs}", f"trainer.patience={args.patience}", "trainer.progress=false",
            f"+same_arch={arch}", f"+recipe={recipe}", f"language={language}", f"hydra.run.dir={out}",
            *chosen, *args.extra,
        ]  # fmt: skip
        wait_while_paused(args.pause_file)
        print(f"[{time.strftime('%H:%M:%S')}] {arch} {recipe} {language} {' '.join(chosen)}", flush=True)
        started = time.time()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        (out / "wall_s.txt").parent.mkdir(parents=True, exist_ok=True)
        (out / "stderr.txt").write_text(proc.stderr[-20000:])
        if proc.returncode:
            print(f"  failed ({proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}", flush=True)
            continue
        (out / "wall_s.txt").write_text(f"{time.time() - started:.0f}\n")


NAMES = {"mtop": "MTOP", "multiatis": "MultiATIS++"}
READERS = {"mtop": "distillx.data.readers.MtopDataset", "multiatis": "distillx.data.readers.MultiAtisDataset"}
STAGES = ("source_model", "kd1_mplm", "gold_mplm", "kd2_student", "translate_train_pseudo")
MT_RECIPES = ("translate_test", "translate_train_pseudo")


def cell_runs(uri: str, experiment: str, dataset: str, epochs: int) -> list[RunRecord]:
    """The finished runs of Table 1 cells (a ``+recipe`` override) on ``dataset`` with ``epochs`` epochs in the
    MLflow store: the cells of ``run`` and the jobs of ``distillx +experiment=table1_*`` alike."""
    where = f"params.`dataset._target_` = '{READERS[dataset]}' and params.`trainer.epochs` = '{epochs}'"
    try:
        runs = load_runs(uri, experiment, filter_string=where)
    except NoRuns:
        return []
    return [run for run in runs if run.get("recipe") is not None]


def rows_of(table: Table, recipe_name: str) -> list[str]:
    """The table's rows of a recipe: one per setting when its runs differ in one (``kd [trainer.lr=0.001]``)."""
    return [row for row in table.rows if row.split(" [", 1)[0] == recipe_name]


def main_rows(table: Table, mt_table: Table | None, mt_languages: list[str]) -> list[tuple[str, str, str, Table]]:
    """(label, row, recipe, table) per line of the Table 1 block, in the paper's order: every recipe, run or not,
    and after ``kd`` its average over the MT rows' languages."""
    lines = []
    for recipe_name in PAPER_TABLE1:
        for row in rows_of(table, recipe_name) or [recipe_name]:
            label = row.replace(tables.SOURCE, "off-the-shelf en source", 1) if recipe_name == tables.SOURCE else row
            lines.append((label, row, recipe_name, table))
        if recipe_name == "kd" and mt_table is not None:
            where = f"kd on the MT rows' languages ({', '.join(mt_languages)})"
            lines += [(row.replace("kd", where, 1), row, "kd", mt_table) for row in rows_of(mt_table, "kd") or ["kd"]]
    return lines


def stage_times(runs: list[RunRecord], histories: dict[str, dict[str, list[float]]]) -> list[str]:
    """Per stage, the training + evaluation seconds of the runs that trained it (``N x k``: mean over k runs),
    their epochs, and ``*`` when an epoch took over 3x the stage's median epoch."""
    cells = []
    for stage in STAGES:
        epochs = [
            h[f"{stage}/epoch_seconds"]
            for run in runs
            if f"{stage}/epoch_seconds" in (h := histories.get(run.run_id, {}))
        ]
        if not epochs:
            cells.append("")
            continue
        secs = [sum(e) for e in epochs]
        text = f"{secs[0]:.0f}" if len(secs) == 1 else f"{statistics.mean(secs):.0f} x {len(secs)}"
        mark = "*" if any(max(e) > 3 * statistics.median(e) for e in epochs) else ""
        cells.append(f"{text}{mark} ({'/'.join(map(str, sorted({len(e) for e in epochs})))} ep)")
    return cells


def collect(args: argparse.Namespace) -> str:
    """The Markdown section for one dataset from the runs in the MLflow store: Table 1 in the paper's format
    (distillx / paper), per-language accuracies, and the wall time of every stage."""
    dataset, runs = args.dataset, cell_runs(args.uri, args.experiment, args.dataset, args.epochs)
    languages = LANGUAGES[dataset].split(",")
    mt_languages = sorted({run.get("target") for run in runs if tables.recipe(run) in MT_RECIPES})
    table = tables.freetransfer_table(runs)
    mt_runs = [run for run in runs if run.get("target") in mt_languages]
    mt_table = tables.freetransfer_table(mt_runs) if mt_languages else None
    lines = [f"## FreeTransfer-X Table 1, reduced: {NAMES[dataset]}", ""]
    lines.append(
        f"Intent accuracy (%) on the {NAMES[dataset]} test sets, averaged over the target languages a row has "
        f"(count in brackets; the paper averages {', '.join(languages)}; ± the sample std over seeds where a cell "
        f"has several, n seeds). distillx / paper (Table 1). Run with "
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
    for label, row, recipe_name, found in main_rows(table, mt_table, mt_languages):
        cells = [
            f"{format_cell(found.cell(row, arch), True)} / {paper}"
            for arch, paper in zip(ARCHS, PAPER_TABLE1[recipe_name][dataset], strict=True)
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "Per language (distillx):", ""]
    lines += ["| arch | row | " + " | ".join(languages) + " |", "|---|---|" + "---:|" * len(languages)]
    for arch in ARCHS:
        mine = [run for run in runs if tables.architecture(run) == arch]
        by_language = tables.freetransfer_table(mine, per_language=True)
        for recipe_name in list(PAPER_TABLE1)[1:]:
            for row in rows_of(by_language, recipe_name):
                values = [format_cell(by_language.cell(row, lang), True) for lang in languages]
                lines.append(f"| {arch} | {row} | " + " | ".join(values) + " |")
    lines += [
        "",
        "Wall time (2-core CPU, seconds; a shared stage is trained once and counted once, in the row of the run that "
        "trained it):",
        "",
    ]
    lines += ["| arch | row | " + " | ".join(STAGES) + " | whole cells |", "|---|---|" + "---:|" * (len(STAGES) + 1)]
    histories = metric_histories(args.uri, runs, "/epoch_seconds") if runs else {}
    for arch in ARCHS:
        for recipe_name in PAPER_TABLE1:
            mine = [run for run in runs if tables.architecture(run) == arch and tables.recipe(run) == recipe_name]
            if not mine:
                continue
            walls = [(r.end_time - r.start_time) / 1000 for r in mine if r.start_time and r.end_time]
            lines.append(
                f"| {arch} | {recipe_name} | "
                + " | ".join(stage_times(mine, histories))
                + f" | {sum(walls):.0f} ({len(walls)} cells) |"
            )
    notes = sorted({n for run in runs for n in run.tags.get("distillx.notes", "").split(" | ") if n})
    lines += [
        "",
        "Stage times are the epochs' training + evaluation (the sum of the stage's `<stage>/epoch_seconds` in "
        "MLflow); a cell's wall time (its MLflow run, start to end) also covers loading, preprocessing (cached after "
        "the first run), teacher predictions and test scoring. `N x k` = mean over the k runs that trained the stage "
        "(one per language for a per-language stage). `*`: an epoch of the stage took over 3x its median epoch "
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


MT_FINDINGS = {  # written after reading the figures
    "mtop": (
        "MTOP es (code adb2956; the lean cells 4db4ce9, which skips the LR range test for pre-trained "
        "students): 2-step KD beats Translate-test through Apertium by 9.6 points and Translate-train-pseudo "
        "by 12.2; balanced "
        "distillation adds 5.0 and round-trip augmentation 1.3 more, the paper's order (its Table 1 averages "
        "over five targets with M2M-100). The pre-training-distilled small encoder as the step-2 student "
        "(kd-limitations item 6) scores 70.9 against the from-scratch Transformer's 68.8, near the mPLM it learns "
        "from (71.9); same source model and step-1 mPLM in both cells. The BiLSTM cells stopped after its MT "
        "baselines; CNN not run. One seed, 5 epochs: the paper's length (item 4) is not measured."
    ),
    "multiatis": (
        "MultiATIS++ es (code adb2956): real MT costs Translate-test 10.7 points against the human translation "
        "(78.2 vs 88.9: the oracle row is the source model on the English originals) and Translate-train-pseudo "
        "7.0; balanced distillation loses only 0.6 with Apertium's translations (88.0 vs 88.6), since its teacher "
        "reads the English originals. 2-step KD (86.2) beats both real-MT baselines. Round-trip augmentation costs "
        '0.7 here: 96 % of Apertium round trips change the utterance, often for the worse (every "¿" is lost). '
        "The lean student falls 8.0 points short of the from-scratch Transformer (78.2 vs 86.2) on this small "
        "target half (2,244 utterances), unlike on MTOP. One seed, 5 epochs; BiLSTM and CNN not run."
    ),
}
MT_ROWS = ("translate_test", "translate_train_pseudo", "kd", "kd_balanced", "kd_balanced_augmented")


def mt_section(args: argparse.Namespace) -> str:
    """The MT rows of Table 1 for one target language with a real MT system (cells run with ``--translator``)
    beside the oracle's (the dataset's human translations), per architecture and for the ``lean`` student, with
    the paper's figures, each cell's wall time and the paraphrase counts of the augmented rows."""
    dataset, language, system = args.dataset, args.language, args.translator
    runs = [
        run
        for run in cell_runs(args.uri, args.experiment, dataset, args.epochs)
        if run.get("target") == language and tables.recipe(run) in MT_ROWS
    ]

    def mt_of(run: RunRecord) -> str:
        return system if system in run.params.get("translator._target_", "").lower() else "oracle"

    columns = [*ARCHS, "transformer->lean"]
    paper = PAPER_ES.get(dataset)
    where = f"{language} column of Appendix A" if paper else f"average over {LANGUAGES[dataset]}, Table 1"
    lines = [f"## FreeTransfer-X Table 1, {NAMES[dataset]} {language}: {system} beside the oracle", ""]
    lines += [
        f"Intent accuracy (%) on the {NAMES[dataset]} {language} test set, one seed per cell unless n says more; "
        f"{args.epochs} epochs (the paper: 50), otherwise as the Table 1 sections (`trainer=paper size=paper`, "
        f"mPLM = offline e5-small). MT: `{system}` = real machine translation (`translator={system}`), oracle = the "
        "dataset's human translations (`translator=parallel`, an upper bound for any MT system); kd reads no "
        "translation. `transformer->lean`: the Transformer source model distilled through the mPLM into the small "
        "encoder pre-training-distilled from it (kd-limitations-zero-shot.md item 6). "
        f"Paper: M2M-100 + XLM-R, {where}.",
        "",
        "| row | MT | " + " | ".join(columns) + " | paper (transformer / bilstm / cnn) | wall s (per column) |",
        "|---|---|" + "---:|" * len(columns) + "---|---|",
    ]
    means: dict[tuple[str, str], dict[str, float]] = {}
    for recipe_name in MT_ROWS:
        for mt in ("—",) if recipe_name == "kd" else (system, "oracle"):
            mine = [r for r in runs if tables.recipe(r) == recipe_name and (mt == "—" or mt_of(r) == mt)]
            if not mine:
                continue
            table = tables.freetransfer_table(mine)
            row = rows_of(table, recipe_name)
            cell_of = {c: table.cell(row[0], c) if row else None for c in columns}
            means[recipe_name, mt] = {c: cell.mean for c, cell in cell_of.items() if cell is not None}
            # one language: no "(1)" count of the languages averaged
            cells = [format_cell(cell, True).replace(" (1)", "").replace("(1, ", "(") for cell in cell_of.values()]
            walls = [
                "+".join(
                    f"{(r.end_time - r.start_time) / 1000:.0f}"
                    for r in mine
                    if tables.architecture(r) == c and r.start_time and r.end_time
                )
                or "—"
                for c in columns
            ]
            figures = " / ".join(map(str, paper[recipe_name] if paper else PAPER_TABLE1[recipe_name][dataset]))
            lines.append(f"| {recipe_name} | {mt} | " + " | ".join(cells) + f" | {figures} | {' / '.join(walls)} |")
    verdicts = []
    for c in columns:
        kd = means.get(("kd", "—"), {}).get(c)
        baselines = [means.get((b, system), {}).get(c) for b in MT_RECIPES]
        if kd is None or None in baselines:
            continue
        best = max(baselines)  # type: ignore[type-var]
        verdicts.append(f"{c} {'yes' if kd > best else 'no'} ({100 * kd:.1f} vs {100 * best:.1f})")
    if verdicts:
        lines += ["", f"2-step KD beats both {system} MT baselines (the paper's claim): " + "; ".join(verdicts) + "."]
    counts = [
        (
            tables.architecture(r),
            r.metrics[f"data/{language}/paraphrases_changed"],
            r.metrics[f"data/{language}/paraphrases"],
        )
        for r in runs
        if f"data/{language}/paraphrases" in r.metrics
    ]
    if counts:
        lines += [
            "",
            "Round-trip paraphrases that differ from their input: "
            + "; ".join(
                f"{arch} {changed:.0f} of {total:.0f} ({100 * changed / total:.0f} %)"
                for arch, changed, total in counts
            )
            + ".",
        ]
    if dataset in MT_FINDINGS:
        lines += ["", MT_FINDINGS[dataset]]
    lines += [
        "",
        "Reproduce: `PHASE=reduced bash experiments/apertium_runs.sh` (resumable), then "
        f"`python experiments/paper_tables.py mt --dataset {dataset} --epochs {args.epochs} --write`.",
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
    r.add_argument("--translator", default=None, help="MT system of the MT rows, e.g. apertium (default: the oracle)")
    r.add_argument(
        "--student", default=None, help="target student unlike the source model (e.g. lean); default: the same arch"
    )
    r.add_argument("--seeds", default=None, help="comma-separated seeds, each cell once per seed (default: seed)")
    r.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    r.add_argument("--mplm", default=str(Path.home() / ".cache" / "distillx" / "mplm" / "e5-small"))
    r.add_argument("--pause-file", type=Path, default=OUT / "PAUSE", help="hold between cells while it exists")
    r.add_argument("extra", nargs="*", help="more distillx overrides")
    c = sub.add_parser("collect")
    c.add_argument("--dataset", choices=sorted(LANGUAGES), required=True)
    c.add_argument("--epochs", type=int, required=True, help="the epochs the cells were run with (selects their runs)")
    c.add_argument("--command", dest="commands", action="append", help="a run command to show (repeatable)")
    c.add_argument("--write", action="store_true", help="replace this dataset's section of benchmarks/RESULTS.md")
    c.add_argument("--uri", default=f"sqlite:///{OUT.parent / 'mlflow.db'}", help="the MLflow store the cells log to")
    c.add_argument("--experiment", default=DEFAULT_EXPERIMENT, help="its experiment (default: %(default)s)")
    m = sub.add_parser("mt", help="one language's MT rows: a real MT system beside the oracle")
    m.add_argument("--dataset", choices=sorted(LANGUAGES), required=True)
    m.add_argument("--epochs", type=int, required=True)
    m.add_argument("--language", default="es")
    m.add_argument("--translator", default="apertium")
    m.add_argument("--write", action="store_true", help="replace this section of benchmarks/RESULTS.md")
    m.add_argument("--uri", default=f"sqlite:///{OUT.parent / 'mlflow.db'}")
    m.add_argument("--experiment", default=DEFAULT_EXPERIMENT)
    args = parser.parse_args()
    {"run": run, "collect": collect, "mt": mt_section}[args.command](args)


if __name__ == "__main__":
    main()
