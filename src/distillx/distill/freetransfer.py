"""FreeTransfer-X (freetransfer-x.md §2): 2-step KD from an off-the-shelf source model, through an mPLM,
to a target-language student, with no label used after the source model."""

from __future__ import annotations

from distillx.context import RunContext
from distillx.distill.stages import distill, evaluate, train_supervised
from distillx.report.results import Results


class FreeTransfer:
    def __init__(self, temperature: float = 1.0) -> None:
        self.temperature = temperature

    def run(self, ctx: RunContext) -> Results:
        cfg, src, tgt = ctx.cfg, ctx.source, ctx.target
        annotated, src_unlabeled = ctx.halves(src)
        _, tgt_unlabeled = ctx.halves(tgt)
        src_dev, tgt_dev = ctx.split(src, "dev"), ctx.split(tgt, "dev")

        # The off-the-shelf source model, simulated from the annotated half (the only labels ever used).
        teacher = ctx.small_model("teacher", src)
        train_supervised(ctx, "source_model", teacher, annotated, src_dev, lr=cfg.teacher.lr)

        # KD step 1: source model -> mPLM, on unlabeled source text.
        mplm = ctx.mplm_model()
        distill(ctx, "kd1_mplm", teacher, mplm, src_unlabeled, src_dev, cfg.mplm.lr, self.temperature)

        # KD step 2: mPLM (zero-shot in the target language) -> target student, on unlabeled target text.
        student = ctx.small_model("student", tgt)
        tgt_corpus = ctx.augmentation(tgt_unlabeled)
        distill(ctx, "kd2_student", mplm, student, tgt_corpus, tgt_dev, cfg.student.lr, self.temperature)

        results = Results(source=src, target=tgt)
        tests = {src: ctx.split(src, "test"), tgt: ctx.split(tgt, "test")}
        for lang, examples in tests.items():
            if ctx.labels is not None:
                results.set_majority(lang, [ex.intent for ex in examples])
        results.add(teacher, src, evaluate(ctx, teacher, tests[src], f"{src} test"))
        for lang, examples in tests.items():
            results.add(mplm, lang, evaluate(ctx, mplm, examples, f"{lang} test"))
        results.add(student, tgt, evaluate(ctx, student, tests[tgt], f"{tgt} test"))
        return results
