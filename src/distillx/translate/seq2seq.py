"""Machine translation and paraphrase generation with a Hugging Face encoder-decoder (M2M-100 in the paper,
freetransfer-x.md §3.3: facebook/m2m100_418M).

M2M-100 conditions on languages with tokens: the source text starts with ``__src__`` and decoding is forced
to start with ``__tgt__``. Paraphrases are translations into the same language with sampled decoding
(§2.3.2, after Guo et al. 2019's zero-shot paraphrasing with a multilingual model).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from tqdm.auto import tqdm

from distillx.data.schema import Example
from distillx.errors import DistillxError
from distillx.train.precision import resolve_device
from distillx.translate.base import paraphrase_id, source_texts, unlabelled

log = logging.getLogger(__name__)


class Seq2SeqTranslator:
    """An M2M-100-style seq2seq model: greedy/beam decoding translates, top-p sampling paraphrases.

    ``name_or_path`` is a local model directory or a hub name; ``build`` (an object with ``ensure() -> Path``,
    or its Hydra config) builds a local model instead, e.g. the tiny random M2M-100 used by plumbing tests.
    The model is loaded on first use so that composing a config never loads 1.8 GB of weights. With ``seed``
    set, every call draws from its own seeded RNG: the same inputs give the same outputs whatever ran before.
    """

    oracle = False

    def __init__(
        self,
        name_or_path: str | None = None,
        batch_size: int = 16,
        max_length: int = 128,
        num_beams: int = 1,
        sample_top_p: float = 0.9,
        device: str = "auto",
        build: Any = None,
        name: str | None = None,
        seed: int | None = None,
        progress: bool = True,
    ) -> None:
        if batch_size < 1 or num_beams < 1 or max_length < 2:
            raise DistillxError(
                f"translator.batch_size={batch_size}, num_beams={num_beams}, max_length={max_length}: "
                "batch_size and num_beams must be at least 1, max_length at least 2"
            )
        if not 0 < sample_top_p <= 1:
            raise DistillxError(f"translator.sample_top_p={sample_top_p}: choose a value in (0, 1]")
        if build is not None and not hasattr(build, "ensure"):
            build = instantiate(build) if isinstance(build, Mapping) or hasattr(build, "_target_") else build
        if build is None and not name_or_path:
            raise DistillxError(
                "translator.name_or_path is not set: set it to a local M2M-100 directory (the hub is unreachable) "
                "or use translator=tiny_m2m100 for a random plumbing model"
            )
        self.name_or_path = str(name_or_path) if name_or_path else None
        self.build = build
        self.name = name or (Path(self.name_or_path).name if self.name_or_path else "seq2seq (built)")
        self.batch_size = batch_size
        self.max_length = max_length
        self.num_beams = num_beams
        self.sample_top_p = sample_top_p
        self.device = resolve_device(device)
        self.seed = seed
        self.progress = progress
        self._model: Any = None
        self._tokenizer: Any = None

    # ------------------------------------------------------------------ loading
    def load(self) -> None:
        """Build (if configured) and load tokenizer and model; later calls do nothing."""
        if self._model is not None:
            return
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        path = str(self.build.ensure()) if self.build is not None else str(self.name_or_path)
        local = Path(path).expanduser()
        looks_local = local.is_absolute() or path.startswith((".", "~")) or local.exists()
        if looks_local and not (local / "config.json").is_file():
            raise DistillxError(
                f"translator.name_or_path={path}: no model directory there (config.json missing); set "
                "translator.name_or_path to a local directory holding a seq2seq model such as facebook/m2m100_418M"
            )
        source = str(local) if looks_local else path
        try:
            tokenizer = AutoTokenizer.from_pretrained(source)
            model = AutoModelForSeq2SeqLM.from_pretrained(source)
        except ImportError as err:
            raise DistillxError(
                f"translator.name_or_path={path}: its tokenizer needs a missing package ({_first_line(err)}); "
                "install it (M2M-100 needs `pip install sentencepiece`)"
            ) from None
        except (OSError, ValueError) as err:
            raise DistillxError(
                f"translator.name_or_path={path}: cannot load it ({_first_line(err)}); set "
                "translator.name_or_path to a local directory with the downloaded model (the hub is unreachable)"
            ) from None
        model.to(self.device).eval()
        self._tokenizer, self._model = tokenizer, model
        log.info("translator %s loaded from %s on %s", self.name, source, self.device)

    def language_id(self, language: str) -> int:
        """The id of ``language``'s token: ``get_lang_id`` for M2M-100's own tokenizer, else ``__xx__``."""
        self.load()
        tok = self._tokenizer
        if hasattr(tok, "get_lang_id"):
            try:
                return int(tok.get_lang_id(language))
            except KeyError:
                pass
        token = f"__{language}__"
        ids = tok.convert_tokens_to_ids([token])
        if not ids or ids[0] is None or ids[0] == tok.unk_token_id:
            raise DistillxError(
                f"language {language!r}: translator {self.name} has no {token} token; choose a language the "
                "model knows or another translator.name_or_path"
            )
        return int(ids[0])

    # ------------------------------------------------------------------ the Translator protocol
    def translate(self, examples: list[Example], source: str, target: str) -> list[Example]:
        """Greedy (``num_beams=1``) or beam-search translation, one output per input."""
        texts, pairs = source_texts(examples, source)
        outputs = self._generate(texts + [p for p in pairs if p is not None], source, target, sample=False, n=1)
        out_pairs = iter(outputs[len(texts) :])
        return [
            unlabelled(ex, target, outputs[i][0], None if pairs[i] is None else next(out_pairs)[0])
            for i, ex in enumerate(examples)
        ]

    def paraphrase(self, examples: list[Example], language: str, n: int) -> list[Example]:
        """``n`` top-p samples of ``language`` -> ``language`` translation per input (ids ``<id>~p<k>``)."""
        if n < 1:
            raise DistillxError(f"paraphrase count n={n}: it must be at least 1")
        texts, pairs = source_texts(examples, language)
        outputs = self._generate(texts + [p for p in pairs if p is not None], language, language, sample=True, n=n)
        out_pairs = iter(outputs[len(texts) :])
        result = []
        for i, ex in enumerate(examples):
            pair_samples = None if pairs[i] is None else next(out_pairs)
            for k in range(n):
                pair = None if pair_samples is None else pair_samples[k]
                result.append(unlabelled(ex, language, outputs[i][k], pair, uid=paraphrase_id(ex.id, k)))
        return result

    # ------------------------------------------------------------------ generation
    @torch.inference_mode()
    def _generate(self, texts: list[str], source: str, target: str, *, sample: bool, n: int) -> list[list[str]]:
        """``n`` outputs per text, in input order. Texts go through in length-sorted batches (less padding)."""
        if not texts:
            return []
        self.load()
        tok, model = self._tokenizer, self._model
        source_id = None
        if hasattr(tok, "src_lang"):
            tok.src_lang = source  # M2M-100's tokenizer prepends __src__ itself
        else:
            source_id = self.language_id(source)
        forced = self.language_id(target)
        # M2M-100 inputs are "__src__ text </s>": truncate the text to leave room for the language token.
        encoded = tok(texts, truncation=True, max_length=self.max_length - (source_id is not None))["input_ids"]
        if source_id is not None:
            encoded = [[source_id, *ids] for ids in encoded]
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]), reverse=True)
        results: list[list[str]] = [[] for _ in texts]
        options: dict[str, Any] = {"forced_bos_token_id": forced, "max_new_tokens": self.max_length}
        if sample:
            options.update(do_sample=True, top_p=self.sample_top_p, top_k=0, num_beams=1, num_return_sequences=n)
        else:
            options.update(do_sample=False, num_beams=self.num_beams)
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        what = "paraphrasing" if sample else "translating"
        with self._rng():
            for batch in tqdm(batches, desc=f"{what} {source}->{target}", disable=not self.progress):
                padded = tok.pad({"input_ids": [encoded[i] for i in batch]}, return_tensors="pt")
                generated = model.generate(**{k: v.to(self.device) for k, v in padded.items()}, **options)
                decoded = tok.batch_decode(generated, skip_special_tokens=True)
                for j, i in enumerate(batch):
                    results[i] = [text.strip() for text in decoded[j * n : (j + 1) * n]]
        return results

    @contextmanager
    def _rng(self) -> Iterator[None]:
        """A private RNG stream seeded with ``seed`` (the global one when unset), restored afterwards."""
        if self.seed is None:
            yield
            return
        devices = [self.device.index or torch.cuda.current_device()] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed)
            yield


def _first_line(err: Exception) -> str:
    """The first non-blank line of an exception's message: DistillxError messages are one line."""
    return next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)
