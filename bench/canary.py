"""Canary judges on simulated request streams: false alarms, detection, exposure, promotion.

No Temporal and no processes: request streams are simulated with numpy and fed
to ferryman's judges (``ferryman.analysis``) the way the analysis activity
will, interval by interval.

Traffic: 200 requests/s, split by the router's deterministic weights: canary
5 %, baseline 5 % (fresh instances of the old version, for Kayenta-style
comparison), stable 90 % (the old version). Errors: the old version fails 0.5 %
of requests; the canary 1×, 1.5×, 2× or 5× that. Latency: log-normal, median
50 ms, σ = 0.5; the canary's median +10 % or +50 %. Every case has a fixed seed.

Judges, each with both metrics (error rate and p50 latency):

- ``threshold`` (Argo/Flagger style): every minute, canary error rate over the
  minute ``result < 0.01`` and canary p50 ``result < 0.06`` (1.2× the known
  baseline p50 of 50 ms), failure-limit 2, count 30.
- ``mann-whitney`` (Kayenta style, fixed horizon): after 30 minutes, the 180
  ten-second buckets of canary vs baseline for each metric, confidence 0.98,
  tolerance 0.25, pass score 75, marginal 50.
- ``sequential`` (ferryman): every 10 s up to 30 minutes, ``rates`` on canary vs
  old-version (baseline + stable) error counts, α = 0.01, margin 0.5 pp; and
  ``latency`` on canary vs baseline p50, α = 0.01, margin +5 %.
  ``sequential-b`` is the same judge with the fresh baseline alone as the
  error-rate comparison.

A false alarm is a ``fail`` of a good canary (A/A); ``inconclusive`` pauses for a
human and is counted apart. A canary is *stopped* by ``fail`` or ``inconclusive``;
detection is the stopped share of a bad canary, time to detect the median time
to stop. Bad requests are the canary's 5xx responses before the
verdict (error cases) or all its requests before the verdict (latency cases).

Usage: ``python bench/canary.py [--quick] [--trials N]``; the last line is JSON
with ``fpr`` (A/A fail rate), ``aa_paused``, ``power_2x`` (stopped at 2×),
``exposed_ratio_vs_best`` and ``promote_ratio_vs_best`` for the sequential judge
(ratios against the better of the other two).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass, field

import numpy as np
from scipy import special  # type: ignore[import-untyped]

from ferryman.analysis import (
    LatencyObservation,
    MannWhitneyConfig,
    RateObservation,
    ScoredMetric,
    SequentialConfig,
    SequentialState,
    ThresholdConfig,
    ThresholdState,
    classify_metric,
    log_mixture,
    rate_bounds,
    ratio_grid,
    ratio_log_lr,
    score_run,
    sequential_step,
    sign_log_evidence,
    threshold_step,
)

RPS, INTERVAL_S, HORIZON_S = 200, 10, 1800
WEIGHTS = {"canary": 0.05, "baseline": 0.05, "stable": 0.90}
PER_INTERVAL = {k: round(RPS * INTERVAL_S * w) for k, w in WEIGHTS.items()}
INTERVALS = HORIZON_S // INTERVAL_S
BASE_ERROR, MEDIAN_S, SIGMA = 0.005, 0.050, 0.5
ALPHA = 0.01

CASES = {  # name: (error multiplier, latency multiplier)
    "A/A": (1.0, 1.0),
    "errors 1.5x": (1.5, 1.0),
    "errors 2x": (2.0, 1.0),
    "errors 5x": (5.0, 1.0),
    "latency +10%": (1.0, 1.1),
    "latency +50%": (1.0, 1.5),
}

THRESHOLD_ERRORS = ThresholdConfig(success_condition="result < 0.01", failure_limit=2, count=30)
THRESHOLD_LATENCY = ThresholdConfig(success_condition="result < 0.06", failure_limit=2, count=30)
KAYENTA = MannWhitneyConfig(direction="increase", confidence=0.98, tolerance=0.25)
SEQ_ERRORS = SequentialConfig(test="rates", alpha=ALPHA, margin=0.005, count=INTERVALS)
SEQ_LATENCY = SequentialConfig(test="latency", alpha=ALPHA, margin=0.05, count=INTERVALS)


@dataclass
class Streams:
    """Per-interval data of ``trials`` canaries (arrays of shape trials × intervals)."""

    canary_errors: np.ndarray
    baseline_errors: np.ndarray
    stable_errors: np.ndarray
    canary_p50: np.ndarray
    baseline_p50: np.ndarray
    canary_p50_minute: np.ndarray


@dataclass
class Outcome:
    """Verdict and its time (seconds) for each trial."""

    verdict: np.ndarray  # "pass" | "fail" | "inconclusive"
    at_s: np.ndarray
    extra: dict[str, float] = field(default_factory=dict)


def _p50(rng: np.random.Generator, n: int, shape: tuple[int, ...], scale: float) -> np.ndarray:
    """The sample median (order statistic ⌈n/2⌉) of n log-normal latencies, drawn exactly."""
    k = (n + 1) // 2
    u = rng.beta(k, n + 1 - k, size=shape)
    return np.asarray(MEDIAN_S * scale * np.exp(SIGMA * special.ndtri(u)))


def simulate(error_x: float, latency_x: float, trials: int, seed: int) -> Streams:
    rng = np.random.default_rng(seed)
    shape = (trials, INTERVALS)
    return Streams(
        canary_errors=rng.binomial(PER_INTERVAL["canary"], BASE_ERROR * error_x, shape),
        baseline_errors=rng.binomial(PER_INTERVAL["baseline"], BASE_ERROR, shape),
        stable_errors=rng.binomial(PER_INTERVAL["stable"], BASE_ERROR, shape),
        canary_p50=_p50(rng, PER_INTERVAL["canary"], shape, latency_x),
        baseline_p50=_p50(rng, PER_INTERVAL["baseline"], shape, 1.0),
        canary_p50_minute=_p50(rng, PER_INTERVAL["canary"] * 6, (trials, 30), latency_x),
    )


# --- judges --------------------------------------------------------------------------------


def threshold_judge(s: Streams) -> Outcome:
    """Argo rules, vectorised: a metric fails at its third failed minute; pass after 30."""
    trials = s.canary_errors.shape[0]
    minute_rate = s.canary_errors.reshape(trials, 30, 6).sum(axis=2) / (PER_INTERVAL["canary"] * 6)
    failed = [minute_rate >= 0.01, s.canary_p50_minute >= 0.06]
    first = np.full(trials, np.inf)
    for f in failed:
        crossed = np.cumsum(f, axis=1) > THRESHOLD_ERRORS.failure_limit
        when = np.where(crossed.any(axis=1), crossed.argmax(axis=1) + 1, np.inf)
        first = np.minimum(first, when)
    verdict = np.where(np.isfinite(first), "fail", "pass")
    at = np.where(np.isfinite(first), first * 60, 30 * 60)
    return Outcome(verdict, at)


def threshold_check(s: Streams, out: Outcome, trials: int) -> None:
    """The real ``threshold_step`` must agree with the vectorised rules."""
    for t in range(trials):
        states = [ThresholdState(), ThresholdState()]
        verdict, at = "continue", 0
        for minute in range(30):
            errors = s.canary_errors[t, minute * 6 : minute * 6 + 6].sum()
            values = [errors / (PER_INTERVAL["canary"] * 6), s.canary_p50_minute[t, minute]]
            for i, config in enumerate((THRESHOLD_ERRORS, THRESHOLD_LATENCY)):
                states[i], judged = threshold_step("m", config, states[i], float(values[i]))
                if judged.verdict == "fail":
                    verdict = "fail"
            if verdict == "fail":
                at = (minute + 1) * 60
                break
        else:
            verdict, at = "pass", 1800
        assert (verdict, at) == (out.verdict[t], out.at_s[t]), (t, verdict, at, out.at_s[t])


def kayenta_judge(s: Streams) -> Outcome:
    """Fixed horizon: classify both metrics on the 180 buckets, score, decide at 30 minutes."""
    trials = s.canary_errors.shape[0]
    verdicts = []
    for t in range(trials):
        errors = classify_metric(
            "error-rate",
            KAYENTA,
            (s.canary_errors[t] / PER_INTERVAL["canary"]).tolist(),
            (s.baseline_errors[t] / PER_INTERVAL["baseline"]).tolist(),
        )
        latency = classify_metric(
            "p50", KAYENTA, s.canary_p50[t].tolist(), s.baseline_p50[t].tolist()
        )
        run = score_run([ScoredMetric(judgement=errors), ScoredMetric(judgement=latency)])
        verdicts.append(run.judgement.verdict)
    return Outcome(np.asarray(verdicts), np.full(trials, float(HORIZON_S)))


def sequential_judge(s: Streams, pooled: bool) -> Outcome:
    """ferryman's sequential judge, vectorised over trials with the judge's own kernels."""
    trials = s.canary_errors.shape[0]
    n_c = PER_INTERVAL["canary"]
    n_b = PER_INTERVAL["baseline"] + (PER_INTERVAL["stable"] if pooled else 0)
    base_errors = s.baseline_errors + (s.stable_errors if pooled else 0)
    grid = ratio_grid()
    threshold = math.log(1 / ALPHA)
    log_lr = np.zeros((trials, len(grid)))
    x_c = np.zeros(trials)
    x_b = np.zeros(trials)
    harm_signs = np.zeros(trials)
    safe_signs = np.zeros(trials)
    verdict = np.full(trials, "inconclusive", dtype=object)
    at = np.full(trials, float(HORIZON_S))
    errors_done = np.zeros(trials, dtype=bool)  # the error metric passed
    latency_done = np.zeros(trials, dtype=bool)
    open_ = np.ones(trials, dtype=bool)
    for i in range(INTERVALS):
        n = i + 1
        log_lr += ratio_log_lr(s.canary_errors[:, i], base_errors[:, i], n_c, n_b, grid)
        x_c += s.canary_errors[:, i]
        x_b += base_errors[:, i]
        d = np.log(s.canary_p50[:, i] / s.baseline_p50[:, i])
        harm_signs += d > 0
        safe_signs += d < math.log1p(SEQ_LATENCY.safe_margin)
        harm = (log_mixture(log_lr) >= threshold) | (sign_log_evidence(harm_signs, n) >= threshold)
        _, upper_c = rate_bounds(x_c, n_c * n, ALPHA / 2)
        lower_b, _ = rate_bounds(x_b, n_b * n, ALPHA / 2)
        errors_done |= (upper_c - lower_b) < SEQ_ERRORS.safe_margin
        latency_done |= sign_log_evidence(safe_signs, n) >= threshold
        failing = open_ & harm
        passing = open_ & ~harm & errors_done & latency_done
        verdict[failing], at[failing] = "fail", n * INTERVAL_S
        verdict[passing], at[passing] = "pass", n * INTERVAL_S
        open_ &= ~(failing | passing)
        if not open_.any():
            break
    return Outcome(verdict.astype(str), at)


def sequential_check(s: Streams, out: Outcome, trials: int, pooled: bool) -> None:
    """The real ``sequential_step`` (state through JSON each interval) must agree."""
    extra = PER_INTERVAL["stable"] if pooled else 0
    for t in range(trials):
        states = [SequentialState(), SequentialState()]
        verdict, at = "inconclusive", float(HORIZON_S)
        for i in range(INTERVALS):
            rates = RateObservation(
                canary_requests=PER_INTERVAL["canary"],
                canary_errors=int(s.canary_errors[t, i]),
                baseline_requests=PER_INTERVAL["baseline"] + extra,
                baseline_errors=int(
                    s.baseline_errors[t, i] + (s.stable_errors[t, i] if pooled else 0)
                ),
            )
            latency = LatencyObservation(
                canary=float(s.canary_p50[t, i]), baseline=float(s.baseline_p50[t, i])
            )
            verdicts = []
            for k, (config, obs) in enumerate(((SEQ_ERRORS, rates), (SEQ_LATENCY, latency))):
                state = SequentialState.model_validate_json(states[k].model_dump_json())
                states[k], judged = sequential_step("m", config, state, obs)
                verdicts.append(judged.verdict)
            if "fail" in verdicts:
                verdict, at = "fail", (i + 1) * INTERVAL_S
                break
            if all(v == "pass" for v in verdicts):
                verdict, at = "pass", (i + 1) * INTERVAL_S
                break
        assert (verdict, at) == (out.verdict[t], out.at_s[t]), (t, verdict, at, out.at_s[t])


# --- figures -------------------------------------------------------------------------------


def bad_requests(s: Streams, out: Outcome, error_x: float) -> np.ndarray:
    """Canary 5xx (error cases) or canary requests (latency cases) before the verdict."""
    intervals = (out.at_s // INTERVAL_S).astype(int)
    if error_x > 1:
        cumulative = np.cumsum(s.canary_errors, axis=1)
        return np.asarray(cumulative[np.arange(len(intervals)), intervals - 1], dtype=float)
    return np.asarray(intervals * PER_INTERVAL["canary"], dtype=float)


def median(values: np.ndarray) -> float:
    return float(np.median(values)) if len(values) else math.nan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 trials per case")
    parser.add_argument("--trials", type=int, default=None, help="trials per case (default 1000)")
    parser.add_argument("--check", type=int, default=None, help="trials re-run through the models")
    args = parser.parse_args()
    trials = args.trials or (200 if args.quick else 1000)
    check = args.check if args.check is not None else (5 if args.quick else 20)
    started = time.monotonic()
    judges = ("threshold", "mann-whitney", "sequential", "sequential-b")
    rows: dict[tuple[str, str], dict[str, float]] = {}
    for seed, (case, (error_x, latency_x)) in enumerate(CASES.items(), start=1):
        s = simulate(error_x, latency_x, trials, seed)
        outcomes = {
            "threshold": threshold_judge(s),
            "mann-whitney": kayenta_judge(s),
            "sequential": sequential_judge(s, pooled=True),
            "sequential-b": sequential_judge(s, pooled=False),
        }
        threshold_check(s, outcomes["threshold"], check)
        sequential_check(s, outcomes["sequential"], check, pooled=True)
        sequential_check(s, outcomes["sequential-b"], check, pooled=False)
        for judge in judges:
            out = outcomes[judge]
            alarm = out.verdict != "pass"
            promoted = ~alarm
            rows[(case, judge)] = {
                "fail": float((out.verdict == "fail").mean()),
                "pause": float((out.verdict == "inconclusive").mean()),
                "stop": float(alarm.mean()),
                "detect_s": median(out.at_s[alarm]),
                "bad": median(bad_requests(s, out, error_x)) if case != "A/A" else math.nan,
                "promote_s": median(out.at_s[promoted]),
            }
    print(f"{trials} trials per case, {time.monotonic() - started:.1f} s")
    print(
        f"{'case':<14} {'judge':<13} {'fail':>7} {'paused':>7} {'stopped':>8} {'t stop':>9}"
        f" {'bad req':>8} {'t promote':>10}"
    )
    for (case, judge), r in rows.items():
        print(
            f"{case:<14} {judge:<13} {r['fail']:>7.1%} {r['pause']:>7.1%} {r['stop']:>8.1%}"
            f" {_minutes(r['detect_s']):>9} {_count(r['bad']):>8} {_minutes(r['promote_s']):>10}"
        )
    ours = {k: rows[(k, "sequential")] for k in CASES}
    others = ("threshold", "mann-whitney")
    best_bad = min(rows[("errors 2x", j)]["bad"] for j in others)
    best_promote = min(rows[("A/A", j)]["promote_s"] for j in others)
    print(
        json.dumps(
            {
                "fpr": round(ours["A/A"]["fail"], 4),
                "aa_paused": round(ours["A/A"]["pause"], 4),
                "power_2x": round(ours["errors 2x"]["stop"], 4),
                "exposed_ratio_vs_best": round(ours["errors 2x"]["bad"] / best_bad, 3),
                "promote_ratio_vs_best": round(ours["A/A"]["promote_s"] / best_promote, 3),
                "trials": trials,
            }
        )
    )


def _count(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.0f}"


def _minutes(seconds: float) -> str:
    return "—" if math.isnan(seconds) else f"{seconds / 60:.1f} min"


if __name__ == "__main__":
    main()
