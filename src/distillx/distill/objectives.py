"""Objectives as config: a training stage optimises the weighted sum of the loss terms its Hydra config lists
(in the spirit of TextBrewer's distillation config)::

    objective:
      _target_: distillx.distill.objectives.Objective
      terms:
        - {_target_: distillx.distill.objectives.KLDivergence, weight: 1.0, temperature: 1.0}
        - {_target_: distillx.distill.objectives.HardCrossEntropy, weight: 1.0, gold: true}
        - {_target_: distillx.distill.objectives.LayerMatch, feature: hidden}  # TinyBERT's uniform layer map
        - {_target_: distillx.distill.objectives.FeatureMatch, feature: hidden, student_layer: 2, teacher_layer: 4,
           student_dim: 256, teacher_dim: 768}

Output-level terms apply to every head present in both the student outputs and the targets (a teacher's
outputs, or gold / pseudo label ids): ``intent`` averaged over the batch rows, ``slots`` averaged over the words
both sides saw (``word_mask``); the heads' losses are summed. A student with a Voters Module (``<head>_voters``
outputs) is trained voter by voter: the head's loss is the mean over its voters of each voter's loss against the
same target. With ``gold: true`` a term reads the gold label ids ``gold_<head>`` instead, so one stage can combine
a teacher's logits with gold labels. Distribution losses work from log-probabilities in float32 so they stay
finite for large logits under bf16/fp16 autocast."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from distillx.errors import DistillxError

HEADS = ("intent", "slots")
IGNORE_INDEX = -100  # slot tags / intents with no label, as in F.cross_entropy
FEATURE_KEYS = {"embeddings": "hidden_states", "hidden": "hidden_states", "attention": "attention_scores"}


def _log_probs(logits: Tensor, temperature: float = 1.0) -> Tensor:
    return F.log_softmax(logits.float() / temperature, dim=-1)


def _device(outputs: Mapping[str, Tensor | tuple[Tensor, ...]]) -> torch.device:
    first = next(iter(outputs.values()))
    return (first[0] if isinstance(first, tuple) else first).device


def _masked_mean(per_item: Tensor, mask: Tensor | None) -> Tensor:
    """Mean over the items ``mask`` selects (all when None); 0, not NaN, when it selects nothing."""
    if mask is None:
        return per_item.mean()
    return per_item[mask].sum() / mask.sum().clamp_min(1)


def _width(module: nn.Module) -> int | None:
    """A model's hidden width: its own ``hidden_size`` (an encoder), else its encoder's (``TaskHeads``)."""
    width = getattr(module, "hidden_size", None)
    if width is None:
        width = getattr(getattr(module, "encoder", None), "hidden_size", None)
    return None if width is None else int(width)


def uniform_layer_map(student_layers: int, teacher_layers: int) -> dict[int, int]:
    """TinyBERT's layer map g: student layer i (from 1) learns from teacher layer i * k, k = teacher_layers /
    student_layers -- every third layer for 12 -> 4 (kd-limitations-zero-shot §3.2)."""
    if student_layers < 1 or teacher_layers < 1 or teacher_layers % student_layers:
        raise DistillxError(
            f"uniform layer map: the teacher's layer count must be a positive multiple of the student's, got "
            f"{teacher_layers} teacher and {student_layers} student layers; give the term an explicit layers map"
        )
    k = teacher_layers // student_layers
    return {i: i * k for i in range(1, student_layers + 1)}


def _masked_mse(student: Tensor, teacher: Tensor, mask: Tensor) -> Tensor:
    """Mean squared difference over the entries ``mask`` selects (broadcast over trailing dimensions). Entries are
    selected before squaring, so masked ones (``finfo.min`` attention scores at padding) never enter the sum."""
    diff = student.float() - teacher.float()
    mask = mask.bool().reshape(mask.shape + (1,) * (diff.dim() - mask.dim())).expand_as(diff)
    return diff[mask].pow(2).sum() / mask.sum().clamp_min(1)


class Term(nn.Module):
    """One loss term of an :class:`Objective`. ``forward`` returns the *unweighted* loss; the objective applies
    ``weight``. ``needs_features`` names the features beyond logits it reads from the student and the teacher, so a
    stage knows whether teacher outputs can be precomputed and stored (only when no term needs features)."""

    name: str = "term"
    needs_features: frozenset[str] = frozenset()

    def __init__(self, weight: float = 1.0, name: str | None = None) -> None:
        super().__init__()
        if name is not None:
            self.name = name
        self.weight = float(weight)
        if not (math.isfinite(self.weight) and self.weight >= 0):
            raise self.invalid("weight", "finite and >= 0", weight)

    def invalid(self, option: str, requirement: str, value: object) -> DistillxError:
        return DistillxError(f"objective term {self.name}: {option} must be {requirement}, got {value}")

    def check_temperature(self, temperature: float) -> float:
        if not (math.isfinite(temperature) and temperature > 0):
            raise self.invalid("temperature", "> 0", temperature)
        return float(temperature)

    def attach(self, student: nn.Module, teachers: Sequence[nn.Module] = ()) -> None:
        """Register the parameters this term trains inside ``student`` (none for most terms); ``teachers`` are
        read for their sizes only."""

    def forward(
        self, student: Mapping[str, Tensor], targets: Mapping[str, Tensor], model: nn.Module | None = None
    ) -> Tensor:
        """The unweighted loss; ``model`` is the student module, for terms whose parameters live in it."""
        raise NotImplementedError


class OutputTerm(Term):
    """A term on the heads' logits: ``head_loss`` per head present on both sides, summed over heads. With ``gold``
    the target of head ``h`` is ``targets["gold_" + h]`` (gold label ids) instead of ``targets[h]``. When the
    student's outputs hold ``h + "_voters"`` (``[..., M, C]``, the Voters Module), ``head_loss`` is applied to each
    voter's logits against the same target and mask and averaged over the M voters, in place of the ensemble's."""

    def __init__(self, weight: float = 1.0, gold: bool = False) -> None:
        super().__init__(weight)
        self.gold = bool(gold)

    def forward(
        self, student: Mapping[str, Tensor], targets: Mapping[str, Tensor], model: nn.Module | None = None
    ) -> Tensor:
        loss = torch.zeros((), device=_device(student))
        for head in HEADS:
            key = f"gold_{head}" if self.gold else head
            if head not in student or key not in targets:
                continue
            mask = None
            if head == "slots":
                mask = student["word_mask"]
                if not self.gold and "word_mask" in targets:  # a teacher's outputs: only words both models saw
                    mask = mask & targets["word_mask"]
            voters = student.get(f"{head}_voters")
            if voters is None:
                loss = loss + self.head_loss(student[head], targets[key], mask)
                continue
            per_voter = [self.head_loss(voters[..., m, :], targets[key], mask) for m in range(voters.size(-2))]
            loss = loss + torch.stack(per_voter).mean()
        return loss

    def head_loss(self, logits: Tensor, target: Tensor, mask: Tensor | None) -> Tensor:
        """The loss of one head, averaged over the rows / words ``mask`` selects (all when None)."""
        raise NotImplementedError


class KLDivergence(OutputTerm):
    """KL(P_T || P_S) of temperature-softened distributions (freetransfer-x Eq. 1), scaled by T^2 (Hinton et al.)
    so gradient magnitudes do not depend on the temperature. Same numerics as ``losses.KDLoss``."""

    name = "kl"

    def __init__(self, weight: float = 1.0, temperature: float = 1.0, gold: bool = False) -> None:
        super().__init__(weight, gold)
        self.temperature = self.check_temperature(temperature)

    def head_loss(self, logits: Tensor, target: Tensor, mask: Tensor | None) -> Tensor:
        log_p_s = _log_probs(logits, self.temperature)
        log_p_t = _log_probs(target.detach(), self.temperature)
        per_row = (log_p_t.exp() * (log_p_t - log_p_s)).sum(-1)
        return _masked_mean(per_row, mask) * self.temperature**2


class SoftCrossEntropy(OutputTerm):
    """-sum_c p_T(c) log p_S(c), both softened by T, averaged over rows (mblm-multikd Eq. 3). The paper's loss has
    no T^2 factor (it trains with TextBrewer's ``ce_loss``, which has none either), so ``scale_by_t2`` defaults to
    False, which makes its gradients KLDivergence's divided by T^2. With ``scale_by_t2`` it differs from
    KLDivergence only by T^2 times the teacher's entropy, a constant for the student: same gradients."""

    name = "soft_ce"

    def __init__(
        self, weight: float = 1.0, temperature: float = 1.0, scale_by_t2: bool = False, gold: bool = False
    ) -> None:
        super().__init__(weight, gold)
        self.temperature = self.check_temperature(temperature)
        self.scale_by_t2 = scale_by_t2

    def head_loss(self, logits: Tensor, target: Tensor, mask: Tensor | None) -> Tensor:
        log_p_s = _log_probs(logits, self.temperature)
        p_t = _log_probs(target.detach(), self.temperature).exp()
        loss = _masked_mean(-(p_t * log_p_s).sum(-1), mask)
        return loss * self.temperature**2 if self.scale_by_t2 else loss


class ProbabilityMSE(OutputTerm):
    """MSE between the student's and the teacher's probability vectors (selftraining-without-parallel Eq. 1). The
    paper writes plain ``MSE(p_t, p_s)`` with no reduction of its own, so this is the standard mean: over classes
    within a row / word, then over rows / words (``F.mse_loss`` over all counted entries)."""

    name = "prob_mse"

    def head_loss(self, logits: Tensor, target: Tensor, mask: Tensor | None) -> Tensor:
        diff = _log_probs(logits).exp() - _log_probs(target.detach()).exp()
        return _masked_mean(diff.pow(2).mean(-1), mask)


class HardCrossEntropy(OutputTerm):
    """Cross-entropy on label ids (selftraining-without-parallel Eq. 2). Integer targets are label ids (gold or
    given pseudo-labels; -100 ignored) -- the numerics of ``losses.GoldLoss``. Float targets are a teacher's logits:
    the pseudo-label is its argmax and, with ``min_confidence``, only rows / words whose teacher max-probability is
    at least ``min_confidence`` count (the confidence filter of self-training)."""

    name = "hard_ce"

    def __init__(self, weight: float = 1.0, min_confidence: float | None = None, gold: bool = False) -> None:
        super().__init__(weight, gold)
        if min_confidence is not None and not 0 <= min_confidence <= 1:
            raise self.invalid("min_confidence", "in [0, 1] or null", min_confidence)
        self.min_confidence = min_confidence

    def head_loss(self, logits: Tensor, target: Tensor, mask: Tensor | None) -> Tensor:
        if target.is_floating_point():
            max_log_p, labels = _log_probs(target.detach()).max(-1)
            keep = None if self.min_confidence is None else max_log_p.exp() >= self.min_confidence
        else:
            labels, keep = target, target != IGNORE_INDEX
        if keep is not None:
            mask = keep if mask is None else mask & keep
        if mask is not None:
            labels = labels.masked_fill(~mask, IGNORE_INDEX)
        per_item = F.cross_entropy(logits.float().flatten(0, -2), labels.flatten(), reduction="none")
        return _masked_mean(per_item.view(labels.shape), mask)


class IntermediateTerm(Term):
    """What intermediate-layer matches share (TinyBERT; kd-limitations-zero-shot Eq. 3): the feature they read,
    the tokens both sides count, the projection they keep in the student and the MSE of one layer pair.

    Layers count from 1, so with ``hidden_states`` index 0 the embedding output, "hidden" layer i is
    ``hidden_states[i]`` and "attention" layer i is ``attention_scores[i - 1]``; "embeddings" is layer 0.
    "hidden" / "embeddings": MSE over real tokens (both sides' ``attention_mask``) and hidden units -- TinyBERT's
    form of the paper's L2 distance -- after a learned projection when the widths differ. "attention": MSE between
    raw pre-softmax scores over real (query, key) pairs; padded pairs hold ``finfo.min`` and are excluded, not
    compared. Teacher and student must share the tokenization (same token count) and, for attention, the number of
    heads.

    The projection is trained with the student, so it lives in the student: :meth:`attach` registers it in
    ``student.projections`` (call it before building the optimizer and before loading a checkpoint) and
    ``forward`` reads it from ``model``."""

    def __init__(self, feature: str, weight: float, name: str) -> None:
        super().__init__(weight, name=name)
        if feature not in FEATURE_KEYS:
            raise self.invalid("feature", f"one of {', '.join(FEATURE_KEYS)}", feature)
        self.feature = feature
        self.needs_features = frozenset({FEATURE_KEYS[feature]})

    def add_projection(self, student: nn.Module, student_dim: int, teacher_dim: int) -> None:
        """Register ``nn.Linear(student_dim, teacher_dim)`` in ``student.projections`` (created when missing) so it
        is checkpointed, resumed, optimised and gradient-clipped with the student; kept when already there."""
        if not hasattr(student, "projections"):
            student.projections = nn.ModuleDict()
        if self.name not in student.projections:
            reference = next(student.parameters(), None)
            projection = nn.Linear(student_dim, teacher_dim)
            if reference is not None:
                projection = projection.to(device=reference.device, dtype=reference.dtype)
            student.projections[self.name] = projection

    def projection(self, model: nn.Module | None) -> nn.Module:
        if model is None or self.name not in getattr(model, "projections", {}):
            raise RuntimeError(f"{self.name}: no projection in the student; call Objective.attach(student, teachers)")
        return model.projections[self.name]

    def states(self, outputs: Mapping[str, Any], side: str) -> Sequence[Tensor]:
        """The feature's per-layer tensors on one side, with a clear error when that model does not give them."""
        key = FEATURE_KEYS[self.feature]
        if key not in outputs:
            raise DistillxError(
                f"objective term {self.name}: the {side}'s outputs have no {key}; {self.feature} matching needs "
                "models that expose them (attention scores: an encoder with exposes_attention_scores)"
            )
        return outputs[key]

    def real_tokens(self, student: Mapping[str, Tensor], targets: Mapping[str, Tensor]) -> Tensor:
        """``[B, T]``: the tokens real on both sides."""
        tokens = student["attention_mask"].bool()
        if "attention_mask" in targets:
            if targets["attention_mask"].shape != tokens.shape:
                raise self.mismatch("attention masks", tokens, targets["attention_mask"])
            tokens = tokens & targets["attention_mask"].bool()
        return tokens

    def pair_mse(
        self,
        student: Mapping[str, Tensor],
        targets: Mapping[str, Tensor],
        student_layer: int,
        teacher_layer: int,
        tokens: Tensor,
        projection: nn.Module | None = None,
    ) -> Tensor:
        """The MSE between student layer ``student_layer`` (through ``projection``) and teacher ``teacher_layer``."""
        if self.feature == "attention":
            s = self.states(student, "student")[student_layer - 1]
            t = self.states(targets, "teacher")[teacher_layer - 1].detach()
            mask = tokens[:, None, :, None] & tokens[:, None, None, :]  # [B, 1, query, key]
        else:
            s = self.states(student, "student")[student_layer]
            t = self.states(targets, "teacher")[teacher_layer].detach()
            mask = tokens
            if projection is not None:
                s = projection(s)
        if s.shape != t.shape:
            raise self.mismatch(self.feature, s, t)
        return _masked_mse(s, t, mask)

    def mismatch(self, what: str, student: Tensor, teacher: Tensor) -> DistillxError:
        return DistillxError(
            f"objective term {self.name}: student {what} {list(student.shape)} do not match the teacher's "
            f"{list(teacher.shape)}; feature matching needs one tokenization, as many attention heads and, for hidden "
            "states of different widths, a projection (FeatureMatch's student_dim/teacher_dim)"
        )


class FeatureMatch(IntermediateTerm):
    """One layer pair: student layer ``student_layer`` against teacher layer ``teacher_layer`` (see
    :class:`IntermediateTerm`), through ``nn.Linear(student_dim, teacher_dim)`` when the given widths differ."""

    def __init__(
        self,
        feature: str,
        student_layer: int,
        teacher_layer: int,
        weight: float = 1.0,
        loss: str = "mse",
        student_dim: int | None = None,
        teacher_dim: int | None = None,
    ) -> None:
        super().__init__(feature, weight, name=f"{feature}_s{student_layer}_t{teacher_layer}")
        if loss != "mse":
            raise self.invalid("loss", "mse", loss)
        embeddings = feature == "embeddings"
        for option, layer in (("student_layer", student_layer), ("teacher_layer", teacher_layer)):
            if (layer != 0) if embeddings else (layer < 1):
                raise self.invalid(option, "0 for embeddings" if embeddings else ">= 1", layer)
        if (student_dim is None) != (teacher_dim is None):
            raise self.invalid("student_dim/teacher_dim", "both set or both null", f"{student_dim}/{teacher_dim}")
        if feature == "attention" and student_dim is not None:
            raise self.invalid("student_dim/teacher_dim", "null for attention (scores are not projected)", student_dim)
        self.student_layer = student_layer
        self.teacher_layer = teacher_layer
        self.student_dim = student_dim
        self.teacher_dim = teacher_dim

    @property
    def projects(self) -> bool:
        return self.student_dim != self.teacher_dim

    def attach(self, student: nn.Module, teachers: Sequence[nn.Module] = ()) -> None:
        """Register the projection (the widths are the configured ones; ``teachers`` are not read)."""
        if self.projects:
            self.add_projection(student, self.student_dim, self.teacher_dim)

    def forward(
        self, student: Mapping[str, Tensor], targets: Mapping[str, Tensor], model: nn.Module | None = None
    ) -> Tensor:
        tokens = self.real_tokens(student, targets)
        projection = self.projection(model) if self.feature != "attention" and self.projects else None
        return self.pair_mse(student, targets, self.student_layer, self.teacher_layer, tokens, projection)


class LayerMatch(IntermediateTerm):
    """TinyBERT's intermediate-layer loss for one feature (kd-limitations-zero-shot Eq. 3): the sum over mapped
    layer pairs of :class:`FeatureMatch`'s MSE (see :class:`IntermediateTerm`).

    ``layers`` maps student layer -> teacher layer (from 1); null means :func:`uniform_layer_map` of the layer
    counts the outputs have, so one config fits any depths. "embeddings" always pairs layer 0 with layer 0. Hidden
    states of all pairs go through ONE learned ``nn.Linear`` (TinyBERT's W_h) when the widths differ; :meth:`attach`
    reads the widths off the student and the teachers (``hidden_size``, else ``encoder.hidden_size``)."""

    def __init__(
        self, feature: str, weight: float = 1.0, layers: Mapping[int, int] | None = None, name: str | None = None
    ) -> None:
        super().__init__(feature, weight, name=name or f"{feature}_layers")
        # Pairs, not a dict, so the stage key (``describe``) tells one explicit map from another.
        self.layers = None if layers is None else tuple(sorted((int(s), int(t)) for s, t in layers.items()))
        if self.layers is not None:
            if not self.layers:
                raise self.invalid("layers", "a non-empty student -> teacher map or null", dict(layers))
            if feature == "embeddings" and self.layers != ((0, 0),):
                raise self.invalid("layers", "{0: 0} or null for embeddings", dict(self.layers))
            if feature != "embeddings" and min(min(pair) for pair in self.layers) < 1:
                raise self.invalid("layers", "a map of layers >= 1", dict(self.layers))

    def attach(self, student: nn.Module, teachers: Sequence[nn.Module] = ()) -> None:
        """Register the projection when the student's width differs from the teachers' (which must agree)."""
        if self.feature == "attention":
            return
        student_dim, teacher_dims = _width(student), {_width(t) for t in teachers}
        if student_dim is None or len(teacher_dims) != 1 or None in teacher_dims:
            raise DistillxError(
                f"objective term {self.name}: attach needs the student's width and the teachers' one width "
                f"(hidden_size or encoder.hidden_size), got student {student_dim} and teachers {list(teacher_dims)}; "
                "call Objective.attach(student, teachers)"
            )
        (teacher_dim,) = teacher_dims
        if student_dim != teacher_dim:
            self.add_projection(student, student_dim, teacher_dim)

    def forward(
        self, student: Mapping[str, Tensor], targets: Mapping[str, Tensor], model: nn.Module | None = None
    ) -> Tensor:
        tokens = self.real_tokens(student, targets)
        s_states, t_states = self.states(student, "student"), self.states(targets, "teacher")
        offset = 0 if self.feature == "attention" else 1  # hidden_states[0] is the embedding output, not a layer
        counts = len(s_states) - offset, len(t_states) - offset
        if self.feature == "embeddings":
            pairs: Sequence[tuple[int, int]] = ((0, 0),)
        elif self.layers is None:
            pairs = tuple(uniform_layer_map(*counts).items())
        else:
            pairs = self.layers
            if max(s for s, _ in pairs) > counts[0] or max(t for _, t in pairs) > counts[1]:
                raise self.invalid("layers", f"within the {counts[0]} student / {counts[1]} teacher layers", pairs)
        projection = None
        if self.feature != "attention" and s_states[0].size(-1) != t_states[0].size(-1):
            projection = self.projection(model)
        loss = torch.zeros((), device=tokens.device)
        for student_layer, teacher_layer in pairs:
            loss = loss + self.pair_mse(student, targets, student_layer, teacher_layer, tokens, projection)
        return loss


class Objective(nn.Module):
    """The weighted sum of ``terms``. A term with weight 0 is still computed (without gradient) and logged, so a
    loss can be watched without being trained on."""

    def __init__(self, terms: Sequence[Term] | Mapping[str, Term]) -> None:
        super().__init__()
        # The config form is a mapping (``terms: {kl: {...}}``), so that one term can be overridden or added by name;
        # its keys name the logged values. A list logs each term under its own name.
        named = hasattr(terms, "keys")  # a dict, or Hydra's DictConfig of instantiated terms
        names = [str(k) for k in terms] if named else None
        terms = list(terms.values()) if named else list(terms)  # type: ignore[union-attr]
        if not terms:
            raise DistillxError("objective: terms must list at least one loss term, got none")
        for term in terms:
            if not isinstance(term, Term):
                raise DistillxError(f"objective: each term must be a Term with a _target_, got {type(term).__name__}")
        if not any(term.weight > 0 for term in terms):
            raise DistillxError("objective: at least one term weight must be > 0, got all 0")
        self.terms = nn.ModuleList(terms)
        self.keys: list[str] = []
        for i, term in enumerate(terms):  # loss/kl, loss/kl_2, ... when a term kind repeats
            base = names[i] if names is not None else term.name
            key, n = f"loss/{base}", 1
            while key in self.keys:
                n += 1
                key = f"loss/{base}_{n}"
            self.keys.append(key)

    @property
    def needs_features(self) -> frozenset[str]:
        return frozenset().union(*(term.needs_features for term in self.terms))

    @property
    def trains_outputs(self) -> bool:
        """Whether a weighted term reads the model's outputs (logits): without one (TinyBERT's intermediate-layer
        phase) the task heads stay untrained and cannot be scored."""
        return any(isinstance(term, OutputTerm) and term.weight > 0 for term in self.terms)

    @property
    def needs_gold(self) -> bool:
        """Whether a term reads gold label ids (``gold_<head>`` targets)."""
        return any(getattr(term, "gold", False) for term in self.terms)

    def attach(self, student: nn.Module, teachers: Sequence[nn.Module] = ()) -> None:
        """Register every term's trainable parameters (projections) in the student; call before the optimizer.
        ``teachers`` give the widths projections map to when a term infers them (:class:`LayerMatch`)."""
        for term in self.terms:
            term.attach(student, teachers)

    def forward(
        self, student: Mapping[str, Tensor], targets: Mapping[str, Tensor], model: nn.Module | None = None
    ) -> tuple[Tensor, dict[str, float]]:
        """The weighted sum and each term's unweighted value keyed by ``loss/<name>``."""
        total = torch.zeros((), device=_device(student))
        logs: dict[str, float] = {}
        for key, term in zip(self.keys, self.terms, strict=True):
            with torch.set_grad_enabled(torch.is_grad_enabled() and term.weight > 0):
                value = term(student, targets, model=model)
            if term.weight > 0:
                total = total + term.weight * value
            logs[key] = value.item()
        return total, logs
