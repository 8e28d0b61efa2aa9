"""Language-aware batches: single-language batches drawn with q_l ~ p_l^alpha, reproducible, oversampling."""

from collections import Counter

import pytest
import torch
from hydra.utils import instantiate

from distillx.errors import DistillxError
from distillx.train.batching import bucketed_batches
from distillx.train.sampling import LanguageBatches, MixedBatches, batch_language

COUNTS = {"en": 800, "de": 150, "sw": 50}

# q_l = p_l^alpha / sum_k p_k^alpha with p = (0.80, 0.15, 0.05), worked out by hand:
# alpha = 0.5: sqrt(p) = (0.894427, 0.387298, 0.223607), sum 1.505332, q = sqrt(p) / 1.505332.
EXPECTED = {
    "uniform": {"en": 1 / 3, "de": 1 / 3, "sw": 1 / 3},
    "proportional": {"en": 0.80, "de": 0.15, "sw": 0.05},
    "alpha": {"en": 0.594173, "de": 0.257284, "sw": 0.148543},
}
CHI2_2DOF_P001 = 13.82  # chi-square critical value, 2 degrees of freedom, p = 0.001


def corpus(counts: dict[str, int], seed: int = 0) -> tuple[list[int], list[str]]:
    """Rows of each language interleaved at random, so a sampler must map local indices back to global ones."""
    g = torch.Generator().manual_seed(seed)
    languages = [lang for lang, n in counts.items() for _ in range(n)]
    languages = [languages[i] for i in torch.randperm(len(languages), generator=g).tolist()]
    lengths = torch.randint(1, 40, (len(languages),), generator=g).tolist()
    return lengths, languages


@pytest.mark.parametrize("strategy", ["uniform", "proportional", "alpha"])
def test_batch_shares_follow_the_sampling_distribution(strategy: str):
    lengths, languages = corpus(COUNTS)
    sampler = LanguageBatches(strategy=strategy, alpha=0.5)
    g = torch.Generator().manual_seed(3)
    drawn = Counter(batch_language(languages, b) for _ in range(40) for b in sampler.epoch(lengths, languages, 10, g))
    steps = sum(drawn.values())
    assert steps == 40 * 100  # ceil(1000 / 10) steps an epoch
    chi2 = sum((drawn[lang] - steps * q) ** 2 / (steps * q) for lang, q in EXPECTED[strategy].items())
    assert chi2 < CHI2_2DOF_P001, (strategy, dict(drawn))


@pytest.mark.parametrize("strategy", ["uniform", "proportional", "alpha"])
def test_probabilities_match_the_closed_form(strategy: str):
    q = LanguageBatches(strategy=strategy, alpha=0.5).probabilities(COUNTS)
    assert list(q) == ["de", "en", "sw"]  # sorted, whatever the mapping's order
    assert q == pytest.approx(EXPECTED[strategy], abs=2e-6)


def test_batches_are_single_language_and_small_languages_are_oversampled():
    counts = {"en": 200, "de": 30, "sw": 3}  # sw has fewer rows than one batch
    lengths, languages = corpus(counts, seed=1)
    batches = LanguageBatches(strategy="uniform").epoch(lengths, languages, 8, torch.Generator().manual_seed(0))
    assert len(batches) == 30  # ceil(233 / 8)
    for b in batches:
        assert 0 < len(b) <= 8 and len(set(b)) == len(b)
        assert all(0 <= i < len(lengths) for i in b)
        assert batch_language(languages, b) is not None, b
    seen = Counter(batch_language(languages, b) for b in batches)
    assert seen["sw"] >= 2  # more batches than one pass over its 3 rows holds: reshuffled and drawn again
    for lang in ("de", "sw"):
        visited = {i for b in batches if batch_language(languages, b) == lang for i in b}
        assert visited == {i for i, x in enumerate(languages) if x == lang}, lang


def test_an_exhausted_language_starts_a_new_shuffled_pass():
    counts = {"en": 200, "de": 30}  # de: 4 batches (8, 8, 8, 6) a pass
    lengths, languages = corpus(counts, seed=1)
    de = sorted(i for i, x in enumerate(languages) if x == "de")
    batches = LanguageBatches(strategy="uniform").epoch(lengths, languages, 8, torch.Generator().manual_seed(0))
    de_batches = [b for b in batches if batch_language(languages, b) == "de"]
    passes = [de_batches[k : k + 4] for k in range(0, len(de_batches) - 3, 4)]
    assert len(passes) >= 2
    for p in passes:  # every full pass holds each de row exactly once
        assert sorted(i for b in p for i in b) == de
    assert passes[0] != passes[1]  # reshuffled, not replayed


def test_same_seed_same_batches_other_seed_other_batches():
    lengths, languages = corpus(COUNTS)
    sampler = LanguageBatches()

    def run(seed: int) -> list[list[int]]:
        return sampler.epoch(lengths, languages, 16, torch.Generator().manual_seed(seed))

    first = run(7)
    assert run(7) == first
    assert [batch_language(languages, b) for b in run(8)] != [batch_language(languages, b) for b in first]
    assert run(8) != first


def test_mixed_batches_are_todays_bucketed_batches():
    lengths, languages = corpus(COUNTS)
    mixed = MixedBatches(bucket_batches=5).epoch(lengths, languages, 16, torch.Generator().manual_seed(2))
    assert mixed == bucketed_batches(lengths, 16, torch.Generator().manual_seed(2), 5)
    assert any(batch_language(languages, b) is None for b in mixed)  # languages mix


def test_bad_settings_name_the_field():
    with pytest.raises(DistillxError, match=r"^sampler\.strategy='temperature'"):
        LanguageBatches(strategy="temperature")
    with pytest.raises(DistillxError, match=r"^sampler\.alpha=-0\.5"):
        LanguageBatches(alpha=-0.5)
    with pytest.raises(DistillxError, match="language of every training row"):
        LanguageBatches().epoch([3, 4], None, 2, torch.Generator().manual_seed(0))


def test_hydra_builds_both_samplers():
    sampler = instantiate({"_target_": "distillx.train.sampling.LanguageBatches", "strategy": "uniform"})
    assert isinstance(sampler, LanguageBatches) and sampler.probabilities({"a": 9, "b": 1}) == {"a": 0.5, "b": 0.5}
    mixed = instantiate({"_target_": "distillx.train.sampling.MixedBatches", "bucket_batches": 3})
    assert isinstance(mixed, MixedBatches) and mixed.bucket_batches == 3


def test_batch_language():
    languages = ["en", "de", "en"]
    assert batch_language(languages, [0, 2]) == "en"
    assert batch_language(languages, [0, 1]) is None
    assert batch_language(None, [0]) is None
