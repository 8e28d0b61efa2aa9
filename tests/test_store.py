"""The stage store: keys from inputs, code and libraries; stale stages never served; parallel builds happen once."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO, SHARED, TINY, compose_config
from hydra.utils import instantiate

from distillx import files as files_module
from distillx import store as store_module
from distillx.context import RunContext
from distillx.errors import DistillxError
from distillx.files import build_once, code_fingerprint
from distillx.models.demo_mplm import DemoMPLMBuilder
from distillx.store import StageStore, changes
from distillx.translate import TinyM2M100Builder


def test_same_inputs_share_a_stage_and_other_inputs_get_another(tmp_path: Path):
    one = StageStore(tmp_path / "run1", tmp_path / "cache").stage("s", {"lr": 1e-3, "data": "abc"}, shared=True)
    two = StageStore(tmp_path / "run2", tmp_path / "cache").stage("s", {"data": "abc", "lr": 1e-3}, shared=True)
    other = StageStore(tmp_path / "run3", tmp_path / "cache").stage("s", {"lr": 1e-4, "data": "abc"}, shared=True)
    assert one.real_dir == two.real_dir != other.real_dir
    assert (tmp_path / "run1" / "stages" / "s").resolve() == one.real_dir.resolve()


def test_a_code_change_makes_a_new_stage(tmp_path: Path, monkeypatch):
    package = tmp_path / "pkg" / "fakecode"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "train.py").write_text("STEP = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path / "pkg"))
    monkeypatch.setattr(store_module, "BUILDING_CODE", ("fakecode",))
    before = StageStore(tmp_path / "run", tmp_path / "cache").stage("s", {"lr": 1}, shared=True)
    (package / "train.py").write_text("STEP = 2\n")  # the code that builds the stage changed
    after = StageStore(tmp_path / "run", tmp_path / "cache").stage("s", {"lr": 1}, shared=True)
    assert before.real_dir != after.real_dir
    assert code_fingerprint(("fakecode",)) == after.key["code"]


def test_another_transformers_release_makes_a_new_stage_and_says_which(tmp_path: Path, monkeypatch, caplog):
    """transformers 5.25 changed what an internal call takes; a stage built under 5.24 is not served under it."""
    import transformers

    run = tmp_path / "run"
    before = StageStore(run, tmp_path / "cache").stage("s", {"lr": 1}, shared=True)
    assert before.key["libraries"]["transformers"] == transformers.__version__
    monkeypatch.setattr(files_module, "library_versions", lambda names: {n: "99.0" for n in names})
    with caplog.at_level(logging.WARNING):
        after = StageStore(run, tmp_path / "cache").stage("s", {"lr": 1}, shared=True)
    assert before.real_dir != after.real_dir
    assert f'libraries.transformers: "{transformers.__version__}" -> "99.0"' in caplog.text


def test_rerun_with_a_changed_config_repoints_shared_stages_and_refuses_local_ones(tmp_path: Path, caplog):
    run = tmp_path / "run"
    first = StageStore(run, tmp_path / "cache").stage("shared", {"lr": 1}, shared=True)
    with caplog.at_level(logging.WARNING):
        second = StageStore(run, tmp_path / "cache").stage("shared", {"lr": 2}, shared=True)
    assert first.real_dir != second.real_dir and first.real_dir.exists()  # the old stage is kept, not overwritten
    assert (run / "stages" / "shared").resolve() == second.real_dir.resolve()
    assert "inputs.lr: 1 -> 2" in caplog.text
    StageStore(run, None).stage("local", {"epochs": 3})
    with pytest.raises(DistillxError, match=r"stage local was built from other inputs \(inputs.epochs: 3 -> 4\)"):
        StageStore(run, None).stage("local", {"epochs": 4})
    assert StageStore(run, None).stage("local", {"epochs": 3}).dir == run / "stages" / "local"  # same: reused


def test_changes_names_every_differing_leaf():
    assert changes({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}, "d": 0}) == ["a.c: 2 -> 3", "d: (absent) -> 0"]


RACE = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import torch
    from distillx.distill.objectives import HardCrossEntropy, Objective
    from distillx.store import StageStore
    from distillx.train.batching import EncodedSet
    from distillx.train.loop import Trainer

    root, name, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    while not go.exists():  # both processes start racing at once
        time.sleep(0.01)
    stage = StageStore(root / name, root / "cache").stage("source_model", {"lr": 1e-2}, shared=True)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(20, 8), torch.nn.Flatten(), torch.nn.Linear(16, 3))

    class Head(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = model

        def forward(self, input_ids, attention_mask, **_):
            return {"intent": self.net(input_ids)}

    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 20, (64, 2), generator=g)
    data = EncodedSet(ids.tolist(), 0).with_targets({"intent": ids[:, 0] % 3})
    epochs = []

    def evaluate(m):
        time.sleep(0.3)  # a slow epoch: the other process must wait, not train too
        epochs.append(1)
        return {"s": float(len(epochs))}

    trainer = Trainer(lambda p, lr: torch.optim.SGD(p, lr=lr), epochs=3, batch_size=16, patience=None,
                      progress=False, precision="fp32", device="cpu")
    with stage.lock():
        result = trainer.fit(Head(), data, Objective([HardCrossEntropy()]), evaluate, "s", 1e-2, stage.dir,
                             lambda *_: None, "source_model")
    print(json.dumps({"trained_epochs": len(epochs), "weights": result.weights}))
    """
)


def test_two_processes_racing_for_one_stage_build_it_once(tmp_path: Path):
    script = tmp_path / "race.py"
    script.write_text(RACE)
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(tmp_path), name, str(go)], stdout=subprocess.PIPE, cwd=REPO, text=True
        )
        for name in ("job0", "job1")
    ]
    go.touch()
    outs = [json.loads(p.communicate(timeout=120)[0].strip().splitlines()[-1]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(o["trained_epochs"] for o in outs) == [0, 3]  # one trained, the other waited and reused it
    assert outs[0]["weights"] == outs[1]["weights"]


def test_build_once_builds_under_a_lock_and_never_shows_half_a_directory(tmp_path: Path):
    calls: list[Path] = []

    def build(tmp: Path) -> None:
        calls.append(tmp)
        assert not (tmp_path / "thing").exists()  # built aside, renamed when complete
        (tmp / "part1").write_text("a")
        (tmp / "done").write_text("ok")

    def complete(d: Path) -> bool:
        return (d / "done").exists()

    assert build_once(tmp_path / "thing", build, complete) == tmp_path / "thing"
    assert build_once(tmp_path / "thing", build, complete) == tmp_path / "thing"
    assert len(calls) == 1 and not calls[0].exists()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["thing"]


def test_a_quick_slice_does_not_lend_its_vocabulary_to_a_full_run(tmp_path: Path):
    """The bug this store fixes: a split.limit=20 run's 156-token BPE vocabulary was reused by later full runs (in a
    new run directory, or in the same one)."""
    sizes = []
    for extra, run in ((["split.limit=20"], "run"), ([], "run"), ([], "other")):
        cfg = compose_config([*TINY, "language=de", "tracking=none", *extra], tmp_path, tmp_path / "cache")
        ctx = RunContext(cfg, tmp_path / run, instantiate(cfg.tracking))
        sizes.append(len(ctx.models.vocab("de")))
    assert sizes[0] < sizes[1] == sizes[2]
    assert len([p for p in (tmp_path / "cache" / "vocab").glob("de-*") if not p.name.endswith(".lock")]) == 2


def test_another_library_release_rebuilds_the_build_once_caches(tmp_path: Path, monkeypatch):
    """A vocabulary trained, a demo mPLM pre-trained or a translator written under one torch / transformers /
    tokenizers release is not reused under another, like a stage."""
    cfg = compose_config([*TINY, "language=de", "tracking=none"], tmp_path, tmp_path / "cache")
    corpus = {"en": {"1": ["a", "b"]}, "de": {"1": ["c", "d"]}}
    demo, tiny = DemoMPLMBuilder(str(tmp_path / "demo")), TinyM2M100Builder(str(tmp_path / "tiny"), ["en", "de"])

    def built() -> tuple[str, str, str]:
        ctx = RunContext(cfg, tmp_path / "run", instantiate(cfg.tracking))
        ctx.models.vocab("de")
        vocabs = sorted(p.name for p in (tmp_path / "cache" / "vocab").glob("de-*") if p.is_dir())
        return vocabs[-1] if len(vocabs) == 1 else ",".join(vocabs), demo.key(corpus, "en"), tiny.key()

    vocab, demo_key, tiny_key = built()
    assert built() == (vocab, demo_key, tiny_key)  # same versions: the same entries
    monkeypatch.setattr(files_module, "library_versions", lambda names: {n: "99.0" for n in names})
    new_vocabs, new_demo, new_tiny = built()
    assert len(new_vocabs.split(",")) == 2 and new_demo != demo_key and new_tiny != tiny_key


@pytest.mark.skipif(not (SHARED / "data" / "massive").is_dir(), reason="../shared/data/massive is absent")
def test_results_say_where_the_dev_set_is_scored_as_test(tmp_path: Path):
    """MASSIVE has no test split: its dev set is scored as test, and every result table says so."""
    from distillx.distill import steps

    overrides = [*TINY, "dataset=massive", f"dataset.path={SHARED / 'data' / 'massive'}", "split.limit=50"]
    cfg = compose_config([*overrides, "language=de", "tracking=none"], tmp_path, tmp_path / "cache")
    ctx = RunContext(cfg, tmp_path / "run", instantiate(cfg.tracking))
    notes = steps.new_results(ctx).notes
    assert any("no en test split" in n for n in notes) and any("no de test split" in n for n in notes)
    demo = compose_config([*TINY, "language=de", "tracking=none"], tmp_path, tmp_path / "cache")
    assert steps.new_results(RunContext(demo, tmp_path / "demo", instantiate(demo.tracking))).notes == []
