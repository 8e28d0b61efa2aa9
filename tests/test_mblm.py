"""MBLM (mblm-multikd.md): branches, mixers, detaching, inference modes, and K=0 being the plain encoder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertModel
from transformers.masking_utils import create_bidirectional_mask

from distillx.errors import DistillxError
from distillx.models.heads import TaskHeads
from distillx.models.mblm import MBLMEncoder, Mixer
from distillx.models.mplm import PretrainedEncoder

LANGS = ["en", "fr", "zh"]


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory) -> Path:
    """A tiny random BERT saved as a Hugging Face model directory (what from_pretrained loads offline)."""
    path = tmp_path_factory.mktemp("bert")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=60, hidden_size=16, num_hidden_layers=4, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=32, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    )  # fmt: skip
    BertModel(config).save_pretrained(path)
    return path


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.randint(1, 60, (3, 9), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    return ids, mask


def branch_grads(model: MBLMEncoder) -> dict[str, float]:
    return {
        lang: sum(float(p.grad.abs().sum()) for p in branch.parameters() if p.grad is not None)
        for lang, branch in model.branches.items()
    }


def test_depth_0_computes_exactly_the_plain_encoder(bert_dir: Path):
    ids, mask = batch()
    plain = PretrainedEncoder(str(bert_dir)).eval()
    mblm = MBLMEncoder(str(bert_dir), LANGS, depth=0).eval()
    assert torch.equal(plain(ids, mask).tokens, mblm(ids, mask, language="en").tokens)


def test_branches_start_as_copies_of_the_layers_they_replace(bert_dir: Path):
    ids, mask = batch()
    plain = PretrainedEncoder(str(bert_dir)).eval()
    mblm = MBLMEncoder(str(bert_dir), LANGS, depth=2, inner_mixers=False, outer_mixer=False, inference="single")
    # a branch alone is the bottom two layers: every language gives the plain encoder's output
    for lang in LANGS:
        torch.testing.assert_close(mblm.eval()(ids, mask, language=lang).tokens, plain(ids, mask).tokens)


@pytest.mark.parametrize("inner", [True, False])
def test_gradients_reach_only_the_batch_languages_branch(bert_dir: Path, inner: bool):
    ids, mask = batch()
    model = MBLMEncoder(str(bert_dir), LANGS, depth=3, inner_mixers=inner).train()
    model(ids, mask, language="fr").tokens.pow(2).sum().backward()
    grads = branch_grads(model)
    assert grads["fr"] > 0 and grads["en"] == 0 and grads["zh"] == 0
    assert model.outer.v.grad is not None and model.outer.v.grad.abs().sum() > 0


def test_without_detaching_gradients_reach_every_branch(bert_dir: Path):
    ids, mask = batch()
    model = MBLMEncoder(str(bert_dir), LANGS, depth=3, detach=False).train()
    with torch.no_grad():  # mixers at zero weigh branches equally; make them differ so no gradient cancels
        model.outer.v.normal_(0, 1.0)
    model(ids, mask, language="fr").tokens.pow(2).sum().backward()
    assert all(g > 0 for g in branch_grads(model).values())


def test_mixer_weights_sum_to_one_over_languages_for_every_feature():
    torch.manual_seed(0)
    mixer = Mixer(branches=3, outputs=3, max_positions=12)
    with torch.no_grad():
        mixer.v.normal_(0, 2.0)
    states = [torch.randn(2, 7, 5) for _ in range(3)]
    mask = torch.ones(2, 7)
    mask[0, 4:] = 0
    weights = mixer.weights(states, mask)
    assert weights.shape == (3, 2, 3, 5)  # outputs, batch, branches, features
    torch.testing.assert_close(weights.sum(dim=2), torch.ones(3, 2, 5))
    assert not torch.allclose(weights[..., 0, :], weights[..., 1, :])  # not simply uniform
    # padded positions do not move the weights
    changed = [s.clone() for s in states]
    for s in changed:
        s[0, 4:] = 1e3
    torch.testing.assert_close(mixer.weights(changed, mask), weights)


def test_without_mixers_inference_is_single_or_all_and_zero_shot_averages(bert_dir: Path):
    ids, mask = batch()
    single = MBLMEncoder(str(bert_dir), LANGS, depth=2, inner_mixers=False, outer_mixer=False, inference="single")
    with torch.no_grad():  # make the branches differ
        for i, branch in enumerate(single.branches.values()):
            for p in branch.parameters():
                p.add_(0.05 * (i + 1))
    single.eval()
    outs = {lang: single(ids, mask, language=lang).tokens for lang in LANGS}
    assert not torch.allclose(outs["en"], outs["fr"])
    zero_shot = single(ids, mask, language="de").tokens  # no branch of its own: the mean of all branches
    below = single.model.embeddings(input_ids=ids)
    att = create_bidirectional_mask(config=single.model.config, inputs_embeds=below, attention_mask=mask)
    means = torch.stack([single._run(b, below, att) for b in single.branches.values()]).mean(0)
    for layer in single.above:
        means = layer(means, attention_mask=att)
    torch.testing.assert_close(zero_shot, means)
    single.inference = "all"
    torch.testing.assert_close(single(ids, mask, language="en").tokens, zero_shot)


def test_task_heads_pass_the_batch_language_and_checkpoints_round_trip(bert_dir: Path, tmp_path: Path):
    ids, mask = batch()
    model = TaskHeads(MBLMEncoder(str(bert_dir), LANGS, depth=2), num_intents=4).eval()
    out = model(ids, mask, language="zh")["intent"]
    torch.save(model.state_dict(), tmp_path / "m.pt")
    again = TaskHeads(MBLMEncoder(str(bert_dir), LANGS, depth=2), num_intents=4).eval()
    again.load_state_dict(torch.load(tmp_path / "m.pt", weights_only=True))
    torch.testing.assert_close(again(ids, mask, language="zh")["intent"], out)
    assert any(k.startswith("encoder.branches.zh.") for k in model.state_dict())


def test_bf16_autocast_runs_forward_and_backward(bert_dir: Path):
    ids, mask = batch()
    model = MBLMEncoder(str(bert_dir), LANGS, depth=2).train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(ids, mask, language="en").sentence
    out.float().sum().backward()
    assert branch_grads(model)["en"] > 0


def test_bad_settings_fail_with_one_line(bert_dir: Path):
    with pytest.raises(DistillxError, match="depth=9"):
        MBLMEncoder(str(bert_dir), LANGS, depth=9)
    with pytest.raises(DistillxError, match="inner_mixers=true needs outer_mixer=true"):
        MBLMEncoder(str(bert_dir), LANGS, depth=2, outer_mixer=False)
    no_mixers = MBLMEncoder(str(bert_dir), LANGS, depth=2, inner_mixers=False, outer_mixer=False).train()
    with pytest.raises(DistillxError, match="supervised languages' batches only"):
        no_mixers(*batch(), language="de")


def test_per_branch_classifiers_use_the_batch_branch_and_average_logits_for_zero_shot(bert_dir: Path):
    """Fig. 4d: branches at the top, each with its own classifier; a zero-shot language gets the mean logits."""
    ids, mask = batch()
    encoder = MBLMEncoder(
        str(bert_dir), LANGS, depth=2, position="top", outer_mixer=False, classifiers="per_branch", inference="single"
    )
    model = TaskHeads(encoder, num_intents=4)
    assert set(model.branch_heads) == set(LANGS) and model.intent is None
    model.train()
    model(ids, mask, language="fr")["intent"].pow(2).sum().backward()
    grads = {lang: heads["intent"].weight.grad for lang, heads in model.branch_heads.items()}
    assert grads["fr"] is not None and grads["en"] is None and grads["zh"] is None  # only fr's classifier trains
    model.eval()
    with torch.no_grad():
        per_lang = {lang: model(ids, mask, language=lang)["intent"] for lang in LANGS}
        zero_shot = model(ids, mask, language="de")["intent"]
    torch.testing.assert_close(zero_shot, torch.stack(list(per_lang.values())).mean(0))
    with pytest.raises(DistillxError, match="per_branch needs position=top and outer_mixer=false"):
        MBLMEncoder(str(bert_dir), LANGS, depth=2, classifiers="per_branch")
