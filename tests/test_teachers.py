"""Several teachers per stage: each utterance's targets come from its language's teacher, stored outputs are keyed by
the teachers' weights, features are computed on the fly, and one-language batches reach the model and teacher."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn

from distillx.data.schema import Example
from distillx.distill.objectives import FeatureMatch, KLDivergence, Objective
from distillx.distill.teachers import online_teacher, stored_outputs
from distillx.models.factory import TaskModel
from distillx.train.batching import EncodedSet
from distillx.train.loop import Trainer
from distillx.train.sampling import LanguageBatches


class Constant(nn.Module):
    """Answers every utterance with the same logits; records the languages of the batches it sees."""

    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.tensor(logits))
        self.languages: list[str | None] = []

    def forward(self, input_ids, attention_mask, word_index=None, language=None, features=False):
        self.languages.append(language)
        out = {"intent": self.logits.expand(input_ids.size(0), -1)}
        if features:
            states = self.logits.expand(*input_ids.shape, -1)
            out |= {"hidden_states": (states, states), "attention_mask": attention_mask}
        return out


def teacher(logits: list[float], weights: str) -> TaskModel:
    return TaskModel("teacher", "const", Constant(logits), tokenizer=None, max_length=8, weights=weights)


def examples() -> list[Example]:
    return [Example(f"{i}", lang, "x", words=["w", str(i)]) for i, lang in enumerate(["en", "de", "en", "sw", "de"])]


def fake_ctx(trainer: Trainer) -> SimpleNamespace:
    def encode(_model: TaskModel, exs: list[Example]) -> EncodedSet:
        return EncodedSet([[1, 2] for _ in exs], 0, languages=[ex.language for ex in exs])

    return SimpleNamespace(trainer=trainer, encode=encode)


def make_trainer(**kw) -> Trainer:
    defaults = {"epochs": 1, "batch_size": 2, "progress": False, "precision": "fp32", "device": "cpu"}
    return Trainer(lambda p, lr: torch.optim.SGD(p, lr=lr), **{**defaults, **kw})


def test_each_utterance_gets_its_languages_teacher_and_stored_outputs_follow_the_weights(tmp_path: Path):
    ctx = fake_ctx(make_trainer())
    teachers = {"en": teacher([1.0, 0.0], "w-en"), "de": teacher([0.0, 1.0], "w-de"), "*": teacher([5.0, 5.0], "w")}
    targets = stored_outputs(ctx, teachers, examples(), tmp_path / "out.pt")
    assert targets["intent"].argmax(-1).tolist() == [0, 1, 0, 0, 1]
    assert targets["intent"][3].tolist() == [5.0, 5.0]  # sw: no teacher of its own, the '*' one
    # the stored file is reused for the same teachers, and not served once a teacher's weights change
    teachers["en"].model.logits.data = torch.tensor([0.0, 9.0])
    assert torch.equal(stored_outputs(ctx, teachers, examples(), tmp_path / "out.pt")["intent"], targets["intent"])
    teachers["en"].weights = "w-en-retrained"
    again = stored_outputs(ctx, teachers, examples(), tmp_path / "out.pt")
    assert again["intent"].argmax(-1).tolist() == [1, 1, 1, 0, 1]


def test_one_language_batches_reach_the_model_and_the_on_the_fly_teacher(tmp_path: Path):
    trainer = make_trainer(epochs=2)
    ctx = fake_ctx(trainer)
    teachers = {"en": teacher([1.0, 0.0], "a"), "de": teacher([0.0, 1.0], "b"), "sw": teacher([2.0, 0.0], "c")}
    exs = examples()
    data = ctx.encode(None, exs).with_targets({})
    student = Constant([0.0, 0.0])
    objective = Objective({"kl": KLDivergence(), "hidden": FeatureMatch("hidden", 1, 1, weight=0.1)})
    assert objective.needs_features
    trainer.fit(
        student,
        data,
        objective,
        lambda m: {"s": 0.0},
        "s",
        0.1,
        tmp_path / "stage",
        lambda *_: None,
        "kd",
        sampler=LanguageBatches(strategy="uniform"),
        teacher=online_teacher(ctx, teachers, exs),
    )
    seen = [lang for lang in student.languages if lang is not None]
    assert seen and set(seen) <= {"en", "de", "sw"}
    for code, t in teachers.items():  # each teacher ran only on its own language's batches
        assert set(t.model.languages) <= {code}
    assert sum(len(t.model.languages) for t in teachers.values()) == len(seen)
