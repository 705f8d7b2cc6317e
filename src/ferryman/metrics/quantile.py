"""Quantiles from histogram buckets, as Prometheus's ``histogram_quantile`` estimates them."""

from __future__ import annotations


def bucket_quantile(q: float, bounds: list[float], counts: list[int]) -> float:
    """Estimate the ``q`` quantile (0-1) from per-bucket counts.

    Args:
        q: The quantile.
        bounds: Upper bounds of the finite buckets, ascending.
        counts: Observations per bucket (not cumulative), one more than ``bounds``
            (the last is the ``+Inf`` bucket).

    Returns:
        A value interpolated linearly inside the bucket holding the quantile;
        the highest finite bound when it falls in the ``+Inf`` bucket; 0 without data.
    """
    total = sum(counts)
    if total == 0:
        return 0.0
    rank = q * total
    seen = 0
    for index, count in enumerate(counts):
        if seen + count >= rank and count > 0:
            if index == len(bounds):
                return bounds[-1]
            lower = 0.0 if index == 0 else bounds[index - 1]
            return lower + (bounds[index] - lower) * (rank - seen) / count
        seen += count
    return bounds[-1]
