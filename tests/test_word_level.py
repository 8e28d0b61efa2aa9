"""Word-level KD (freetransfer-x.md §2.2.2): one distribution per word at its first sub-word, so teacher and
student with different tokenizations are compared word by word; padding and truncated words are masked."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from distillx.data.schema import LabelVocab
from distillx.distill.objectives import HardCrossEntropy, KLDivergence
from distillx.models.encoder import Encoded
from distillx.models.heads import TaskHeads
from distillx.report.scores import Decoded, decode, score
from distillx.text.align import encode_words
from distillx.text.vocab import train_bpe
from distillx.train.batching import EncodedSet, collate, collate_targets
from distillx.train.loop import Trainer


class IdentityEncoder(nn.Module):
    """Token states = one-hot of the token id: lets a test see which position a head reads."""

    hidden_size = 16

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Encoded:
        tokens = nn.functional.one_hot(input_ids, self.hidden_size).float()
        return Encoded(tokens=tokens, sentence=tokens[:, 0])


def test_slot_head_reads_each_word_at_its_first_subword():
    model = TaskHeads(IdentityEncoder(), num_slots=16, dropout=0.0)
    with torch.no_grad():
        model.slots.weight.copy_(torch.eye(16))
        model.slots.bias.zero_()
    ids = torch.tensor([[1, 5, 6, 7, 2, 0], [1, 9, 2, 0, 0, 0]])
    word_index = torch.tensor([[1, 3, -1], [1, -1, -1]])  # word 2 of row 0 truncated away
    out = model(ids, (ids > 0).long(), word_index)
    assert out["slots"].argmax(-1)[0, :2].tolist() == [5, 7]  # tokens at positions 1 and 3
    assert out["slots"].argmax(-1)[1, 0].item() == 9
    assert out["word_mask"].tolist() == [[True, True, False], [True, False, False]]


def test_word_level_kd_masks_padding_and_words_either_model_did_not_see():
    teacher = torch.tensor([[[math.log(3.0), 0.0], [5.0, -5.0], [0.0, 9.0]]])
    student = torch.zeros(1, 3, 2, requires_grad=True)
    targets = {"slots": teacher, "word_mask": torch.tensor([[True, True, False]])}  # teacher truncated word 2
    outputs = {"slots": student, "word_mask": torch.tensor([[True, False, True]])}  # student truncated word 1
    loss = KLDivergence()(outputs, targets)
    one_word = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert loss.item() == pytest.approx(one_word, abs=1e-6)  # only word 0 counts
    loss.backward()
    assert student.grad[0, 1:].abs().sum() == 0
    nothing = {"slots": student, "word_mask": torch.zeros(1, 3, dtype=torch.bool)}
    assert KLDivergence()(nothing, targets).item() == 0.0  # not NaN


def test_joint_kd_sums_sentence_and_word_losses():
    outputs = {"intent": torch.zeros(1, 2), "slots": torch.zeros(1, 1, 2), "word_mask": torch.ones(1, 1, dtype=bool)}
    targets = {"intent": torch.tensor([[math.log(3.0), 0.0]]), "slots": torch.tensor([[[math.log(3.0), 0.0]]])}
    targets["word_mask"] = torch.ones(1, 1, dtype=torch.bool)
    one = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert KLDivergence()(outputs, targets).item() == pytest.approx(2 * one, abs=1e-6)


def test_gold_loss_ignores_padded_and_unseen_words():
    logits = torch.tensor([[[4.0, 0.0], [0.0, 4.0], [9.0, -9.0]]])
    outputs = {"slots": logits, "word_mask": torch.tensor([[True, True, False]])}
    tags = torch.tensor([[0, 1, 1]])  # the third word's tag is unreachable: it is masked, not a huge error
    expected = nn.functional.cross_entropy(logits[0, :2], tags[0, :2])
    assert HardCrossEntropy()(outputs, {"slots": tags}).item() == pytest.approx(expected.item(), abs=1e-6)


def test_teacher_and_student_with_different_tokenizers_agree_on_word_count():
    """Two BPE vocabularies split the same words differently; both give exactly one position per word."""
    words = [["unbelievably", "long", "words", "everywhere"], ["short"]]
    corpus = [["un", "believ", "ably", "long", "word", "s"], ["every", "where", "short"]] * 5
    coarse = train_bpe(words * 20, vocab_size=200, min_frequency=1)
    fine = train_bpe(corpus, vocab_size=60, min_frequency=1)
    a, b = encode_words(coarse, words, 64), encode_words(fine, words, 64)
    assert len(a["input_ids"][0]) != len(b["input_ids"][0])  # really different tokenizations
    for wa, wb, ws in zip(a["word_index"], b["word_index"], words, strict=True):
        assert len(wa) == len(wb) == len(ws) and min(wa) > 0 and min(wb) > 0


def test_predict_returns_word_outputs_per_example_and_targets_pad_back(tmp_path: Path):
    trainer = Trainer(optimizer=torch.optim.AdamW, device="cpu", precision="fp32", progress=False, eval_batch_size=2)
    model = TaskHeads(IdentityEncoder(), num_intents=3, num_slots=4, dropout=0.0)
    data = EncodedSet([[1, 5, 2], [1, 5, 6, 7, 2], [1, 2]], 0, [[1], [1, 2, 3], []])
    out = trainer.predict(model, data)
    assert out["intent"].shape == (3, 3)
    assert [s.shape for s in out["slots"]] == [(1, 4), (3, 4), (0, 4)]
    batch = collate(data, [0, 1], torch.device("cpu"))
    padded = collate_targets({"slots": out["slots"], "word_mask": out["word_mask"]}, [0, 1], torch.device("cpu"))
    assert padded["slots"].shape == (2, 3, 4) and batch["word_index"].shape == (2, 3)
    assert padded["word_mask"].tolist() == [[True, False, False], [True, True, True]]
    empty = collate_targets({"slots": out["slots"], "word_mask": out["word_mask"]}, [2], torch.device("cpu"))
    assert empty["slots"].shape == (1, 1, 4) and not empty["word_mask"].any()


def test_scores_are_entity_level_with_exact_match():
    gold = [["B-city", "I-city", "O"], ["O", "B-date"]]
    predicted = Decoded(intents=["a", "b"], slots=[["B-city", "O", "O"], ["O", "B-date"]])
    metrics = score(predicted, intents=["a", "a"], slots=gold)
    # entities: gold {city(0-1), date}, predicted {city(0), date}: one of two right -> P = R = F1 = 0.5
    assert metrics == pytest.approx(
        {"accuracy": 0.5, "slot_f1": 0.5, "exact_match": 0.0, "majority": 1.0, "predicted_entities": 2.0}
    )
    assert score(Decoded(slots=gold), slots=gold) == {"slot_f1": 1.0, "exact_match": 1.0, "predicted_entities": 2.0}


def test_decode_tags_truncated_words_as_outside():
    vocab = LabelVocab(("O", "B-x"))
    outputs = {"slots": [torch.tensor([[0.0, 1.0], [0.0, 1.0]])], "word_mask": [torch.tensor([True, False])]}
    assert decode(outputs, None, vocab).slots == [["B-x", "O"]]
