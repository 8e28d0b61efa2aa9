"""The Apertium translator on the installed English-Spanish pair (``make apertium``; CI installs it, so nothing here
skips): real translations both ways, the one-line error for a pair that is not installed, one process per corpus,
the round-trip paraphrases and their count, and the ``translator=apertium`` config."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import compose_config
from hydra.utils import instantiate

from distillx.augment import Paraphrase
from distillx.cli import run, user_error
from distillx.data.pipeline import segment_examples
from distillx.data.schema import Example
from distillx.errors import DistillxError
from distillx.text.segment import UnicodeSegmenter
from distillx.translate import ApertiumTranslator, Translator
from distillx.translate import apertium as apertium_module

# Spanish round trips through English as apertium-eng-spa 0.8.1 (Debian 12) makes them.
SAME = ["quiero reservar un vuelo a madrid", "reproduce música de shakira", "Llama a mi madre"]
CHANGED = {
    "pon una alarma a las siete": "puesto una alarma al siete",
    "recuérdame comprar leche": "me recuerdo comprar leche",
}


def examples(language: str, texts: list[str]) -> list[Example]:
    return [Example(f"{language}:{i}", language, text, intent="x", words=text.split()) for i, text in enumerate(texts)]


@pytest.fixture(scope="module")
def translator() -> ApertiumTranslator:
    return ApertiumTranslator(["en", "es"])


@pytest.fixture
def calls(monkeypatch) -> list[list[str]]:
    """The argv of every ``apertium`` translation process started from now on."""
    started: list[list[str]] = []
    run = subprocess.run

    def spy(argv, *args, **kwargs):
        if argv[0] == "apertium" and "-l" not in argv:
            started.append(list(argv))
        return run(argv, *args, **kwargs)

    monkeypatch.setattr(apertium_module.subprocess, "run", spy)
    return started


def test_translates_fixed_sentences_both_ways(translator: ApertiumTranslator) -> None:
    assert isinstance(translator, Translator) and not translator.oracle
    english = examples("en", ["I want to book a flight to Madrid", "show me the weather", "set an alarm for seven"])
    spanish = translator.translate(english, "en", "es")
    assert [ex.id for ex in spanish] == ["en:0", "en:1", "en:2"]
    assert all(ex.language == "es" and ex.intent is None and ex.words == [] for ex in spanish)
    expected = [{"quiero", "vuelo"}, {"tiempo"}, {"alarma", "siete"}]
    for source, out, words in zip(english, spanish, expected, strict=True):
        assert out.text != source.text and words <= set(out.text.lower().split()), out.text
    assert spanish[1].text.startswith("me")  # the input's lower case, not Apertium's capital

    back = translator.translate(examples("es", list(CHANGED) + SAME[:2]), "es", "en")
    expected = [{"alarm", "seven"}, {"remember", "milk"}, {"flight", "madrid"}, {"music", "shakira"}]
    for out, words in zip(back, expected, strict=True):
        assert out.language == "en" and words <= set(out.text.lower().split()), out.text


def test_utterances_stay_apart_and_special_characters_survive(translator: ApertiumTranslator) -> None:
    """On plain text Apertium moves words across line breaks ("a York" / "Nuevo mañana"); chunks keep them apart."""
    pair = Example("p", "en", "I want to book a flight to New", text_pair="York tomorrow.")
    inputs = [*examples("en", ["I want to book a flight to New", "York tomorrow.", "", "what is 5/2 [x] <b> @c"]), pair]
    out = translator.translate(inputs, "en", "es")
    assert out[0].text.endswith("a Nuevo") and out[1].text == "York mañana."
    assert out[2].text == "" and "5/2 [x] <b> @c" in out[3].text
    assert (out[4].text, out[4].text_pair) == (out[0].text, out[1].text)


def test_a_missing_pair_or_program_is_a_one_line_error(translator: ApertiumTranslator, monkeypatch) -> None:
    for languages, hint in (
        (["en", "gl"], "apt-get install apertium-en-gl"),
        (["es", "ca"], "apt-get install apertium-eng-cat"),  # the round trip of ca through the pivot en
        (["en", "zh"], "apt-cache search apertium"),
    ):
        with pytest.raises(DistillxError, match="mode is installed") as err:
            ApertiumTranslator(languages)
        assert hint in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(DistillxError, match=r"no Apertium en->gl mode .*apertium-en-gl"):
        translator.translate(examples("en", ["hello"]), "en", "gl")
    monkeypatch.setattr(apertium_module.shutil, "which", lambda name: None)
    with pytest.raises(DistillxError, match=r"apertium program is not installed; run `make apertium`"):
        ApertiumTranslator(["en", "es"])


def test_a_corpus_goes_through_one_process(translator: ApertiumTranslator, calls: list[list[str]]) -> None:
    corpus = examples("en", [f"show me flights to city {i}" for i in range(200)])
    corpus[0] = Example("pair", "en", "hello", text_pair="good morning")
    out = translator.translate(corpus, "en", "es")
    assert len(out) == 200 and out[0].text_pair == "buenos días"
    assert calls == [["apertium", "-f", "none", "-z", "-u", "eng-spa"]]
    translator.paraphrase(examples("es", SAME), "es", 1)
    assert [argv[-1] for argv in calls[1:]] == ["spa-eng", "eng-spa"]  # one process per leg of the round trip


def test_output_that_does_not_split_into_the_inputs_is_refused(translator: ApertiumTranslator, monkeypatch) -> None:
    def merged(argv, *args, **kwargs):
        return subprocess.CompletedProcess(argv, 0, stdout=b"una.[]\0dos tres.[]\0\0\0", stderr=b"")

    monkeypatch.setattr(apertium_module.subprocess, "run", merged)
    with pytest.raises(DistillxError, match="does not split into 3 translations"):
        translator.translate(examples("en", ["one", "two", "three"]), "en", "es")


def test_round_trip_paraphrases_and_their_count(translator: ApertiumTranslator) -> None:
    """D_tgt + D_para (freetransfer-x.md §2.3.2), D_para by es -> en -> es, logged with how many differ."""
    corpus = examples("es", [*SAME, *CHANGED])
    logged: dict[str, float] = {}
    ctx = SimpleNamespace(
        translator=translator,
        segment=lambda exs, language: segment_examples(exs, UnicodeSegmenter(), "intent"),
        log_metrics=logged.update,
    )
    mixed = Paraphrase(n=1)(ctx, corpus, "es")
    assert mixed[: len(corpus)] == corpus
    paraphrases = mixed[len(corpus) :]
    assert [ex.id for ex in paraphrases] == [f"{ex.id}~p0" for ex in corpus]
    assert [ex.text for ex in paraphrases] == [*SAME, *CHANGED.values()]
    assert all(ex.language == "es" and ex.intent is None and ex.words for ex in paraphrases)
    assert logged == {"data/es/paraphrases": 5.0, "data/es/paraphrases_changed": 2.0}

    with pytest.raises(DistillxError, match="set augmentation.n=1"):
        translator.paraphrase(corpus, "es", 2)
    with pytest.raises(DistillxError, match="through translator.pivot=en"):
        translator.paraphrase(examples("en", ["hello"]), "en", 1)


def test_translator_apertium_composes(tmp_path: Path) -> None:
    cfg = compose_config(["translator=apertium", "language=es", "augmentation=paraphrase"], tmp_path)
    built = instantiate(cfg.translator)
    assert isinstance(built, ApertiumTranslator) and built.pivot == "en" and not built.mark_unknown
    (out,) = built.translate(examples("en", ["good morning"]), "en", "es")
    assert out.text == "buenos días"
    with pytest.raises(Exception) as err:  # the demo's default target has no pair; Hydra wraps the error
        instantiate(compose_config(["translator=apertium"], tmp_path).translator)
    message = str(user_error(err.value))
    assert "no Apertium en->zh mode" in message and "\n" not in message


def test_a_run_that_translates_checks_its_pair_before_training(tmp_path: Path) -> None:
    """Language-balanced KD on the demo (en -> zh) with Apertium: the missing en->zh mode stops the run with one
    line before the source model trains (no stage directory is made)."""
    cfg = compose_config(["translator=apertium", "method=freetransfer_balanced"], tmp_path)
    with pytest.raises(Exception) as err:
        run(cfg, tmp_path / "run", "no-pair")
    message = str(user_error(err.value))
    assert "no Apertium en->zh mode" in message and "\n" not in message
    assert not (tmp_path / "run" / "stages").exists()
