"""The request report's pure arithmetic: nearest-rank medians of a histogram,
the age bands, and a rate shown with what it is made of."""

from __future__ import annotations

from torchflow.i18n import translator
from torchflow.service.reports.requests import BANDS, band_of, median, percent, rate


def test_the_median_is_the_value_at_rank_half_n_rounded_up() -> None:
    assert median({}) is None
    assert median({3: 1}) == 3
    assert median({1: 2, 2: 1}) == 1  # 1, 1, 2
    assert median({1: 1, 5: 1}) == 1  # rank 1 of 2
    assert median({1: 1, 5: 2, 9: 1}) == 5  # 1, 5, 5, 9: rank 2


def test_ages_fall_in_one_band_each() -> None:
    assert [band_of(a) for a in (0, 5, 6, 10, 11, 20, 21, 30, 31, 400)] == [
        0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert len(BANDS) == 5


def test_a_rate_shows_its_numerator_and_denominator() -> None:
    assert percent(1, 3) == "33.3%" and percent(0, 0) == "—"
    assert rate(translator("en"), 2, 3) == "2/3 (66.7%)"
    assert rate(translator("zh-CN"), 2, 3) == "2/3（66.7%）"
