"""BPE merge learning with a total tie-break order, so that a vocabulary depends only on its input.

The ``tokenizers`` trainer breaks ties between equal-count pairs (and between equally rare characters when it
caps the alphabet) in hash-map order, which changes from one process to the next: two runs with the same seed
got different vocabularies, hence different models and scores. Here every choice is ordered: characters by
(count desc, character), pairs by (count desc, first piece, second piece).

Conventions are the ``tokenizers`` ones for a ``continuing_subword_prefix``: a word's first character is its own
symbol, every later character ``c`` is ``<prefix>c``, and merging ``(a, <prefix>b)`` gives ``ab`` (``<prefix>ab``
when ``a`` is itself a continuation), which is what ``tokenizers.models.BPE`` rebuilds from the merge list.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Mapping
from itertools import pairwise

Pair = tuple[str, str]


def learn_bpe(
    word_counts: Mapping[str, int],
    vocab_size: int,
    *,
    min_frequency: int,
    max_alphabet: int,
    special_tokens: list[str],
    prefix: str,
) -> tuple[dict[str, int], list[Pair]]:
    """Vocabulary (token -> id) and ordered merges learned from word frequencies.

    Ids: ``special_tokens`` first, then the ``max_alphabet`` most frequent characters in both forms (one seen
    only at the start of words may continue one at encoding time), then merged pieces in merge order, until
    ``vocab_size`` tokens or no pair occurs ``min_frequency`` times. A character left out of the alphabet is
    ``[UNK]`` at encoding time, so it splits its word here too: no merge spans it (the ``tokenizers`` trainer
    drops it and learns merges across the gap, which never apply).
    """
    chars: Counter[str] = Counter()
    for word, count in word_counts.items():
        for c in word:
            chars[c] += count
    kept = sorted(sorted(chars, key=lambda c: (-chars[c], c))[:max_alphabet])
    tokens = [*special_tokens, *kept, *(prefix + c for c in kept)]
    vocab = {t: i for i, t in enumerate(tokens)}
    alphabet = set(kept)

    # Runs of kept characters, with their position's form; equal runs are counted once.
    runs: Counter[tuple[str, ...]] = Counter()
    for word in sorted(word_counts):
        run: list[str] = []
        for i, c in enumerate(word):
            if c in alphabet:
                run.append(c if i == 0 else prefix + c)
                continue
            if len(run) > 1:
                runs[tuple(run)] += word_counts[word]
            run = []
        if len(run) > 1:
            runs[tuple(run)] += word_counts[word]
    ordered = sorted(runs)
    words, freqs = [list(r) for r in ordered], [runs[r] for r in ordered]

    counts: Counter[Pair] = Counter()
    where: defaultdict[Pair, set[int]] = defaultdict(set)
    for wid, symbols in enumerate(words):
        for pair in pairwise(symbols):
            counts[pair] += freqs[wid]
            where[pair].add(wid)
    heap = [(-n, a, b) for (a, b), n in counts.items()]
    heapq.heapify(heap)

    merges: list[Pair] = []
    done: set[Pair] = set()
    cut = len(prefix)
    while len(vocab) < vocab_size and heap:
        neg, a, b = heapq.heappop(heap)
        current = counts[a, b]
        if current != -neg:  # a stale entry: the pair's count changed after it was pushed
            if 0 < current < -neg:
                heapq.heappush(heap, (-current, a, b))
            continue
        if current < min_frequency:
            break
        if (a, b) in done:  # back through a duplicate piece; its earlier merge already applies at encoding time
            continue
        done.add((a, b))
        new = a + b[cut:]
        merges.append((a, b))
        vocab.setdefault(new, len(vocab))
        delta: Counter[Pair] = Counter()
        for wid in where.pop((a, b)):
            merged = _merge(words[wid], a, b, new, changes := [])
            if merged is None:  # the word lost the pair to an earlier merge
                continue
            for gone, made in changes:
                delta[gone] -= freqs[wid]
                delta[made] += freqs[wid]
                where[made].add(wid)
            words[wid] = merged
        del counts[a, b]  # every occurrence merged: what delta says of (a, b) itself (overlaps: a a a) is moot
        for pair, d in delta.items():
            if d and pair != (a, b):
                counts[pair] += d
                if d > 0:
                    heapq.heappush(heap, (-counts[pair], *pair))
    return vocab, merges


def _merge(word: list[str], a: str, b: str, new: str, changes: list[tuple[Pair, Pair]]) -> list[str] | None:
    """``word`` with every non-overlapping ``a b``, left to right, replaced by ``new`` (as BPE applies it), or
    None if it has none; ``changes`` receives each neighbouring pair replaced, so that an update costs the
    number of occurrences, not the length of the word (long unsegmented words otherwise dominate)."""
    out: list[str] = []
    copied = search = 0
    last = len(word) - 1
    while True:
        try:
            i = word.index(a, search, last)
        except ValueError:
            break
        if word[i + 1] != b:
            search = i + 1
            continue
        out.extend(word[copied:i])
        if out:
            changes.append(((out[-1], a), (out[-1], new)))
        if i + 2 <= last:
            changes.append(((b, word[i + 2]), (new, word[i + 2])))
        out.append(new)
        copied = search = i + 2
    if not copied:
        return None
    out.extend(word[copied:])
    return out
