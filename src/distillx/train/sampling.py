"""How an epoch's training rows are grouped into batches: mixed-language or one language per batch.

Both samplers are built by Hydra (``_target_: distillx.train.sampling.LanguageBatches``) and share one call,
``epoch(lengths, languages, batch_size, generator)``, so the training loop does not care which it holds."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping

import torch

from distillx.errors import DistillxError
from distillx.train.batching import bucketed_batches

STRATEGIES = {"uniform": 0.0, "proportional": 1.0}
"""Named strategies and the exponent they stand for; ``alpha`` uses the configured one."""


def batch_language(languages: list[str] | None, indices: list[int]) -> str | None:
    """The language of a batch when all its rows share one (per-language logging), else None."""
    if languages is None or not indices:
        return None
    found = {languages[i] for i in indices}
    return found.pop() if len(found) == 1 else None


class MixedBatches:
    """Length-bucketed batches over all rows, languages mixed: the loop's behaviour before language sampling."""

    def __init__(self, bucket_batches: int = 50) -> None:
        self.bucket_batches = bucket_batches

    def epoch(
        self, lengths: list[int], languages: list[str] | None, batch_size: int, generator: torch.Generator
    ) -> list[list[int]]:
        """Every row exactly once; ``languages`` is ignored."""
        return bucketed_batches(lengths, batch_size, generator, self.bucket_batches)


class LanguageBatches:
    """One language per batch, the language of each step drawn with ``q_l = p_l^alpha / sum_k p_k^alpha``
    (``p_l``: the language's share of the rows), as in multilingual pretraining (Soltan et al., Eq. 1).

    ``alpha`` < 1 flattens the distribution so small languages are seen more often than their share; their
    batches then come from repeated passes (oversampling) instead of the large ones crowding them out."""

    def __init__(self, strategy: str = "alpha", alpha: float = 0.5, bucket_batches: int = 50) -> None:
        if strategy not in (*STRATEGIES, "alpha"):
            raise DistillxError(f"sampler.strategy={strategy!r}: choose one of uniform, proportional, alpha")
        if not (math.isfinite(alpha) and alpha >= 0):
            raise DistillxError(f"sampler.alpha={alpha}: give a finite exponent >= 0 (0 uniform, 1 proportional)")
        self.strategy = strategy
        self.alpha = float(alpha)
        self.bucket_batches = bucket_batches

    @property
    def exponent(self) -> float:
        """The alpha actually applied: fixed by ``uniform``/``proportional``, configured for ``alpha``."""
        return STRATEGIES.get(self.strategy, self.alpha)

    def probabilities(self, counts: Mapping[str, int]) -> dict[str, float]:
        """``q_l`` for each language, in sorted order; a language without rows gets 0 (it has nothing to draw)."""
        total = sum(counts.values())
        if total <= 0:
            raise ValueError("language sampling needs at least one row")
        weights = {lang: (n / total) ** self.exponent if n > 0 else 0.0 for lang, n in sorted(counts.items())}
        norm = sum(weights.values())
        return {lang: w / norm for lang, w in weights.items()}

    def epoch(
        self, lengths: list[int], languages: list[str] | None, batch_size: int, generator: torch.Generator
    ) -> list[list[int]]:
        """``ceil(N / batch_size)`` single-language batches of global indices, reproducible from ``generator``."""
        if languages is None:
            raise DistillxError("sampler: LanguageBatches needs the language of every training row; none was given")
        if len(languages) != len(lengths):
            raise ValueError(f"{len(languages)} languages for {len(lengths)} rows")
        if not lengths:
            return []
        rows: dict[str, list[int]] = {}
        for i, lang in enumerate(languages):
            rows.setdefault(lang, []).append(i)
        q = self.probabilities({lang: len(idx) for lang, idx in rows.items()})
        order = list(q)  # sorted: the draw does not depend on the order rows came in
        steps = math.ceil(len(lengths) / batch_size)
        weights = torch.tensor([q[lang] for lang in order], dtype=torch.float64)
        draws = torch.multinomial(weights, steps, replacement=True, generator=generator).tolist()

        streams: dict[str, deque[list[int]]] = {lang: deque() for lang in order}
        batches = []
        for k in draws:
            lang = order[k]
            if not streams[lang]:  # a new pass over the language, reshuffled
                idx = rows[lang]
                local = bucketed_batches([lengths[i] for i in idx], batch_size, generator, self.bucket_batches)
                streams[lang] = deque([idx[j] for j in b] for b in local)
            batches.append(streams[lang].popleft())
        return batches
