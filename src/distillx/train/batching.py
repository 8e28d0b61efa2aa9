"""Pre-encoded examples, dynamic padding and length-bucketed batches (little padding, fast CPU steps)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

Target = torch.Tensor | list[torch.Tensor]
"""One row per example: a tensor ``[N, ...]`` (sentence level) or a list of ``[W_i, ...]`` tensors (word level)."""

WORD_LEVEL = ("slots", "slots_voters", "word_mask")
"""Model outputs with one row per word: :meth:`Trainer.predict` returns them per example, cut to its words
(``slots_voters``: each word's ``[M, S]`` voter logits)."""


@dataclass
class EncodedSet:
    """Sub-word ids of one model's tokenizer for a fixed list of utterances, each word's representative
    sub-word position (``word_index``, for word-level heads), and optional targets by head: gold ids or the
    teacher's outputs (``intent`` ``[N]``/``[N, C]``; ``slots`` per example ``[W_i]``/``[W_i, S]``, with the
    teacher's ``word_mask``)."""

    input_ids: list[list[int]]
    pad_id: int
    word_index: list[list[int]] | None = None
    targets: Mapping[str, Target] | None = None
    languages: list[str] | None = None
    """Each row's language code: batches of one language pass it to the model (the multi-branch student)."""

    def __len__(self) -> int:
        return len(self.input_ids)

    def with_targets(self, targets: Mapping[str, Target]) -> EncodedSet:
        for head, rows in targets.items():
            if len(rows) != len(self.input_ids):
                raise ValueError(f"{len(rows)} {head} targets for {len(self.input_ids)} inputs")
        return EncodedSet(self.input_ids, self.pad_id, self.word_index, dict(targets), self.languages)


def _pad_rows(rows: list[list[int]], value: int) -> torch.Tensor:
    width = max(1, max(len(r) for r in rows))
    out = torch.full((len(rows), width), value, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out


def collate(data: EncodedSet, indices: list[int], device: torch.device) -> dict[str, Any]:
    """Model inputs for the selected rows, padded to their longest member; ``language`` when they share one."""
    rows = [data.input_ids[i] for i in indices]
    ids = _pad_rows(rows, data.pad_id)
    mask = torch.zeros_like(ids)
    for i, row in enumerate(rows):
        mask[i, : len(row)] = 1
    batch: dict[str, Any] = {"input_ids": ids.to(device), "attention_mask": mask.to(device)}
    if data.word_index is not None:
        batch["word_index"] = _pad_rows([data.word_index[i] for i in indices], -1).to(device)
    if data.languages is not None:
        codes = {data.languages[i] for i in indices}
        if len(codes) == 1:
            batch["language"] = codes.pop()
    return batch


def _pad_value(rows: list[torch.Tensor]) -> float | int | bool:
    """Padding that no loss reads: -100 for gold ids (cross-entropy's ignore index), False for masks, 0 else."""
    dtype = rows[0].dtype
    return False if dtype == torch.bool else -100 if dtype == torch.long else 0.0


def collate_targets(targets: Mapping[str, Target], indices: list[int], device: torch.device) -> dict[str, torch.Tensor]:
    """The selected rows of every target; word-level ones padded to the batch's longest utterance."""
    out = {}
    for head, rows in targets.items():
        if isinstance(rows, torch.Tensor):
            out[head] = rows[indices].to(device)
            continue
        picked = [rows[i] for i in indices]
        out[head] = torch.nn.utils.rnn.pad_sequence(picked, batch_first=True, padding_value=_pad_value(picked))
        if out[head].size(1) == 0:  # every selected utterance is empty: keep one (padded) word column
            out[head] = torch.nn.functional.pad(out[head], (0, 0) * (out[head].dim() - 2) + (0, 1))
        out[head] = out[head].to(device)
    return out


def bucketed_batches(
    lengths: list[int], batch_size: int, generator: torch.Generator, bucket_batches: int = 50
) -> list[list[int]]:
    """Shuffle, sort by length within mega-batches of ``bucket_batches`` batches, then shuffle the batches:
    random enough for SGD, with far less padding than random batches."""
    order = torch.randperm(len(lengths), generator=generator).tolist()
    span = batch_size * max(1, bucket_batches)
    batches: list[list[int]] = []
    for start in range(0, len(order), span):
        chunk = sorted(order[start : start + span], key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    perm = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in perm]


def sequential_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Inference batches sorted by length (outputs are put back in the original order by the caller)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
