"""Benchmark: column-steps per second of the host physics through ctypes on one core.

Three figures: one column stepped through a year inside Fortran (hm_run_columns, ncol = 1),
a batch of 10,000 columns (mixed PFTs, per-column perturbed parameters, forcing from 100
generated cells) for two July days, and the host program's path (hm_step_column, one ctypes
call per column-step). The last line printed is one JSON object; `column_steps_per_s` is the
batch figure (the perturbed-parameter-ensemble use case).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from emulators.data.forcing import generate_forcing  # noqa: E402
from emulators.landmodel import HostModel, default_params, lhs_samples  # noqa: E402

NS = 48
NCOL = 10_000
NSITE = 100


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    rng = np.random.default_rng(0)
    site_lat = rng.uniform(-40.0, 65.0, NSITE)
    site_lon = rng.uniform(-120.0, 140.0, NSITE)
    forcing = generate_forcing(site_lat, site_lon, 2001, 1, seed=1)

    # one column, one year, time loop in Fortran
    pct1 = np.zeros((1, 17))
    pct1[0, 7] = 100.0
    one = HostModel(pct1, 40.0, 20.0, site_lat[0], site_lon[0])
    f1 = {k: v[:, :1] for k, v in forcing.items()}
    t_one = _timed(lambda: one.run(f1, start_doy=1, outputs=["FSH", "EFLX_LH_TOT"]))
    one_rate = 365 * NS / t_one

    # a batch of 10,000 columns with per-column parameters, two July days
    site = np.arange(NCOL) % NSITE
    pct = np.zeros((NCOL, 17))
    pfts = rng.integers(1, 17, NCOL)
    pct[np.arange(NCOL), pfts] = 100.0
    mixed = rng.random(NCOL) < 0.3  # 30 % of the columns share with bare soil and grass
    pct[mixed, pfts[mixed]] = 60.0
    pct[mixed, 0] = 15.0
    pct[mixed, 13] += 25.0
    params = default_params(NCOL)
    params[np.arange(NCOL), pfts, :] = lhs_samples(NCOL, seed=2)
    batch = HostModel(pct, 40.0, 20.0, site_lat[site], site_lon[site], params=params)
    sl = slice(181 * NS, 183 * NS)
    fb = {k: v[sl][:, site] for k, v in forcing.items()}
    t_batch = _timed(lambda: batch.run(fb, start_doy=182, outputs=["FSH", "EFLX_LH_TOT"]))
    batch_rate = NCOL * 2 * NS / t_batch

    # the host program's path: one ctypes call per column-step
    rec = np.stack(
        [f1[n][:, 0] for n in ("FSDS", "FLDS", "TBOT", "QBOT", "WIND", "PSRF", "PRECTmms")], axis=-1
    )
    nsteps = 2 * NS
    t_call = _timed(
        lambda: [
            one.step_columns(rec[181 * NS + k][None, :], 182 + k // NS, (k % NS) * 1800.0)
            for k in range(nsteps)
        ]
    )
    call_rate = nsteps / t_call

    print(f"one column, one year:      {one_rate:12.0f} column-steps/s ({t_one:.2f} s)")
    print(f"10,000 columns, two days:  {batch_rate:12.0f} column-steps/s ({t_batch:.2f} s)")
    print(f"per-step ctypes calls:     {call_rate:12.0f} column-steps/s")
    print(
        json.dumps(
            {
                "benchmark": "host_physics",
                "column_steps_per_s": round(batch_rate),
                "single_column_steps_per_s": round(one_rate),
                "batch_10000_column_steps_per_s": round(batch_rate),
                "single_step_calls_per_s": round(call_rate),
            }
        )
    )


if __name__ == "__main__":
    main()
