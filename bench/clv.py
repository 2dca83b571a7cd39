"""Benchmark of the BG/NBD fit against lifetimes' ``BetaGeoFitter`` on the same summary.

Simulates ``--customers`` customers' (frequency, recency, T) from a BG/NBD process with numpy
(seeded, exactly: ``N ~ Poisson(lambda T)`` potential repeats, dropout after repeat
``K ~ Geometric(p)``, ``x = min(N, K)`` and the time of the x-th of N uniform purchase times
``t_x = T * Beta(x, N - x + 1)``), at day resolution as real summaries are (ages of 1 to 730
days, recency rounded down to whole days), then fits it with ours (`fidela.analytics.clv`) and
with lifetimes 0.11.3, one after the other in this process.

Reported: both wall times, the ratio (goal: ours at least 5x faster), the largest relative
difference between the two parameter sets (goal: at most 1e-3), both log-likelihoods, and the
number of distinct (x, t_x, T) patterns ours fits on. Nothing is asserted. The load average is
printed too: the machine may be shared, which slows both sides alike only roughly.

    .venv/bin/python bench/clv.py                   # 1,000,000 customers
    .venv/bin/python bench/clv.py --customers 100000 --json
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt

from fidela.analytics.clv import fit_bgnbd
from fidela.analytics.clv.bgnbd import log_likelihood_terms
from fidela.analytics.clv.patterns import group_patterns

TRUTH = {"r": 0.8, "alpha": 40.0, "a": 0.8, "b": 2.5}  # per day, as the demo data
MAX_AGE_DAYS = 730
SPEED_GOAL = 5.0
AGREEMENT_GOAL = 1e-3

FloatArray = npt.NDArray[np.float64]


def simulate(customers: int, seed: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    rng = np.random.default_rng(seed)
    rate = rng.gamma(TRUTH["r"], 1.0 / TRUTH["alpha"], customers)
    dropout = np.clip(rng.beta(TRUTH["a"], TRUTH["b"], customers), 1e-12, 1.0)
    age = rng.integers(1, MAX_AGE_DAYS + 1, customers).astype(np.float64)
    potential = rng.poisson(rate * age)
    x = np.minimum(potential, rng.geometric(dropout)).astype(np.float64)
    recency = np.zeros(customers)
    buyers = x > 0
    share = rng.beta(x[buyers], (potential[buyers] - x[buyers] + 1).astype(np.float64))
    recency[buyers] = np.floor(age[buyers] * share)
    return x, recency, age


def _seconds(function: Any, repeats: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def run(customers: int, seed: int, repeats: int) -> dict[str, Any]:
    x, recency, age = simulate(customers, seed)
    patterns = group_patterns(x, recency, age)
    ours_s, ours = _seconds(lambda: fit_bgnbd(x, recency, age), repeats)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes import BetaGeoFitter

        start = time.perf_counter()
        theirs = BetaGeoFitter().fit(x, recency, age)
        theirs_s = time.perf_counter() - start
    their_params = {name: float(theirs.params_[name]) for name in TRUTH}
    difference = max(abs(ours.params[name] / their_params[name] - 1) for name in TRUTH)
    their_ll = float(
        log_likelihood_terms(
            (their_params["r"], their_params["alpha"], their_params["a"], their_params["b"]),
            x,
            recency,
            age,
        ).sum()
    )
    return {
        "customers": customers,
        "repeat_customers": int(np.count_nonzero(x)),
        "patterns": int(patterns.x.size),
        "seed": seed,
        "ours_seconds": ours_s,
        "ours_repeats": repeats,
        "lifetimes_seconds": theirs_s,
        "speedup": theirs_s / ours_s,
        "speed_goal": SPEED_GOAL,
        "ours_params": ours.params,
        "lifetimes_params": their_params,
        "truth": TRUTH,
        "max_relative_param_difference": difference,
        "agreement_goal": AGREEMENT_GOAL,
        "ours_log_likelihood": ours.log_likelihood,
        "lifetimes_log_likelihood": their_ll,
        "load_average_1min": os.getloadavg()[0],
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20_261_122)
    parser.add_argument("--repeats", type=int, default=3, help="ours: best of N runs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = run(args.customers, args.seed, args.repeats)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    lines = [
        f"BG/NBD fit on {report['customers']:,} simulated customers "
        f"({report['repeat_customers']:,} repeat, {report['patterns']:,} distinct patterns)",
        f"  ours      {report['ours_seconds']:8.2f} s (best of {report['ours_repeats']})",
        f"  lifetimes {report['lifetimes_seconds']:8.2f} s",
        f"  speed-up  {report['speedup']:8.1f}x  (goal >= {SPEED_GOAL:g}x)",
        f"  max relative parameter difference {report['max_relative_param_difference']:.2e} "
        f"(goal <= {AGREEMENT_GOAL:g})",
        "  params    " + ", ".join(f"{k}={v:.5g}" for k, v in report["ours_params"].items()),
        "  lifetimes " + ", ".join(f"{k}={v:.5g}" for k, v in report["lifetimes_params"].items()),
        "  truth     " + ", ".join(f"{k}={v:g}" for k, v in TRUTH.items()),
        f"  log-likelihood ours {report['ours_log_likelihood']:.3f}, "
        f"lifetimes {report['lifetimes_log_likelihood']:.3f}",
        f"  load average {report['load_average_1min']:.2f} on {report['cpus']} CPUs",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
