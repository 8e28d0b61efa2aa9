"""The small encoder built from the mPLM (kd-limitations-zero-shot.md): its shape and initialisation, pre-training
distillation (cached, resumable), and pretrain_distill / ft_distill end to end on the demo with tiny settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import TINY, compose_config
from transformers import AutoModel, BertConfig, BertModel

from distillx.cli import run
from distillx.errors import DistillxError
from distillx.files import file_digest
from distillx.models.lean import build_lean, lean_config
from distillx.train.sampling import LanguageBatches

# tiny demo mPLM (1 layer, width 32, 4 heads) and a 1-layer small encoder; 60 utterances per split and language
TINY_LEAN = [o for o in TINY if not o.startswith(("student.", "teacher."))] + [
    "split.limit=60",
    "lean.layers=1",
    "lean.pretrain.trainer.epochs=2",
    "lean.pretrain.dev_per_language=20",
]
SUPERVISED = ["en"]
ZERO_SHOT = ["de", "es", "fr", "hi", "ja", "th", "zh"]


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory) -> Path:
    """A random 4-layer BERT with the shape of a small mPLM, saved like any Hugging Face model."""
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=4, num_attention_heads=4, intermediate_size=64
    )
    path = tmp_path_factory.mktemp("teacher")
    BertModel(config).save_pretrained(path)
    return path


def test_lean_config_follows_the_paper_shape():
    teacher = BertConfig(hidden_size=384, num_hidden_layers=12, num_attention_heads=12, intermediate_size=1536)
    config = lean_config(teacher, 4)
    assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads) == (4, 384, 12)
    assert config.intermediate_size == 600  # 1200/768 of the width, as LeanBERT's 1200 for 768
    assert teacher.num_hidden_layers == 12  # the teacher's config is not touched
    with pytest.raises(DistillxError, match="not a multiple of lean.heads"):
        lean_config(teacher, 4, hidden_size=100)


def test_small_encoder_copies_the_embeddings_and_chosen_layers(teacher_dir: Path):
    teacher = AutoModel.from_pretrained(teacher_dir)
    student = build_lean(str(teacher_dir), 2, intermediate_size=64, init="layers", init_layers=[1, 4], seed=3)
    assert student.config.num_hidden_layers == 2
    for name, value in teacher.embeddings.state_dict().items():
        assert torch.equal(student.embeddings.state_dict()[name], value), name
    for i, t in ((0, 0), (1, 3)):
        for name, value in teacher.encoder.layer[t].state_dict().items():
            assert torch.equal(student.encoder.layer[i].state_dict()[name], value), (i, name)
    uniform = build_lean(str(teacher_dir), 2, intermediate_size=64, init="layers", seed=3)  # layers 2 and 4
    assert torch.equal(
        uniform.encoder.layer[0].attention.self.query.weight, teacher.encoder.layer[1].attention.self.query.weight
    )
    random = build_lean(str(teacher_dir), 2, seed=3)
    assert not torch.equal(
        random.encoder.layer[0].attention.self.query.weight, teacher.encoder.layer[0].attention.self.query.weight
    )
    with pytest.raises(DistillxError, match="needs the mPLM's widths"):
        build_lean(str(teacher_dir), 2, init="layers")  # feed-forward 50, not the mPLM's 64
    with pytest.raises(DistillxError, match="embeddings=copy needs the mPLM's width"):
        build_lean(str(teacher_dir), 2, hidden_size=16, heads=4)


def encoder_weights(path: Path) -> dict[str, torch.Tensor]:
    return AutoModel.from_pretrained(path).state_dict()


def test_pretrain_distill_runs_on_the_demo_and_caches_the_encoder(tmp_path: Path, shared_cache, spy_gold):
    cfg = compose_config([*TINY_LEAN, "method=pretrain_distill"], tmp_path, shared_cache)
    results = run(cfg, tmp_path / "run", "pretrain")
    assert results.groups["supervised"] == SUPERVISED and sorted(results.groups["zero-shot"]) == ZERO_SHOT
    assert set(results.scores["student"]) == set(SUPERVISED + ZERO_SHOT)
    (note,) = [n for n in results.notes if n.startswith("small encoder: ")]
    encoder = Path(note.removeprefix("small encoder: "))
    info = json.loads((encoder / "lean_info.json").read_text())
    assert info["epochs"] == 2 and set(info["languages"]) == set(SUPERVISED + ZERO_SHOT)
    stage = tmp_path / "run" / "stages" / "pretrain_distill"
    history = json.loads((stage / "done.json").read_text())["history"]
    assert all(k in history[0] for k in ("train_loss/embeddings", "train_loss/hidden", "train_loss/attention"))
    assert history[-1]["train_loss"] < history[0]["train_loss"]  # it learns the teacher's states
    # the distilled encoder is no longer the vanilla one it started from
    vanilla = compose_config([*TINY_LEAN, "method=pretrain_distill", "lean=vanilla"], tmp_path, shared_cache)
    vanilla_results = run(vanilla, tmp_path / "vanilla", "vanilla")
    (vnote,) = [n for n in vanilla_results.notes if n.startswith("small encoder: ")]
    before, after = encoder_weights(Path(vnote.removeprefix("small encoder: "))), encoder_weights(encoder)
    assert not torch.equal(
        before["encoder.layer.0.attention.self.query.weight"], after["encoder.layer.0.attention.self.query.weight"]
    )
    assert torch.equal(
        before["embeddings.word_embeddings.weight"], after["embeddings.word_embeddings.weight"]
    )  # frozen
    # the only labels read: English train/dev for fine-tuning, the test sets for scoring
    assert None not in spy_gold
    declared = {r for r in spy_gold if not r.startswith("reading and preprocessing") and not r.endswith(" test")}
    assert declared <= {"multitrain_student train", "multitrain_student dev", "label set of the source model"}


def test_killed_pretraining_distillation_resumes_where_it_stopped(tmp_path: Path, shared_cache, monkeypatch, caplog):
    """Killed in epoch 2, the rerun continues from epoch 1's checkpoint and ends with the weights an uninterrupted
    run gets (run-local stages, so the two runs share only the demo mPLM)."""
    overrides = [*TINY_LEAN, "method=pretrain_distill", "share_stages=false"]
    cfg = compose_config(overrides, tmp_path, shared_cache)
    reference = run(cfg, tmp_path / "a", "a")
    (note,) = [n for n in reference.notes if n.startswith("small encoder: ")]
    expected = encoder_weights(Path(note.removeprefix("small encoder: ")))

    original = LanguageBatches.epoch
    calls: list[int] = []

    def dies_in_epoch_2(self, lengths, languages, batch_size, generator):
        if self.strategy == "alpha":  # the pre-training stage's sampler (fine-tuning samples uniformly)
            calls.append(1)
            if len(calls) == 2:
                raise KeyboardInterrupt
        return original(self, lengths, languages, batch_size, generator)

    monkeypatch.setattr(LanguageBatches, "epoch", dies_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, tmp_path / "b", "b")
    monkeypatch.setattr(LanguageBatches, "epoch", original)
    with caplog.at_level("INFO"):
        resumed = run(cfg, tmp_path / "b", "b")
    assert "stage pretrain_distill: resuming after epoch 1" in caplog.text
    (note,) = [n for n in resumed.notes if n.startswith("small encoder: ")]
    got = encoder_weights(Path(note.removeprefix("small encoder: ")))
    for name, value in expected.items():
        assert torch.allclose(got[name], value, atol=1e-6), name
    assert resumed.scores == reference.scores


def test_ft_distill_distils_intermediate_layers_then_outputs_with_gold_english_labels_only(
    tmp_path: Path, shared_cache, spy_gold
):
    cfg = compose_config([*TINY_LEAN, "method=ft_distill"], tmp_path, shared_cache)
    results = run(cfg, tmp_path / "run", "ft")
    assert set(results.scores["student"]) == set(SUPERVISED + ZERO_SHOT)
    stages = tmp_path / "run" / "stages"
    first = json.loads((stages / "ft_distill_student_intermediate" / "done.json").read_text())
    second = json.loads((stages / "ft_distill_student" / "done.json").read_text())
    # phase 1: TinyBERT's intermediate layers only, its best epoch the one with the lowest dev distillation loss
    assert {"train_loss/embeddings", "train_loss/hidden", "train_loss/attention"} == {
        k for k in first["history"][0] if k.startswith("train_loss/")
    }
    losses = [epoch["dev_distill_loss"] for epoch in first["history"]]
    assert first["best_epoch"] == 1 + losses.index(min(losses))
    # phase 2: the outputs and the gold labels, starting from phase 1's best weights
    assert {"train_loss/soft_ce", "train_loss/ce"} == {k for k in second["history"][0] if k.startswith("train_loss/")}
    key = json.loads((stages / "ft_distill_student" / "key.json").read_text())
    assert key["inputs"]["student"]["weights"] == file_digest(stages / "ft_distill_student_intermediate" / "best.pt")
    assert None not in spy_gold
    declared = {r for r in spy_gold if not r.startswith("reading and preprocessing") and not r.endswith(" test")}
    assert declared <= {
        "teacher_en train",
        "teacher_en dev",
        "ft_distill_student train",
        "label set of the source model",
    }
    assert "ft_distill_student train" in declared  # the paper's gold cross-entropy term
    assert "ft_distill_student_intermediate train" not in declared  # phase 1 reads no label


def test_ft_distill_in_one_phase_with_tinybert_recipe_reads_no_gold(tmp_path: Path, shared_cache, spy_gold):
    overrides = [*TINY_LEAN, "method=ft_distill", "method.intermediate_kd=null", "objective@method.kd=tinybert"]
    run(compose_config(overrides, tmp_path, shared_cache), tmp_path / "run", "ft")
    stages = tmp_path / "run" / "stages"
    assert not (stages / "ft_distill_student_intermediate").exists()
    history = json.loads((stages / "ft_distill_student" / "done.json").read_text())["history"]
    assert {"train_loss/attention", "train_loss/soft_ce"} <= set(history[0])
    assert "ft_distill_student train" not in spy_gold
