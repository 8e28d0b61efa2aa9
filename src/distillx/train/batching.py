"""Pre-encoded examples, dynamic padding and length-bucketed batches (little padding, fast CPU steps)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class EncodedSet:
    """Sub-word ids of one model's tokenizer for a fixed list of utterances, plus optional targets
    (gold ids ``[N]`` or teacher logits ``[N, C]``)."""

    input_ids: list[list[int]]
    pad_id: int
    targets: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.input_ids)

    def with_targets(self, targets: torch.Tensor) -> EncodedSet:
        if len(targets) != len(self.input_ids):
            raise ValueError(f"{len(targets)} targets for {len(self.input_ids)} inputs")
        return EncodedSet(self.input_ids, self.pad_id, targets)


def collate(data: EncodedSet, indices: list[int], device: torch.device) -> dict[str, torch.Tensor]:
    """Pad the selected rows to their longest member."""
    rows = [data.input_ids[i] for i in indices]
    width = max(1, max(len(r) for r in rows))
    ids = torch.full((len(rows), width), data.pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device)}


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
