"""The steps the methods of freetransfer-x.md are made of, each one stage over the run's data: the simulated
off-the-shelf source model, KD step 1 into the mPLM (plain or language-balanced), its gold-supervised
replacement, KD step 2 into the target student, and the per-language test report.

Steps that depend neither on the target language nor on the student are shared stages: a sweep over languages
or students trains them once (their keys, computed by the stage store, say whether two runs agree)."""

from __future__ import annotations

from torch import nn

from distillx.context import RunContext
from distillx.data.schema import Example
from distillx.distill.stages import distill, evaluate, train_supervised
from distillx.errors import DistillxError
from distillx.labels import reading_labels
from distillx.models.factory import TaskModel
from distillx.report.results import Results


def source_model(ctx: RunContext, objective: nn.Module) -> TaskModel:
    """The off-the-shelf source model, simulated by training on the annotated half of the source train split
    (§3.1): the only labels a label-free method ever uses."""
    src = ctx.source
    annotated, _ = ctx.data.halves(src)
    teacher = ctx.models.small_model("teacher", src)
    train_supervised(ctx, "source_model", teacher, annotated, ctx.data.split(src, "dev"), objective, shared=True)
    return teacher


def translated(ctx: RunContext, examples: list[Example], source: str, target: str) -> list[Example]:
    """``examples`` translated by the run's translator, segmented in ``target``; labels never travel along."""
    out = ctx.translator.translate(examples, source, target)
    ctx.segment(out, target)
    return out


def kd_to_mplm(ctx: RunContext, teacher: TaskModel, objective: nn.Module, balanced: bool = False) -> TaskModel:
    """KD step 1: source model -> mPLM on the unlabeled source half; ``balanced`` adds that half translated into
    the target language, with the source model's distribution on each English original (§2.3.1)."""
    src, tgt = ctx.source, ctx.target
    _, corpus = ctx.data.halves(src)
    teacher_inputs = corpus
    if balanced:
        if "slots" in ctx.labels.heads:
            raise DistillxError(
                "method.balanced=true needs dataset.task=intent: the source model's word-level predictions cannot "
                "be carried to translated words without a word aligner (freetransfer-x.md §3.4.2 skips it too)"
            )
        corpus = corpus + translated(ctx, corpus, src, tgt)
        teacher_inputs = teacher_inputs + teacher_inputs
    mplm = ctx.models.mplm_model()
    distill(
        ctx,
        "kd1_mplm",
        teacher,
        mplm,
        corpus,
        ctx.data.split(src, "dev"),
        objective,
        teacher_inputs=teacher_inputs,
        shared=True,
    )
    return mplm


def gold_mplm(ctx: RunContext, objective: nn.Module) -> TaskModel:
    """The Gold-supervised reference's step 1 (§3.2): the mPLM trained on the gold labels of the source text
    that KD step 1 would read, instead of on the source model's predictions."""
    _, corpus = ctx.data.halves(ctx.source)
    mplm = ctx.models.mplm_model()
    train_supervised(ctx, "gold_mplm", mplm, corpus, ctx.data.split(ctx.source, "dev"), objective, shared=True)
    return mplm


def kd_to_student(ctx: RunContext, teacher: TaskModel, objective: nn.Module) -> TaskModel:
    """KD step 2: the mPLM, zero-shot in the target language -> target student on the unlabeled target half,
    mixed with the augmentation's extra utterances (§2.3.2)."""
    tgt = ctx.target
    _, corpus = ctx.data.halves(tgt)
    corpus = ctx.augmentation(ctx, corpus, tgt)
    ctx.log_metrics({f"data/{tgt}/kd2_corpus_examples": float(len(corpus))})
    student = ctx.models.model("student", tgt)
    distill(ctx, "kd2_student", teacher, student, corpus, ctx.data.split(tgt, "dev"), objective)
    return student


def new_results(ctx: RunContext) -> Results:
    """Results with the majority-class rate of each test set (the floor any intent model must beat), saying where
    a dataset has no test split and its dev set is scored instead."""
    results = Results(source=ctx.source, target=ctx.target)
    for lang in (ctx.source, ctx.target):
        if ctx.labels.intents is not None:
            with reading_labels(f"{lang} test majority class"):
                results.set_majority(lang, [ex.intent for ex in ctx.data.split(lang, "test")])
        if ctx.data.test_is_dev(lang):
            results.notes.append(
                f"{ctx.data.reader.title} has no {lang} test split: its dev set is scored as test for {lang}"
            )
    if "translator" in ctx.__dict__ and ctx.translator.oracle:
        results.notes.append(f"oracle translation ({ctx.translator.name}), an upper bound for MT, not MT")
    return results


def report(ctx: RunContext, results: Results, model: TaskModel, *languages: str) -> None:
    """Test scores of ``model`` in each of ``languages``."""
    for lang in languages:
        results.add(model, lang, evaluate(ctx, model, ctx.data.split(lang, "test"), f"{lang} test"))
