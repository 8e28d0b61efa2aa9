"""The Voters Module (selftraining-without-parallel.md §3.2, Eq. 4): M small heads on the shared encoder, a
pseudo-label kept only when all voters agree and are all confident; each voter trained on the same target."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from distillx.distill.objectives import HardCrossEntropy
from distillx.errors import DistillxError
from distillx.models.encoder import Encoded
from distillx.models.heads import TaskHeads
from distillx.models.transformer import TransformerEncoder
from distillx.models.voters import Voters, confidence, ensemble_logits, vote
from distillx.train.batching import EncodedSet, collate_targets
from distillx.train.loop import Trainer

D = 16
SIZES = [D - 8, D, D + 8]


def logits_of(*probs: float) -> list[float]:
    """Logits whose softmax is ``probs``."""
    return [math.log(p) for p in probs]


def make_model(voters=SIZES, num_intents: int = 3, num_slots: int = 0, seed: int = 0) -> TaskHeads:
    torch.manual_seed(seed)
    encoder = TransformerEncoder(10, D, D, 1, 2, 32, 0.0, 16)
    return TaskHeads(encoder, num_intents=num_intents, num_slots=num_slots, dropout=0.0, voters=voters)


def test_vote_keeps_only_unanimous_confident_rows():
    voter_logits = torch.tensor(
        [
            [logits_of(0.95, 0.03, 0.02), logits_of(0.92, 0.04, 0.04), logits_of(0.97, 0.02, 0.01)],  # agree, sure
            [logits_of(0.05, 0.95, 0.00001), logits_of(0.02, 0.6, 0.38), logits_of(0.01, 0.97, 0.02)],  # one at 0.6
            [logits_of(0.98, 0.01, 0.01), logits_of(0.98, 0.01, 0.01), logits_of(0.3, 0.6, 0.1)],  # disagree
        ]
    )
    labels, conf = vote(voter_logits)
    assert labels.tolist() == [0, 1, 0]  # a disagreeing row takes the ensemble's argmax
    assert conf[0].item() == pytest.approx(0.92, abs=1e-5)  # the least confident voter
    assert conf[1].item() == pytest.approx(0.6, abs=1e-5)
    assert conf[2].item() == -1.0
    assert (conf > 0.9).tolist() == [True, False, False]
    assert (conf > 0.5).tolist() == [True, True, False]
    assert not (conf > 0.0)[2]  # never kept, whatever the threshold
    # word level: [B, W, M, C] gives one decision per word
    words_labels, words_conf = vote(voter_logits[None].expand(2, -1, -1, -1))
    assert words_labels.shape == words_conf.shape == (2, 3) and words_conf[1, 2].item() == -1.0


def test_confidence_without_voters_is_argmax_and_max_probability():
    labels, conf = confidence(torch.tensor([logits_of(0.2, 0.7, 0.1), logits_of(0.5, 0.1, 0.4)]))
    assert labels.tolist() == [1, 0]
    assert conf.tolist() == pytest.approx([0.7, 0.5], abs=1e-6)


def test_ensemble_is_the_mean_probability_and_finite_for_huge_bf16_logits():
    voter_logits = torch.randn(4, 5, 3, 7) * 3
    ensemble = ensemble_logits(voter_logits)
    assert ensemble.shape == (4, 5, 7)
    torch.testing.assert_close(ensemble.softmax(-1), voter_logits.softmax(-1).mean(-2))
    huge = torch.tensor([[[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]]], dtype=torch.bfloat16)
    out = ensemble_logits(huge)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    torch.testing.assert_close(out.softmax(-1), torch.tensor([[0.5, 0.5, 0.0]]))


def test_voters_are_independent_heads_with_different_inner_sizes():
    module = Voters(D, 5, SIZES, dropout=0.0)
    assert [v[0].out_features for v in module.voters] == SIZES
    assert {(v[0].in_features, v[-1].out_features) for v in module.voters} == {(D, 5)}
    x = torch.randn(2, 4, D)
    out = module(x)
    assert out.shape == (2, 4, 3, 5)
    torch.testing.assert_close(out[..., 1, :], module.voters[1](x))
    assert not torch.allclose(out[..., 0, :], out[..., 1, :])
    for bad in ([D], [D, 0]):
        with pytest.raises(DistillxError, match="voters"):
            Voters(D, 5, bad, dropout=0.0)


def test_task_heads_with_voters_output_each_voter_and_the_ensemble():
    model = make_model(num_intents=3, num_slots=4).eval()
    ids = torch.tensor([[1, 5, 6, 7, 2], [1, 9, 2, 0, 0]])
    word_index = torch.tensor([[1, 2, 3], [1, -1, -1]])
    out = model(ids, (ids > 0).long(), word_index)
    assert out["intent"].shape == (2, 3) and out["intent_voters"].shape == (2, 3, 3)
    assert out["slots"].shape == (2, 3, 4) and out["slots_voters"].shape == (2, 3, 3, 4)
    assert out["word_mask"].tolist() == [[True, True, True], [True, False, False]]
    torch.testing.assert_close(out["intent"], ensemble_logits(out["intent_voters"]))
    torch.testing.assert_close(out["slots"], ensemble_logits(out["slots_voters"]))
    assert isinstance(model.intent, Voters) and isinstance(model.slots, Voters)
    # without voters: one Linear per head, the state-dict keys every existing checkpoint has
    plain = make_model(voters=None, num_intents=3, num_slots=4)
    keys = set(plain.state_dict())
    assert {"intent.weight", "intent.bias", "slots.weight", "slots.bias"} <= keys
    assert not any("voters" in k for k in keys)
    assert "intent_voters" not in plain(ids, (ids > 0).long(), word_index)
    with pytest.raises(DistillxError, match="voters"):
        make_model(voters=[D])


def test_hard_ce_trains_every_voter_on_the_same_target():
    model = make_model(num_intents=3)
    ids = torch.tensor([[1, 5, 6, 2], [1, 9, 2, 0], [1, 4, 4, 2]])
    gold = torch.tensor([2, 0, 1])
    out = model(ids, (ids > 0).long())
    loss = HardCrossEntropy()(out, {"intent": gold})
    expected = torch.stack([F.cross_entropy(out["intent_voters"][:, m], gold) for m in range(3)]).mean()
    assert loss.item() == pytest.approx(expected.item(), abs=1e-6)
    assert loss.item() != pytest.approx(F.cross_entropy(out["intent"], gold).item(), abs=1e-4)  # not the ensemble
    loss.backward()
    for voter in model.intent.voters:
        for p in voter.parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0


def test_slot_voters_loss_respects_the_word_mask():
    voters = torch.randn(1, 3, 2, 4, requires_grad=True)
    outputs = {"slots": ensemble_logits(voters), "slots_voters": voters, "word_mask": torch.tensor([[1, 1, 0]]).bool()}
    tags = torch.tensor([[0, 3, 2]])
    loss = HardCrossEntropy()(outputs, {"slots": tags})
    expected = (F.cross_entropy(voters[0, :2, 0], tags[0, :2]) + F.cross_entropy(voters[0, :2, 1], tags[0, :2])) / 2
    assert loss.item() == pytest.approx(expected.item(), abs=1e-6)
    loss.backward()
    assert voters.grad[0, 2].abs().sum() == 0 and voters.grad[0, :2].abs().sum() > 0


def test_predict_cuts_slot_voters_per_example_and_targets_pad_back():
    trainer = Trainer(optimizer=torch.optim.AdamW, device="cpu", precision="fp32", progress=False, eval_batch_size=2)
    model = make_model(num_intents=3, num_slots=4)
    data = EncodedSet([[1, 5, 2], [1, 5, 6, 7, 2], [1, 2]], 0, [[1], [1, 2, 3], []])
    out = trainer.predict(model, data)
    assert out["intent_voters"].shape == (3, 3, 3)
    assert [s.shape for s in out["slots_voters"]] == [(1, 3, 4), (3, 3, 4), (0, 3, 4)]
    assert [s.shape for s in out["slots"]] == [(1, 4), (3, 4), (0, 4)]
    padded = collate_targets({"slots_voters": out["slots_voters"]}, [0, 1], torch.device("cpu"))
    assert padded["slots_voters"].shape == (2, 3, 3, 4)
    torch.testing.assert_close(padded["slots_voters"][0, 0], out["slots_voters"][0][0])
    assert padded["slots_voters"][0, 1:].abs().sum() == 0
    empty = collate_targets({"slots_voters": out["slots_voters"]}, [2], torch.device("cpu"))
    assert empty["slots_voters"].shape == (1, 1, 3, 4)


def test_branch_classifiers_get_their_own_voters_and_zero_shot_takes_the_voters_mean():
    class TwoBranches(nn.Module):
        hidden_size = D
        branch_classifiers = ["en", "fr"]

        def forward(self, input_ids, attention_mask):
            states = {lang: torch.randn(input_ids.size(0), input_ids.size(1), D) for lang in self.branch_classifiers}
            branches = {lang: Encoded(tokens=s, sentence=s[:, 0]) for lang, s in states.items()}
            mean = torch.stack(list(states.values())).mean(0)
            return Encoded(tokens=mean, sentence=mean[:, 0], branches=branches)

    torch.manual_seed(0)
    model = TaskHeads(TwoBranches(), num_intents=3, dropout=0.0, voters=SIZES).eval()
    assert model.intent is None and all(isinstance(h["intent"], Voters) for h in model.branch_heads.values())
    ids = torch.tensor([[1, 5, 2]])
    torch.manual_seed(1)
    out = model(ids, torch.ones_like(ids))
    torch.manual_seed(1)
    encoded = model.encoder(ids, torch.ones_like(ids))
    per_branch = [model.branch_heads[lang]["intent"](encoded.branches[lang].sentence) for lang in ("en", "fr")]
    torch.testing.assert_close(out["intent_voters"], torch.stack(per_branch).mean(0))
    torch.testing.assert_close(out["intent"], ensemble_logits(out["intent_voters"]))
