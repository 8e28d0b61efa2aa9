"""The automatic confidence threshold of self-training (selftraining-without-parallel.md §3.2, Eq. 3; §5.3).

A fixed threshold for keeping pseudo labels is either too low (noisy labels) or too high (too few, too similar
ones), and the best value changes with the model and the round (Table 8). So each round the model trained on
soft labels predicts the labelled source-language data, the accuracy of the predictions whose confidence exceeds
``t`` is measured over a grid of ``t`` (Eq. 3), and ``alpha`` is the point of greatest curvature of that curve:
its knee by Kneedle (Satopää et al. 2011, the ``kneed`` package). The same ``alpha`` then filters the target
language's pseudo labels, whose curve has the same shape (Fig. 2). Where the curve has no knee (flat, too short,
or no bend) a configured fallback threshold is used, and the choice says why.

The knee is the *global* maximum of Kneedle's difference curve, not ``KneeLocator.knee``, which is the *first*
local maximum followed by a drop of S steps: an empirical accuracy curve wiggles (each grid step moves a few
predictions), and on 2000 sampled predictions whose analytic curve bends at 0.66 the first-maximum rule answered
0.0-0.54 (median 0.24) over 40 seeds, the global maximum 0.40-0.79 (median 0.61)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from distillx.errors import DistillxError
from distillx.files import atomic_write

MIN_POINTS = 3
"""Kneedle needs at least three points to see a bend; fewer finite accuracies fall back."""


@dataclass
class ThresholdChoice:
    """The chosen threshold, how it was chosen, and the curves it was read from (for the plot and the log)."""

    alpha: float
    knee: bool
    reason: str
    grid: list[float]
    accuracy: list[float]
    recall: list[float]


def threshold_grid(start: float = 0.0, stop: float = 0.99, num: int = 100) -> list[float]:
    """``num`` evenly spaced thresholds from ``start`` to ``stop`` (both included), rounded to 10 decimals so
    that grid points are the values they print as (0.8, not 0.8000000000000002)."""
    if isinstance(num, bool) or not isinstance(num, int) or num < MIN_POINTS:
        raise DistillxError(f"threshold grid: num must be an integer >= {MIN_POINTS}, got {num!r}")
    if not (0.0 <= start < stop < 1.0):
        raise DistillxError(f"threshold grid: need 0 <= start < stop < 1, got start={start!r}, stop={stop!r}")
    step = (stop - start) / (num - 1)
    return [round(start + i * step, 10) for i in range(num - 1)] + [float(stop)]


def accuracy_curve(
    confidence: torch.Tensor, correct: torch.Tensor, grid: Sequence[float]
) -> tuple[list[float], list[float]]:
    """Accuracy and recall of the predictions kept at each threshold of ``grid`` (Eq. 3).

    A prediction is kept at ``t`` when its confidence exceeds ``t`` strictly, compared in the confidence's own
    dtype (as ``confidence > t`` does in torch); a negative (or NaN) confidence is never kept. Accuracy is the share
    of kept predictions that are correct (NaN when none is kept); recall is the share of all N predictions kept."""
    confidence, correct = _check_inputs(confidence, correct)
    grid = _check_grid(grid)
    n = confidence.numel()
    valid = confidence >= 0  # also drops NaN
    conf = confidence[valid]
    order = torch.argsort(conf)
    conf = conf[order].double()  # exact: every float dtype widens to float64 without rounding
    hits = correct[valid][order].double()
    # hits_above[k] = number of correct predictions among sorted positions k.. (the kept ones when k are dropped)
    hits_above = torch.cat([torch.flip(torch.cumsum(torch.flip(hits, [0]), 0), [0]), hits.new_zeros(1)])
    ts = torch.tensor(grid, dtype=confidence.dtype).double()  # the thresholds as the confidence's dtype sees them
    dropped = torch.searchsorted(conf, ts, right=True)  # positions with conf <= t
    kept = conf.numel() - dropped
    accuracy = [float(hits_above[d]) / float(k) if k > 0 else math.nan for d, k in zip(dropped, kept, strict=True)]
    recall = [float(k) / n for k in kept]
    return accuracy, recall


def choose_threshold(
    confidence: torch.Tensor,
    correct: torch.Tensor,
    grid: Sequence[float],
    fallback: float,
    sensitivity: float = 1.0,
) -> ThresholdChoice:
    """``alpha`` at the knee (greatest curvature) of the accuracy curve over ``grid`` (Eq. 3): the global maximum
    of Kneedle's difference curve. ``fallback`` when the curve has fewer than 3 finite points, is flat, or has no
    knee. ``sensitivity`` is Kneedle's S: larger asks for a more pronounced bend."""
    if isinstance(fallback, bool) or not isinstance(fallback, (int, float)) or not (0.0 <= fallback < 1.0):
        raise DistillxError(f"threshold fallback must be a number in [0, 1), got {fallback!r}; set it in the config")
    if isinstance(sensitivity, bool) or not isinstance(sensitivity, (int, float)) or not sensitivity >= 0:
        raise DistillxError(f"threshold sensitivity (Kneedle's S) must be a number >= 0, got {sensitivity!r}")
    grid = _check_grid(grid)
    accuracy, recall = accuracy_curve(confidence, correct, grid)
    xs = [t for t, a in zip(grid, accuracy, strict=True) if math.isfinite(a)]
    ys = [a for a in accuracy if math.isfinite(a)]

    def fall_back(why: str) -> ThresholdChoice:
        reason = f"{why}: using the threshold fallback {fallback:g}"
        return ThresholdChoice(float(fallback), False, reason, grid, accuracy, recall)

    if len(xs) < MIN_POINTS:
        return fall_back(f"only {len(xs)} of {len(grid)} thresholds keep any prediction (need {MIN_POINTS})")
    if max(ys) - min(ys) <= 1e-12:
        return fall_back(f"the accuracy curve is flat ({ys[0]:.3f} at every threshold), so it has no knee")
    alpha = _kneedle_global_knee(xs, ys, sensitivity)
    if alpha is None:
        return fall_back("Kneedle found no knee in the accuracy curve")
    return ThresholdChoice(alpha, True, f"knee of the accuracy curve at {alpha:g}", grid, accuracy, recall)


def _kneedle_global_knee(xs: list[float], ys: list[float], sensitivity: float) -> float | None:
    """The x of the global maximum of Kneedle's difference curve (normalised accuracy minus normalised threshold),
    if it is an interior point and the curve later falls below it by more than ``sensitivity`` mean grid steps
    (Kneedle's own test that a maximum is a knee); else None."""
    import numpy as np
    from kneed import KneeLocator  # imported here: only the rounds that choose a threshold pay for it

    with warnings.catch_warnings():  # kneed warns "No knee/elbow found"; the reason says so instead
        warnings.simplefilter("ignore")
        kl = KneeLocator(xs, ys, S=sensitivity, curve="concave", direction="increasing")
    difference = np.asarray(kl.y_difference, dtype=float)
    best = int(np.argmax(difference))
    if best == 0 or best == len(difference) - 1:
        return None  # the curve never bends above its chord: no knee inside the grid
    drop = sensitivity * float(np.abs(np.diff(kl.x_normalized)).mean())
    if not (difference[best + 1 :] < difference[best] - drop).any():
        return None
    return float(xs[best])


def plot_threshold(choice: ThresholdChoice, path: Path, title: str) -> Path:
    """Accuracy (blue) and recall (red) against the threshold with ``alpha`` marked (paper Fig. 2), as a PNG
    written atomically (absent or complete, never half-written); returns ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # imported here: only stages that plot pay for it
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure registry to disturb or close

    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(choice.grid, choice.accuracy, color="tab:blue", label="accuracy")
    ax.plot(choice.grid, choice.recall, color="tab:red", label="recall")
    how = "knee" if choice.knee else "fallback"
    ax.axvline(choice.alpha, color="0.3", linestyle="--", label=f"alpha = {choice.alpha:.2f} ({how})")
    ax.set_xlabel("confidence threshold")
    ax.set_ylabel("rate")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.legend(loc="lower left")
    fig.tight_layout()
    path = Path(path)
    atomic_write(path, lambda fh: fig.savefig(fh, format="png"))
    return path


def _check_inputs(confidence: torch.Tensor, correct: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(confidence, torch.Tensor) or not confidence.is_floating_point() or confidence.dim() != 1:
        raise DistillxError("threshold: confidence must be a 1-D float tensor [N]")
    if not isinstance(correct, torch.Tensor) or correct.shape != confidence.shape:
        raise DistillxError(f"threshold: correct must be a tensor of shape {tuple(confidence.shape)} like confidence")
    if confidence.numel() == 0:
        raise DistillxError("threshold: no predictions to choose a threshold from (N = 0); check the source data")
    return confidence.detach().cpu(), correct.detach().cpu().bool()


def _check_grid(grid: Sequence[float]) -> list[float]:
    values = [float(t) for t in grid]
    if not values:
        raise DistillxError("threshold grid is empty")
    if any(not math.isfinite(t) for t in values) or any(b <= a for a, b in zip(values, values[1:], strict=False)):
        raise DistillxError(f"threshold grid must be finite and strictly increasing, got {values[:5]}...")
    return values
