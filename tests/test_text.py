"""distillx.text: segmenters on real sentences, span -> BIO tags, BPE vocabularies, sub-word alignment."""

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.utils import instantiate

from distillx.data.schema import Span
from distillx.errors import DistillxError
from distillx.text.align import encode_words, first_subword_index
from distillx.text.segment import (
    JiebaSegmenter,
    MecabSegmenter,
    ThaiSegmenter,
    UnicodeSegmenter,
    bio_is_valid,
    spans_to_bio,
)
from distillx.text.vocab import load_vocab, save_vocab, train_bpe

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MPLM_DIR = Path.home() / ".cache" / "distillx" / "mplm" / "e5-small"


# --- segmenters -------------------------------------------------------------------------------------------


def test_jieba_chinese():
    seg = JiebaSegmenter()
    assert seg("我爱北京天安门") == ["我", "爱", "北京", "天安门"]
    assert seg("我来到北京清华大学") == ["我", "来到", "北京", "清华大学"]
    assert seg("明天 早上 8点") == ["明天", "早上", "8", "点"]  # jieba returns the spaces as tokens


def test_mecab_japanese():
    seg = MecabSegmenter()
    assert seg("東京に行きます") == ["東京", "に", "行き", "ます"]
    assert seg("明日の朝７時に起こして") == ["明日", "の", "朝", "７", "時", "に", "起こし", "て"]
    assert seg("東京\u3000に") == ["東京", "に"]  # MeCab returns the ideographic space as a token


def test_mecab_without_dictionary_is_a_user_error(monkeypatch):
    import fugashi

    def broken_tagger(*args):
        raise RuntimeError("Failed initializing MeCab. Please see the README for possible solutions:\n...")

    monkeypatch.setattr(fugashi, "Tagger", broken_tagger)
    with pytest.raises(DistillxError, match="install unidic-lite"):
        MecabSegmenter()("東京")


def test_thai_newmm():
    seg = ThaiSegmenter()
    assert seg("ฉันรักภาษาไทย") == ["ฉัน", "รัก", "ภาษาไทย"]
    assert seg("ผมไปโรงเรียน\nฉันรัก ภาษาไทย") == ["ผม", "ไป", "โรงเรียน", "ฉัน", "รัก", "ภาษาไทย"]


def test_unicode_hindi_keeps_matras_and_viramas():
    words = UnicodeSegmenter()("मैं हिन्दी बोलता हूँ।")
    assert words == ["मैं", "हिन्दी", "बोलता", "हूँ", "।"]


def test_unicode_punctuation_and_lowercase():
    words = UnicodeSegmenter()("Weck mich um 7 Uhr, bitte!")
    assert words == ["Weck", "mich", "um", "7", "Uhr", ",", "bitte", "!"]
    assert UnicodeSegmenter(lowercase=True)("Réveille-moi à 7h, «vite».") == [
        "réveille", "-", "moi", "à", "7h", ",", "«", "vite", "»", ".",
    ]  # fmt: skip
    assert UnicodeSegmenter()("a\u200bb  \t") == ["a", "b"]  # zero-width space separates, is not a token


@pytest.mark.parametrize("cls", [UnicodeSegmenter, JiebaSegmenter, MecabSegmenter, ThaiSegmenter])
def test_segmenters_pickle_after_use_and_build_from_hydra(cls):
    text = "東京に行きます 我爱北京 ฉันรักภาษาไทย hello, world"
    seg = instantiate({"_target_": f"{cls.__module__}.{cls.__qualname__}"})
    words = seg(text)  # loads the backend, which must not travel in the pickle
    clone = pickle.loads(pickle.dumps(seg))
    assert clone(text) == words
    assert words and all(w.strip() for w in words)


# --- span alignment ---------------------------------------------------------------------------------------


def test_spans_to_bio_exact_and_multiword():
    text = "wake me up at 7 am tomorrow"
    words = UnicodeSegmenter()(text)
    al = spans_to_bio(text, words, [Span(14, 18, "time"), Span(19, 27, "date")])
    assert al.tags == ["O", "O", "O", "O", "B-time", "I-time", "B-date"]
    assert (al.unaligned, al.inexact) == (0, 0)


def test_spans_to_bio_adjacent_spans_same_label_restart_with_b():
    al = spans_to_bio("a b c", ["a", "b", "c"], [Span(0, 1, "x"), Span(2, 3, "x")])
    assert al.tags == ["B-x", "B-x", "O"]


def test_spans_to_bio_partial_overlap_is_inexact():
    text, words = "我爱北京天安门", ["我", "爱", "北京", "天安门"]
    across = spans_to_bio(text, words, [Span(3, 5, "loc")])  # 京天: ends inside 天安门
    assert across.tags == ["O", "O", "B-loc", "I-loc"]
    assert (across.unaligned, across.inexact) == (0, 1)
    inside = spans_to_bio(text, words, [Span(4, 6, "loc")])  # 天安, inside one word
    assert inside.tags == ["O", "O", "O", "B-loc"]
    assert (inside.unaligned, inside.inexact) == (0, 1)


def test_spans_to_bio_unaligned():
    # Two spans in one word: the word goes to the larger overlap, the other span is lost.
    al = spans_to_bio("天安门", ["天安门"], [Span(0, 2, "a"), Span(2, 3, "b"), Span(1, 1, "empty")])
    assert al.tags == ["B-a"]
    assert (al.unaligned, al.inexact) == (2, 1)


def test_spans_to_bio_lowercased_words_and_normalised_words():
    text = "Wake me at SEVEN"
    words = UnicodeSegmenter(lowercase=True)(text)
    assert spans_to_bio(text, words, [Span(11, 16, "time")]).tags == ["O", "O", "O", "B-time"]
    with pytest.raises(DistillxError, match="'seven!'"):
        spans_to_bio(text, ["wake", "seven!"], [])


def test_bio_is_valid():
    assert bio_is_valid(["O", "B-a", "I-a", "B-b", "B-b", "I-b"])
    assert bio_is_valid([])
    assert not bio_is_valid(["I-a"])
    assert not bio_is_valid(["B-a", "I-b"])
    assert not bio_is_valid(["O", "I-a"])
    assert not bio_is_valid(["X-a"])
    assert not bio_is_valid(["B-"])


# --- BPE vocabularies -------------------------------------------------------------------------------------

CORPUS = [
    ["set", "an", "alarm", "for", "seven", "am", "tomorrow"],
    ["play", "some", "music", "playing", "played", "player"],
    ["remind", "me", "to", "call", "mom", "tomorrow", "morning"],
    ["what", "is", "the", "weather", "tomorrow", "in", "paris"],
] * 50


def _check_clean(tok, words):
    enc = tok([words], is_split_into_words=True)
    tokens, wids = tok.convert_ids_to_tokens(enc["input_ids"][0]), enc.word_ids(0)
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert wids[0] is None and wids[-1] is None
    for pos in range(1, len(tokens) - 1):
        starts_word = wids[pos] != wids[pos - 1]
        if tokens[pos] != "[UNK]":  # an unknown character gives [UNK], at the start of a word or inside it
            assert tokens[pos].startswith("##") != starts_word, (tokens, wids)
    assert [w for w in wids if w is not None] == sorted(w for w in wids if w is not None)
    assert set(w for w in wids if w is not None) == set(range(len(words)))
    return enc["input_ids"][0]


def test_train_bpe_round_trip(tmp_path):
    tok = train_bpe(CORPUS, vocab_size=80, min_frequency=2)
    assert len(tok) <= 80
    assert tok.cls_token_id == tok.convert_tokens_to_ids("[CLS]") and tok.pad_token == "[PAD]"
    words = ["playing", "tomorrow", "жжж", "xyzq", "a"]
    ids = _check_clean(tok, words)
    tokens = tok.convert_ids_to_tokens(ids)
    assert tokens[1:4] == ["play", "##ing", "tomorrow"]
    assert tokens[4:7] == ["[UNK]", "[UNK]", "##y"]  # a run of unknown characters fuses into one [UNK]
    save_vocab(tok, tmp_path / "vocab")
    loaded = load_vocab(tmp_path / "vocab")
    assert _check_clean(loaded, words) == ids
    enc = loaded([words], is_split_into_words=True, truncation=True, max_length=4)
    assert len(enc["input_ids"][0]) == 4 and enc["input_ids"][0][-1] == loaded.sep_token_id


def test_train_bpe_large_alphabet_respects_vocab_size():
    chars = [chr(0x4E00 + i) for i in range(2000)]
    word_lists = [[chars[(i * 7 + j) % 2000] + chars[(i + 13 * j) % 2000] for j in range(6)] for i in range(999)]
    tok = train_bpe(word_lists, vocab_size=300)
    assert len(tok) <= 300
    _check_clean(tok, word_lists[0])


def test_load_vocab_missing_dir(tmp_path):
    with pytest.raises(DistillxError, match="tokenizer.json"):
        load_vocab(tmp_path)


# --- sub-word alignment -----------------------------------------------------------------------------------


def test_first_subword_index():
    assert first_subword_index([None, 0, 0, 1, 2, 2, None], 4) == [1, 3, 4, -1]
    bare = [False, True, False, True, False, False]
    assert first_subword_index([None, 0, 0, 1, None, None], 2, bare) == [2, 3]  # word 1 kept only its marker


def test_encode_words_on_small_bpe():
    tok = train_bpe(CORPUS, vocab_size=80)
    out = encode_words(tok, [["playing", "music"], ["call", "mom", "tomorrow"]], max_length=5)
    for ids, index in zip(out["input_ids"], out["word_index"], strict=True):
        assert len(ids) <= 5
        assert all(i == -1 or not tok.convert_ids_to_tokens(ids[i]).startswith("##") for i in index)
    assert out["word_index"][0][0] == 1


@pytest.fixture(scope="session")
def mplm_tokenizer():
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: it holds the script that builds the offline multilingual tokenizer")
    script = SHARED / "tools" / "offline-mplm.sh"
    env = {**os.environ, "PYTHON": sys.executable}
    subprocess.run(["bash", str(script), str(MPLM_DIR)], check=True, env=env)  # no-op once built
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(MPLM_DIR))


def test_encode_words_skips_bare_marker_on_xlmr_tokenizer(mplm_tokenizer):
    tok = mplm_tokenizer
    words = ["我", "爱", "北京", "天安门"]
    out = encode_words(tok, [words], max_length=32)
    ids = out["input_ids"][0]
    tokens = tok.convert_ids_to_tokens(ids)
    assert tokens == ["<s>", "▁我", "▁", "爱", "▁", "北京", "▁", "天", "安", "门", "</s>"]
    assert out["word_index"][0] == [1, 3, 5, 7]  # 爱, 北京, 天: the piece after each bare '▁'
    truncated = encode_words(tok, [words], max_length=4)  # <s> ▁我 ▁ </s>: 爱 kept only its marker
    assert truncated["word_index"][0] == [1, 2, -1, -1]
    latin = encode_words(tok, [["wake", "me", "at", "7am"]], max_length=32)
    assert latin["word_index"][0] == [1, 2, 3, 4]


def test_encode_words_with_second_sentences_on_small_bpe():
    tok = train_bpe(CORPUS, vocab_size=80)
    first, second = [["call", "mom"], ["play", "music", "now"]], [["tomorrow"], ["call"]]
    out = encode_words(tok, first, max_length=64, pair_lists=second)
    cls, sep = tok.cls_token_id, tok.sep_token_id
    for ids, index, words in zip(out["input_ids"], out["word_index"], first, strict=True):
        assert ids[0] == cls and ids.count(sep) == 2 and ids[-1] == sep  # [CLS] A [SEP] B [SEP]
        assert len(index) == len(words) and all(0 < i < ids.index(sep) for i in index)  # words of A only
    alone = encode_words(tok, first, max_length=64)
    assert [ids[: ids.index(sep) + 1] for ids in out["input_ids"]] == alone["input_ids"]
    assert out["word_index"] == alone["word_index"]
    short = encode_words(tok, [["call"]], max_length=6, pair_lists=[["play", "music", "now", "tomorrow"]])
    assert len(short["input_ids"][0]) == 6 and short["word_index"][0] == [1]  # the longer sentence is cut


def test_encode_words_with_second_sentences_on_xlmr_tokenizer(mplm_tokenizer):
    tok = mplm_tokenizer
    out = encode_words(tok, [["wake", "me"]], max_length=32, pair_lists=[["at", "7am"]])
    tokens = tok.convert_ids_to_tokens(out["input_ids"][0])
    assert tokens[:4] == ["<s>", "▁wake", "▁me", "</s>"] and tokens[4] == "</s>" and tokens[-1] == "</s>"
    assert out["word_index"][0] == [1, 2]
