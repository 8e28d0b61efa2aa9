"""MBLM, the multi-branch multilingual student of mblm-multikd.md (§ Student Model, Eq. 7-12).

K transformer layers of a Hugging Face BERT / XLM-R-like encoder are replicated into one branch per supervised
language (each initialised by copying them). A batch of language k goes through every branch; after each branch
layer, the outputs of the branches other than k are detached (Eq. 8: only branch k learns from language k, so
every other branch is zero-shot with respect to it) and mixed feature-wise (Eq. 9-12): inner mixers after layers
1..K-1 feed each branch a mixture, the outer mixer after layer K gives the one representation the shared layers
read (or, with ``classifiers=per_branch`` at the top, each branch feeds its own classifier and a zero-shot language
gets the mean of their logits). Without mixers a batch goes through its own branch only, and at inference a
supervised language uses its own branch (``single``) or the average of all (``all``); a zero-shot language always
averages all branches."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn
from transformers.masking_utils import create_bidirectional_mask

from distillx.errors import DistillxError
from distillx.models.encoder import Encoded, masked_mean
from distillx.models.mplm import PretrainedEncoder

INFERENCE = ("single", "all")
POSITIONS = ("bottom", "top")


class Mixer(nn.Module):
    """Feature-wise softmax over branches (Eq. 10-12). Output o weights branch l's feature j by the softmax over l
    of ``sum_t v_o[t] * H_l[t, j]`` (``v_o`` a trainable vector over positions, padding excluded) and sums."""

    def __init__(self, branches: int, outputs: int, max_positions: int) -> None:
        super().__init__()
        self.v = nn.Parameter(torch.zeros(outputs, max_positions))  # zeros: every branch weighs the same at first

    def weights(self, states: Sequence[torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
        """``[outputs, B, branches, H]`` mixing weights; they sum to 1 over branches for every feature."""
        return self._weights(torch.stack(list(states), dim=1), mask)

    def _weights(self, stacked: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        v = self.v[:, : stacked.size(2)] * mask[:, None, :].to(self.v.dtype)  # [B, outputs, T], padding zeroed
        return torch.einsum("bot,bnth->obnh", v, stacked.to(v.dtype)).softmax(dim=2)

    def forward(self, states: Sequence[torch.Tensor], mask: torch.Tensor) -> list[torch.Tensor]:
        stacked = torch.stack(list(states), dim=1)  # [B, N, T, H]
        return [(stacked * w[:, :, None, :].to(stacked.dtype)).sum(1) for w in self._weights(stacked, mask)]


class MBLMEncoder(PretrainedEncoder):
    """A pre-trained encoder with language branches (see the module docstring); ``forward`` reads ``language``."""

    by_language = True

    def __init__(
        self,
        name_or_path: str,
        languages: Sequence[str],
        depth: int = 4,
        inner_mixers: bool = True,
        outer_mixer: bool = True,
        detach: bool = True,
        inference: str = "all",
        position: str = "bottom",
        classifiers: str = "shared",
        pooling: str = "first",
        random_init: bool = False,
        freeze_embeddings: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__(name_or_path, pooling, random_init, freeze_embeddings, seed)
        layers = getattr(getattr(self.model, "encoder", None), "layer", None)
        if not isinstance(layers, nn.ModuleList) or not hasattr(self.model, "embeddings"):
            raise DistillxError(
                f"student.encoder: {type(self.model).__name__} is not a BERT / XLM-R-like encoder (embeddings, "
                "encoder.layer, attention masks); MBLM needs one"
            )
        if not 0 <= depth <= len(layers):
            raise DistillxError(f"student.encoder.depth={depth}: choose 0..{len(layers)} (the encoder's layers)")
        if inference not in INFERENCE or position not in POSITIONS:
            raise DistillxError(
                f"student.encoder: inference={inference!r} / position={position!r}: choose {INFERENCE} / {POSITIONS}"
            )
        if classifiers not in ("shared", "per_branch"):
            raise DistillxError(f"student.encoder.classifiers={classifiers!r}: choose shared or per_branch")
        per_branch = classifiers == "per_branch"
        if per_branch and (position != "top" or outer_mixer):
            raise DistillxError(
                "student.encoder.classifiers=per_branch needs position=top and outer_mixer=false (Fig. 4d: each "
                "branch at the top has its own classifier instead of the outer mixer)"
            )
        if inner_mixers and not (outer_mixer or per_branch):
            raise DistillxError("student.encoder.inner_mixers=true needs outer_mixer=true (paper, Fig. 4)")
        self.languages = list(dict.fromkeys(languages))
        if depth and not self.languages:
            raise DistillxError("student.encoder.languages is empty: MBLM needs the supervised languages")
        self.depth, self.detach, self.inference, self.position = depth, detach, inference, position
        cut = depth if position == "bottom" else len(layers) - depth
        branch_layers = list(layers[:cut]) if position == "bottom" else list(layers[cut:])
        self.below = nn.ModuleList([] if position == "bottom" else layers[:cut])
        self.above = nn.ModuleList(layers[cut:] if position == "bottom" else [])
        self.branches = nn.ModuleDict(
            {lang: nn.ModuleList(copy.deepcopy(branch_layers)) for lang in self.languages} if depth else {}
        )
        self.model.encoder.layer = nn.ModuleList()  # every layer now lives in below / branches / above
        n = len(self.languages)
        inner = depth - 1 if (depth and inner_mixers) else 0
        self.inner = nn.ModuleList([Mixer(n, n, self.max_positions) for _ in range(inner)])
        self.outer = Mixer(n, 1, self.max_positions) if (depth and outer_mixer) else None
        self.branch_classifiers = self.languages if (depth and per_branch) else []
        """Languages whose branch has its own classifier (read by the task heads); empty: one shared classifier."""

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, language: str | None = None, **_: object
    ) -> Encoded:
        states = self.model.embeddings(input_ids=input_ids)
        # The public mask builder the encoder's own forward uses (not its private helper, whose signature
        # changes between transformers releases: 5.25 added ``position_ids``).
        mask = create_bidirectional_mask(config=self.model.config, inputs_embeds=states, attention_mask=attention_mask)
        for layer in self.below:
            states = layer(states, attention_mask=mask)
        if self.branch_classifiers:  # position=top: each branch's output goes to its own classifier
            outputs = self._mixed(states, mask, attention_mask, language)
            branches = {
                lang: self._pooled(out, attention_mask) for lang, out in zip(self.languages, outputs, strict=True)
            }
            mean = torch.stack(outputs).mean(0)
            return Encoded(tokens=mean, sentence=self._pooled(mean, attention_mask).sentence, branches=branches)
        if self.depth:
            states = self._branches(states, mask, attention_mask, language)
        for layer in self.above:
            states = layer(states, attention_mask=mask)
        return self._pooled(states, attention_mask)

    def _pooled(self, states: torch.Tensor, attention_mask: torch.Tensor) -> Encoded:
        sentence = states[:, 0] if self.pooling == "first" else masked_mean(states, attention_mask)
        return Encoded(tokens=states, sentence=sentence)

    def _branches(
        self, states: torch.Tensor, mask: torch.Tensor, padding: torch.Tensor, language: str | None
    ) -> torch.Tensor:
        supervised = language in self.branches
        if self.outer is None:  # no mixing: one branch, or (inference) the mean of all
            if self.training and not supervised:
                raise DistillxError(
                    f"MBLM without mixers trains on supervised languages' batches only, got language={language!r}"
                )
            if supervised and (self.training or self.inference == "single"):
                return self._run(self.branches[language], states, mask)  # type: ignore[index]
            return torch.stack([self._run(b, states, mask) for b in self.branches.values()]).mean(0)
        return self.outer(self._mixed(states, mask, padding, language), padding)[0]

    def _mixed(
        self, states: torch.Tensor, mask: torch.Tensor, padding: torch.Tensor, language: str | None
    ) -> list[torch.Tensor]:
        """Every branch's output after its last layer, inner-mixed between layers, others detached (Eq. 7-9)."""
        supervised = language in self.branches
        inputs = [states] * len(self.languages)
        for i in range(self.depth):
            outputs = []
            for lang, branch, h in zip(self.languages, self.branches.values(), inputs, strict=True):
                frozen = self.training and self.detach and supervised and lang != language
                with torch.set_grad_enabled(torch.is_grad_enabled() and not frozen):  # Eq. 8, without its backward
                    out = branch[i](h, attention_mask=mask)
                outputs.append(out.detach() if frozen else out)
            if i < self.depth - 1:
                inputs = self.inner[i](outputs, padding) if self.inner else outputs
        return outputs

    @staticmethod
    def _run(branch: nn.ModuleList, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for layer in branch:
            states = layer(states, attention_mask=mask)
        return states
