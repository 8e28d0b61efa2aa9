"""Generator of distillx's embedded multilingual demo dataset (intent classification + slot filling).

A development tool, not part of the installed package: its output (``{lang}.jsonl.gz`` and ``README.md`` in
``src/distillx/data/demo``) is committed, so the demo needs no generation at run time. Regenerate it with
``python tools/demo_data/generate.py [OUT_DIR]``; the output is byte-identical on every run (fixed seed, gzip
mtime 0).

The dataset is written by the distillx authors from the templates and slot value lexicons in ``lexicon/``:
14 intents, 13 slot types, 8 languages (en, de, es, fr, hi, zh, ja, th). Every example is drawn once as
(intent, template index, slot value indices) with a seeded RNG and then rendered in each language with that
language's version of the template and that language's translation of each slot value, so the same id means
the same thing in every language and has the same split, intent and slot labels. zh, ja and th are written
unsegmented, as users type them.

Lexicon files: ``slot_values.json`` maps slot type -> values, ``templates.json`` maps intent -> templates; each
value or template is an object with one string per language in :data:`LANGS`. Order matters: the RNG draws by
index, so reordering or inserting entries changes the dataset. Intents share vocabulary on purpose (turn on /
turn off, call / message / remind to call, book a flight / book a table, send a message / send money, play
music in a room / lights in a room). A template refers to slot values as ``{type}`` (``{city2}`` is a second
value of type ``city``). Square brackets inside a slot value mark the part that is the labelled span when the
value carries a preposition or an article that a neighbouring word needs: the de/es/fr ``room`` and ``place``
values (German ``zum [Bahnhof]``, French ``à l'[aéroport]``).
"""

from __future__ import annotations

import gzip
import io
import itertools
import json
import random
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

LANGS: tuple[str, ...] = ("en", "de", "es", "fr", "hi", "zh", "ja", "th")
SEED = 20240917
TARGET_SIZE = 2400
DEV_FRACTION = 0.15
TEST_FRACTION = 0.15
HERE = Path(__file__).resolve().parent
DEFAULT_OUT_DIR = HERE.parents[1] / "src" / "distillx" / "data" / "demo"

Row = tuple[str, str, str, str, str, str, str, str]


def load_table(name: str) -> dict[str, list[Row]]:
    """Read ``lexicon/{name}.json`` as key -> rows of one string per language, in :data:`LANGS` order."""
    data = json.loads((HERE / "lexicon" / f"{name}.json").read_text(encoding="utf-8"))
    for key, entries in data.items():
        for i, entry in enumerate(entries):
            if sorted(entry) != sorted(LANGS):
                raise ValueError(f"{name}[{key!r}][{i}] has languages {sorted(entry)}, expected {sorted(LANGS)}")
    return {key: [tuple(entry[lang] for lang in LANGS) for entry in entries] for key, entries in data.items()}


SLOT_VALUES = load_table("slot_values")
TEMPLATES = load_table("templates")

_PLACEHOLDER = re.compile(r"\{([a-z]+)(\d*)\}")

Span = tuple[int, int, str]
Choice = tuple[int, tuple[tuple[str, int], ...]]
"""One example before rendering: (template index, ((placeholder name, value index), ...))."""


def _slot_type(name: str) -> str:
    """``city2`` -> ``city``."""
    return name.rstrip("0123456789")


def _placeholders(template: str) -> list[str]:
    return [m.group(1) + m.group(2) for m in _PLACEHOLDER.finditer(template)]


def _surface(value: str) -> tuple[str, int, int]:
    """A slot value without its ``[...]`` markers, and the labelled part's offsets in it."""
    if "[" not in value:
        return value, 0, len(value)
    start, end = value.index("["), value.index("]")
    return value[:start] + value[start + 1 : end] + value[end + 1 :], start, end - 1


def render(template: str, lang: str, values: dict[str, int]) -> tuple[str, list[Span]]:
    """Fill ``template`` (one language's version) with the ``lang`` values; return the text and its spans."""
    column = LANGS.index(lang)
    pieces: list[str] = []
    spans: list[Span] = []
    length = last = 0
    for m in _PLACEHOLDER.finditer(template):
        name = m.group(1) + m.group(2)
        pieces.append(template[last : m.start()])
        length += m.start() - last
        surface, start, end = _surface(SLOT_VALUES[m.group(1)][values[name]][column])
        spans.append((length + start, length + end, m.group(1)))
        pieces.append(surface)
        length += len(surface)
        last = m.end()
    pieces.append(template[last:])
    return "".join(pieces), sorted(spans)


def check_data() -> None:
    """Fail on a malformed slot value or template (placeholders differing across languages, unknown slot types)."""
    for slot, rows in SLOT_VALUES.items():
        for row in rows:
            if any(not v.strip() or v.count("[") != v.count("]") for v in row):
                raise ValueError(f"slot value {row!r} of {slot!r} is malformed")
    for intent, rows in TEMPLATES.items():
        for i, row in enumerate(rows):
            names = [sorted(_placeholders(t)) for t in row]
            if any(n != names[0] for n in names) or len(set(names[0])) != len(names[0]):
                raise ValueError(f"template {intent}[{i}] uses different placeholders across languages: {names}")
            unknown = {_slot_type(n) for n in names[0]} - set(SLOT_VALUES)
            if unknown:
                raise ValueError(f"template {intent}[{i}] uses unknown slot types {sorted(unknown)}")


def _allocate(total: int, capacities: Sequence[int]) -> list[int]:
    """Split ``total`` as evenly as possible over bins without exceeding any bin's capacity."""
    quotas = [0] * len(capacities)
    open_bins = [i for i, cap in enumerate(capacities) if cap > 0]
    remaining = total
    while remaining > 0 and open_bins:
        share, extra = divmod(remaining, len(open_bins))
        for rank, i in enumerate(open_bins):
            give = min(share + (rank < extra), capacities[i] - quotas[i])
            quotas[i] += give
            remaining -= give
        open_bins = [i for i in open_bins if quotas[i] < capacities[i]]
    return quotas


def _choices(intent: str, seen: dict[str, set[str]]) -> list[list[Choice]]:
    """Every slot filling of every template of ``intent`` whose rendering is new in all languages."""
    by_template: list[list[Choice]] = []
    for t, row in enumerate(TEMPLATES[intent]):
        names = _placeholders(row[0])
        ranges = [range(len(SLOT_VALUES[_slot_type(n)])) for n in names]
        choices: list[Choice] = []
        for idx in itertools.product(*ranges):
            pairs = tuple(zip(names, idx, strict=True))
            slots = [(_slot_type(n), i) for n, i in pairs]
            if len(set(slots)) != len(slots):  # the same value twice (from Berlin to Berlin)
                continue
            texts = [render(row[k], lang, dict(pairs))[0] for k, lang in enumerate(LANGS)]
            if any(text in seen[lang] for lang, text in zip(LANGS, texts, strict=True)):
                continue
            for lang, text in zip(LANGS, texts, strict=True):
                seen[lang].add(text)
            choices.append((t, pairs))
        by_template.append(choices)
    return by_template


def build_examples(seed: int = SEED, size: int = TARGET_SIZE) -> list[dict]:
    """Draw the parallel examples: id, split, intent, template index and slot value indices."""
    check_data()
    rng = random.Random(seed)
    seen: dict[str, set[str]] = {lang: set() for lang in LANGS}
    pools = {intent: _choices(intent, seen) for intent in TEMPLATES}
    intent_quota = _allocate(size, [sum(map(len, pools[i])) for i in TEMPLATES])
    drawn: list[dict] = []
    for intent, quota in zip(TEMPLATES, intent_quota, strict=True):
        picked: list[Choice] = []
        template_quota = _allocate(quota, [len(c) for c in pools[intent]])
        for choices, k in zip(pools[intent], template_quota, strict=True):
            picked.extend(rng.sample(choices, k))
        rng.shuffle(picked)
        n_dev, n_test = round(quota * DEV_FRACTION), round(quota * TEST_FRACTION)
        splits = ["dev"] * n_dev + ["test"] * n_test + ["train"] * (quota - n_dev - n_test)
        for (template, pairs), split in zip(picked, splits, strict=True):
            drawn.append({"split": split, "intent": intent, "template": template, "values": dict(pairs)})
    rng.shuffle(drawn)
    for i, example in enumerate(drawn):
        example["id"] = f"demo-{i:06d}"
    return drawn


def render_language(examples: list[dict], lang: str) -> list[dict]:
    """The JSONL records of one language, in id order."""
    column = LANGS.index(lang)
    records = []
    for ex in examples:
        text, spans = render(TEMPLATES[ex["intent"]][ex["template"]][column], lang, ex["values"])
        records.append(
            {
                "id": ex["id"],
                "split": ex["split"],
                "language": lang,
                "text": text,
                "intent": ex["intent"],
                "spans": [list(s) for s in spans],
            }
        )
    return records


def _gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip: no file name, mtime 0."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as f:
        f.write(data)
    return buffer.getvalue()


def _intent_slot_types(intent: str) -> list[str]:
    return sorted({_slot_type(p) for row in TEMPLATES[intent] for p in _placeholders(row[0])})


def _readme(examples: list[dict]) -> str:
    """The dataset card, with the counts of this build."""
    splits = Counter(ex["split"] for ex in examples)
    intents = Counter(ex["intent"] for ex in examples)
    slot_types = sorted(SLOT_VALUES)
    intent_lines = "\n".join(
        f"| `{i}` | {n} | {', '.join(_intent_slot_types(i))} |" for i, n in sorted(intents.items())
    )
    return f"""# distillx demo dataset

A small multilingual intent classification + slot filling dataset, generated from templates by
`tools/demo_data/generate.py` (in the source repository) and shipped inside the package so that the demo runs
offline.

- Languages: {", ".join(LANGS)} (one `{{lang}}.jsonl.gz` per language). zh, ja and th are unsegmented.
- Parallel: the same `id` has the same meaning, split, intent and slot labels in every language.
- Examples per language: {len(examples)}: train {splits["train"]}, dev {splits["dev"]}, \
test {splits["test"]}.
- {len(intents)} intents, {len(slot_types)} slot types: {", ".join(f"`{s}`" for s in slot_types)}.

One JSON object per line, sorted by id:

```json
{{"id": "demo-000042", "split": "train", "language": "zh", "text": "帮我订一张明天去北京的机票", \
"intent": "book_flight", "spans": [[5, 7, "date"], [8, 10, "city"]]}}
```

`spans` are character offsets into `text` (start inclusive, end exclusive) with the slot type.

| intent | examples | slot types |
|---|---|---|
{intent_lines}

Regenerate (byte-identical output): `python tools/demo_data/generate.py [OUT_DIR]`.

License: written by the distillx authors; Apache-2.0, like the rest of distillx.
"""


def write_demo(out_dir: str | Path = DEFAULT_OUT_DIR, seed: int = SEED, size: int = TARGET_SIZE) -> list[Path]:
    """Write ``{lang}.jsonl.gz`` for every language and README.md into ``out_dir``; return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    examples = build_examples(seed, size)
    written = []
    for lang in LANGS:
        lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in render_language(examples, lang)]
        path = out / f"{lang}.jsonl.gz"
        path.write_bytes(_gzip_bytes("".join(lines).encode("utf-8")))
        written.append(path)
    readme = out / "README.md"
    readme.write_text(_readme(examples), encoding="utf-8")
    written.append(readme)
    return written


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    out_dir = Path(args[0]) if args else DEFAULT_OUT_DIR
    for path in write_demo(out_dir):
        print(path)


if __name__ == "__main__":
    main()
