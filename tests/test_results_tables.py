"""The RESULTS.md plumbing of the table scripts: a section is read and replaced without touching the others, and
the self-training tables keep the subsections of sweeps whose outputs are gone (a new checkout has no outputs/)
and name in each reproduce line exactly the run script's knobs a sweep changed."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from results_md import read_section, replace_section  # noqa: E402

HEADING = "## Two"
DOC = "# Benchmarks\n\n## One\n\nfirst\n\n## Two\n\nsecond\n\n### a\n\nkept\n\n## Three\n\nthird\n"


def test_read_section_reads_up_to_the_next_level2_heading(tmp_path: Path):
    path = tmp_path / "RESULTS.md"
    assert read_section(path, HEADING) is None, "no file"
    path.write_text(DOC)
    assert read_section(path, HEADING) == "## Two\n\nsecond\n\n### a\n\nkept\n\n"
    assert read_section(path, "## Three") == "## Three\n\nthird\n"
    assert read_section(path, "## Four") is None


def test_replace_section_keeps_every_other_section(tmp_path: Path):
    path = tmp_path / "RESULTS.md"
    path.write_text(DOC)
    replace_section(path, HEADING, "## Two\n\nnew")
    assert path.read_text() == DOC.replace("second\n\n### a\n\nkept\n", "new\n")
    replace_section(path, "## Three", "## Three\n\nlast")
    assert path.read_text().endswith("## Two\n\nnew\n\n## Three\n\nlast\n")
    replace_section(path, "## Four", "## Four\n\nadded")
    assert path.read_text().endswith("## Three\n\nlast\n\n## Four\n\nadded\n")


def _selftrain_tables():
    spec = importlib.util.spec_from_file_location("selftrain_tables", REPO / "experiments" / "selftrain_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_selftrain_subsections_are_kept_as_written(tmp_path: Path):
    tables = _selftrain_tables()
    mtop = "### MTOP intents, en -> de (accuracy %)\n\n| row | de |\n|---|---|\n| full | 39.8 |\n\nReproduce: `x`."
    conll = "### CoNLL NER, en -> es (entity F1 %)\n\nsettings\n\n| row | es |\n\nReproduce: `y`."
    section = f"{tables.HEADING}\n\nintro\n\n{mtop}\n\n{conll}\n\nReproduce the section: all of them.\n"
    path = tmp_path / "RESULTS.md"
    path.write_text(f"# Benchmarks\n\n{section}\n## Next\n\nother\n")
    kept = tables.subsections(path)
    assert kept == {mtop.split("\n")[0]: mtop, conll.split("\n")[0]: conll}
    assert sorted(kept, key=tables.rank) == [conll.split("\n")[0], mtop.split("\n")[0]], "CoNLL before MTOP"
    assert tables.subsections(tmp_path / "missing.md") == {}


def test_a_kept_subsection_states_its_code_as_of_the_current_code(monkeypatch):
    """A subsection whose outputs are gone keeps its figures, but what it says of the code that built them is
    restated: an equivalent code lists every change since it, and "the current code" of an older commit is not."""
    tables = _selftrain_tables()
    monkeypatch.setattr(tables, "code_fingerprint", lambda packages: "c" * 16)
    monkeypatch.setattr(tables, "EQUIVALENT_CODE", {"a" * 16: ("1111111", 1)})
    monkeypatch.setattr(tables, "CODE_CHANGES", [("2222222", "first"), ("3333333", "second"), ("4444444", "third")])
    old = "### CoNLL NER\n\nsettings. Stages built by code {} (commit 1111111; stale words).\n\n| row |"
    assert tables.restated(old.format("a" * 16)) == (
        "### CoNLL NER\n\nsettings. Stages built by code aaaaaaaaaaaaaaaa (commit 1111111; the current code differs "
        "from it by second (3333333); third (4444444)).\n\n| row |"
    )
    stale = "### MTOP\n\nsettings. Stages built by the current code (bbbbbbbbbbbbbbbb).\n\n| row |"
    assert tables.restated(stale) == (
        "### MTOP\n\nsettings. Stages built by other code (bbbbbbbbbbbbbbbb): rerun them.\n\n| row |"
    )
    current = "settings. Stages built by the current code (cccccccccccccccc).\n"
    assert tables.restated(current) == current


def test_selftrain_reproduce_names_the_knobs_that_differ_from_the_script(monkeypatch):
    tables = _selftrain_tables()
    defaults = tables.script_defaults()
    assert defaults["LR"] == "1e-4" and defaults["SOFT_EPOCHS"] == "10", defaults

    def config(threads: int, lr: float, limit: int | None) -> object:
        steps = {"soft": {"epochs": 10}, "hard": {"epochs": 2}}
        return OmegaConf.create(
            {
                "trainer": {"epochs": 3, "threads": threads},
                "split": {"limit": limit},
                "mplm": {"lr": lr},
                "method": {"step_trainer": steps},
            }
        )

    monkeypatch.setattr(
        tables, "configs", lambda sweep: {"finetune": config(2, 1e-4, None), "full": config(2, 1e-4, None)}
    )
    line = tables.reproduce(Path("conll_es"))
    assert line == (
        "Reproduce: `THREADS=2 EPOCHS=3 HARD_EPOCHS=2 LANGUAGES=es MTOP=0 ROWS=finetune,full "
        "experiments/selftrain_runs.sh` (rerun to resume)."
    ), line
    monkeypatch.setattr(
        tables, "configs", lambda sweep: {"finetune": config(1, 3e-5, 3000), "no_st": config(2, 3e-5, 3000)}
    )
    line = tables.reproduce(Path("mtop_de"))
    assert line == (
        "Reproduce: `EPOCHS=3 LIMIT=3000 LR=3e-05 HARD_EPOCHS=2 LANGUAGES= ROWS=finetune,no_st "
        "experiments/selftrain_runs.sh` (THREADS=1 for finetune; THREADS=2 for no_st; rerun to resume)."
    ), line


def _job(sweep: Path, number: int, row: str, seed: int, scores: dict[str, float]) -> None:
    """A finished job as a sweep keeps it: its overrides, its composed config's seed and its target scores."""
    hydra = sweep / str(number) / ".hydra"
    hydra.mkdir(parents=True)
    (hydra / "overrides.yaml").write_text(f"- +st_row={row}\n- method=selftrain\n")
    (hydra / "config.yaml").write_text(f"seed: {seed}\n")
    results = {"scores": {role: {"de": {"accuracy": value}} for role, value in scores.items()}}
    (sweep.parent / sweep.name / str(number) / "results.json").write_text(json.dumps(results))


def test_selftrain_spread_pairs_each_rows_gain_by_seed(tmp_path: Path):
    tables = _selftrain_tables()
    sweep = tmp_path / "mtop_de"
    _job(sweep, 0, "finetune", 42, {"finetuned": 0.60})
    _job(sweep, 1, "no_vm", 42, {"finetuned": 0.65, "soft1": 0.66, "soft3": 0.67})
    _job(sweep, 2, "full", 42, {"finetuned": 0.55, "soft1": 0.45})
    assert tables.spread(sweep, "de", "accuracy") == [], "one seed: no spread"
    seeds = tmp_path / "mtop_de_seeds"
    _job(seeds, 0, "finetune", 1, {"finetuned": 0.62})
    _job(seeds, 1, "no_vm", 1, {"finetuned": 0.70, "soft3": 0.69})  # the steps lose 1 point with this seed
    lines = tables.spread(sweep, "de", "accuracy")
    assert "| zero-shot fine-tuning (MBERT row) | 61.0 ± 1.4 | — | 1: 62.0; 42: 60.0 |" in lines, lines
    vm = "| - VM (no voters) | 68.0 ± 1.4 | 0.5 ± 2.1 (> 0 in 1 of 2) | 1: 69.0 (-1.0); 42: 67.0 (+2.0) |"
    assert vm in lines, lines
    assert not any(line.startswith("| full method") for line in lines), "a row with one seed has no spread"
    assert tables.finished_seeds(seeds) == [1]


def test_a_kept_subsection_takes_the_spread_of_its_seeds_sweep(tmp_path: Path, monkeypatch):
    """A new checkout that reran only the cheap rows over seeds (``SEEDS=42,1,2 ROWS=finetune``) adds their spread to
    the subsection kept as written: the seeds named, the block before the findings (an earlier one replaced, so a
    rewrite changes nothing), the new stages' code stated, and the seeds sweep's reproduce line."""
    tables = _selftrain_tables()
    monkeypatch.setattr(tables, "code_fingerprint", lambda packages: "c" * 16)
    monkeypatch.setattr(tables, "EQUIVALENT_CODE", {"a" * 16: ("1111111", 0)})
    monkeypatch.setattr(tables, "CODE_CHANGES", [("2222222", "first")])
    monkeypatch.setattr(
        tables, "reproduce", lambda sweep, rows, seeds: f"Reproduce: `SEEDS={','.join(map(str, seeds))} {sweep.name}`."
    )
    monkeypatch.setattr(tables, "FINDINGS", {"mtop_de_seeds": ["Findings over seeds, de: noise."]})
    kept = (
        f"### MTOP\n\nData: x. One seed (42). Stages built by code {'a' * 16} (commit 1111111; old).\n\n"
        "| row | de |\n|---|---|\n| zero-shot fine-tuning (MBERT row) | 59.1 |\n\n"
        "Spread over seeds, de (old):\n\n| row | score | self-training gain | by seed |\n| old | 1 |\n\n"
        "Findings over seeds, de: stale.\n\nFindings, de: text.\n\nWall times, de:\n\n| row | stages |\n\n"
        "Reproduce: `ROWS=finetune`.\nReproduce: `ROWS=finetune SEEDS=42 old`."
    )
    seeds = tmp_path / "mtop_de_seeds"
    _job(seeds, 0, "finetune", 42, {"finetuned": 0.59})
    _job(seeds, 1, "finetune", 1, {"finetuned": 0.57})
    (seeds / "0" / "stages" / "selftrain_finetune").mkdir(parents=True)
    (seeds / "0" / "stages" / "selftrain_finetune" / "key.json").write_text(json.dumps({"code": "c" * 16}))
    sweep = tmp_path / "mtop_de"  # its outputs are gone
    new = tables.with_seeds(kept, sweep, "de", "accuracy")
    assert new == (
        f"### MTOP\n\nData: x. Seed 42; seeds 1 too in the spread below. Stages built by code {'a' * 16} (commit "
        "1111111; the current code differs from it by first (2222222)). The others by the current code "
        f"({'c' * 16}).\n\n| row | de |\n|---|---|\n| zero-shot fine-tuning (MBERT row) | 59.1 |\n\n"
        "Spread over seeds, de (mean ± sample std of the target test score; the self-training gain is the last "
        "step's score minus the row's fine-tuned model's, paired by seed; by seed: each seed's score, and its gain "
        "in brackets):\n\n| row | score | self-training gain | by seed |\n|---|---|---|---|\n"
        "| zero-shot fine-tuning (MBERT row) | 58.0 ± 1.4 | — | 1: 57.0; 42: 59.0 |\n\n"
        "Findings over seeds, de: noise.\n\nFindings, de: text.\n\nWall times, de:\n\n| row | stages |\n\n"
        "Reproduce: `ROWS=finetune`.\nReproduce: `SEEDS=42,1 mtop_de_seeds`."
    ), new
    assert tables.with_seeds(new, sweep, "de", "accuracy") == new, "a rewrite changes nothing"


def test_a_row_added_to_a_kept_subsection_joins_its_rows(tmp_path: Path, monkeypatch):
    """A row run alone (``JOB=2 ROWS=no_btf``) after a new checkout lost the sweep's other outputs joins the rows kept
    as written, in the table's order, with both codes stated and a reproduce line for all of them; a job numbered
    apart from its place in that sweep, or run with other settings, stops with what to do."""
    tables = _selftrain_tables()
    monkeypatch.setattr(tables, "code_fingerprint", lambda packages: "c" * 16)
    monkeypatch.setattr(tables, "EQUIVALENT_CODE", {"a" * 16: ("1111111", 0)})
    monkeypatch.setattr(tables, "CODE_CHANGES", [("2222222", "first")])
    monkeypatch.setattr(tables, "FINDINGS", {})
    monkeypatch.setattr(tables, "PROBES", tmp_path / "probes")
    monkeypatch.setattr(tables, "settings", lambda sweep: "Data: x. One seed (42).")
    monkeypatch.setattr(tables, "reproduce", lambda sweep, rows=None: f"Reproduce: `ROWS={','.join(rows)}`.")
    kept = (
        f"### MTOP\n\nData: x. One seed (42). Stages built by code {'a' * 16} (commit 1111111; old).\n\n"
        "| row | de |\n|---|---|\n| zero-shot fine-tuning (MBERT row) | 59.1 |\n| full method (Ours) | 39.8 |\n\n"
        "Per step (target test score after each step):\n- de, full method (Ours): finetuned 55.3, soft1 44.5\n"
        "  - selftrain_1_soft: agreement\n\nFindings, de: text.\n\nWall times, de:\n\n"
        "| row | stages (seconds, epochs) |\n|---|---|\n| zero-shot fine-tuning (MBERT row) | ft 144 s (3 ep) |\n"
        "| full method (Ours) | btf 420 s (2 ep) |\n\nReproduce: `THREADS=2 ROWS=finetune,full x` (rerun to resume)."
    )
    sweep = tmp_path / "mtop_de"
    _job(sweep, 2, "no_btf", 42, {"finetuned": 0.59, "soft1": 0.60, "hard2": 0.61, "soft3": 0.62})
    text = tables.subsection(sweep, "### MTOP", "accuracy", kept)
    assert text.startswith(
        f"### MTOP\n\nData: x. One seed (42). Stages built by code {'a' * 16} (commit 1111111; the current code "
        "differs from it by first (2222222)).\n\n| row | de |\n|---|---|\n| zero-shot fine-tuning (MBERT row) | 59.1 |"
        "\n| self-training only (- BTF) | 62.0 |\n| full method (Ours) | 39.8 |\n\nPer step"
    ), text
    steps = "- de, self-training only (- BTF): finetuned 59.0, soft1 60.0, hard2 61.0, soft3 62.0\n- de, full method "
    assert steps in text, "the new row's steps, then the kept row's, in the table's order"
    assert "soft1 44.5\n  - selftrain_1_soft: agreement\n" in text, "the kept row's steps, as written"
    wall = "| zero-shot fine-tuning (MBERT row) | ft 144 s (3 ep) |\n| self-training only (- BTF) |  |\n| full method"
    assert wall in text, text
    assert text.endswith("\nReproduce: `ROWS=finetune,full,no_btf`."), text
    assert tables.subsection(sweep, "### MTOP", "accuracy", None).count("| ") < text.count("| "), "no kept rows"

    (sweep / "2").rename(sweep / "0")  # the row is job 2 of the kept sweep, not job 0
    with pytest.raises(SystemExit, match=r"mtop_de/0: row no_btf is job 2 .*JOB=2 ROWS=no_btf"):
        tables.subsection(sweep, "### MTOP", "accuracy", kept)
    (sweep / "0").rename(sweep / "2")
    monkeypatch.setattr(tables, "settings", lambda sweep: "Data: y. One seed (42).")
    with pytest.raises(SystemExit, match="other settings than the rows RESULTS.md keeps"):
        tables.subsection(sweep, "### MTOP", "accuracy", kept)


def test_a_kept_spread_keeps_the_seeds_whose_outputs_are_gone(tmp_path: Path, monkeypatch):
    """A seed run alone (``JOB=8 ROWS=full SEEDS=2``) after a new checkout lost the seeds sweep's other jobs joins the
    runs the kept spread lists, as written there; the seeds sentence and the reproduce line keep the lost seeds and
    rows, in their order; a job numbered apart from its place among them stops with what to do."""
    tables = _selftrain_tables()
    monkeypatch.setattr(tables, "code_fingerprint", lambda packages: "c" * 16)
    monkeypatch.setattr(tables, "FINDINGS", {})
    monkeypatch.setattr(
        tables,
        "reproduce",
        lambda sweep, rows, seeds: f"Reproduce: `ROWS={','.join(rows)} SEEDS={','.join(map(str, seeds))}`.",
    )
    kept = (
        "### MTOP\n\nData: x. Seed 42; seeds 1 too in the spread below. Stages built by the current code "
        f"({'c' * 16}).\n\n| row | de |\n|---|---|\n| full method (Ours) | 60.0 |\n\n"
        "Spread over seeds, de (old):\n\n| row | score | self-training gain | by seed |\n|---|---|---|---|\n"
        "| zero-shot fine-tuning (MBERT row) | 58.0 ± 1.4 | — | 1: 57.0; 42: 59.0 |\n"
        "| full method (Ours) | 61.0 ± 1.4 | 0.5 ± 0.7 (> 0 in 1 of 2) | 1: 62.0 (+1.0); 42: 60.0 (-0.0) |\n\n"
        "Wall times, de:\n\n| row | stages |\n\n"
        "Reproduce: `ROWS=finetune,full`.\nReproduce: `ROWS=finetune,full SEEDS=42,1,2`."
    )
    seeds = tmp_path / "mtop_de_seeds"
    _job(seeds, 5, "full", 2, {"finetuned": 0.61, "soft1": 0.63})
    sweep = tmp_path / "mtop_de"  # its outputs are gone
    new = tables.with_seeds(kept, sweep, "de", "accuracy")
    assert "Data: x. Seed 42; seeds 1, 2 too in the spread below." in new, new
    assert "| zero-shot fine-tuning (MBERT row) | 58.0 ± 1.4 | — | 1: 57.0; 42: 59.0 |" in new, new
    full = (
        "| full method (Ours) | 61.7 ± 1.5 | 1.0 ± 1.0 (> 0 in 2 of 3) | "
        "1: 62.0 (+1.0); 2: 63.0 (+2.0); 42: 60.0 (+0.0) |"
    )
    assert full in new, new
    assert new.endswith("Reproduce: `ROWS=finetune,full`.\nReproduce: `ROWS=finetune,full SEEDS=42,1,2`."), new
    assert tables.with_seeds(new, sweep, "de", "accuracy") == new, "a rewrite changes nothing"

    (seeds / "5").rename(seeds / "2")  # full with seed 2 is job 5 of the kept seeds sweep, not job 2
    with pytest.raises(SystemExit, match=r"mtop_de_seeds/2: row full with seed 2 is job 5 .*JOB=5 ROWS=full SEEDS=2"):
        tables.with_seeds(kept, sweep, "de", "accuracy")


def test_a_kept_main_table_gives_its_seed_to_the_spread(tmp_path: Path, monkeypatch):
    """A row whose only other seed runs after a new checkout lost the sweep's outputs (``JOB=10 ROWS=no_btf
    SEEDS=1``) pairs with the run the kept main table holds under the sweep's seed: its per-step line's last score
    and gain, as written; the kept spread's runs and the outputs take precedence over it."""
    tables = _selftrain_tables()
    monkeypatch.setattr(tables, "FINDINGS", {})
    kept = (
        "### MTOP\n\nData: x. Seed 42; seeds 1 too in the spread below.\n\n"
        "| row | de |\n|---|---|\n| zero-shot fine-tuning (MBERT row) | 58.0 |\n| self-training only (- BTF) | 64.7 |\n"
        "| full method (Ours) | 60.0 |\n\nPer step (target test score after each step):\n"
        "- de, self-training only (- BTF): finetuned 63.4, soft1 64.0, hard2 65.0, soft3 64.7\n"
        "  - selftrain_1_soft: agreement\n- de, full method (Ours): finetuned 50.0, soft1 60.0\n\n"
        "Spread over seeds, de (old):\n\n| row | score | self-training gain | by seed |\n|---|---|---|---|\n"
        "| full method (Ours) | 61.0 ± 1.4 | 0.5 ± 0.7 (> 0 in 1 of 2) | 1: 62.0 (+1.0); 42: 60.0 (-0.0) |\n"
    )
    seeds = tmp_path / "mtop_de_seeds"
    _job(seeds, 1, "no_btf", 1, {"finetuned": 0.611, "soft1": 0.624, "hard2": 0.63, "soft3": 0.629})
    _job(seeds, 0, "finetune", 1, {"finetuned": 0.6})
    sweep = tmp_path / "mtop_de"  # its outputs are gone
    lines = tables.spread(sweep, "de", "accuracy", kept)
    btf = "| self-training only (- BTF) | 63.8 ± 1.3 | 1.6 ± 0.4 (> 0 in 2 of 2) | 1: 62.9 (+1.8); 42: 64.7 (+1.3) |"
    assert btf in lines, lines
    assert "| zero-shot fine-tuning (MBERT row) | 59.0 ± 1.4 | — | 1: 60.0; 42: 58.0 |" in lines, lines
    full = "| full method (Ours) | 61.0 ± 1.4 | 0.5 ± 0.7 (> 0 in 1 of 2) | 1: 62.0 (+1.0); 42: 60.0 (+0.0) |"
    assert full in lines, "the kept spread's run, not the main table's (whose gain is +10.0)"
    _job(sweep, 0, "no_btf", 42, {"finetuned": 0.60, "soft3": 0.66})
    assert "1: 62.9 (+1.8); 42: 66.0 (+6.0) |" in "\n".join(tables.spread(sweep, "de", "accuracy", kept))
