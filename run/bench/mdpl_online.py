"""Benchmark: one online MdPL calibration for 10,000 host columns vs the host physics' cost.

The online step's core (`emulators.mdpl.online.calibrate_columns`: g_z, the shipped ONNX, on
the last 48-step window of each column's forcing plus its site attributes, no observed fluxes,
in the fixed zero-padded batches of 256 the step uses) with 1 and 2 intra-op threads; the
host physics runs the same 10,000 columns (mixed PFTs) for one simulated day in Fortran,
scaled to a 30.4-day month. The last line printed is one JSON object: `calib_s` (1 thread),
`calib_s_2threads`, `host_month_s`, `ratio` = calib_s / host_month_s.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from emulators.data.forcing import generate_forcing  # noqa: E402
from emulators.landmodel import FORCING_NAMES, HostModel  # noqa: E402
from emulators.mdpl.online import calibrate_columns  # noqa: E402
from emulators.mdpl.runtime import MdplModels  # noqa: E402

NCOL = 10_000
NSITE = 100
DAYS_PER_MONTH = 30.4


def main() -> None:
    rng = np.random.default_rng(0)
    lat = rng.uniform(-40.0, 65.0, NSITE)
    lon = rng.uniform(-120.0, 140.0, NSITE)
    f = generate_forcing(lat, lon, 2001, 1, seed=1)
    site = np.arange(NCOL) % NSITE
    day = slice(180 * 48, 181 * 48)
    window = np.stack([f[n][day][:, site] for n in FORCING_NAMES], axis=2)  # (48, NCOL, 7)
    windows = window.transpose(1, 0, 2)
    statics = {
        "sand": rng.uniform(10, 70, NCOL),
        "clay": rng.uniform(5, 45, NCOL),
        "elevation": rng.uniform(0, 2000, NCOL),
        "pft": rng.integers(1, 17, NCOL).astype(float),
    }
    calib = {}
    for threads in (1, 2):
        models = MdplModels(threads=threads, surrogate_path=None)
        cut = {k: v[:256] for k, v in statics.items()}
        calibrate_columns(windows[:256], lat[site[:256]], lon[site[:256]], cut, 0, models)  # warm
        t0 = time.perf_counter()  # the online step's whole core: inputs, g_z, clamping
        params = calibrate_columns(windows, lat[site], lon[site], statics, 180 * 48, models)
        calib[threads] = time.perf_counter() - t0
        assert params.shape == (NCOL, 12)

    pct = np.zeros((NCOL, 17))
    pct[np.arange(NCOL), rng.integers(1, 17, NCOL)] = 100.0
    host = HostModel(pct, 40.0, 20.0, lat[site], lon[site])
    forc = {n: f[n][day][:, site] for n in FORCING_NAMES}
    t0 = time.perf_counter()
    host.run(forc, start_doy=181, outputs=["FSH", "EFLX_LH_TOT"])
    host_day = time.perf_counter() - t0
    host_month = host_day * DAYS_PER_MONTH
    print(f"g_z for {NCOL} columns: {calib[1]:.3f} s (1 thread), {calib[2]:.3f} s (2 threads)")
    print(f"host physics, {NCOL} columns: {host_day:.2f} s per day -> {host_month:.1f} s/month")
    fig = {
        "ncol": NCOL,
        "calib_s": round(calib[1], 4),
        "calib_s_2threads": round(calib[2], 4),
        "host_day_s": round(host_day, 3),
        "host_month_s": round(host_month, 2),
        "ratio": round(calib[1] / host_month, 6),
    }
    print(json.dumps(fig))


if __name__ == "__main__":
    main()
