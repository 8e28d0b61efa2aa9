"""The Voters Module of selftraining-without-parallel.md §3.2: M small networks on the shared encoder's output that
replace a task head during self-training, and the decision policy of its Eq. 4.

Each voter is ``Linear(in_dim, h_i) -> GELU -> Dropout -> Linear(h_i, num_labels)``; the voters differ only in
their intermediate size ``h_i``, so with the same input they give similar yet not identical predictions. A
pseudo-label is kept only when every voter's argmax is the same class j and every voter's probability of j exceeds
the threshold alpha (:func:`vote`). What is scored, and what a teacher with voters hands its student, is the
ensemble: the mean of the voters' probabilities (:func:`ensemble_logits`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from distillx.errors import DistillxError


class Voters(nn.Module):
    """M independent two-layer classifiers over the same ``in_dim`` features; ``forward`` maps ``[..., in_dim]``
    to the raw logits of every voter, ``[..., M, num_labels]`` (voter m at index m of dimension -2)."""

    def __init__(self, in_dim: int, num_labels: int, hidden_sizes: Sequence[int], dropout: float) -> None:
        super().__init__()
        sizes = list(hidden_sizes)
        if len(sizes) < 2 or any(int(h) != h or h < 1 for h in sizes):
            raise DistillxError(
                f"voters: need at least 2 voters with intermediate sizes >= 1 (a list such as [248, 256, 264]), "
                f"got {sizes}"
            )
        self.hidden_sizes = tuple(int(h) for h in sizes)
        self.voters = nn.ModuleList(
            nn.Sequential(nn.Linear(in_dim, h), nn.GELU(), nn.Dropout(dropout), nn.Linear(h, num_labels))
            for h in self.hidden_sizes
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.stack([voter(x) for voter in self.voters], dim=-2)


def ensemble_logits(voter_logits: Tensor) -> Tensor:
    """``[..., M, C] -> [..., C]``: the log of the mean of the voters' softmax probabilities, in float32 through
    logsumexp so it stays finite for huge logits; its softmax is exactly the voters' mean probability."""
    log_p = F.log_softmax(voter_logits.float(), dim=-1)
    return torch.logsumexp(log_p, dim=-2) - math.log(voter_logits.size(-2))


def vote(voter_logits: Tensor) -> tuple[Tensor, Tensor]:
    """Eq. 4 on ``[..., M, C]`` logits: ``(labels [...], confidence [...])``. Where every voter's argmax is the same
    class, that class and the smallest probability any voter gives it; where they disagree, the ensemble's argmax
    and -1.0. So ``confidence > alpha`` (any alpha >= 0) is exactly Eq. 4's rule: all voters agree on j and all
    their probabilities of j exceed alpha."""
    probs = F.softmax(voter_logits.float(), dim=-1)
    choices = probs.argmax(-1)  # [..., M]
    agree = (choices == choices[..., :1]).all(-1)
    labels = torch.where(agree, choices[..., 0], ensemble_logits(voter_logits).argmax(-1))
    index = labels[..., None, None].expand(*labels.shape, probs.size(-2), 1)
    weakest = probs.gather(-1, index).squeeze(-1).amin(-1)
    return labels, torch.where(agree, weakest, torch.full_like(weakest, -1.0))


def confidence(logits: Tensor) -> tuple[Tensor, Tensor]:
    """The no-voters case on ``[..., C]`` logits: ``(argmax [...], max softmax probability [...])``."""
    best, labels = F.softmax(logits.float(), dim=-1).max(-1)
    return labels, best
