"""Per-language test results of a run: printed as a table, saved as JSON/Markdown, logged as metrics."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)

METRIC_NAMES = {"accuracy": "intent accuracy", "slot_f1": "slot F1", "exact_match": "exact match"}
DIAGNOSTICS = ("majority", "predicted_entities")
"""Keys of :func:`distillx.report.scores.score` that describe the set and the predictions rather than score
them: they flag a collapsed model (one intent for everything, no entity at all) and are not reported."""


class _Named(Protocol):
    role: str
    arch: str


@dataclass
class Results:
    source: str
    target: str
    scores: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    """``scores[role][language][metric]``, metrics from :func:`distillx.report.scores.score`."""
    models: dict[str, str] = field(default_factory=dict)
    majority: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    """Caveats a reader of the table must see (e.g. oracle translation)."""
    title: str = ""
    """What the table shows, for its heading (default: source -> target)."""
    groups: dict[str, list[str]] = field(default_factory=dict)
    """Languages by group for multilingual methods: ``supervised`` and ``zero-shot`` (mblm-multikd.md Table 3);
    the table and the metrics then carry AVG(S), AVG(Z) and AVG(A)."""
    flags: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    """``flags[role][language][metric]``: why that score looks like a collapsed model (marked ``!`` in the
    table): a score that is not garbage by its number alone must not pass for a result."""

    def add(self, model: _Named, language: str, metrics: Mapping[str, float]) -> None:
        """Record ``model``'s scores (:func:`distillx.report.scores.score`); its diagnostics flag a collapse."""
        self.models[model.role] = model.arch
        scores = {k: v for k, v in metrics.items() if k not in DIAGNOSTICS}
        self.scores.setdefault(model.role, {})[language] = scores
        majority = metrics.get("majority", self.majority.get(language))
        found = {}
        if "accuracy" in scores and majority is not None and scores["accuracy"] <= majority:
            accuracy = _pct(scores["accuracy"])
            found["accuracy"] = f"intent accuracy {accuracy}% at or below the majority class ({_pct(majority)}%)"
        if "slot_f1" in scores and metrics.get("predicted_entities") == 0:
            found["slot_f1"] = "predicts no entity"
        for problem in found.values():
            log.warning("%s: %s %s: %s, likely a collapsed model", model.role, model.arch, language, problem)
        if found:
            self.flags.setdefault(model.role, {})[language] = found

    def set_majority(self, language: str, gold: list[str | None]) -> None:
        """The majority-class rate of a test set: what always answering its commonest intent scores."""
        counts = Counter(gold)
        self.majority[language] = max(counts.values()) / len(gold) if gold else 0.0

    @property
    def languages(self) -> list[str]:
        ordered = [lang for group in self.groups.values() for lang in group] or [self.source, self.target]
        extra = sorted({lang for s in self.scores.values() for lang in s} - set(ordered))
        return list(dict.fromkeys(ordered + extra))

    @property
    def metric_names(self) -> list[str]:
        seen = {m for s in self.scores.values() for per_lang in s.values() for m in per_lang}
        return [m for m in METRIC_NAMES if m in seen]

    @property
    def headline(self) -> str:
        """The metric a sweep optimises and the CLI returns: intent accuracy, else slot F1."""
        return self.metric_names[0] if self.metric_names else "accuracy"

    def metrics(self) -> dict[str, float]:
        """Flat metric names for the tracker: ``test/<role>/<language>/<metric>``."""
        out = {
            f"test/{role}/{lang}/{metric}": value
            for role, per_lang in self.scores.items()
            for lang, metrics in per_lang.items()
            for metric, value in metrics.items()
        }
        if "accuracy" in self.metric_names:
            out.update({f"test/majority_class/{lang}/accuracy": v for lang, v in self.majority.items()})
        for role, per_avg in self.averages().items():
            out.update(
                {
                    f"test/{role}/{name}/{metric}": v
                    for name, metrics in per_avg.items()
                    for metric, v in metrics.items()
                }
            )
        return out

    def averages(self) -> dict[str, dict[str, dict[str, float]]]:
        """``averages[role][avg_s|avg_z|avg_a][metric]``: means over the supervised, zero-shot and all languages
        a role has scores for (empty without ``groups``)."""
        if not self.groups:
            return {}
        sets = {f"avg_{name[0]}": langs for name, langs in self.groups.items()}
        sets["avg_a"] = [lang for langs in self.groups.values() for lang in langs]
        out: dict[str, dict[str, dict[str, float]]] = {}
        for role, per_lang in self.scores.items():
            for name, langs in sets.items():
                for metric in self.metric_names:
                    values = [per_lang[lang][metric] for lang in langs if metric in per_lang.get(lang, {})]
                    if values and len(values) == len(langs):
                        out.setdefault(role, {}).setdefault(name, {})[metric] = sum(values) / len(values)
        return out

    def sweep_value(self) -> float:
        """What a sweep optimises: the student's AVG(A) for multilingual methods, else its target-language score."""
        if self.groups:
            return self.averages().get("student", {}).get("avg_a", {}).get(self.headline, float("nan"))
        return self.value("student", self.target)

    def value(self, role: str, language: str, metric: str | None = None) -> float:
        return self.scores.get(role, {}).get(language, {}).get(metric or self.headline, float("nan"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "models": self.models,
            "scores": self.scores,
            "majority_class": self.majority,
            "notes": self.notes,
            **({"flags": self.flags} if self.flags else {}),
            **({"groups": self.groups, "averages": self.averages()} if self.groups else {}),
        }

    def table(self) -> str:
        """Markdown: one table per metric, one row per language, one column per model (test scores in %)."""
        blocks = []
        for metric in self.metric_names:
            roles = [role for role in self.scores if any(metric in m for m in self.scores[role].values())]
            cols = [f"{role}: {self.models[role]}" for role in roles]
            with_majority = metric == "accuracy" and bool(self.majority)
            if with_majority:
                cols.append("majority class")
            lines = [f"**{METRIC_NAMES[metric]}**", "", "| language | " + " | ".join(cols) + " |"]
            lines.append("|---" * (len(cols) + 1) + "|")
            for lang in self.languages:
                cells = [
                    _pct(self.scores[role].get(lang, {}).get(metric))
                    + (" !" if metric in self.flags.get(role, {}).get(lang, {}) else "")
                    for role in roles
                ]
                if with_majority:
                    cells.append(_pct(self.majority.get(lang)))
                lines.append(f"| {lang}{self._tag(lang)} | " + " | ".join(cells) + " |")
            averages = self.averages()
            for name in ("avg_s", "avg_z", "avg_a") if averages else ():
                cells = [_pct(averages.get(role, {}).get(name, {}).get(metric)) for role in roles]
                cells += [""] if with_majority else []
                lines.append(f"| **AVG({name[-1].upper()})** | " + " | ".join(cells) + " |")
            blocks.append("\n".join(lines))
        blocks += [
            f"! {role}: {self.models[role]} {lang}: {problem}"
            for role, per_lang in self.flags.items()
            for lang, found in per_lang.items()
            for problem in found.values()
        ]
        blocks += [f"Note: {note}" for note in self.notes]
        return "\n\n".join(blocks)

    def _tag(self, lang: str) -> str:
        for name, langs in self.groups.items():
            if lang in langs:
                return f" ({name})"
        return " (source)" if lang == self.source else " (target)" if lang == self.target else ""


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"
