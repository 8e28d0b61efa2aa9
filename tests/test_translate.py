"""Translators: the oracle parallel-corpus lookup (and its refusals), the seq2seq translator driven through a
tiny random M2M-100 built offline (plumbing only: its output is random text), and the translator configs."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CONF, SHARED, compose_config
from hydra.utils import instantiate
from omegaconf import OmegaConf, open_dict
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from distillx.data.schema import Example, Span
from distillx.errors import DistillxError
from distillx.translate import ParallelCorpusTranslator, Seq2SeqTranslator, TinyM2M100Builder, Translator

DATA = SHARED / "data"
needs_data = pytest.mark.skipif(not (DATA / "massive").is_dir(), reason=f"{DATA} absent: no offline benchmark copies")


def labelled(uid: str, language: str, text: str, **extra) -> Example:
    return Example(uid, language, text, intent="x", spans=(Span(0, 1, "a"),), words=text.split(), slots=["O"], **extra)


class FakeDataset:
    """A minimal reader: ids and parallel flag chosen by the test."""

    title = "Fake"

    def __init__(self, rows: dict[str, list[Example]], parallel: bool, **attrs) -> None:
        self.rows, self.parallel, self.languages = rows, parallel, tuple(rows)
        self.loads = 0
        for key, value in attrs.items():
            setattr(self, key, value)

    def load(self, language: str) -> dict[str, list[Example]]:
        self.loads += 1
        return {"train": self.rows[language][:1], "test": self.rows[language][1:]}


def unlabelled(ex: Example) -> bool:
    return ex.intent is None and ex.spans == () and ex.slots is None and ex.words == []


# ---------------------------------------------------------------------- oracle: parallel corpus
@needs_data
def test_parallel_returns_the_aligned_massive_row_without_labels() -> None:
    from distillx.data.readers import MassiveDataset

    dataset = MassiveDataset(path=str(DATA / "massive"), task="intent")
    translator = ParallelCorpusTranslator(dataset)
    assert isinstance(translator, Translator) and translator.oracle and "oracle" in translator.name
    english = dataset.load("en")
    german = {ex.id: ex for split in dataset.load("de").values() for ex in split}
    picked = english["train"][:3] + english["dev"][-2:]
    out = translator.translate(picked, "en", "de")
    assert [ex.id for ex in out] == [ex.id for ex in picked]
    for ex in out:
        assert ex.language == "de" and ex.text == german[ex.id].text and unlabelled(ex)
    assert german[out[0].id].intent is not None  # the dataset's own row kept its label: a copy was returned


def test_parallel_refuses_non_parallel_datasets_and_missing_rows() -> None:
    rows = {lang: [labelled(f"{lang}:train:{i}", lang, f"{lang} {i}") for i in range(3)] for lang in ("en", "de")}
    with pytest.raises(DistillxError, match="not parallel between en and de"):
        ParallelCorpusTranslator(FakeDataset(rows, parallel=False)).translate(rows["en"], "en", "de")

    shared = {lang: [labelled(f"train:{i}", lang, f"{lang} {i}") for i in range(3)] for lang in ("en", "de", "hi")}
    shared["de"] = shared["de"][:2]
    dataset = FakeDataset(shared, parallel=True, parallel_languages=("en", "de"))
    translator = ParallelCorpusTranslator(dataset)
    with pytest.raises(DistillxError, match=r"1 of 3 en examples have no aligned de row .*'train:2'"):
        translator.translate(shared["en"], "en", "de")
    out = translator.translate(shared["en"][:2], "en", "de")
    assert [ex.text for ex in out] == ["de 0", "de 1"] and all(unlabelled(ex) for ex in out)
    assert dataset.loads == 1  # the de index is cached
    with pytest.raises(DistillxError, match="parallel only across en, de, not hi"):
        translator.translate(shared["en"], "en", "hi")
    with pytest.raises(DistillxError, match="has no 'ja'"):
        translator.translate(shared["en"], "en", "ja")
    with pytest.raises(DistillxError, match="not in the source language 'de'"):
        translator.translate(shared["en"][:1], "de", "en")
    with pytest.raises(DistillxError, match="cannot paraphrase"):
        translator.paraphrase(shared["en"], "en", 2)


def test_parallel_keeps_the_second_sentence_of_pair_tasks() -> None:
    rows = {lang: [Example("t:0", lang, f"{lang} a", intent="1", text_pair=f"{lang} b")] for lang in ("en", "fr")}
    (out,) = ParallelCorpusTranslator(FakeDataset(rows, parallel=True)).translate(rows["en"], "en", "fr")
    assert (out.text, out.text_pair, out.intent) == ("fr a", "fr b", None)


@pytest.mark.skipif(not (DATA / "multiatis_pp").is_dir(), reason=f"{DATA}/multiatis_pp absent")
def test_parallel_multiatis_accepts_shared_ids_and_refuses_hindi() -> None:
    from distillx.data.readers import MultiAtisDataset

    dataset = MultiAtisDataset(path=str(DATA / "multiatis_pp"), task="intent")
    translator = ParallelCorpusTranslator(dataset)
    english = dataset.load("en")["test"][:2]
    german = {ex.id: ex.text for ex in dataset.load("de")["test"]}
    assert [ex.text for ex in translator.translate(english, "en", "de")] == [german[ex.id] for ex in english]
    with pytest.raises(DistillxError, match="not parallel between en and hi"):
        translator.translate(english, "en", "hi")


# ---------------------------------------------------------------------- seq2seq on a tiny random M2M-100
@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    builder = TinyM2M100Builder(str(tmp_path_factory.mktemp("tiny") / "tiny-m2m100"), ["en", "de", "zh"])
    path = builder.ensure()
    assert builder.ensure() == path  # cached, keyed by its settings
    return path


def test_tiny_m2m100_loads_offline(tiny_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    model = AutoModelForSeq2SeqLM.from_pretrained(tiny_dir)
    assert model.config.model_type == "m2m_100" and model.config.d_model == 32
    ids = tokenizer.convert_tokens_to_ids(["__en__", "__zh__"])
    assert tokenizer.unk_token_id not in ids and len(set(ids)) == 2
    assert tokenizer("turn the lights")["input_ids"][-1] == tokenizer.eos_token_id
    assert not [p.name for p in tiny_dir.parent.iterdir() if p.name.startswith(".build-")]  # temp dir renamed


def test_seq2seq_translates_and_paraphrases(tiny_dir: Path) -> None:
    translator = Seq2SeqTranslator(str(tiny_dir), batch_size=2, max_length=12, seed=3, progress=False)
    assert isinstance(translator, Translator) and not translator.oracle
    examples = [
        labelled("a", "en", "turn the lights off please"),
        labelled("b", "en", "what is the weather", text_pair="tomorrow"),
        labelled("c", "en", "hi"),
    ]
    out = translator.translate(examples, "en", "zh")
    assert [ex.id for ex in out] == ["a", "b", "c"]
    assert all(ex.language == "zh" and isinstance(ex.text, str) and unlabelled(ex) for ex in out)
    assert out[1].text_pair is not None and out[0].text_pair is None
    assert examples[0].intent == "x" and examples[0].words  # inputs untouched

    paraphrases = translator.paraphrase(examples, "en", 3)
    assert [ex.id for ex in paraphrases] == [f"{u}~p{k}" for u in "abc" for k in range(3)]
    assert all(ex.language == "en" and unlabelled(ex) for ex in paraphrases)
    assert translator.paraphrase(examples, "en", 3) == paraphrases  # seeded: repeatable
    assert len({ex.text for ex in paraphrases}) > 1  # sampled, not greedy
    with pytest.raises(DistillxError, match="not in the source language 'de'"):
        translator.translate(examples, "de", "en")
    with pytest.raises(DistillxError, match="no __xx__ token"):
        translator.translate(examples, "en", "xx")


def test_seq2seq_missing_model_is_a_one_line_error(tmp_path: Path) -> None:
    for name in (str(tmp_path / "no-such-model"), "facebook/no-such-m2m100"):
        translator = Seq2SeqTranslator(name, progress=False)
        with pytest.raises(DistillxError, match=r"translator\.name_or_path") as err:
            translator.translate([labelled("a", "en", "hello")], "en", "de")
        assert "\n" not in str(err.value) and "local directory" in str(err.value)
    with pytest.raises(DistillxError, match=r"translator\.name_or_path is not set"):
        Seq2SeqTranslator(None)


# ---------------------------------------------------------------------- configs
def with_translator(tmp_path: Path, name: str):
    cfg = compose_config(["trainer.progress=false"], tmp_path)
    with open_dict(cfg):
        cfg.translator = OmegaConf.load(CONF / "translator" / f"{name}.yaml")
    return cfg


def test_translator_configs_instantiate(tmp_path: Path) -> None:
    cfg = with_translator(tmp_path, "tiny_m2m100")
    tiny = instantiate(cfg.translator, max_length=8)
    assert isinstance(tiny, Seq2SeqTranslator) and "random" in tiny.name
    (out,) = tiny.translate([labelled("a", "en", "hello")], "en", "de")
    assert out.language == "de" and (tmp_path / "cache" / "tiny-m2m100").is_dir()

    cfg = with_translator(tmp_path, "m2m100")
    real = instantiate(cfg.translator)  # the model loads on first use only
    assert isinstance(real, Seq2SeqTranslator) and real.name_or_path == "facebook/m2m100_418M"

    cfg = with_translator(tmp_path, "parallel")
    oracle = instantiate(cfg.translator)  # the demo dataset, parallel across its languages
    assert isinstance(oracle, ParallelCorpusTranslator) and oracle.oracle
    reader = FakeDataset({"en": [], "de": []}, parallel=True)
    assert instantiate(cfg.translator, dataset=reader).dataset is reader
