"""Multilingual distillation from several language teachers (mblm-multikd.md): MultiKD and its baselines MonoKD
and MultiTrain. One multilingual student (the mPLM, or MBLM with ``student=mblm``) learns the supervised
languages and is scored on every language of the dataset, supervised and zero-shot, with AVG(S)/AVG(Z)/AVG(A).

Teachers are the mPLM fine-tuned on each supervised language's labeled train split (monolingual PLMs cannot be
had offline), one shared stage per language, or a user's own checkpoint per language (``teacher_checkpoints``).
Every step of the student's training draws a language and a batch of it (``sampler``; uniform in the paper) and
distils that language's teacher (Eq. 1-4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from torch import nn

from distillx.context import RunContext
from distillx.data.schema import Example
from distillx.distill.stages import distill, evaluate, train_supervised
from distillx.errors import DistillxError
from distillx.files import file_digest
from distillx.models.factory import TaskModel
from distillx.report.results import Results
from distillx.train.checkpoint import load_weights


def load_checkpoint(teacher: TaskModel, given: str, language: str) -> str:
    """Load a distillx checkpoint (``best.pt``, or a stage directory holding one) into ``teacher``; its digest."""
    path = Path(given).expanduser()
    path = path / "best.pt" if path.is_dir() else path
    if not path.is_file():
        raise DistillxError(
            f"method.teacher_checkpoints.{language}={given}: no checkpoint there; give a best.pt or a stage directory "
            "holding one (e.g. another run's stages/teacher_{language})"
        )
    load_weights(teacher.model, path)
    return file_digest(path)


class Multilingual:
    """What the three methods share: the languages, the per-language teachers, the student, the report."""

    def __init__(
        self,
        supervised: Sequence[str],
        zero_shot: Sequence[str] | None = None,
        sampler: Any = None,
        objective: nn.Module | None = None,
        kd: nn.Module | None = None,
        teacher_checkpoints: Mapping[str, str] | None = None,
    ) -> None:
        if not supervised:
            raise DistillxError("method.supervised is empty: name the supervised (labeled) languages, e.g. [en,fr,zh]")
        self.supervised = list(dict.fromkeys(supervised))
        self.zero_shot = None if zero_shot is None else [lang for lang in zero_shot if lang not in self.supervised]
        self.sampler = sampler
        self.objective = objective
        self.kd = kd
        self.teacher_checkpoints = dict(teacher_checkpoints or {})

    def languages(self, ctx: RunContext) -> dict[str, list[str]]:
        available = ctx.data.reader.languages
        missing = [lang for lang in self.supervised + (self.zero_shot or []) if lang not in available]
        if missing:
            raise DistillxError(
                f"method languages {missing}: dataset {ctx.data.reader.name} has only {', '.join(available)}"
            )
        zero = self.zero_shot if self.zero_shot is not None else [x for x in available if x not in self.supervised]
        return {"supervised": self.supervised, "zero-shot": zero}

    def train(self, ctx: RunContext, languages: Sequence[str]) -> list[Example]:
        return [ex for lang in languages for ex in ctx.data.split(lang, "train")]

    def dev(self, ctx: RunContext, languages: Sequence[str]) -> list[Example]:
        return [ex for lang in languages for ex in ctx.data.split(lang, "dev")]

    def teachers(self, ctx: RunContext, languages: Sequence[str]) -> dict[str, TaskModel]:
        """Each language's teacher: loaded from ``teacher_checkpoints[lang]`` (a user's own model for that language,
        whose labels are then never read: several off-the-shelf models make the transfer label-free), else the mPLM
        fine-tuned on the language's labeled train split, best epoch by its dev score."""
        teachers = {}
        for lang in languages:
            teacher = ctx.models.mplm_model()
            teacher.role = "teachers"
            if lang in self.teacher_checkpoints:
                teacher.weights = load_checkpoint(teacher, self.teacher_checkpoints[lang], lang)
                teachers[lang] = teacher
                continue
            if self.objective is None:
                raise DistillxError("method.objective is not set: the teachers' fine-tuning objective (hard_ce)")
            train_supervised(
                ctx,
                f"teacher_{lang}",
                teacher,
                ctx.data.split(lang, "train"),
                ctx.data.split(lang, "dev"),
                self.objective,
                shared=True,
            )
            teachers[lang] = teacher
        return teachers

    def student(self, ctx: RunContext) -> TaskModel:
        """The multilingual student on the mPLM (``student=mplm`` or ``student=mblm``, branched by the supervised
        languages)."""
        return ctx.models.pretrained_model("student", languages=self.supervised)

    def report(self, ctx: RunContext, student: TaskModel, teachers: dict[str, TaskModel] | None = None) -> Results:
        groups = self.languages(ctx)
        results = Results(source=self.supervised[0], target="", groups=groups)
        results.title = f"{student.arch}: supervised {', '.join(groups['supervised'])}; test scores (%)"
        if ctx.cfg.student.get("base") == "lean":
            results.notes.append(f"small encoder: {ctx.lean_path}")
        for lang in groups["supervised"] + groups["zero-shot"]:
            results.add(student, lang, evaluate(ctx, student, ctx.data.split(lang, "test"), f"{lang} test"))
            if ctx.data.test_is_dev(lang):
                results.notes.append(f"{ctx.data.reader.title} has no {lang} test split: its dev set is scored")
        for lang, teacher in (teachers or {}).items():  # each teacher on its own language (the paper's Table 2)
            results.add(teacher, lang, evaluate(ctx, teacher, ctx.data.split(lang, "test"), f"{lang} test"))
        return results


class MultiKD(Multilingual):
    """Eq. 1-4: each supervised language's teacher distilled into one student, a language per step. A ``kd``
    objective with a gold-label term (``gold: true``, e.g. ft_distill's) also reads the sources' gold labels.

    ``intermediate_kd``, when set, is distilled first in its own stage (``<stage>_intermediate``) and ``kd``
    continues from its weights: TinyBERT's task distillation, intermediate layers first, then the prediction layer
    (Jiao et al., 2019), which keeps large feature losses from drowning the output losses under one clipped
    gradient."""

    stage = "multikd_student"

    def __init__(
        self, *args: Any, stage: str | None = None, intermediate_kd: nn.Module | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.stage = stage or self.stage
        self.intermediate_kd = intermediate_kd

    def sources(self) -> list[str]:
        """The languages whose teachers and training text the student learns from."""
        return self.supervised

    def run(self, ctx: RunContext) -> Results:
        if self.kd is None:
            raise DistillxError("method.kd is not set: the distillation objective (soft_ce at temperature 8)")
        student = self.student(ctx)
        teachers = self.teachers(ctx, self.sources())
        train, dev = self.train(ctx, self.sources()), self.dev(ctx, self.sources())
        for name, objective in ((f"{self.stage}_intermediate", self.intermediate_kd), (self.stage, self.kd)):
            if objective is None:
                continue
            needs_gold = getattr(objective, "needs_gold", False)
            gold = ctx.labels.gold(train, f"{name} train") if needs_gold else None
            distill(ctx, name, teachers, student, train, dev, objective, sampler=self.sampler, gold=gold)
        return self.report(ctx, student, teachers)


class MonoKD(MultiKD):
    """Baseline: the first supervised language's teacher (English) distilled on its own data only."""

    stage = "monokd_student"

    def sources(self) -> list[str]:
        return self.supervised[:1]


class MultiTrain(Multilingual):
    """Baseline: the student trained directly on the gold labels of every supervised language."""

    def run(self, ctx: RunContext) -> Results:
        if self.objective is None:
            raise DistillxError("method.objective is not set: the training objective (hard_ce)")
        student = self.student(ctx)
        train_supervised(
            ctx,
            "multitrain_student",
            student,
            self.train(ctx, self.supervised),
            self.dev(ctx, self.supervised),
            self.objective,
            sampler=self.sampler,
        )
        return self.report(ctx, student)
