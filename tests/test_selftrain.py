"""Zero-shot self-training without parallel data (selftraining-without-parallel.md): BTF's masked LM with frozen
bottom layers, the round schedule (students restored from the BTF model, teachers swapped), the labels it reads,
and the per-step report; end to end on the demo with tiny settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import TINY, compose_config
from transformers import BertConfig, BertForMaskedLM, BertModel

from distillx.cli import run, user_error
from distillx.distill.selftrain import agreement
from distillx.errors import DistillxError
from distillx.files import file_digest
from distillx.models.mlm import IGNORE, MaskedLM, mask_tokens
from distillx.train.loop import StageResult

SPECIAL = [0, 1, 2, 3]  # pad, cls, sep, mask in the tiny vocabulary below
# the tiny demo mPLM (2 layers, width 32): BTF freezes the bottom one; 60 utterances per split and language
TINY_SELFTRAIN = [o for o in TINY if not o.startswith(("student.", "teacher.", "mplm.build.num_layers"))] + [
    "mplm.build.num_layers=2",
    "split.limit=60",
    "method=selftrain",
    "method.btf.frozen_layers=1",
    "method.btf.trainer.epochs=1",
    "method.btf.dev_per_language=20",
    "method.step_trainer.soft.epochs=3",  # the run's trainer (fine-tuning): 2 epochs at batch 32
    "method.step_trainer.soft.batch_size=16",
    "method.step_trainer.hard.epochs=1",
]


def tiny_bert(path: Path, with_head: bool) -> Path:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=50, hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=64, pad_token_id=0
    )
    (BertForMaskedLM if with_head else BertModel)(config).save_pretrained(path)
    return path


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.tensor([[1] + list(range(4, 30)) + [2], [1] + list(range(10, 20)) + [2] + [0] * 16])
    return ids, (ids != 0).long()


# ---------------------------------------------------------------- BTF's masked LM


def test_masking_never_touches_special_or_padded_tokens_and_is_reproducible():
    ids, mask = batch()
    kwargs = dict(probability=0.5, mask_id=3, vocab_size=50, special_ids=SPECIAL)
    inputs, labels = mask_tokens(ids, mask, generator=torch.Generator().manual_seed(1), **kwargs)
    chosen = labels != IGNORE
    assert chosen.any() and not chosen[torch.isin(ids, torch.tensor(SPECIAL))].any()
    assert torch.equal(labels[chosen], ids[chosen]) and torch.equal(inputs[~chosen], ids[~chosen])
    assert (inputs[chosen] == 3).float().mean() > 0.5  # most chosen tokens become the mask token
    again = mask_tokens(ids, mask, generator=torch.Generator().manual_seed(1), **kwargs)
    assert torch.equal(again[0], inputs) and torch.equal(again[1], labels)


@pytest.mark.parametrize("with_head", [True, False])
def test_btf_trains_the_head_and_top_layers_only(tmp_path: Path, with_head: bool):
    model = MaskedLM(str(tiny_bert(tmp_path / "m", with_head)), special_ids=SPECIAL, mask_id=3, frozen_layers=2)
    assert model.head_trained == with_head  # an encoder-only checkpoint gets a new head, said so
    ids, mask = batch()
    model.train()
    model(ids, mask)["mlm_loss"].backward()
    bert = model.model.bert
    assert all(p.grad is None for p in bert.embeddings.parameters())
    for layer in bert.encoder.layer[:2]:
        assert all(p.grad is None for p in layer.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in bert.encoder.layer[2].parameters())
    assert model.model.cls.predictions.transform.dense.weight.grad.abs().sum() > 0
    # the new head's decoder is the (frozen) input embedding table, tied
    assert model.model.cls.predictions.decoder.weight is bert.embeddings.word_embeddings.weight


def test_btf_scores_dev_on_the_same_masks_every_time(tmp_path: Path):
    model = MaskedLM(str(tiny_bert(tmp_path / "m", True)), special_ids=SPECIAL, mask_id=3).eval()
    ids, mask = batch()
    with torch.no_grad():
        assert model(ids, mask)["mlm_loss"].item() == model(ids, mask)["mlm_loss"].item()


def test_btf_refuses_more_frozen_layers_than_the_encoder_has(tmp_path: Path):
    with pytest.raises(DistillxError, match="frozen_layers=5"):
        MaskedLM(str(tiny_bert(tmp_path / "m", True)), special_ids=SPECIAL, mask_id=3, frozen_layers=5)


# ---------------------------------------------------------------- the method, end to end


def stage_key(stages: Path, name: str) -> dict:
    return json.loads((stages / name / "key.json").read_text())["inputs"]


def test_selftrain_rounds_restart_from_btf_swap_teachers_and_read_source_labels_only(
    tmp_path: Path, shared_cache, spy_gold
):
    cfg = compose_config(TINY_SELFTRAIN, tmp_path, shared_cache)
    results = run(cfg, tmp_path / "run", "selftrain")
    assert set(results.scores) == {"finetuned", "soft1", "hard2", "soft3"}
    assert all(set(per_lang) == {"en", "zh"} for per_lang in results.scores.values())
    stages = tmp_path / "run" / "stages"
    shared = shared_cache / "stages"
    btf = next(shared.glob("btf-*"))
    finetuned = next(shared.glob("selftrain_finetune-*"))
    assert json.loads((btf / "encoder" / "btf_info.json").read_text())["languages"] == ["en", "zh"]

    def base_of(key: dict, role: str) -> str:
        return key[role]["base"]["path"]

    soft1, hard2, soft3 = (stage_key(stages, n) for n in ("selftrain_1_soft", "selftrain_2_hard", "selftrain_3_soft"))
    # every soft step's student starts from the BTF model's weights, untrained
    for soft in (soft1, soft3):
        assert base_of(soft, "student") == str((btf / "encoder").resolve()) and soft["student"]["weights"] is None
    # teachers: the fine-tuned source model in round 1, the last hard step's model in round 2
    assert soft1["teachers"]["*"]["weights"] == file_digest(finetuned / "best.pt")
    assert soft3["teachers"]["*"]["weights"] == file_digest(stages / "selftrain_2_hard" / "best.pt")
    # self-training steps train with their own trainer settings (the paper's per-step epochs), fine-tuning with
    # the run's, and the stage keys say so
    finetune_key = json.loads((finetuned / "key.json").read_text())["inputs"]
    assert finetune_key["trainer"]["epochs"] == 2 and finetune_key["trainer"]["batch_size"] == 32
    for name, key, epochs, batch in (
        ("selftrain_1_soft", soft1, 3, 16),
        ("selftrain_2_hard", hard2, 1, 32),
        ("selftrain_3_soft", soft3, 3, 16),
    ):
        assert key["trainer"]["epochs"] == epochs and key["trainer"]["batch_size"] == batch
        assert len(json.loads((stages / name / "done.json").read_text())["history"]) == epochs
    assert len(json.loads((finetuned / "done.json").read_text())["history"]) == 2
    # the hard step goes on from the round's soft-trained model
    assert hard2["model"]["weights"] == file_digest(stages / "selftrain_1_soft" / "best.pt")
    # labels: the source's (fine-tuning, threshold and hard step, dev) and the test sets', never a target's
    declared = {r for r in spy_gold if not r.startswith("reading and preprocessing")}
    assert None not in declared
    assert not {r for r in declared if "zh" in r and not r.endswith("test")}, declared
    assert "selftrain_2_hard source train" in declared and "en test" in declared and "zh test" in declared
    # the report says what each hard step chose and kept
    (note,) = [n for n in results.notes if n.startswith("selftrain_2_hard")]
    assert "alpha" in note and "target pseudo-intents" in note
    assert "/60 target pseudo-intents" in note  # out of every target utterance (split.limit=60), voted on or not
    assert (tmp_path / "run" / "selftrain" / "selftrain_2_hard_threshold.png").stat().st_size > 0
    # and how far each soft step's student got towards its teacher (from its stage's own record)
    for name in ("selftrain_1_soft", "selftrain_3_soft"):
        done = json.loads((stages / name / "done.json").read_text())
        (note,) = [n for n in results.notes if n.startswith(name)]
        assert f"{100 * done['best_score']:.1f} % (best epoch {done['best_epoch']} of 3)" in note


def fitted(agreements: list[float]) -> StageResult:
    best = max(range(len(agreements)), key=agreements.__getitem__)
    history = [{"dev_teacher_agreement": a} for a in agreements]
    return StageResult(best + 1, agreements[best], len(agreements), history)


def test_a_soft_step_still_rising_at_its_last_epoch_is_called_so():
    assert agreement(fitted([0.0, 0.2, 0.62])).endswith("more method.step_trainer.soft.epochs may help")
    assert agreement(fitted([0.0, 0.2, 0.62])).startswith("dev agreement with its teacher 62.0 % (best epoch 3 of 3)")
    for settled in ([0.0, 0.7, 0.6], [0.5, 0.5, 0.5], [0.7]):  # best before the last epoch, or a single epoch
        assert "rising" not in agreement(fitted(settled))


def test_selftrain_ablations_skip_btf_and_self_training(tmp_path: Path, shared_cache):
    cfg = compose_config([*TINY_SELFTRAIN, "method.btf.enabled=false", "method.schedule=[]"], tmp_path, shared_cache)
    results = run(cfg, tmp_path / "run", "selftrain")
    assert set(results.scores) == {"finetuned"}
    finetuned = max(shared_cache.glob("stages/selftrain_finetune-*"), key=lambda p: p.stat().st_mtime)
    key = json.loads((finetuned / "key.json").read_text())["inputs"]
    assert "btf" not in key["model"]["base"]["path"]  # the mPLM itself


def test_selftrain_refuses_unknown_steps(tmp_path: Path, shared_cache):
    cfg = compose_config([*TINY_SELFTRAIN, "method.schedule=[soft,medium]"], tmp_path, shared_cache)
    with pytest.raises(Exception) as err:
        run(cfg, tmp_path / "run", "selftrain")
    assert "steps must be soft or hard, got ['medium']" in str(user_error(err.value))
