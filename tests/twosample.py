"""Two-sample tests written with the standard library, for the timing tests: is one sample
of durations drawn from the same distribution as another?"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def mann_whitney(
    a: Sequence[float], b: Sequence[float], alternative: str = "two-sided"
) -> tuple[float, float]:
    """The U statistic of `a` against `b` and its p-value, two-sided or (`alternative` =
    "greater") against `a` tending to be larger; normal approximation with the tie correction
    and the continuity correction, fine for samples of more than 20."""
    pooled = sorted([(value, 0) for value in a] + [(value, 1) for value in b])
    ranks, ties, start = [0.0] * len(pooled), 0.0, 0
    while start < len(pooled):
        end = start
        while end + 1 < len(pooled) and pooled[end + 1][0] == pooled[start][0]:
            end += 1
        for index in range(start, end + 1):
            ranks[index] = (start + end) / 2 + 1  # the average rank of a run of equal values
        ties += (end - start + 1) ** 3 - (end - start + 1)
        start = end + 1
    n1, n2 = len(a), len(b)
    u = sum(rank for rank, (_, group) in zip(ranks, pooled, strict=True) if group == 0)
    u -= n1 * (n1 + 1) / 2
    n = n1 + n2
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    if alternative == "greater":
        return u, math.erfc((u - n1 * n2 / 2 - 0.5) / sigma / math.sqrt(2)) / 2
    z = (abs(u - n1 * n2 / 2) - 0.5) / sigma
    return u, math.erfc(max(z, 0.0) / math.sqrt(2))


def kolmogorov_smirnov(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """The two-sample statistic D (largest gap between the empirical distributions) and its
    asymptotic p-value (Kolmogorov's series, with Stephens' small-sample correction)."""
    a, b = sorted(a), sorted(b)
    i = j = 0
    d = 0.0
    while i < len(a) and j < len(b):
        value = min(a[i], b[j])
        while i < len(a) and a[i] == value:
            i += 1
        while j < len(b) and b[j] == value:
            j += 1
        d = max(d, abs(i / len(a) - j / len(b)))
    en = math.sqrt(len(a) * len(b) / (len(a) + len(b)))
    lam = (en + 0.12 + 0.11 / en) * d
    p = 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    return d, min(1.0, max(0.0, p))


def shift(a: Sequence[float], b: Sequence[float]) -> float:
    """How much larger `a` tends to be than `b`: the Hodges-Lehmann estimate, the median of
    every difference between a value of `a` and one of `b` (steadier than the difference of
    the two medians when a busy machine makes the times bimodal)."""
    return statistics.median(x - y for x in a for y in b)
