"""The automatic confidence threshold (selftraining-without-parallel.md §3.2, Eq. 3): the accuracy/recall curves
are counted exactly, alpha lands at the knee of a saturating accuracy curve (not at its maximum or an end of the
grid), a curve without a knee falls back and says why, and the plot is written."""

import math

import pytest
import torch
from kneed import KneeLocator

from distillx.distill.threshold import accuracy_curve, choose_threshold, plot_threshold, threshold_grid
from distillx.errors import DistillxError

BEND = 0.8


def p_correct(c: torch.Tensor) -> torch.Tensor:
    """Correctness probability: rises steeply (0.2 -> 0.9) up to confidence 0.8, then almost flat (-> 1.0)."""
    return torch.where(c < BEND, 0.2 + 0.7 * c / BEND, 0.9 + 0.5 * (c - BEND))


def integral_p(c: float) -> float:
    if c < BEND:
        return 0.2 * c + 0.7 * c * c / (2 * BEND)
    return integral_p(BEND - 1e-12) + 0.9 * (c - BEND) + 0.25 * (c - BEND) ** 2


def analytic_knee(grid: list[float]) -> float:
    """Kneedle's knee of the exact accuracy curve E[p(c) | c > t] for c ~ U(0, 1) (0.66 on the default grid)."""
    accuracy = [(integral_p(1.0) - integral_p(t)) / (1.0 - t) for t in grid]
    return float(KneeLocator(grid, accuracy, curve="concave", direction="increasing").knee)


def even_predictions(n: int, prob) -> tuple[torch.Tensor, torch.Tensor]:
    """Confidences evenly spread over (0, 1), correct with local frequency ``prob(c)`` (error diffusion: the
    least noise a finite sample can have)."""
    c = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    hits = torch.floor(torch.cumsum(prob(c), 0) + 0.5)
    return c.float(), torch.diff(hits, prepend=torch.zeros(1)) > 0


def sampled_predictions(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    c = torch.rand(n, generator=g)
    return c, torch.rand(n, generator=g) < p_correct(c)


# ---------------------------------------------------------------------------------------------------- curves
def test_accuracy_curve_counts_strictly_above_threshold():
    confidence = torch.tensor([0.25, 0.5, 0.75, 0.875, -1.0])  # binary fractions: exact in float32
    correct = torch.tensor([False, True, False, True, True])  # the last is never kept (voters disagree)
    accuracy, recall = accuracy_curve(confidence, correct, [0.0, 0.25, 0.5, 0.75, 0.875, 0.9])
    assert recall == [4 / 5, 3 / 5, 2 / 5, 1 / 5, 0.0, 0.0]
    assert accuracy[:4] == [2 / 4, 2 / 3, 1 / 2, 1 / 1]  # 0.25 is not kept at t = 0.25: "exceeds", strictly
    assert math.isnan(accuracy[4]) and math.isnan(accuracy[5])  # nothing exceeds 0.875


def test_accuracy_curve_compares_in_the_confidence_dtype():
    """float32 0.8 is kept at t = 0.8 in float64, but not by ``confidence > 0.8``, which the selection will use."""
    accuracy, recall = accuracy_curve(torch.tensor([0.8, 0.9]), torch.tensor([True, False]), [0.8])
    assert recall == [0.5] and accuracy == [0.0]


def test_threshold_grid_is_even_and_validated():
    grid = threshold_grid()
    assert len(grid) == 100 and grid[0] == 0.0 and grid[-1] == 0.99 and grid[80] == 0.8
    assert threshold_grid(0.5, 0.9, 5) == [0.5, 0.6, 0.7, 0.8, 0.9]
    for bad in [dict(start=0.5, stop=0.5), dict(start=-0.1), dict(stop=1.0), dict(num=2), dict(num=10.0)]:
        with pytest.raises(DistillxError, match="threshold grid"):
            threshold_grid(**bad)


# ---------------------------------------------------------------------------------------------------- the knee
def test_alpha_is_the_knee_of_a_saturating_accuracy_curve():
    grid = threshold_grid()
    expected = analytic_knee(grid)
    assert 0.6 <= expected <= 0.72  # the bend of E[p | c > t] sits before p's own bend at 0.8
    choice = choose_threshold(*even_predictions(2000, p_correct), grid, fallback=0.9)
    assert choice.knee and choice.alpha == pytest.approx(expected, abs=0.03)
    assert choice.reason == f"knee of the accuracy curve at {choice.alpha:g}"
    best = max(range(len(grid)), key=lambda i: choice.accuracy[i] if math.isfinite(choice.accuracy[i]) else -1.0)
    assert grid[best] > 0.9  # so picking the most accurate threshold would fail the check above


def test_alpha_is_near_the_knee_on_sampled_predictions():
    """Bernoulli noise: Kneedle's *first* local maximum lands at 0.0-0.54 here; the global one stays near 0.66."""
    grid = threshold_grid()
    alphas = [choose_threshold(*sampled_predictions(2000, seed), grid, fallback=0.9).alpha for seed in range(5)]
    assert all(0.35 <= a <= 0.85 for a in alphas), alphas
    assert sorted(alphas)[2] == pytest.approx(analytic_knee(grid), abs=0.1), alphas


# ---------------------------------------------------------------------------------------------------- fallback
def test_flat_curve_falls_back():
    confidence = torch.linspace(0.0, 1.0, 200)
    choice = choose_threshold(confidence, torch.ones(200, dtype=torch.bool), threshold_grid(), fallback=0.9)
    assert not choice.knee and choice.alpha == 0.9
    assert "flat" in choice.reason and "fallback 0.9" in choice.reason
    assert len(choice.accuracy) == len(choice.recall) == len(choice.grid) == 100


def test_too_few_finite_points_falls_back():
    confidence = torch.tensor([0.005, 0.015, -1.0, 0.001])  # kept only at t = 0.0 and t = 0.01
    correct = torch.tensor([True, False, True, False])
    choice = choose_threshold(confidence, correct, threshold_grid(), fallback=0.5)
    assert not choice.knee and choice.alpha == 0.5
    assert "only 2 of 100 thresholds" in choice.reason and "fallback 0.5" in choice.reason
    assert sum(math.isfinite(a) for a in choice.accuracy) == 2


def test_convex_curve_has_no_knee_and_falls_back():
    """Correct almost only at the top (p = c^4): accuracy rises ever faster, never bends over."""
    choice = choose_threshold(*even_predictions(2000, lambda c: c**4), threshold_grid(), fallback=0.9)
    assert not choice.knee and choice.alpha == 0.9 and "no knee" in choice.reason


def test_invalid_fallback_and_inputs_raise():
    confidence, correct = torch.tensor([0.2, 0.7]), torch.tensor([True, False])
    grid = threshold_grid()
    for fallback in (1.0, -0.1, float("nan")):
        with pytest.raises(DistillxError, match="threshold fallback"):
            choose_threshold(confidence, correct, grid, fallback=fallback)
    with pytest.raises(DistillxError, match="N = 0"):
        choose_threshold(torch.zeros(0), torch.zeros(0, dtype=torch.bool), grid, fallback=0.9)
    with pytest.raises(DistillxError, match="shape"):
        choose_threshold(confidence, torch.tensor([True]), grid, fallback=0.9)
    with pytest.raises(DistillxError, match="strictly increasing"):
        choose_threshold(confidence, correct, [0.5, 0.2, 0.9], fallback=0.9)


# ---------------------------------------------------------------------------------------------------- plot
def test_plot_threshold_writes_a_png(tmp_path):
    choice = choose_threshold(*even_predictions(500, p_correct), threshold_grid(), fallback=0.9)
    path = plot_threshold(choice, tmp_path / "plots" / "threshold_round1.png", "round 1: en")
    assert path == tmp_path / "plots" / "threshold_round1.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind
