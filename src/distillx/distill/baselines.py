"""The baselines and the reference of freetransfer-x.md §3.2, composed of the same steps as FreeTransfer-X."""

from __future__ import annotations

from torch import nn

from distillx.context import RunContext
from distillx.distill import steps
from distillx.distill.stages import predict, train_supervised
from distillx.distill.teachers import stored_outputs
from distillx.errors import DistillxError
from distillx.models.factory import TaskModel
from distillx.report.results import Results
from distillx.report.scores import score


def _needs_intent_only(ctx: RunContext, method: str) -> None:
    if "slots" in ctx.labels.heads:
        raise DistillxError(
            f"method={method} needs dataset.task=intent: it would have to carry word-level tags through machine "
            "translation, which needs a word aligner distillx does not have"
        )


class ZeroShot:
    """The step-1 mPLM evaluated directly on the target language (no student): what the mPLM's cross-lingual
    transfer gives before KD step 2 (Tables 4/5)."""

    def __init__(self, supervised: nn.Module, kd: nn.Module, balanced: bool = False) -> None:
        self.supervised = supervised
        self.kd = kd
        self.balanced = balanced
        self.translates = balanced  # KD step 1 on the source corpus and its translation

    def run(self, ctx: RunContext) -> Results:
        teacher = steps.source_model(ctx, self.supervised)
        mplm = steps.kd_to_mplm(ctx, teacher, self.kd, balanced=self.balanced)
        results = steps.new_results(ctx)
        steps.report(ctx, results, teacher, ctx.source)
        steps.report(ctx, results, mplm, ctx.source, ctx.target)
        return results


class GoldSupervised:
    """Reference, not label-free: step 1 is the mPLM trained on gold source labels; step 2 is FreeTransfer-X's."""

    def __init__(self, supervised: nn.Module, kd: nn.Module) -> None:
        self.supervised = supervised
        self.kd = kd

    def run(self, ctx: RunContext) -> Results:
        ctx.data.halves(ctx.target)  # first: a target half that cannot feed KD step 2 stops the run before step 1
        teacher = steps.source_model(ctx, self.supervised)
        mplm = steps.gold_mplm(ctx, self.supervised)
        student = steps.kd_to_student(ctx, mplm, self.kd)
        results = steps.new_results(ctx)
        steps.report(ctx, results, teacher, ctx.source)
        steps.report(ctx, results, mplm, ctx.source, ctx.target)
        steps.report(ctx, results, student, ctx.target)
        results.notes.append("gold_supervised is a reference trained with source gold labels in step 1")
        return results


class TranslateTest:
    """Two-pass inference: translate the target test set into the source language and classify it with the
    off-the-shelf source model."""

    translates = True

    def __init__(self, supervised: nn.Module) -> None:
        self.supervised = supervised

    def run(self, ctx: RunContext) -> Results:
        _needs_intent_only(ctx, "translate_test")
        teacher = steps.source_model(ctx, self.supervised)
        test = ctx.data.split(ctx.target, "test")
        in_source = steps.translated(ctx, test, ctx.target, ctx.source)
        results = steps.new_results(ctx)
        steps.report(ctx, results, teacher, ctx.source)
        two_pass = TaskModel(
            "translate_test", f"MT + {teacher.arch}", teacher.model, teacher.tokenizer, teacher.max_length
        )
        reference = ctx.labels.reference(test, f"{ctx.target} test")
        results.add(two_pass, ctx.target, score(predict(ctx, teacher, in_source), **reference))
        return results


class TranslateTrainPseudo:
    """Translate the unlabeled source half into the target language, label it with the source model's
    predictions (hard pseudo-labels), and train the target student on it. The dev set is the source dev set
    translated and pseudo-labelled the same way, so no target label is read."""

    translates = True

    def __init__(self, supervised: nn.Module) -> None:
        self.supervised = supervised

    def run(self, ctx: RunContext) -> Results:
        _needs_intent_only(ctx, "translate_train_pseudo")
        src, tgt = ctx.source, ctx.target
        teacher = steps.source_model(ctx, self.supervised)
        _, corpus = ctx.data.halves(src)
        dev = ctx.data.split(src, "dev")
        pseudo_dir = ctx.store.stage("source_model_predictions", {"teacher": teacher.fingerprint}, shared=True)
        with pseudo_dir.lock():
            train_labels = stored_outputs(ctx, teacher, corpus, pseudo_dir.dir / "train.pt")["intent"].argmax(-1)
            dev_labels = stored_outputs(ctx, teacher, dev, pseudo_dir.dir / "dev.pt")["intent"].argmax(-1)
        train_t, dev_t = steps.translated(ctx, corpus, src, tgt), steps.translated(ctx, dev, src, tgt)
        student = ctx.models.small_model("student", tgt)
        assert ctx.labels.intents is not None
        dev_reference = {"intents": [ctx.labels.intents.labels[i] for i in dev_labels.tolist()]}
        train_supervised(
            ctx,
            "translate_train_pseudo",
            student,
            train_t,
            dev_t,
            self.supervised,
            labels={"intent": train_labels},
            dev_reference=dev_reference,
        )
        results = steps.new_results(ctx)
        steps.report(ctx, results, teacher, src)
        steps.report(ctx, results, student, tgt)
        return results
