"""TinyBERT-style intermediate-layer distillation (kd-limitations-zero-shot Eq. 2-3): the layer map, LayerMatch's
values and gradients on hand-made tensors, the raw attention scores a pre-trained encoder returns, gold-label
terms, and the tinybert objective configs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import transformers
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from torch import nn
from torch.nn import functional as F

from distillx.distill.objectives import (
    HardCrossEntropy,
    LayerMatch,
    Objective,
    SoftCrossEntropy,
    uniform_layer_map,
)
from distillx.distill.stages import describe
from distillx.errors import DistillxError
from distillx.models.attention import SCORES
from distillx.models.heads import TaskHeads
from distillx.models.mplm import PretrainedEncoder
from distillx.models.transformer import TransformerEncoder

CONF = Path(__file__).resolve().parents[1] / "conf"
MASK = torch.tensor([[1, 1, 1], [1, 1, 0]])  # row 1's last token is padding
REAL = MASK.bool()


def states(layers: int, width: int, seed: int) -> tuple[torch.Tensor, ...]:
    """``layers + 1`` hidden states ``[2, 3, width]`` (index 0 the embeddings), padded positions set to garbage."""
    g = torch.Generator().manual_seed(seed)
    out = tuple(torch.randn(2, 3, width, generator=g) for _ in range(layers + 1))
    for h in out:
        h[~REAL] = 1e6 * (seed + 1)
    return out


def scores(layers: int, heads: int, seed: int) -> tuple[torch.Tensor, ...]:
    """Raw scores ``[2, heads, 3, 3]`` as transformers gives them: ``finfo.min`` at padded keys, padded queries
    garbage."""
    g = torch.Generator().manual_seed(seed)
    out = tuple(torch.randn(2, heads, 3, 3, generator=g) for _ in range(layers))
    for a in out:
        a[1, :, 2, :] = 1e4 * (seed + 1)  # padded query
        a[1, :, :, 2] = torch.finfo(torch.bfloat16 if seed else torch.float32).min  # padded key, as transformers
    return out


def hand_mse(s: torch.Tensor, t: torch.Tensor) -> float:
    """Mean squared difference over the real tokens (hidden) or real (query, key) pairs (attention), by loops."""
    total, count = 0.0, 0
    for b in range(s.size(0)):
        real = [i for i in range(s.size(-2 if s.dim() == 4 else 1)) if MASK[b, i]]
        if s.dim() == 3:
            cells = [s[b, i, j] - t[b, i, j] for i in real for j in range(s.size(2))]
        else:
            cells = [s[b, h, q, k] - t[b, h, q, k] for h in range(s.size(1)) for q in real for k in real]
        total += sum(float(c) ** 2 for c in cells)
        count += len(cells)
    return total / count


# ---------------------------------------------------------------- the layer map


def test_uniform_layer_map_is_tinybert_g():
    assert uniform_layer_map(4, 12) == {1: 3, 2: 6, 3: 9, 4: 12}
    assert uniform_layer_map(6, 12) == {1: 2, 2: 4, 3: 6, 4: 8, 5: 10, 6: 12}
    for student, teacher in ((5, 12), (0, 12), (4, 0)):
        with pytest.raises(DistillxError) as err:
            uniform_layer_map(student, teacher)
        assert "positive multiple" in str(err.value) and "\n" not in str(err.value)


# ---------------------------------------------------------------- LayerMatch values


def test_embeddings_match_is_layer_0_over_real_tokens():
    s, t = states(2, 4, seed=0), states(4, 4, seed=1)
    value = LayerMatch("embeddings")({"hidden_states": s, "attention_mask": MASK}, {"hidden_states": t})
    assert value.item() == pytest.approx(hand_mse(s[0], t[0]), rel=1e-6)


def test_hidden_match_sums_the_uniform_map_pairs_over_real_tokens():
    s, t = states(2, 4, seed=0), states(4, 4, seed=1)
    student, teacher = {"hidden_states": s, "attention_mask": MASK}, {"hidden_states": t, "attention_mask": MASK}
    expected = hand_mse(s[1], t[2]) + hand_mse(s[2], t[4])  # 2 <- 4 layers: g(i) = 2i
    assert LayerMatch("hidden")(student, teacher).item() == pytest.approx(expected, rel=1e-6)
    explicit = hand_mse(s[1], t[1]) + hand_mse(s[2], t[3])
    assert LayerMatch("hidden", layers={1: 1, 2: 3})(student, teacher).item() == pytest.approx(explicit, rel=1e-6)
    for h in (*s, *t):  # other garbage at padding: same value
        h[~REAL] = -7.0
    assert LayerMatch("hidden")(student, teacher).item() == pytest.approx(expected, rel=1e-6)


def test_attention_match_sums_raw_scores_over_real_query_key_pairs():
    s, t = scores(2, 3, seed=0), scores(4, 3, seed=1)
    student, teacher = {"attention_scores": s, "attention_mask": MASK}, {"attention_scores": t}
    value = LayerMatch("attention")(student, teacher)
    assert math.isfinite(value.item())
    assert value.item() == pytest.approx(hand_mse(s[0], t[1]) + hand_mse(s[1], t[3]), rel=1e-6)
    with pytest.raises(DistillxError, match="attention heads"):
        LayerMatch("attention")(student, {"attention_scores": scores(4, 2, seed=1)})


def test_bad_layer_maps_fail_clearly():
    s = {"hidden_states": states(2, 4, seed=0), "attention_mask": MASK}
    with pytest.raises(DistillxError, match="positive multiple"):
        LayerMatch("hidden")(s, {"hidden_states": states(3, 4, seed=1)})
    with pytest.raises(DistillxError, match="within the 2 student / 3 teacher layers"):
        LayerMatch("hidden", layers={1: 4})(s, {"hidden_states": states(3, 4, seed=1)})
    with pytest.raises(DistillxError, match="layers must be"):
        LayerMatch("embeddings", layers={1: 1})
    with pytest.raises(DistillxError, match="outputs have no attention_scores"):
        LayerMatch("attention")(s, {"attention_scores": scores(2, 2, seed=1)})


def test_describe_tells_explicit_maps_apart():
    a, b = describe(LayerMatch("hidden", layers={1: 3})), describe(LayerMatch("hidden", layers={1: 2}))
    assert a["layers"] and a != b and describe(LayerMatch("hidden"))["layers"] is None


# ---------------------------------------------------------------- projection and gradients


class Sized(nn.Module):
    """A model as LayerMatch.attach reads it: ``hidden_size`` on itself or on its ``encoder``."""

    def __init__(self, width: int, on_encoder: bool = False) -> None:
        super().__init__()
        holder = nn.Module() if on_encoder else self
        holder.hidden_size = width
        if on_encoder:
            self.encoder = holder
        self.body = nn.Linear(width, width)


def test_attach_infers_widths_and_keeps_the_projection():
    student, teacher = Sized(4), Sized(6, on_encoder=True)
    objective = Objective([LayerMatch("hidden"), LayerMatch("embeddings"), LayerMatch("attention")])
    objective.attach(student, [teacher, teacher])
    projection = student.projections["hidden_layers"]
    assert (projection.in_features, projection.out_features) == (4, 6)
    assert set(student.projections) == {"hidden_layers", "embeddings_layers"}  # one per term, none for scores
    assert "projections.hidden_layers.weight" in student.state_dict()
    objective.attach(student, [teacher])  # resume: kept, not replaced
    assert student.projections["hidden_layers"] is projection
    same = Sized(6)
    LayerMatch("hidden").attach(same, [teacher])
    assert not hasattr(same, "projections")
    for teachers in ([], [teacher, Sized(8)], [nn.Linear(2, 2)]):
        with pytest.raises(DistillxError, match="attach needs the student's width"):
            LayerMatch("hidden").attach(Sized(4), teachers)


def test_gradients_reach_the_student_and_the_projection_not_the_teacher():
    student_model = Sized(4)
    term = LayerMatch("hidden")
    term.attach(student_model, [Sized(6)])
    s = tuple(h.clone().requires_grad_(True) for h in states(2, 4, seed=0))
    t = tuple(h.clone().requires_grad_(True) for h in states(4, 6, seed=1))
    loss = term({"hidden_states": s, "attention_mask": MASK}, {"hidden_states": t}, model=student_model)
    loss.backward()
    for layer in (1, 2):
        assert s[layer].grad[REAL].abs().sum() > 0 and s[layer].grad[~REAL].abs().max() == 0
    assert s[0].grad is None  # the embeddings are not a mapped layer of "hidden"
    assert student_model.projections["hidden_layers"].weight.grad.abs().sum() > 0
    assert all(h.grad is None for h in t)
    with pytest.raises(RuntimeError, match="Objective.attach"):
        term({"hidden_states": s, "attention_mask": MASK}, {"hidden_states": t}, model=Sized(4))


def test_attention_gradients_skip_padded_pairs():
    s = scores(1, 2, seed=0)[0].requires_grad_(True)
    loss = LayerMatch("attention")(
        {"attention_scores": (s,), "attention_mask": MASK}, {"attention_scores": scores(1, 2, 1)}
    )
    (grad,) = torch.autograd.grad(loss, s)
    pair = (REAL[:, :, None] & REAL[:, None, :])[:, None].expand_as(grad)
    assert grad[~pair].abs().max() == 0 and grad[pair].abs().min() > 0


# ---------------------------------------------------------------- raw scores from a pre-trained encoder


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> str:
    config = transformers.BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=16,
    )
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny_bert")
    transformers.BertModel(config).save_pretrained(path)
    return str(path)


IDS = torch.tensor([[2, 15, 27, 33, 3], [2, 44, 3, 0, 0]])
ATTENTION = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])


def test_encoder_returns_raw_scores_and_unchanged_states(tiny_bert):
    default = PretrainedEncoder(tiny_bert).eval()
    encoder = PretrainedEncoder(tiny_bert).eval()
    with torch.no_grad():
        plain = default(IDS, ATTENTION)
        out = encoder(IDS, ATTENTION, hidden_states=True, attention_scores=True)
    assert default.model.config._attn_implementation == "sdpa" and plain.attention_scores is None
    assert encoder.model.config._attn_implementation == SCORES
    torch.testing.assert_close(out.tokens, plain.tokens, atol=1e-5, rtol=0)  # the switch changes no result

    attn = encoder.model.encoder.layer[0].attention.self
    x = out.hidden_states[0]  # the embedding output: layer 1's input

    def heads(linear: nn.Linear) -> torch.Tensor:  # [B, T, H] -> [B, heads, T, head_dim]
        return linear(x).view(2, 5, 4, 8).transpose(1, 2)

    with torch.no_grad():
        expected = heads(attn.query) @ heads(attn.key).transpose(-1, -2) / math.sqrt(8)
    got = out.attention_scores[0]
    assert len(out.attention_scores) == 3 and got.shape == (2, 4, 5, 5)
    real = ATTENTION.bool()
    pair = (real[:, :, None] & real[:, None, :])[:, None].expand_as(got)
    torch.testing.assert_close(got[pair], expected[pair], atol=1e-5, rtol=1e-5)
    assert (got[1, :, :, 3:] < -1e30).all() and (got[0] > -1e30).all()


def test_task_heads_features_carry_one_score_tensor_per_layer(tiny_bert):
    heads = TaskHeads(PretrainedEncoder(tiny_bert), num_intents=3).eval()
    out = heads(IDS, ATTENTION, features=True)
    assert len(out["attention_scores"]) == 3 and all(a.shape == (2, 4, 5, 5) for a in out["attention_scores"])
    assert len(out["hidden_states"]) == 4 and "attention_scores" not in heads(IDS, ATTENTION)
    small = TaskHeads(TransformerEncoder(100, embed_dim=16, hidden_size=16, num_layers=2), num_intents=3).eval()
    out = small(IDS, ATTENTION, features=True)  # an encoder without scores: hidden states only, as before
    assert len(out["hidden_states"]) == 3 and "attention_scores" not in out


# ---------------------------------------------------------------- gold-label terms


def test_gold_hard_ce_reads_gold_ids_not_the_teacher():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.5], [0.3, 0.2, 0.1]])
    teacher = torch.tensor([[0.0, 0.0, 9.0], [9.0, 0.0, 0.0], [0.0, 9.0, 0.0]])
    gold = torch.tensor([0, 2, -100])
    targets = {"intent": teacher, "gold_intent": gold}
    value = HardCrossEntropy(gold=True)({"intent": logits}, targets)
    assert value.item() == pytest.approx(F.cross_entropy(logits[:2], gold[:2]).item(), rel=1e-6)
    from_teacher = HardCrossEntropy()({"intent": logits}, targets)
    assert from_teacher.item() == pytest.approx(F.cross_entropy(logits, teacher.argmax(-1)).item(), rel=1e-6)
    assert HardCrossEntropy(gold=True)({"intent": logits}, {"intent": teacher}).item() == 0.0  # no gold: no term


def test_gold_slots_use_the_students_word_mask_only():
    logits = torch.randn(1, 3, 4, generator=torch.Generator().manual_seed(0))
    student = {"slots": logits, "word_mask": torch.tensor([[True, True, False]])}
    targets = {"gold_slots": torch.tensor([[1, 3, 2]]), "word_mask": torch.tensor([[False, True, True]])}
    expected = F.cross_entropy(logits[0, :2], torch.tensor([1, 3]))
    assert HardCrossEntropy(gold=True)(student, targets).item() == pytest.approx(expected.item(), rel=1e-6)


def test_objective_needs_gold():
    assert not Objective([SoftCrossEntropy(), HardCrossEntropy(), LayerMatch("hidden")]).needs_gold
    assert Objective([SoftCrossEntropy(), HardCrossEntropy(gold=True)]).needs_gold


# ---------------------------------------------------------------- configs


@pytest.mark.parametrize(
    ("name", "terms", "gold"),
    [
        ("tinybert_general", ["embeddings", "hidden", "attention"], False),
        ("tinybert", ["embeddings", "hidden", "attention", "soft_ce"], False),
        ("tinybert_ce", ["embeddings", "hidden", "attention", "soft_ce", "ce"], True),
    ],
)
def test_tinybert_objectives_compose(name, terms, gold):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        objective = instantiate(compose(config_name=f"objective/{name}").objective)
    assert objective.keys == [f"loss/{t}" for t in terms] and objective.needs_gold == gold
    assert objective.needs_features == {"hidden_states", "attention_scores"}
    assert all(term.weight == 1.0 for term in objective.terms)
    if "soft_ce" in terms:
        assert objective.terms[3].temperature == 1.0 and not objective.terms[3].gold
    assert objective.trains_outputs == ("soft_ce" in terms)


def test_prediction_ce_is_tinyberts_prediction_layer_plus_gold_ce():
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        objective = instantiate(compose(config_name="objective/prediction_ce").objective)
    soft, hard = objective.terms
    assert objective.keys == ["loss/soft_ce", "loss/ce"] and objective.needs_features == frozenset()
    assert soft.temperature == 1.0 and hard.gold and objective.needs_gold and objective.trains_outputs


def test_an_output_term_of_weight_0_trains_no_output():
    objective = Objective({"hidden": LayerMatch("hidden"), "watched": SoftCrossEntropy(weight=0.0)})
    assert not objective.trains_outputs
