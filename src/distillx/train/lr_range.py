"""LR range test (Smith 2015/2017, "Cyclical learning rates"; freetransfer-x.md §3.3.2 chose every initial LR
with it): train briefly while the LR grows exponentially, watch the loss, and take the LR where it falls fastest.

The test is a side trip: it leaves the model's weights, its train/eval mode and the global RNG state as it found
them, so a stage that runs it trains exactly as if it had been handed the suggested LR, and resumes the same."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from distillx.files import atomic_write
from distillx.train.batching import EncodedSet, bucketed_batches, collate, collate_targets
from distillx.train.precision import autocast, grad_scaler

RULES = ("min_div10", "steepest")
"""How the LR is read off the curve: ``min_div10``, a tenth of the LR at the smoothed loss's minimum (the default:
robust); ``steepest``, the LR where the smoothed loss falls fastest per decade of LR. On the tests' noisy toy
problem ``min_div10`` picked a LR that trained well in 18 of 18 sweeps, ``steepest`` in 11: the slope of a noisy,
lagging moving average often peaks too early (noise) or too late (the average trails the raw loss by dozens of
steps, i.e. by a decade or more of LR)."""

LossFn = Callable[..., "torch.Tensor | tuple[torch.Tensor, Mapping[str, float]]"]


@dataclass
class LRRangeResult:
    """The sweep (one entry per step actually taken) and the LR it suggests."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggested_lr: float
    rule: str = "min_div10"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def exponential_lrs(min_lr: float, max_lr: float, steps: int) -> list[float]:
    """``steps`` LRs from ``min_lr`` to ``max_lr``, equally spaced in log LR (every decade gets the same steps)."""
    if not 0 < min_lr < max_lr:
        raise ValueError(f"LR range test needs 0 < min_lr < max_lr, got {min_lr} and {max_lr}")
    if steps < 2:
        raise ValueError(f"LR range test needs at least 2 steps, got {steps}")
    ratio = max_lr / min_lr
    return [min_lr * ratio ** (i / (steps - 1)) for i in range(steps)]


def suggest_lr(lrs: list[float], smoothed: list[float], rule: str = "min_div10") -> float:
    """The LR ``rule`` reads off the smoothed curve (see :data:`RULES`).

    The first tenth of the sweep is ignored: the moving average rests on a handful of batches there, and one
    lucky first batch would otherwise be the "minimum". ``steepest`` looks only at the descent up to the loss
    minimum, so a dip after a divergence spike never wins; with fewer than 3 points on that descent there is no
    slope to trust and it falls back to ``min_div10``."""
    if rule not in RULES:
        raise ValueError(f"unknown LR range rule {rule!r}; choose one of {', '.join(RULES)}")
    if not lrs:
        raise ValueError("LR range test recorded no finite loss")
    skip = len(lrs) // 10
    best = min(range(skip, len(smoothed)), key=smoothed.__getitem__)
    if rule == "steepest" and best - skip >= 2:
        xs = [math.log10(lr) for lr in lrs[skip : best + 1]]
        ys = smoothed[skip : best + 1]
        last = len(ys) - 1
        # central differences inside, one-sided at the ends (what numpy.gradient does on an uneven grid's edges)
        slopes = [
            (ys[min(i + 1, last)] - ys[max(i - 1, 0)]) / (xs[min(i + 1, last)] - xs[max(i - 1, 0)])
            for i in range(last + 1)
        ]
        return lrs[skip + min(range(len(slopes)), key=slopes.__getitem__)]
    return max(lrs[0], lrs[best] / 10)


def _cycle(lengths: list[int], batch_size: int, generator: torch.Generator, bucket: int) -> Iterator[list[int]]:
    """Length-bucketed batches as in training, reshuffled for every pass when the sweep outlasts an epoch."""
    while True:
        yield from bucketed_batches(lengths, batch_size, generator, bucket)


def lr_range_test(
    model: nn.Module,
    data: EncodedSet,
    loss_fn: LossFn,
    optimizer_factory: Callable[..., torch.optim.Optimizer],
    *,
    min_lr: float = 1e-7,
    max_lr: float = 1.0,
    steps: int = 100,
    batch_size: int,
    device: torch.device,
    precision: str,
    seed: int,
    smooth: float = 0.98,
    diverge_factor: float = 4.0,
    rule: str = "min_div10",
    max_grad_norm: float | None = None,
    bucket_batches: int = 50,
) -> LRRangeResult:
    """One optimizer step per LR of :func:`exponential_lrs` on a throwaway optimizer, recording the training loss
    and its bias-corrected exponential moving average (weight ``smooth``; raw per-batch losses are too noisy to
    read). The sweep stops once the smoothed loss exceeds ``diverge_factor`` x its best so far, or a loss is not
    finite: past that point the model is wrecked and the rest of the curve says nothing.

    Steps mirror training (bucketed batches, autocast, loss scaling, clipping at ``max_grad_norm``) so that the
    suggestion holds for the loop that uses it. Weights and buffers are restored afterwards and the global RNG
    (dropout) runs on a fork seeded with ``seed``: the caller's model and random stream are left untouched."""
    if data.targets is None or len(data) == 0:
        raise ValueError("LR range test needs training data with targets")
    if rule not in RULES:
        raise ValueError(f"unknown LR range rule {rule!r}; choose one of {', '.join(RULES)}")
    schedule = exponential_lrs(min_lr, max_lr, steps)
    model.to(device)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}  # the sweep cannot change these
    snapshot = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items() if k not in frozen}
    was_training = model.training
    params = [p for p in model.parameters() if p.requires_grad]
    lengths = [len(r) for r in data.input_ids]
    batches = _cycle(lengths, batch_size, torch.Generator().manual_seed(seed), bucket_batches)
    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    cuda_devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    try:
        with torch.random.fork_rng(devices=cuda_devices):
            torch.manual_seed(seed)
            optimizer = optimizer_factory(params, lr=schedule[0])
            scaler = grad_scaler(device, precision)
            model.train()
            avg, best = 0.0, math.inf
            for step, lr in enumerate(schedule):
                for group in optimizer.param_groups:
                    group["lr"] = lr
                idx = next(batches)
                with autocast(device, precision):
                    outputs = model(**collate(data, idx, device))
                loss = loss_fn(outputs, collate_targets(data.targets, idx, device), model=model)
                if isinstance(loss, tuple):  # an objective: (loss, each term's value)
                    loss = loss[0]
                value = loss.item()
                if not math.isfinite(value):
                    break
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if max_grad_norm:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
                scaler.step(optimizer)
                scaler.update()
                avg = smooth * avg + (1 - smooth) * value
                current = avg / (1 - smooth ** (step + 1))
                lrs.append(lr)
                losses.append(value)
                smoothed.append(current)
                best = min(best, current)
                if current > diverge_factor * best:
                    break
    finally:
        model.load_state_dict(snapshot, strict=False)
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return LRRangeResult(lrs, losses, smoothed, suggest_lr(lrs, smoothed, rule), rule)


def plot_lr_range(result: LRRangeResult, path: Path) -> None:
    """Loss (raw and smoothed) against LR on a log axis with the suggestion marked, as a PNG written atomically
    (the file is either absent or complete, so a killed run never leaves a broken artifact to upload)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # imported here: only stages that plot pay for it
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure registry to disturb

    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(result.lrs, result.losses, color="0.75", linewidth=0.8, label="loss")
    ax.plot(result.lrs, result.smoothed, color="C0", label="smoothed loss")
    ax.axvline(result.suggested_lr, color="C3", linestyle="--", label=f"suggested {result.suggested_lr:.2e}")
    ax.set_xscale("log")
    if result.smoothed:  # the raw loss can shoot up by orders of magnitude at the end: keep the curve readable
        low, high = min(min(result.losses), min(result.smoothed)), max(result.smoothed)
        if high > low:
            ax.set_ylim(low - 0.05 * (high - low), high + 0.05 * (high - low))
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title(f"LR range test ({result.rule})")
    ax.legend()
    fig.tight_layout()
    atomic_write(Path(path), lambda fh: fig.savefig(fh, format="png"))
