"""Per-language test results of a run: printed as a table, saved as JSON/Markdown, logged as metrics."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol


class _Named(Protocol):
    role: str
    arch: str


@dataclass
class Results:
    source: str
    target: str
    metric: str = "accuracy"
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)
    majority: dict[str, float] = field(default_factory=dict)

    def add(self, model: _Named, language: str, value: float) -> None:
        self.models[model.role] = model.arch
        self.scores.setdefault(model.role, {})[language] = value

    def set_majority(self, language: str, gold: list[str | None]) -> None:
        """The majority-class rate of a test set: what always answering its commonest label scores."""
        counts = Counter(gold)
        self.majority[language] = max(counts.values()) / len(gold) if gold else 0.0

    @property
    def languages(self) -> list[str]:
        ordered = [self.source, self.target]
        extra = sorted({lang for s in self.scores.values() for lang in s} - set(ordered))
        return list(dict.fromkeys(ordered + extra))

    def metrics(self) -> dict[str, float]:
        """Flat metric names for the tracker: ``test/<role>/<language>/<metric>``."""
        out = {f"test/{role}/{lang}/{self.metric}": v for role, s in self.scores.items() for lang, v in s.items()}
        out.update({f"test/majority_class/{lang}/{self.metric}": v for lang, v in self.majority.items()})
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "metric": self.metric,
            "models": self.models,
            "scores": self.scores,
            "majority_class": self.majority,
        }

    def table(self) -> str:
        """A Markdown table: one row per language, one column per model (test accuracy in %)."""
        cols = [f"{role}: {self.models[role]}" for role in self.scores] + ["majority class"]
        lines = ["| language | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        for lang in self.languages:
            tag = " (source)" if lang == self.source else " (target)" if lang == self.target else ""
            cells = [_pct(self.scores[role].get(lang)) for role in self.scores] + [_pct(self.majority.get(lang))]
            lines.append(f"| {lang}{tag} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"
