"""A run's data splits as MLflow dataset inputs, so the UI's Dataset column and run page say what a run read.

Each split of each language is one MLflow dataset named ``<dataset>/<language>/<split>``: MLflow keeps one input
per (name, digest) on a run, so a split named without its split (a dev set scored as test has the dev set's
digest) would be dropped. The split is also MLflow's dataset context tag, the language a tag of its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from mlflow.entities import Dataset, DatasetInput, InputTag
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

LANGUAGE_TAG = "distillx.language"


@dataclass(frozen=True)
class SplitInput:
    """One split a run read. ``digest`` is of what the models read (ids and words, not labels: see
    ``distillx.distill.teachers.examples_digest``), the same digest stage keys hold; ``source`` is where the
    dataset's files are."""

    dataset: str
    language: str
    split: str
    digest: str
    rows: int
    source: str

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.language}/{self.split}"

    def to_mlflow(self) -> DatasetInput:
        dataset = Dataset(
            name=self.name,
            digest=self.digest,
            source_type="local",
            source=json.dumps({"uri": self.source}),
            profile=json.dumps({"num_rows": self.rows}),
        )
        tags = [InputTag(MLFLOW_DATASET_CONTEXT, self.split), InputTag(LANGUAGE_TAG, self.language)]
        return DatasetInput(dataset, tags)
