"""The steps the methods of freetransfer-x.md are made of, each one stage over the run's data: the simulated
off-the-shelf source model, KD step 1 into the mPLM (plain or language-balanced), its gold-supervised
replacement, KD step 2 into the target student, and the per-language test report.

Steps that do not depend on the target language or the student declare the config keys they depend on, so
a sweep over languages or students trains them once (``share_stages``)."""

from __future__ import annotations

from distillx.context import RunContext, TaskModel
from distillx.data.schema import Example
from distillx.distill.stages import distill, evaluate, train_supervised
from distillx.errors import DistillxError
from distillx.report.results import Results

SOURCE_MODEL_KEYS = ("dataset", "source", "teacher", "trainer", "vocab", "max_length", "split", "seed", "share_stages")
"""Everything the simulated source model depends on (not the target language, not the student)."""
MPLM_KEYS = (*SOURCE_MODEL_KEYS, "mplm", "method.temperature")


def source_model(ctx: RunContext) -> TaskModel:
    """The off-the-shelf source model, simulated by training on the annotated half of the source train split
    (§3.1): the only labels a label-free method ever uses."""
    src = ctx.source
    annotated, _ = ctx.halves(src)
    teacher = ctx.small_model("teacher", src)
    train_supervised(
        ctx,
        "source_model",
        teacher,
        annotated,
        ctx.split(src, "dev"),
        lr=ctx.cfg.teacher.lr,
        depends_on=SOURCE_MODEL_KEYS,
    )
    return teacher


def translated(ctx: RunContext, examples: list[Example], source: str, target: str) -> list[Example]:
    """``examples`` translated by the run's translator, segmented in ``target``; labels never travel along."""
    out = ctx.translator.translate(examples, source, target)
    ctx.segment(out, target)
    return out


def kd_to_mplm(ctx: RunContext, teacher: TaskModel, temperature: float, balanced: bool = False) -> TaskModel:
    """KD step 1: source model -> mPLM on the unlabeled source half; ``balanced`` adds that half translated into
    the target language, with the source model's distribution on each English original (§2.3.1)."""
    src, tgt = ctx.source, ctx.target
    _, corpus = ctx.halves(src)
    teacher_inputs = corpus
    keys: tuple[str, ...] = MPLM_KEYS
    if balanced:
        if "slots" in ctx.heads:
            raise DistillxError(
                "method.balanced=true needs dataset.task=intent: the source model's word-level predictions cannot "
                "be carried to translated words without a word aligner (freetransfer-x.md §3.4.2 skips it too)"
            )
        corpus = corpus + translated(ctx, corpus, src, tgt)
        teacher_inputs = teacher_inputs + teacher_inputs
        keys = (*MPLM_KEYS, "language.code", "language.segmenter", "translator", "method.balanced")
    mplm = ctx.mplm_model()
    distill(
        ctx,
        "kd1_mplm",
        teacher,
        mplm,
        corpus,
        ctx.split(src, "dev"),
        ctx.cfg.mplm.lr,
        temperature,
        teacher_inputs=teacher_inputs,
        depends_on=keys,
    )
    return mplm


def gold_mplm(ctx: RunContext) -> TaskModel:
    """The Gold-supervised reference's step 1 (§3.2): the mPLM trained on the gold labels of the source text
    that KD step 1 would read, instead of on the source model's predictions."""
    _, corpus = ctx.halves(ctx.source)
    mplm = ctx.mplm_model()
    train_supervised(
        ctx,
        "gold_mplm",
        mplm,
        corpus,
        ctx.split(ctx.source, "dev"),
        lr=ctx.cfg.mplm.lr,
        depends_on=(*SOURCE_MODEL_KEYS, "mplm"),
    )
    return mplm


def kd_to_student(ctx: RunContext, teacher: TaskModel, temperature: float) -> TaskModel:
    """KD step 2: the mPLM, zero-shot in the target language -> target student on the unlabeled target half,
    mixed with the augmentation's extra utterances (§2.3.2)."""
    tgt = ctx.target
    _, corpus = ctx.halves(tgt)
    corpus = ctx.augmentation(ctx, corpus, tgt)
    ctx.log_metrics({f"data/{tgt}/kd2_corpus_examples": float(len(corpus))})
    student = ctx.small_model("student", tgt)
    distill(ctx, "kd2_student", teacher, student, corpus, ctx.split(tgt, "dev"), ctx.cfg.student.lr, temperature)
    return student


def new_results(ctx: RunContext) -> Results:
    """Results with the majority-class rate of each test set (the floor any intent model must beat)."""
    results = Results(source=ctx.source, target=ctx.target)
    if ctx.labels is not None:
        for lang in (ctx.source, ctx.target):
            results.set_majority(lang, [ex.intent for ex in ctx.split(lang, "test")])
    if "translator" in ctx.__dict__ and ctx.translator.oracle:
        results.notes.append(f"oracle translation ({ctx.translator.name}), an upper bound for MT, not MT")
    return results


def report(ctx: RunContext, results: Results, model: TaskModel, *languages: str) -> None:
    """Test scores of ``model`` in each of ``languages``."""
    for lang in languages:
        results.add(model, lang, evaluate(ctx, model, ctx.split(lang, "test"), f"{lang} test"))
