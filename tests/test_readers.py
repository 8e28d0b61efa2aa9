"""Benchmark readers against the offline copies in ../shared/data: counts from each SOURCE.md, valid BIO,
bad rows failing with file + line + field (or counted under on_error=skip), and the configs."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from distillx.data.readers import (
    ConllDataset,
    CustomDataset,
    MassiveDataset,
    MtopDataset,
    MultiAtisDataset,
    PawsxDataset,
    WikiannDataset,
    XnliDataset,
)
from distillx.data.readers.base import BadRow
from distillx.data.readers.mtop import locate, parse_flat
from distillx.data.readers.multiatis import intent_label
from distillx.data.schema import Example, Span
from distillx.data.validate import check_labels
from distillx.errors import DistillxError
from distillx.text.retag import to_iob2
from distillx.text.segment import ThaiSegmenter, UnicodeSegmenter, bio_is_valid, spans_to_bio, word_offsets

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"benchmark copies not found at {DATA}")

# ---------------------------------------------------------------- counts from the SOURCE.md files
MULTIATIS = {  # language: ((train, dev, test), (token/tag mismatches train, dev, test))
    "en": ((4488, 490, 893), (0, 0, 0)),
    "de": ((4488, 490, 893), (1, 0, 1)),
    "es": ((4488, 490, 893), (4, 1, 80)),
    "fr": ((4488, 490, 893), (75, 1, 102)),
    "hi": ((1495, 160, 893), (0, 0, 0)),
    "ja": ((4488, 490, 893), (1, 0, 7)),
    "pt": ((4488, 490, 893), (10, 1, 1)),
    "tr": ((626, 60, 715), (0, 0, 0)),
    "zh": ((4488, 490, 893), (1, 0, 0)),
}
MTOP = {
    "en": (15667, 2235, 4386),
    "de": (13424, 1815, 3549),
    "es": (10934, 1527, 2998),
    "fr": (11815, 1577, 3193),
    "hi": (11357, 2027, 2798),
    "th": (10759, 1671, 2765),
}
CONLL = {  # language: (sentences, tokens) for train, dev, test
    "es": ((8323, 264715), (1915, 52923), (1517, 51533)),
    "nl": ((15806, 202644), (2895, 37687), (5195, 68875)),
    "en": ((14041, 203621), (3250, 51362), (3453, 46435)),
    "de": ((2587, 46016), (287, 5428), (3007, 51943)),
}
WIKIANN = {"en": (20000, 10000, 10000), "zh": (20000, 10000, 10000), "ja": (20000, 10000, 10000)}
SPLITS = ("train", "dev", "test")


def reader(cls, folder: str, **kwargs):
    return cls(str(DATA / folder), **kwargs)


# ---------------------------------------------------------------- MultiATIS++
@pytest.fixture(scope="module")
def multiatis():
    atis = reader(MultiAtisDataset, "multiatis_pp", task="both", on_error="skip")
    return atis, {lang: atis.load(lang) for lang in atis.languages}


@pytest.mark.parametrize("language", list(MULTIATIS))
def test_multiatis_counts_less_the_counted_bad_rows(multiatis, language):
    atis, data = multiatis
    counts, mismatches = MULTIATIS[language]
    for split, n, bad, stem in zip(SPLITS, counts, mismatches, SPLITS, strict=True):
        assert len(data[language][split]) == n - bad
        key = f"multiatis/{stem}_{language.upper()}.tsv: tags/words count mismatch"
        assert atis.skipped.get(key, 0) == bad
    for ex in (ex for split in data[language].values() for ex in split):
        assert bio_is_valid(ex.slots) and len(ex.slots) == len(ex.words)
        assert ex.text.replace(" ", "") == "".join(ex.words)


def test_multiatis_intent_task_keeps_every_row():
    atis = reader(MultiAtisDataset, "multiatis_pp", task="intent", on_error="raise")
    splits = atis.load("fr")
    assert [len(splits[s]) for s in SPLITS] == list(MULTIATIS["fr"][0])
    assert atis.skipped == {} and splits["train"][0].slots is None


def test_multiatis_mismatch_raises_with_file_line_and_field():
    atis = reader(MultiAtisDataset, "multiatis_pp", task="slots", on_error="raise")
    with pytest.raises(DistillxError, match=r"train_DE\.tsv:\d+: slot_labels: tags/words count mismatch"):
        atis.load("de")


def test_multiatis_intent_labels_shared_across_languages(multiatis):
    _, data = multiatis
    english = {ex.intent for ex in data["en"]["train"]}
    assert len(english) == 17 and all("#" not in label for label in english)
    for language, splits in data.items():
        assert {ex.intent for ex in splits["train"]} <= english, language
        # Only atis_day_name (2 test utterances) is never in training data, in any language.
        with pytest.raises(DistillxError, match=r"test has labels never seen.*'intent atis_day_name' \(2\)") as err:
            check_labels(splits, f"multiatis/{language}", reference=data["en"])
        assert "\n" not in str(err.value)


def test_multi_intent_policies():
    assert intent_label("atis_flight#atis_airfare", "first") == "atis_flight"
    assert intent_label("atis_flight airfare", "joined") == "atis_flight#atis_airfare"
    assert intent_label("atis_flight_no airline", "first") == "atis_flight_no"


def test_multiatis_parallel_ids(multiatis):
    _, data = multiatis
    atis = reader(MultiAtisDataset, "multiatis_pp", task="intent")
    en, zh = atis.load("en")["dev"], atis.load("zh")["dev"]
    assert [ex.id for ex in en] == [ex.id for ex in zh]
    hi_ids = [ex.id for ex in data["hi"]["train"]]
    assert len(set(hi_ids)) == len(hi_ids) and all(i.startswith("hi:") for i in hi_ids)


# ---------------------------------------------------------------- MTOP
@pytest.fixture(scope="module")
def mtop():
    reader_ = reader(MtopDataset, "mtop", task="both")
    return reader_, {lang: reader_.load(lang) for lang in reader_.languages}


@pytest.mark.parametrize("language", list(MTOP))
def test_mtop_counts_and_located_slots(mtop, language):
    reader_, data = mtop
    assert [len(data[language][s]) for s in SPLITS] == list(MTOP[language])
    assert reader_.skipped == {}
    first = data[language]["train"][0]
    assert first.intent and first.intent.isupper() and first.spans and not first.words


def test_mtop_slot_values_found_at_character_level():
    text = "Has Angelika Kratzer video messaged me?"
    intent, values = parse_flat(
        "[IN:GET_MESSAGE [SL:CONTACT Angelika Kratzer ] [SL:TYPE_CONTENT video ] [SL:RECIPIENT me ] ]"
    )
    assert intent == "GET_MESSAGE"
    spans = locate(text, values)
    assert [text[s.start : s.end] for s in spans] == ["Angelika Kratzer", "video", "me"]
    assert spans[-1].start == text.rindex("me")  # the word, not the "me" of "messaged"
    thai = locate("ตั้งแต่วันอังคารกลุ่มเพื่อน", [("DATE_TIME", "ตั้งแต่ วัน อังคาร"), ("GROUP", "กลุ่ม เพื่อน")])
    assert [(s.start, s.end) for s in thai] == [(0, 16), (16, 27)]
    with pytest.raises(BadRow, match="slot value not found"):
        locate(text, [("CONTACT", "Bob")])


@pytest.mark.parametrize("language,segmenter", [("en", UnicodeSegmenter()), ("th", ThaiSegmenter())])
def test_mtop_bio_over_distillx_segmentation(mtop, language, segmenter):
    _, data = mtop
    spans = inexact = exact_checked = 0
    for ex in (ex for split in data[language].values() for ex in split):
        words = segmenter(ex.text)
        alignment = spans_to_bio(ex.text, words, ex.spans)
        assert bio_is_valid(alignment.tags)
        offsets = word_offsets(ex.text, words)
        starts, ends = {s for s, _ in offsets}, {e for _, e in offsets}
        spans += len(ex.spans)
        inexact += alignment.inexact
        for span in ex.spans:
            overlapped = any(o != span and o.start < span.end and span.start < o.end for o in ex.spans)
            if overlapped or span.start not in starts or span.end not in ends:
                continue
            # Exactly aligned: the B- word through the last I- word of that slot recover the slot value.
            first = [s for s, _ in offsets].index(span.start)
            assert alignment.tags[first] == f"B-{span.label}"
            last = first
            while last + 1 < len(words) and alignment.tags[last + 1] == f"I-{span.label}":
                last += 1
            assert ex.text[offsets[first][0] : offsets[last][1]] == ex.text[span.start : span.end]
            exact_checked += 1
    fraction = inexact / spans
    print(f"MTOP {language}: {spans} slots, {fraction:.2%} inexact over {type(segmenter).__name__}")
    assert exact_checked > 0.9 * spans
    assert fraction < (0.001 if language == "en" else 0.06)


# ---------------------------------------------------------------- MASSIVE
@pytest.fixture(scope="module")
def massive():
    reader_ = reader(MassiveDataset, "massive", task="both")
    return {lang: reader_.load(lang) for lang in reader_.languages}


def test_massive_counts_and_parallel_ids(massive):
    assert MassiveDataset.parallel
    for language, splits in massive.items():
        assert [len(splits[s]) for s in SPLITS] == [11514, 2033, 2033], language
        for split in SPLITS:
            assert [ex.id for ex in splits[split]] == [ex.id for ex in massive["en"][split]]
            assert [ex.intent for ex in splits[split]] == [ex.intent for ex in massive["en"][split]]
            assert all(bio_is_valid(ex.slots) for ex in splits[split])
    assert " " not in massive["th"]["train"][0].text  # Thai words joined as Thai is written


# ---------------------------------------------------------------- CoNLL
def test_iob1_to_iob2_on_a_handmade_sentence():
    iob1 = ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-LOC", "I-ORG", "O", "I-MISC"]
    assert to_iob2(iob1) == ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "B-ORG", "O", "B-MISC"]
    assert to_iob2(["B-PER", "I-PER", "O"]) == ["B-PER", "I-PER", "O"]


@pytest.mark.parametrize("language", list(CONLL))
def test_conll_counts_and_valid_iob2(language):
    conll = reader(ConllDataset, "conll")
    splits = conll.load(language)
    for split, (sentences, tokens) in zip(SPLITS, CONLL[language], strict=True):
        assert len(splits[split]) == sentences
        assert sum(len(ex.words) for ex in splits[split]) == tokens
        assert all(bio_is_valid(ex.slots) and ex.intent is None for ex in splits[split])
    if language == "en":  # IOB1 source: converted, not counted as repairs
        assert conll.repaired == {} and splits["train"][0].slots[:3] == ["B-ORG", "O", "B-MISC"]


def test_conll_rejects_intent_task():
    with pytest.raises(DistillxError, match="dataset.task='intent'.*supports slots"):
        reader(ConllDataset, "conll", task="intent")


# ---------------------------------------------------------------- WikiANN
@pytest.mark.parametrize("language", list(WIKIANN))
def test_wikiann_counts_and_valid_iob2(language):
    wikiann = reader(WikiannDataset, "wikiann")
    splits = wikiann.load(language)
    assert [len(splits[s]) for s in SPLITS] == list(WIKIANN[language])
    assert all(bio_is_valid(ex.slots) for split in splits.values() for ex in split)
    if language == "ja":  # no labeled test: dev again
        assert splits["test"] == splits["dev"]
    if language == "zh":  # characters, joined without spaces; "#"-split names repaired and counted
        assert splits["train"][0].text == "".join(splits["train"][0].words)
        assert wikiann.repaired["wikiann/train-zh.tsv.gz: I- tag starting an entity, made B-"] == 731


# ---------------------------------------------------------------- XNLI, PAWS-X
@pytest.mark.parametrize(
    "cls,folder,language,sizes,labels",
    [
        (XnliDataset, "xnli", "th", (1494, 498, 498), {"entailment", "neutral", "contradiction"}),
        (PawsxDataset, "pawsx", "ko", (1200, 400, 400), {"paraphrase", "not_paraphrase"}),
    ],
)
def test_sentence_pairs(cls, folder, language, sizes, labels):
    pairs = reader(cls, folder)
    splits, english = pairs.load(language), pairs.load("en")
    assert [len(splits[s]) for s in SPLITS] == list(sizes)
    assert {ex.intent for ex in splits["train"]} == labels
    for split in SPLITS:
        assert [ex.id for ex in splits[split]] == [ex.id for ex in english[split]]
        assert all(ex.text and ex.text_pair and not ex.words for ex in splits[split])
    with pytest.raises(DistillxError, match="supports intent"):
        cls(str(DATA / folder), task="slots")


# ---------------------------------------------------------------- malformed copies of real files
@pytest.fixture
def atis_copy(tmp_path):
    """The first 30 rows of each English MultiATIS++ split: a small, valid copy to break."""
    for split in SPLITS:
        lines = (DATA / "multiatis_pp" / f"{split}_EN.tsv").read_bytes().splitlines(keepends=True)[:31]
        (tmp_path / f"{split}_EN.tsv").write_bytes(b"".join(lines))
    return tmp_path


def _break(path: Path, lineno: int, change) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    lines[lineno - 1] = change(lines[lineno - 1])
    path.write_bytes(b"".join(lines))


BREAKS = {
    "columns": (lambda line: line.replace(b"\t", b" ", 1), "wrong column count"),
    "slot_labels": (lambda line: line.replace(b"\tO ", b"\t", 1), "tags/words count mismatch"),
    "bytes": (lambda line: line.replace(b"\t", b"\t\xff", 1), "not valid utf-8"),
}


@pytest.mark.parametrize("field", list(BREAKS))
def test_bad_row_raises_naming_file_line_and_field(atis_copy, field):
    change, reason = BREAKS[field]
    _break(atis_copy / "train_EN.tsv", 5, change)
    with pytest.raises(DistillxError) as err:
        MultiAtisDataset(str(atis_copy), task="both").load("en")
    message = str(err.value)
    assert f"{atis_copy / 'train_EN.tsv'}:5: {field}: {reason}" in message
    assert "dataset.on_error=skip" in message and "\n" not in message


def test_bad_rows_skipped_and_counted(atis_copy):
    for lineno, (change, _) in zip((4, 6, 8), BREAKS.values(), strict=True):
        _break(atis_copy / "train_EN.tsv", lineno, change)
    atis = MultiAtisDataset(str(atis_copy), task="both", on_error="skip")
    assert len(atis.load("en")["train"]) == 27
    assert atis.skipped == {
        "multiatis/train_EN.tsv: wrong column count": 1,
        "multiatis/train_EN.tsv: tags/words count mismatch": 1,
        "multiatis/train_EN.tsv: not valid utf-8": 1,
    }


@pytest.mark.parametrize("on_error", ["raise", "skip"])
def test_empty_file_always_fails(atis_copy, on_error):
    (atis_copy / "dev_EN.tsv").write_bytes(b"")
    with pytest.raises(DistillxError, match=r"dev_EN\.tsv:1: header: empty file"):
        MultiAtisDataset(str(atis_copy), on_error=on_error).load("en")
    (atis_copy / "dev_EN.tsv").write_bytes((DATA / "multiatis_pp" / "dev_EN.tsv").read_bytes().splitlines()[0])
    with pytest.raises(DistillxError, match=r"dev_EN\.tsv: empty file \(no data rows after the header\)"):
        MultiAtisDataset(str(atis_copy), on_error=on_error).load("en")


def test_conll_bad_block_line_and_bytes(tmp_path):
    folder = tmp_path / "conll"
    shutil.copytree(DATA / "conll", folder, ignore=shutil.ignore_patterns("ned*", "esp*", "deu*", "*.md", "*.txt"))
    with gzip.open(DATA / "conll" / "eng.train.gz", "rb") as fh:
        lines = fh.read().splitlines(keepends=True)[:40]
    lines[5] = b"rejects\n"  # line 6: one column instead of 4
    lines[10] = lines[10].replace(b"Peter", b"P\xe9ter")  # line 11: not ASCII
    with gzip.open(folder / "eng.train.gz", "wb") as fh:
        fh.write(b"".join(lines))
    with pytest.raises(DistillxError, match=r"eng\.train\.gz:6: columns: wrong column count \(1 instead of 4\)"):
        ConllDataset(str(folder)).load("en")
    conll = ConllDataset(str(folder), on_error="skip")
    conll.load("en")
    assert conll.skipped == {
        "conll/eng.train.gz: wrong column count": 1,
        "conll/eng.train.gz: not valid ascii": 1,
    }


def test_mtop_unlocatable_slot_counted(tmp_path):
    for split in ("train", "eval", "test"):
        (tmp_path / "en").mkdir(exist_ok=True)
        with gzip.open(DATA / "mtop" / "en" / f"{split}.tsv.gz", "rb") as fh:
            lines = fh.read().splitlines(keepends=True)[:20]
        lines[2] = lines[2].replace(b"[SL:ORDINAL next ]", b"[SL:ORDINAL previous ]")
        with gzip.open(tmp_path / "en" / f"{split}.tsv.gz", "wb") as fh:
            fh.write(b"".join(lines))
    mtop = MtopDataset(str(tmp_path), task="both", on_error="skip")
    assert len(mtop.load("en")["train"]) == 19
    assert mtop.skipped == {"mtop/en/train.tsv.gz: slot value not found in utterance": 1}
    with pytest.raises(DistillxError, match=r"train\.tsv\.gz:3: flat_representation: slot value not found"):
        MtopDataset(str(tmp_path), task="both").load("en")


def test_missing_directory_and_unknown_language(tmp_path):
    with pytest.raises(DistillxError, match="directory not found; point dataset.path at your copy of MTOP"):
        MtopDataset(str(tmp_path / "nowhere"))
    with pytest.raises(DistillxError, match="MASSIVE has no 'zh'"):
        reader(MassiveDataset, "massive").load("zh")


# ---------------------------------------------------------------- labels across splits
def test_check_labels_one_line_error_for_unseen_dev_label():
    def ex(intent: str) -> Example:
        return Example("1", "en", "hi", intent)

    check_labels({"train": [ex("a"), ex("b")], "dev": [ex("a")], "test": [ex("b")]}, "demo/en")
    with pytest.raises(
        DistillxError, match=r"^demo/en: dev has labels never seen in the training data: 'intent c' \(2\);"
    ) as err:
        check_labels({"train": [ex("a")], "dev": [ex("c"), ex("c")], "test": []}, "demo/en")
    assert "\n" not in str(err.value)
    spans = Example("2", "en", "at 7", spans=(Span(3, 4, "time"),))
    with pytest.raises(DistillxError, match="'slot time'"):
        check_labels({"train": [ex("a")], "dev": [], "test": [spans]}, "x")


# ---------------------------------------------------------------- custom data
def test_custom_jsonl_and_tsv(tmp_path):
    (tmp_path / "en.jsonl").write_text(
        '{"id": "1", "split": "train", "text": "wake me at 7 am", "intent": "alarm", "spans": [[11, 15, "time"]]}\n'
        '{"id": "2", "split": "validation", "words": ["stop", "it"], "slots": ["O", "O"], "intent": "stop"}\n'
        '{"id": "3", "split": "test", "text": "x", "intent": "alarm", "spans": [[0, 5, "time"]]}\n'
        "not json\n",
        encoding="utf-8",
    )
    (tmp_path / "zh.tsv").write_text(
        "id\tsplit\twords\tintent\tslots\n1\ttrain\t叫 我 7 点\talarm\tO O B-time I-time\n2\ttest\t停\tstop\n",
        encoding="utf-8",
    )
    custom = CustomDataset(str(tmp_path), task="both", on_error="skip", parallel=True)
    assert custom.languages == ("en", "zh")
    en = custom.load("en")
    assert en["train"][0].spans == (Span(11, 15, "time"),) and en["dev"][0].slots == ["O", "O"]
    assert "test" not in en
    assert custom.skipped == {"custom/en.jsonl: span out of range": 1, "custom/en.jsonl: not valid JSON": 1}
    zh = custom.load("zh")
    assert zh["train"][0].text == "叫我7点" and zh["train"][0].id == "train:1"
    assert custom.skipped["custom/zh.tsv: wrong column count"] == 1
    with pytest.raises(DistillxError, match=r"en\.jsonl:3: spans: span out of range"):
        CustomDataset(str(tmp_path), task="both").load("en")


# ---------------------------------------------------------------- configs
DATASETS = {
    "multiatis": "multiatis_pp",
    "mtop": "mtop",
    "massive": "massive",
    "wikiann": "wikiann",
    "conll": "conll",
    "xnli": "xnli",
    "pawsx": "pawsx",
}


@pytest.mark.parametrize("name", list(DATASETS))
def test_dataset_configs_instantiate(name):
    cfg = OmegaConf.load(REPO / "conf" / "dataset" / f"{name}.yaml")
    assert cfg.path == f"../shared/data/{DATASETS[name]}"
    assert {"_target_", "path", "task", "on_error"} <= set(cfg)
    cfg.path = str(DATA / DATASETS[name])
    dataset = instantiate(cfg)
    assert dataset.name == name and dataset.task == cfg.task and dataset.on_error == cfg.on_error
    offered = dataset.languages if name != "wikiann" else WIKIANN
    for language in offered:
        assert (REPO / "conf" / "language" / f"{language}.yaml").is_file(), language


def test_custom_config_needs_a_path():
    cfg = OmegaConf.load(REPO / "conf" / "dataset" / "custom.yaml")
    assert cfg.path is None and cfg._target_ == "distillx.data.readers.CustomDataset"
    with pytest.raises(DistillxError, match="dataset.path is not set"):
        CustomDataset(path=cfg.path)
