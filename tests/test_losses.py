"""KD loss: value and gradient against hand-computed cases, and stability for large logits under bf16."""

import math

import pytest
import torch

from distillx.distill.losses import KDLoss, kd_kl_divergence


def test_kl_value_and_gradient_match_hand_computation():
    # teacher p_T = (0.75, 0.25); student uniform p_S = (0.5, 0.5)
    teacher = torch.tensor([[math.log(3.0), 0.0]])
    student = torch.zeros(1, 2, requires_grad=True)
    loss = KDLoss(temperature=1.0)({"intent": student}, {"intent": teacher})
    expected = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    assert loss.item() == pytest.approx(expected, abs=1e-6)  # 0.130812
    loss.backward()
    # d KL / d student_logits = p_S - p_T
    assert student.grad[0].tolist() == pytest.approx([-0.25, 0.25], abs=1e-6)


def test_temperature_scales_by_t_squared_and_softens():
    teacher = torch.tensor([[2.0, 0.0, -2.0]])
    student = torch.tensor([[0.5, 0.2, 0.1]], requires_grad=True)
    t = 2.0
    loss = kd_kl_divergence(student, teacher, temperature=t)
    p_t = torch.softmax(teacher / t, -1)
    p_s = torch.softmax(student.detach() / t, -1)
    expected = (p_t * (p_t.log() - p_s.log())).sum() * t**2
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    loss.backward()
    assert student.grad[0].tolist() == pytest.approx((t * (p_s - p_t))[0].tolist(), abs=1e-6)


def test_mean_over_rows_and_mask():
    teacher = torch.tensor([[math.log(3.0), 0.0], [0.0, 0.0]])
    student = torch.zeros(2, 2)
    one_row = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert kd_kl_divergence(student, teacher).item() == pytest.approx(one_row / 2, abs=1e-6)
    mask = torch.tensor([True, False])
    assert kd_kl_divergence(student, teacher, mask=mask).item() == pytest.approx(one_row, abs=1e-6)


def test_zero_when_student_equals_teacher():
    logits = torch.randn(4, 7)
    assert kd_kl_divergence(logits, logits.clone()).item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("scale", [1e2, 1e4, 3e4])
def test_stable_for_large_logits_under_bf16_autocast(scale):
    torch.manual_seed(0)
    teacher = (torch.randn(8, 5) * scale).bfloat16()
    student_fp32 = torch.randn(8, 5) * scale
    student = student_fp32.clone().bfloat16().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = KDLoss(temperature=2.0)({"intent": student}, {"intent": teacher})
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(student.grad).all()
    reference = kd_kl_divergence(student.detach().float(), teacher.float(), temperature=2.0)
    assert loss.item() == pytest.approx(reference.item(), rel=1e-3)
    # a naive softmax-then-log underflows to log(0) for the same inputs
    naive = (torch.softmax(teacher.float() / 2, -1) * torch.softmax(student.detach().float() / 2, -1).log()).sum()
    assert not torch.isfinite(naive)


def test_rejects_non_positive_temperature():
    with pytest.raises(ValueError):
        KDLoss(temperature=0.0)
