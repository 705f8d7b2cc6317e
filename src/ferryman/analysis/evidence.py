"""E-processes: evidence that may be looked at after every interval.

Each function here computes the logarithm of a nonnegative (super)martingale
under a null hypothesis, started at 1. By Ville's inequality such a process
ever reaches ``1/α`` with probability at most ``α``, however often it is
looked at, so judges can check it at every interval and stop as soon as it
crosses. All functions are vectorised: arguments may be numpy arrays of equal
shape (the benchmark runs thousands of canaries at once) or plain numbers.

Three constructions:

- :func:`ratio_log_lr` — errors of canary and baseline, conditioned on their
  total: each error comes from the canary with probability
  ``ρw / (ρw + 1 − w)``, where ``w`` is the canary's share of the requests in
  the interval and ``ρ`` the ratio of the error rates. Against ``ρ = ρ0`` this
  is a likelihood ratio with no nuisance parameter; :func:`log_mixture` mixes it
  over a grid of ratios above ``ρ0``.
- :func:`rate_bounds` — a time-uniform confidence interval for one stream's
  event rate from the Beta-binomial mixture martingale (Robbins; Howard et
  al.), with a mixture of Beta(1, b) priors over several decades of rates so
  that rare and common errors are both covered.
- :func:`sign_log_evidence` — a one-sided sign test: the count of intervals
  whose sign was positive, against a fair coin, mixed over a uniform prior on
  ``θ ∈ [½, 1]``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special  # type: ignore[import-untyped]

from ferryman.analysis.stats import log_beta

Array = NDArray[np.float64]

RATE_PRIOR_B = (1.0, 10.0, 100.0, 1_000.0, 10_000.0, 100_000.0)
"""Beta(1, b) priors of the rate mixture: mean rates 50 % down to 0.001 %, equal weights."""


def ratio_grid(points: int = 16, low: float = 1.25, high: float = 32.0) -> Array:
    """Rate ratios (relative to ``ρ0``) the harm mixture puts equal weight on, log-spaced."""
    return np.geomspace(low, high, points)


def ratio_log_lr(
    canary_events: ArrayLike,
    baseline_events: ArrayLike,
    canary_trials: ArrayLike,
    baseline_trials: ArrayLike,
    grid: Array,
    rho0: float = 1.0,
) -> Array:
    """Log-likelihood ratio of one interval's errors, for each ratio ``ρ0 × grid``, vs ``ρ0``.

    Args:
        canary_events: Canary errors in the interval.
        baseline_events: Baseline errors in the interval.
        canary_trials: Canary requests in the interval.
        baseline_trials: Baseline requests in the interval.
        grid: Ratios above 1 (see :func:`ratio_grid`), relative to ``rho0``.
        rho0: The ratio of the null hypothesis (1 + tolerance).

    Returns:
        An array of shape ``(*shape of the counts, len(grid))``; summed over
        intervals it is the log of a test martingale for each grid point.
    """
    x_c = np.asarray(canary_events, dtype=float)[..., None]
    x_b = np.asarray(baseline_events, dtype=float)[..., None]
    n_c = np.asarray(canary_trials, dtype=float)[..., None]
    n_b = np.asarray(baseline_trials, dtype=float)[..., None]
    total = n_c + n_b
    w = np.divide(n_c, total, out=np.zeros_like(total), where=total > 0)
    rho = rho0 * grid
    both = (x_c + x_b) * (np.log(rho * w + 1 - w) - np.log(rho0 * w + 1 - w))
    lr = x_c * np.log(grid) - both
    return np.where((w > 0) & (w < 1), lr, 0.0)


def log_mixture(log_lr: ArrayLike) -> Array:
    """Log of the equal-weight mixture of ``exp(log_lr)`` over the last axis."""
    values = np.asarray(log_lr, dtype=float)
    return np.asarray(special.logsumexp(values, axis=-1) - math.log(values.shape[-1]))


def _rate_log_marginal(events: Array, trials: Array) -> Array:
    """log of the prior-averaged likelihood of ``events`` in ``trials`` (a function of counts)."""
    b = np.asarray(RATE_PRIOR_B)
    terms = log_beta(1 + events[..., None], b + (trials - events)[..., None]) - log_beta(1.0, b)
    return np.asarray(special.logsumexp(terms, axis=-1) - math.log(len(b)))


def rate_log_evidence(p: ArrayLike, events: ArrayLike, trials: ArrayLike) -> Array:
    """log M(p): evidence against "the rate is ``p``" after ``events`` in ``trials``."""
    x = np.asarray(events, dtype=float)
    n = np.asarray(trials, dtype=float)
    rate = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        fit = special.xlogy(x, rate) + special.xlog1py(n - x, -rate)
    return np.asarray(_rate_log_marginal(x, n) - np.asarray(fit), dtype=float)


def rate_bounds(events: ArrayLike, trials: ArrayLike, alpha: float) -> tuple[Array, Array]:
    """Time-uniform ``1 − alpha`` confidence interval for an event rate.

    The interval is ``{p : M(p) < 1/alpha}``; it holds at every interval with
    probability at least ``1 − alpha`` simultaneously.

    Args:
        events: Events so far (cumulative).
        trials: Trials so far (cumulative); 0 gives ``[0, 1]``.
        alpha: Error probability of the whole sequence of intervals.

    Returns:
        Lower and upper bounds, arrays of the counts' shape.
    """
    x, n = np.broadcast_arrays(np.asarray(events, dtype=float), np.asarray(trials, dtype=float))
    threshold = math.log(1 / alpha)
    constant = _rate_log_marginal(x, n)
    estimate = np.divide(x, n, out=np.zeros_like(n), where=n > 0)

    def inside(p: Array) -> NDArray[np.bool_]:
        with np.errstate(divide="ignore", invalid="ignore"):
            fit = special.xlogy(x, p) + special.xlog1py(n - x, -p)
        return np.asarray(constant - fit < threshold)

    lo, hi = estimate.copy(), np.ones_like(estimate)
    for _ in range(60):
        middle = (lo + hi) / 2
        ok = inside(middle)
        lo, hi = np.where(ok, middle, lo), np.where(ok, hi, middle)
    upper = hi
    lo, hi = np.zeros_like(estimate), estimate.copy()
    for _ in range(60):
        middle = (lo + hi) / 2
        ok = inside(middle)
        lo, hi = np.where(ok, lo, middle), np.where(ok, middle, hi)
    lower = np.where(x > 0, lo, 0.0)
    return lower, np.where(n > 0, upper, 1.0)


def sign_log_evidence(positive: ArrayLike, trials: ArrayLike) -> Array:
    """log of the evidence that P(positive) > ½ after ``positive`` of ``trials`` signs.

    The likelihood ratio of ``θ`` against ½, mixed over ``θ`` uniform on
    ``[½, 1]``: ``2^(T+1) · B(S+1, T−S+1) · P(Beta(S+1, T−S+1) > ½)``.
    """
    s = np.asarray(positive, dtype=float)
    t = np.asarray(trials, dtype=float)
    a, b = s + 1, t - s + 1
    tail = special.betainc(b, a, 0.5)  # P(Beta(a, b) > ½) = I_½(b, a)
    with np.errstate(divide="ignore"):
        return np.asarray((t + 1) * math.log(2) + log_beta(a, b) + np.log(tail))
