"""Moving a dataset's word-level tags onto distillx's segmentation (zh: jieba, ja: MeCab)."""

from __future__ import annotations

import pytest

from distillx.data.schema import Example, Span
from distillx.text.retag import bio_to_spans, join_words, resegment, resegment_examples
from distillx.text.segment import JiebaSegmenter, MecabSegmenter, bio_is_valid, word_offsets


def test_join_words_per_language():
    assert join_words(["wake", "me", "up"], "en") == "wake me up"
    assert join_words(["美国航空", "从", "ua", "281", "次", "航班"], "zh") == "美国航空从ua 281次航班"
    assert join_words(["ปลุก", "hey", "olly", "ตอน"], "th") == "ปลุกhey ollyตอน"
    assert join_words(["S", "h", "o", "w", "音", "樂"], "zh", chars=True) == "Show音樂"


def test_bio_to_spans():
    text = "from new york to boston"
    words = text.split()
    tags = ["O", "B-from", "I-from", "O", "B-to"]
    assert bio_to_spans(word_offsets(text, words), tags) == (Span(5, 13, "from"), Span(17, 23, "to"))


# MultiATIS++ style: words are runs around slot values, not what a segmenter makes of the text.
ZH = Example(
    "train:1",
    "zh",
    "",
    "atis_airfare",
    words=["美国航空", "从", "达拉斯", "到", "旧金山", "的", "71", "次", "航班的票价是多少"],
    slots=["B-airline_name", "O", "B-fromloc.city_name", "O", "B-toloc.city_name", "O", "B-flight_number"]
    + ["I-flight_number", "O"],
)
JA = Example(
    "train:1",
    "ja",
    "",
    "atis_flight",
    words=["ボストン", "から", "午前", "8", "時", "38", "分", "に出発して", "デンバー", "に到着する便"],
    slots=["B-fromloc.city_name", "O", "B-depart_time.time"]
    + ["I-depart_time.time"] * 4
    + ["O", "B-toloc.city_name", "O"],
)


@pytest.mark.parametrize(
    "example,segmenter,values",
    [
        (ZH, JiebaSegmenter(), ["美国航空", "达拉斯", "旧金山", "71次"]),
        (JA, MecabSegmenter(), ["ボストン", "午前8時38分", "デンバー"]),
    ],
)
def test_resegment_carries_tags_to_the_segmenter_words(example, segmenter, values):
    result = resegment(example, segmenter)
    assert result.text == "".join(example.words)
    assert result.words == segmenter(result.text) and result.words != example.words
    assert bio_is_valid(result.tags) and len(result.tags) == len(result.words)
    assert [result.text[s.start : s.end] for s in result.spans] == values
    assert result.unaligned == 0 and result.inexact == 0
    # Exact spans come back word for word: the tagged words' text is the slot value.
    offsets = word_offsets(result.text, result.words)
    tagged = [result.text[offsets[i][0] : offsets[i][1]] for i, t in enumerate(result.tags) if t != "O"]
    assert "".join(tagged) == "".join(values)


def test_resegment_examples_in_place_and_counts():
    zh = Example(ZH.id, ZH.language, "", ZH.intent, words=list(ZH.words), slots=list(ZH.slots))
    spans_only = Example("2", "zh", "从达拉斯出发", spans=(Span(1, 4, "fromloc.city_name"),))
    intent_only = Example("3", "zh", "", "atis_flight", words=["从", "达拉斯", "出发"])
    counts = resegment_examples([zh, spans_only, intent_only], JiebaSegmenter())
    assert counts["examples"] == 3 and counts["spans"] == 5 and counts["unaligned"] == 0
    assert (
        zh.slots is not None
        and len(zh.slots) == len(zh.words)
        and zh.text == "美国航空从达拉斯到旧金山的71次航班的票价是多少"
    )
    assert "B-fromloc.city_name" in spans_only.slots
    assert intent_only.text == "从达拉斯出发" and intent_only.slots is None


def test_inexact_when_a_new_word_crosses_a_span_boundary():
    # "北京" ends inside the segmenter's word "北京市": counted, and the word still carries the tag.
    example = Example("1", "zh", "", words=["北京", "市政府"], slots=["B-city", "O"])
    result = resegment(example, lambda text: ["北京市", "政府"])
    assert result.tags == ["B-city", "O"] and result.inexact == 1
