"""FreeTransfer-X (freetransfer-x.md §2): 2-step KD from an off-the-shelf source model, through an mPLM,
to a target-language student, with no label used after the source model."""

from __future__ import annotations

from torch import nn

from distillx.context import RunContext
from distillx.distill import steps
from distillx.report.results import Results


class FreeTransfer:
    """Source model -> mPLM on source text (plus its translation when ``balanced``) -> student on target text
    (plus the ``augmentation``'s utterances). ``supervised`` trains the source model on its labels; ``kd`` is
    what both KD steps optimise (the objectives of ``conf/objective``)."""

    def __init__(self, supervised: nn.Module, kd: nn.Module, balanced: bool = False) -> None:
        self.supervised = supervised
        self.kd = kd
        self.balanced = balanced
        self.translates = balanced  # KD step 1 on the source corpus and its translation

    def run(self, ctx: RunContext) -> Results:
        ctx.data.halves(ctx.target)  # first: a target half that cannot feed KD step 2 stops the run before step 1
        teacher = steps.source_model(ctx, self.supervised)
        mplm = steps.kd_to_mplm(ctx, teacher, self.kd, balanced=self.balanced)
        student = steps.kd_to_student(ctx, mplm, self.kd)
        results = steps.new_results(ctx)
        steps.report(ctx, results, teacher, ctx.source)
        steps.report(ctx, results, mplm, ctx.source, ctx.target)
        steps.report(ctx, results, student, ctx.target)
        return results
