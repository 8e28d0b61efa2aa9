"""Objectives as config: each term's value and gradient against closed forms (KL and hard CE were also checked
equal to the KDLoss / GoldLoss they replaced, in value and gradient, before those were removed), masking, bf16
stability, the Objective's sum / logging / validation, FeatureMatch's projection living in the student, and the
Hydra config form."""

import math

import pytest
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from distillx.distill.objectives import (
    FeatureMatch,
    HardCrossEntropy,
    KLDivergence,
    Objective,
    ProbabilityMSE,
    SoftCrossEntropy,
)
from distillx.errors import DistillxError

OUTPUT_TERMS = [
    KLDivergence(temperature=2.0),
    SoftCrossEntropy(temperature=2.0),
    ProbabilityMSE(),
    HardCrossEntropy(),
]


def softmax(z: torch.Tensor) -> torch.Tensor:
    """Written out (exp over sum) in float64, independent of the module's log_softmax path."""
    e = (z.double() - z.double().max(-1, keepdim=True).values).exp()
    return e / e.sum(-1, keepdim=True)


def student_logits(*shape: int, seed: int = 0) -> torch.Tensor:
    torch.manual_seed(seed)
    return torch.randn(*shape).requires_grad_(True)


def teacher_batch(batch: int = 3, words: int = 5, slots: int = 4, intents: int = 3, seed: int = 1) -> dict:
    g = torch.Generator().manual_seed(seed)
    word_mask = torch.ones(batch, words, dtype=torch.bool)
    word_mask[0, 3:] = False
    return {
        "intent": torch.randn(batch, intents, generator=g) * 2,
        "slots": torch.randn(batch, words, slots, generator=g) * 2,
        "word_mask": word_mask,
    }


# ---------------------------------------------------------------- output terms: value and gradient, closed forms


def test_kl_value_and_gradient():
    t, b = 2.0, 3
    student = student_logits(b, 4)
    teacher = torch.randn(b, 4) * 3
    loss = KLDivergence(temperature=t)({"intent": student}, {"intent": teacher})
    p_s, p_t = softmax(student.detach() / t), softmax(teacher / t)
    expected = (p_t * (p_t.log() - p_s.log())).sum(-1).mean() * t**2
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    loss.backward()
    torch.testing.assert_close(student.grad.double(), t * (p_s - p_t) / b, atol=1e-6, rtol=1e-5)


def test_kl_plain_math_case():
    # teacher (0.75, 0.25) against a uniform student
    student = torch.zeros(1, 2)
    loss = KLDivergence()({"intent": student}, {"intent": torch.tensor([[math.log(3.0), 0.0]])})
    assert loss.item() == pytest.approx(0.75 * math.log(1.5) + 0.25 * math.log(0.5), abs=1e-6)


@pytest.mark.parametrize("scale_by_t2", [False, True])
def test_soft_cross_entropy_value_and_gradient(scale_by_t2):
    t, b = 3.0, 4
    student = student_logits(b, 5)
    teacher = torch.randn(b, 5) * 3
    loss = SoftCrossEntropy(temperature=t, scale_by_t2=scale_by_t2)({"intent": student}, {"intent": teacher})
    p_s, p_t = softmax(student.detach() / t), softmax(teacher / t)
    factor = t**2 if scale_by_t2 else 1.0
    expected = -(p_t * p_s.log()).sum(-1).mean() * factor  # mblm-multikd Eq. 3
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    loss.backward()
    # d/dz_S of -p_T . log softmax(z_S / T) = (p_S - p_T) / T, per row, averaged over B
    torch.testing.assert_close(student.grad.double(), factor * (p_s - p_t) / (t * b), atol=1e-6, rtol=1e-5)


def test_soft_cross_entropy_has_no_t2_by_default():
    assert SoftCrossEntropy(temperature=4.0).scale_by_t2 is False


def test_probability_mse_value_and_gradient():
    b, c = 3, 4
    student = student_logits(b, c)
    teacher = torch.randn(b, c) * 2
    loss = ProbabilityMSE()({"intent": student}, {"intent": teacher})
    p_s, p_t = softmax(student.detach()), softmax(teacher)
    assert loss.item() == pytest.approx(((p_s - p_t) ** 2).sum().item() / (b * c), rel=1e-5)  # mean, not sum
    loss.backward()
    # chain rule through the softmax Jacobian J_ij = p_i (delta_ij - p_j): grad_j = p_j (g_j - sum_i g_i p_i)
    g = 2 * (p_s - p_t) / (b * c)
    expected = p_s * (g - (g * p_s).sum(-1, keepdim=True))
    torch.testing.assert_close(student.grad.double(), expected, atol=1e-7, rtol=1e-5)


def test_probability_mse_plain_math_case():
    loss = ProbabilityMSE()({"intent": torch.zeros(1, 2)}, {"intent": torch.tensor([[math.log(3.0), 0.0]])})
    assert loss.item() == pytest.approx((0.25**2 + 0.25**2) / 2, abs=1e-7)


def test_hard_cross_entropy_on_label_ids_value_and_gradient():
    student = student_logits(4, 3)
    labels = torch.tensor([2, 0, -100, 1])
    loss = HardCrossEntropy()({"intent": student}, {"intent": labels})
    p = softmax(student.detach())
    kept = [0, 1, 3]
    expected = -sum(math.log(p[i, labels[i]].item()) for i in kept) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    grad = p.clone()
    for i in kept:
        grad[i, labels[i]] -= 1
    grad[2] = 0  # -100: no label, no gradient
    torch.testing.assert_close(student.grad.double(), grad / 3, atol=1e-6, rtol=1e-5)


def test_hard_cross_entropy_pseudo_labels_from_teacher_logits():
    student = student_logits(3, 4)
    teacher = torch.randn(3, 4) * 2
    loss = HardCrossEntropy()({"intent": student}, {"intent": teacher})
    loss.backward()
    onehot = torch.nn.functional.one_hot(teacher.argmax(-1), 4).double()
    p = softmax(student.detach())
    assert loss.item() == pytest.approx(-(onehot * p.log()).sum().item() / 3, rel=1e-5)
    torch.testing.assert_close(student.grad.double(), (p - onehot) / 3, atol=1e-6, rtol=1e-5)


def test_min_confidence_drops_low_confidence_rows():
    # teacher max-probabilities: 0.9, 0.5, 0.8 -> with min_confidence 0.7 the middle row does not count
    teacher = torch.tensor([[math.log(0.9), math.log(0.1)], [0.0, 0.0], [math.log(0.2), math.log(0.8)]])
    student = student_logits(3, 2)
    loss = HardCrossEntropy(min_confidence=0.7)({"intent": student}, {"intent": teacher})
    loss.backward()
    p = softmax(student.detach())
    assert loss.item() == pytest.approx(-(math.log(p[0, 0].item()) + math.log(p[2, 1].item())) / 2, rel=1e-5)
    assert student.grad[1].abs().max().item() == 0.0
    assert student.grad[0].abs().max().item() > 0.0
    unfiltered = HardCrossEntropy()({"intent": student}, {"intent": teacher})
    assert unfiltered.item() != pytest.approx(loss.item())


def test_min_confidence_on_slots_drops_words():
    teacher = torch.zeros(1, 3, 2)
    teacher[0, 0] = torch.tensor([5.0, 0.0])  # confident
    teacher[0, 2] = torch.tensor([0.0, 5.0])  # confident; word 1 is uniform (0.5)
    student = student_logits(1, 3, 2)
    mask = torch.ones(1, 3, dtype=torch.bool)
    term = HardCrossEntropy(min_confidence=0.9)
    loss = term({"slots": student, "word_mask": mask}, {"slots": teacher, "word_mask": mask})
    loss.backward()
    p = softmax(student.detach())
    assert loss.item() == pytest.approx(-(math.log(p[0, 0, 0].item()) + math.log(p[0, 2, 1].item())) / 2, rel=1e-5)
    assert student.grad[0, 1].abs().max().item() == 0.0


@pytest.mark.parametrize("term", OUTPUT_TERMS, ids=lambda t: t.name)
def test_padded_and_unseen_words_do_not_contribute(term):
    teacher = teacher_batch(batch=2, words=4)
    teacher["word_mask"] = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]], dtype=torch.bool)  # teacher truncated
    student_mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 0]], dtype=torch.bool)  # student pads word 3
    slots = student_logits(2, 4, 4)
    loss = term({"slots": slots, "word_mask": student_mask}, teacher)
    loss.backward()
    counted = student_mask & teacher["word_mask"]
    assert slots.grad[~counted].abs().max().item() == 0.0
    assert slots.grad[counted].abs().sum().item() > 0.0
    changed = slots.detach().clone()
    changed[~counted] = torch.randn(int((~counted).sum()), 4) * 10
    teacher_changed = dict(teacher, slots=teacher["slots"].clone())
    teacher_changed["slots"][~counted] = 7.0
    again = term({"slots": changed, "word_mask": student_mask}, teacher_changed)
    assert again.item() == pytest.approx(loss.item(), rel=1e-6)


@pytest.mark.parametrize("term", OUTPUT_TERMS, ids=lambda t: t.name)
def test_all_false_mask_gives_zero_not_nan(term):
    slots = student_logits(2, 3, 4)
    teacher = {"slots": torch.randn(2, 3, 4), "word_mask": torch.zeros(2, 3, dtype=torch.bool)}
    loss = term({"slots": slots, "word_mask": torch.ones(2, 3, dtype=torch.bool)}, teacher)
    loss.backward()
    assert loss.item() == 0.0
    assert torch.isfinite(slots.grad).all()


def test_gold_slots_all_ignored_gives_zero():
    slots = student_logits(1, 2, 3)
    loss = HardCrossEntropy()(
        {"slots": slots, "word_mask": torch.ones(1, 2, dtype=torch.bool)}, {"slots": torch.full((1, 2), -100)}
    )
    assert loss.item() == 0.0


def test_heads_missing_on_either_side_are_skipped():
    student = {"intent": student_logits(2, 3)}
    teacher = teacher_batch(batch=2)
    only_intent = KLDivergence()(student, teacher)
    assert only_intent.item() == pytest.approx(KLDivergence()(student, {"intent": teacher["intent"]}).item())


@pytest.mark.parametrize("term", OUTPUT_TERMS, ids=lambda t: t.name)
def test_bf16_large_logits_give_finite_float32_loss(term):
    torch.manual_seed(0)
    teacher = {"intent": (torch.randn(6, 5) * 1e4).bfloat16()}
    student = (torch.randn(6, 5) * 1e4).bfloat16().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = term({"intent": student}, teacher)
    loss.backward()
    assert loss.dtype == torch.float32
    assert torch.isfinite(loss) and torch.isfinite(student.grad.float()).all()
    reference = term({"intent": student.detach().float()}, {"intent": teacher["intent"].float()})
    torch.testing.assert_close(loss, reference)


# ---------------------------------------------------------------- Objective


def test_objective_is_the_weighted_sum_and_logs_each_term():
    terms = [KLDivergence(weight=0.7, temperature=2.0), HardCrossEntropy(weight=0.3), KLDivergence(weight=2.0)]
    objective = Objective(terms)
    teacher = teacher_batch()
    student = {"intent": student_logits(3, 3), "slots": student_logits(3, 5, 4), "word_mask": teacher["word_mask"]}
    total, logs = objective(student, teacher)
    values = [term(student, teacher).item() for term in terms]
    assert list(logs) == ["loss/kl", "loss/hard_ce", "loss/kl_2"]
    assert list(logs.values()) == pytest.approx(values, rel=1e-6)
    assert total.item() == pytest.approx(0.7 * values[0] + 0.3 * values[1] + 2.0 * values[2], rel=1e-6)


def test_zero_weight_term_is_logged_but_not_trained_on():
    student = {"intent": student_logits(3, 4)}
    teacher = {"intent": torch.randn(3, 4)}
    total, logs = Objective([KLDivergence(weight=1.0), HardCrossEntropy(weight=0.0)])(student, teacher)
    total.backward()
    assert logs["loss/hard_ce"] > 0
    grad = student["intent"].grad.clone()
    student["intent"].grad = None
    KLDivergence()(student, teacher).backward()
    torch.testing.assert_close(grad, student["intent"].grad)


class Exploding(KLDivergence):
    """A term whose value and gradient are NaN, recording whether it ran with autograd on."""

    def __init__(self) -> None:
        super().__init__(weight=0.0)
        self.grad_enabled: list[bool] = []

    def forward(self, student, targets, model=None):
        self.grad_enabled.append(torch.is_grad_enabled())
        return student["intent"].float().sum() * math.nan


def test_zero_weight_term_runs_without_autograd_and_cannot_poison_the_sum():
    student = {"intent": student_logits(3, 4)}
    monitor = Exploding()
    total, logs = Objective([KLDivergence(), monitor])(student, {"intent": torch.randn(3, 4)})
    total.backward()
    assert math.isnan(logs["loss/kl_2"]) and monitor.grad_enabled == [False]
    assert torch.isfinite(total) and torch.isfinite(student["intent"].grad).all()


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Objective([]), "objective: terms must list at least one loss term, got none"),
        (lambda: Objective([KLDivergence(weight=0.0), ProbabilityMSE(weight=0)]), "at least one term weight"),
        (lambda: Objective([KLDivergence(weight=-1.0)]), "objective term kl: weight must be finite and >= 0, got -1"),
        (lambda: Objective([SoftCrossEntropy(weight=math.nan)]), "objective term soft_ce: weight must be finite"),
        (lambda: Objective([KLDivergence(temperature=0)]), "objective term kl: temperature must be > 0, got 0"),
        (lambda: Objective([SoftCrossEntropy(temperature=-1.0)]), "objective term soft_ce: temperature must be > 0"),
        (lambda: Objective([HardCrossEntropy(min_confidence=1.5)]), "objective term hard_ce: min_confidence"),
        (lambda: Objective([{"weight": 1.0}]), "objective: each term must be a Term with a _target_, got dict"),
        (lambda: FeatureMatch("hiden", 1, 1), "objective term hiden_s1_t1: feature must be one of"),
        (lambda: FeatureMatch("hidden", 0, 1), "objective term hidden_s0_t1: student_layer must be >= 1"),
        (lambda: FeatureMatch("embeddings", 0, 2), "objective term embeddings_s0_t2: teacher_layer must be 0"),
        (lambda: FeatureMatch("hidden", 1, 1, loss="cos"), "objective term hidden_s1_t1: loss must be mse"),
        (lambda: FeatureMatch("hidden", 1, 1, student_dim=8), "student_dim/teacher_dim must be both set"),
        (lambda: FeatureMatch("attention", 1, 1, student_dim=8, teacher_dim=16), "null for attention"),
    ],
)
def test_invalid_configs_raise_one_line_distillx_error(build, message):
    with pytest.raises(DistillxError) as err:
        build()
    assert message in str(err.value) and "\n" not in str(err.value)


def test_needs_features_is_the_union():
    assert Objective([KLDivergence(), HardCrossEntropy()]).needs_features == frozenset()
    objective = Objective([KLDivergence(), FeatureMatch("hidden", 1, 2), FeatureMatch("attention", 1, 2)])
    assert objective.needs_features == {"hidden_states", "attention_scores"}
    assert FeatureMatch("embeddings", 0, 0).needs_features == {"hidden_states"}


# ---------------------------------------------------------------- FeatureMatch


class TinyStudent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(3, 3)


def hidden_batch(batch=2, tokens=4, student_dim=3, teacher_dim=5, layers=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    attention_mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])[:batch, :tokens]
    student_states = tuple(torch.randn(batch, tokens, student_dim, generator=g) for _ in range(layers + 1))
    teacher_states = tuple(torch.randn(batch, tokens, teacher_dim, generator=g) for _ in range(layers + 1))
    return (
        {"hidden_states": student_states, "attention_mask": attention_mask},
        {"hidden_states": teacher_states, "attention_mask": attention_mask.clone()},
    )


def test_attach_registers_a_projection_in_the_student_state_dict():
    student = TinyStudent()
    objective = Objective([FeatureMatch("hidden", 1, 2, student_dim=3, teacher_dim=5)])
    objective.attach(student)
    projection = student.projections["hidden_s1_t2"]
    assert isinstance(projection, nn.Linear) and (projection.in_features, projection.out_features) == (3, 5)
    assert {"projections.hidden_s1_t2.weight", "projections.hidden_s1_t2.bias"} <= set(student.state_dict())
    assert any(p is projection.weight for p in student.parameters())  # so the optimizer and clipping see it
    assert not list(objective.parameters())  # the objective owns nothing
    objective.attach(student)  # resume: kept, not replaced
    assert student.projections["hidden_s1_t2"] is projection


def test_equal_widths_need_no_projection():
    student = TinyStudent()
    term = FeatureMatch("hidden", 2, 1, student_dim=4, teacher_dim=4)
    term.attach(student)
    assert not hasattr(student, "projections")
    s, t = hidden_batch(student_dim=4, teacher_dim=4)
    counted = s["attention_mask"].bool()
    expected = ((s["hidden_states"][2] - t["hidden_states"][1]) ** 2)[counted].mean()
    assert term(s, t).item() == pytest.approx(expected.item(), rel=1e-6)


def test_hidden_match_value_and_gradients_through_the_projection():
    student = TinyStudent()
    term = FeatureMatch("hidden", 1, 2, student_dim=3, teacher_dim=5)
    term.attach(student)
    s, t = hidden_batch()
    x = s["hidden_states"][1].clone().requires_grad_(True)
    s["hidden_states"] = (s["hidden_states"][0], x, s["hidden_states"][2])
    loss = term(s, t, model=student)
    loss.backward()
    w, b = student.projections["hidden_s1_t2"].weight.detach(), student.projections["hidden_s1_t2"].bias.detach()
    counted = s["attention_mask"].bool()
    n = int(counted.sum()) * 5
    residual = (x.detach() @ w.T + b - t["hidden_states"][2]) * counted[..., None]
    assert loss.item() == pytest.approx((residual**2).sum().item() / n, rel=1e-5)
    torch.testing.assert_close(x.grad, 2 * residual @ w / n)  # zero at padded tokens
    weight_grad = student.projections["hidden_s1_t2"].weight.grad
    torch.testing.assert_close(weight_grad, 2 * torch.einsum("btj,bti->ji", residual, x.detach()) / n)
    assert x.grad[~counted].abs().max().item() == 0.0


def test_hidden_match_ignores_padded_tokens():
    student = TinyStudent()
    term = FeatureMatch("hidden", 1, 1, student_dim=3, teacher_dim=5)
    term.attach(student)
    s, t = hidden_batch()
    before = term(s, t, model=student)
    padded = ~s["attention_mask"].bool()
    s["hidden_states"][1][padded] = 1e3
    t["hidden_states"][1][padded] = -1e3
    assert term(s, t, model=student).item() == pytest.approx(before.item(), rel=1e-6)


def test_tokens_count_only_where_both_attention_masks_are_real():
    term = FeatureMatch("hidden", 1, 1)
    s, t = hidden_batch(student_dim=4, teacher_dim=4)
    t["attention_mask"][0, 2] = 0  # a token only the student has as real
    s["attention_mask"][1, 1] = 0  # and one only the teacher has
    counted = s["attention_mask"].bool() & t["attention_mask"].bool()
    expected = ((s["hidden_states"][1] - t["hidden_states"][1]) ** 2)[counted].mean()
    assert term(s, t).item() == pytest.approx(expected.item(), rel=1e-6)


def test_layers_index_hidden_states_and_embeddings_is_index_0():
    s, t = hidden_batch(student_dim=4, teacher_dim=4)
    t["hidden_states"] = (s["hidden_states"][0], s["hidden_states"][2], s["hidden_states"][1])
    assert FeatureMatch("hidden", 2, 1)(s, t).item() == 0.0
    assert FeatureMatch("hidden", 1, 1)(s, t).item() > 0.0
    assert FeatureMatch("embeddings", 0, 0)(s, t).item() == 0.0


def test_missing_projection_and_mismatched_tokens_fail_clearly():
    s, t = hidden_batch()
    with pytest.raises(RuntimeError, match="Objective.attach"):
        FeatureMatch("hidden", 1, 1, student_dim=3, teacher_dim=5)(s, t, model=TinyStudent())
    s, t = hidden_batch(student_dim=4, teacher_dim=4)
    t = {"hidden_states": tuple(h[:, :3] for h in t["hidden_states"])}
    with pytest.raises(DistillxError, match="one tokenization"):
        FeatureMatch("hidden", 1, 1)(s, t)


def test_attention_match_excludes_padded_query_and_key_positions():
    torch.manual_seed(0)
    attention_mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    real = attention_mask.bool()
    pair = real[:, None, :, None] & real[:, None, None, :]
    s_scores = torch.randn(2, 2, 4, 4)
    t_scores = torch.randn(2, 2, 4, 4)
    # transformers' masking: padded keys hold finfo.min (bf16's on the teacher side), padded queries garbage
    s_scores = s_scores.masked_fill(~real[:, None, None, :], torch.finfo(torch.float32).min)
    t_scores = t_scores.masked_fill(~real[:, None, None, :], torch.finfo(torch.bfloat16).min)
    s_scores[~pair.expand_as(s_scores)] += 100.0
    s_scores.requires_grad_(True)
    student = {"attention_scores": (s_scores,), "attention_mask": attention_mask}
    teacher = {"attention_scores": (torch.zeros(1), t_scores), "attention_mask": attention_mask}
    loss = FeatureMatch("attention", 1, 2)(student, teacher)  # layer 1 = scores[0], layer 2 = scores[1]
    loss.backward()
    counted = pair.expand_as(s_scores)
    diff = (s_scores.detach() - t_scores)[counted]
    assert torch.isfinite(loss) and loss.item() == pytest.approx(diff.pow(2).mean().item(), rel=1e-6)
    expected_grad = torch.zeros_like(s_scores)
    expected_grad[counted] = 2 * diff / diff.numel()
    torch.testing.assert_close(s_scores.grad, expected_grad)


# ---------------------------------------------------------------- the config form


def test_objective_instantiates_from_yaml():
    cfg = OmegaConf.create(
        """
        objective:
          _target_: distillx.distill.objectives.Objective
          terms:
            - {_target_: distillx.distill.objectives.KLDivergence, weight: 1.0, temperature: 2.0}
            - {_target_: distillx.distill.objectives.HardCrossEntropy, weight: 0.5, min_confidence: 0.9}
            - _target_: distillx.distill.objectives.FeatureMatch
              feature: hidden
              student_layer: 1
              teacher_layer: 2
              weight: 0.1
              student_dim: 3
              teacher_dim: 5
        """
    )
    objective = instantiate(cfg.objective)
    assert isinstance(objective, Objective)
    assert [type(t).__name__ for t in objective.terms] == ["KLDivergence", "HardCrossEntropy", "FeatureMatch"]
    assert [t.weight for t in objective.terms] == [1.0, 0.5, 0.1]
    assert objective.terms[0].temperature == 2.0 and objective.terms[1].min_confidence == 0.9
    student_model = TinyStudent()
    objective.attach(student_model)
    s, t = hidden_batch()
    s["intent"], t["intent"] = torch.randn(2, 3), torch.randn(2, 3)
    total, logs = objective(s, t, model=student_model)
    assert set(logs) == {"loss/kl", "loss/hard_ce", "loss/hidden_s1_t2"} and torch.isfinite(total)


def test_invalid_yaml_surfaces_the_distillx_error():
    cfg = OmegaConf.create(
        """
        _target_: distillx.distill.objectives.Objective
        terms:
          - {_target_: distillx.distill.objectives.KLDivergence, temperature: 0}
        """
    )
    with pytest.raises(InstantiationException) as err:
        instantiate(cfg)
    cause = err.value
    while cause is not None and not isinstance(cause, DistillxError):
        cause = cause.__cause__
    assert cause is not None and "temperature must be > 0, got 0" in str(cause)
