"""The RESULTS.md plumbing of the table scripts: a section is read and replaced without touching the others, and
the self-training tables keep the subsections of sweeps whose outputs are gone (a new checkout has no outputs/)
and name in each reproduce line exactly the run script's knobs a sweep changed."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

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
