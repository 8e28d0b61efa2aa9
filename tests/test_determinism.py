"""Same input, same seed, same result in every process: BPE vocabularies and a whole demo run.

The ``tokenizers`` BPE trainer broke ties in hash order, so two identical demo runs got different vocabularies
and different figures; these tests run the work in separate processes, as two runs would.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

from conftest import REPO, TINY

from distillx.text.vocab import SPECIAL_TOKENS, train_bpe

ENV = {**os.environ, "PYTHONPATH": str(REPO / "src")}


def latin_words(n: int = 400, seed: int = 0) -> list[list[str]]:
    """Utterances of short words over a few letters: many pairs with equal counts, so many ties."""
    rng = random.Random(seed)
    return [["".join(rng.choices("abcdefghij", k=rng.randint(1, 6))) for _ in range(8)] for _ in range(n)]


def cjk_words(n: int = 400, seed: int = 0) -> list[list[str]]:
    """Utterances over 600 Zipf-distributed CJK characters: more characters than the alphabet cap keeps."""
    rng = random.Random(seed)
    chars = [chr(0x4E00 + i) for i in range(600)]
    weights = [1 / (rank + 1) for rank in range(len(chars))]
    return [["".join(rng.choices(chars, weights, k=rng.randint(1, 3))) for _ in range(8)] for _ in range(n)]


TRAIN_IN_A_PROCESS = """
import json, sys
from distillx.text.vocab import save_vocab, train_bpe
inputs = json.load(open(sys.argv[1], encoding="utf-8"))
for name, words in inputs.items():
    save_vocab(train_bpe(words, vocab_size=300), sys.argv[2] + "/" + name)
"""


def test_train_bpe_gives_the_same_vocabulary_in_every_process(tmp_path: Path):
    """Different Python hash seeds too: no set or dict order of strings may leak into the result."""
    inputs = tmp_path / "words.json"
    inputs.write_text(json.dumps({"latin": latin_words(), "cjk": cjk_words()}), encoding="utf-8")
    for run, hash_seed in (("one", "1"), ("two", "2")):
        env = {**ENV, "PYTHONHASHSEED": hash_seed}
        cmd = [sys.executable, "-c", TRAIN_IN_A_PROCESS, str(inputs), str(tmp_path / run)]
        subprocess.run(cmd, check=True, env=env, timeout=300)
    for name in ("latin", "cjk"):
        one = (tmp_path / "one" / name / "tokenizer.json").read_bytes()
        assert one == (tmp_path / "two" / name / "tokenizer.json").read_bytes(), name
        assert len(json.loads(one)["model"]["merges"]) > 50, name  # enough merges to have met ties


def test_vocabulary_respects_size_special_ids_and_alphabet():
    words = latin_words()
    tok = train_bpe(words, vocab_size=300)
    vocab = tok.get_vocab()
    assert len(tok) == len(vocab) == 300  # enough pairs to fill the budget
    assert [tok.convert_ids_to_tokens(i) for i in range(5)] == SPECIAL_TOKENS
    assert set(tok.all_special_ids) == set(range(5))
    assert all(c in vocab and "##" + c in vocab for c in "abcdefghij")  # both forms of every kept character
    encoded = tok([w for ws in words for w in ws], add_special_tokens=False)["input_ids"]
    assert tok.unk_token_id not in {i for ids in encoded for i in ids}

    cjk = cjk_words()
    tok = train_bpe(cjk, vocab_size=300)
    assert len(tok) <= 300
    counts = Counter(c for ws in cjk for w in ws for c in w)
    kept = {t for t in tok.get_vocab() if len(t) == 1 and t not in SPECIAL_TOKENS}
    assert len(kept) == (300 - 5) // 4 < len(counts)  # the cap: a quarter of the budget, both forms
    assert min(counts[c] for c in kept) >= max(counts[c] for c in counts if c not in kept)  # the most frequent
    clean = [w for ws in cjk for w in ws if set(w) <= kept]
    encoded = tok(clean, add_special_tokens=False)["input_ids"]
    assert clean and tok.unk_token_id not in {i for ids in encoded for i in ids}


def test_word_ids_map_pieces_to_their_words():
    tok = train_bpe(latin_words(), vocab_size=300)
    utterance = ["abcdef", "a", "jihgfe", "bad", "cafe"]
    enc = tok([utterance], is_split_into_words=True)
    tokens, word_ids = tok.convert_ids_to_tokens(enc["input_ids"][0]), enc.word_ids(0)
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and word_ids[0] is None and word_ids[-1] is None
    pieces: dict[int, list[str]] = {}
    for token, word in zip(tokens[1:-1], word_ids[1:-1], strict=True):
        pieces.setdefault(word, []).append(token)
    assert sorted(pieces) == list(range(len(utterance)))
    assert any(len(p) > 1 for p in pieces.values())  # some words are split, so continuations are checked
    for word, parts in pieces.items():
        assert not parts[0].startswith("##") and all(p.startswith("##") for p in parts[1:]), parts
        assert parts[0] + "".join(p[2:] for p in parts[1:]) == utterance[word]


def test_two_demo_runs_in_separate_processes_give_the_same_figures(tmp_path: Path):
    """Everything built twice (vocabularies, demo mPLM, every stage): separate cache dirs, no shared stages,
    no preprocessing cache. Compared: the scores, each stage's training losses, the mPLM's MLM loss and the
    vocabulary files (the losses move with any change of vocabulary where the tiny scores may not)."""
    for run in ("one", "two"):
        overrides = ["tracking=none", "trainer.threads=1", "share_stages=false", "preprocess_cache=false"]
        places = [f"hydra.run.dir={tmp_path / run / 'out'}", f"cache_dir={tmp_path / run / 'cache'}"]
        cmd = [sys.executable, "-m", "distillx.cli", *overrides, *places, *TINY]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=600, env=ENV)
        assert proc.returncode == 0, proc.stderr[-3000:]

    def figures(run: str) -> dict:
        out, cache = tmp_path / run / "out", tmp_path / run / "cache"
        (mplm,) = cache.glob("demo-mplm/*/build_info.json")
        return {
            "scores": json.loads((out / "results.json").read_text())["scores"],
            "losses": {
                done.parent.name: [epoch["train_loss"] for epoch in json.loads(done.read_text())["history"]]
                for done in sorted(out.glob("stages/*/done.json"))
            },
            "mplm_loss": json.loads(mplm.read_text())["final_mlm_loss"],
            "vocab": {p.parent.name: p.read_bytes() for p in sorted(out.glob("vocab/*/tokenizer.json"))},
            "mplm_vocab": (mplm.parent / "tokenizer.json").read_bytes(),
        }

    one, two = figures("one"), figures("two")
    assert one["losses"] and one["vocab"]
    assert one == two
