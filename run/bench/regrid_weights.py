"""Benchmark: exact conservative weights for a 1/120° 10°×10° tile (1.44 M cells) → a uniform
0.9°×1.25° global grid (200×288), landemu against `cdo gencon` on the same grids, same run.

Each tool runs in its own child process; wall time is measured around it and peak memory is
the child's ru_maxrss from wait4 (so Python's own baseline counts against landemu).
  landemu_s       weight generation inside the child (overlaps, frac_a/b, normalisation)
  landemu_cli_s   the whole `landemu regrid SRC DST -o MAP.nc` process (start-up, weights,
                  writing the ESMF file with all cell corners)
  cdo_s           the whole `cdo gencon` process (it writes its SCRIP map file)
Speed-ups, named for what they compare:
  kernel_speedup_vs_cdo   cdo_s / landemu_s: landemu's in-memory weight kernel against the
                          whole cdo process (not a like-for-like comparison)
  speedup_vs_cdo          cdo_s / landemu_cli_s: whole process against whole process, both
                          writing a map file
Weights are compared as destination-area weights (CDO_REMAP_NORM=destarea), the pure
geometry; cdo's fracarea renormalisation amplifies its own area error on thinly covered cells.
Prints one JSON line last.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = "latlon:1200,1200:30,40,10,20"
DST = "latlon:200,288:-90,90,0,360"
ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from coupler.grids import LatLonGrid
from coupler.regrid import conservative_weights
src, dst = LatLonGrid.parse(sys.argv[1]), LatLonGrid.parse(sys.argv[2])
t1 = time.perf_counter()
w = conservative_weights(src, dst, normalization="dstarea")
t2 = time.perf_counter()
import numpy as np
np.savez(sys.argv[3], rows=w.rows, cols=w.cols, S=w.S)
print(json.dumps({"import_s": t1 - t0, "weights_s": t2 - t1, "n_s": w.n_s}))
"""


def run_measured(
    cmd: list[str], env: dict | None = None, cwd: str | None = None
) -> tuple[float, float, str]:
    """Run cmd; return (wall seconds, peak RSS MB of the child, stdout)."""
    t = time.perf_counter()
    p = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd, text=True
    )
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{err[-2000:]}")
    return wall, ru.ru_maxrss / 1024.0, out


def cdo_grid(spec: str) -> str:
    sys.path.insert(0, str(ROOT))
    from coupler.grids import LatLonGrid

    g = LatLonGrid.parse(spec)
    return (
        f"gridtype = lonlat\nxsize = {g.nlon}\nysize = {g.nlat}\n"
        f"xfirst = {float(g.lon_centres()[0])!r}\nxinc = {g.dlon!r}\n"
        f"yfirst = {float(g.lat_centres()[0])!r}\nyinc = {g.dlat!r}\n"
    )


def main() -> None:
    import numpy as np
    import scipy.sparse as sp

    sys.path.insert(0, str(ROOT))
    from coupler.regrid import read_map

    cdo = shutil.which("cdo")
    if cdo is None:
        raise SystemExit("cdo is not installed (apt-get install cdo)")
    with tempfile.TemporaryDirectory(
        dir=ROOT / "build" if (ROOT / "build").is_dir() else None
    ) as tmp:
        tmpd = Path(tmp)
        (tmpd / "src.txt").write_text(cdo_grid(SRC))
        (tmpd / "dst.txt").write_text(cdo_grid(DST))
        env = {**os.environ, "CDO_REMAP_NORM": "destarea", "OMP_NUM_THREADS": "1"}
        cdo_s, cdo_mb, _ = run_measured(
            [cdo, "-s", "-f", "nc", "gencon,dst.txt", "-const,1,src.txt", "cdo.nc"], env, tmp
        )
        wall, lem_mb, out = run_measured(
            [sys.executable, "-c", CHILD, SRC, DST, str(tmpd / "ours.npz")], cwd=str(ROOT)
        )
        inner = json.loads(out.strip().splitlines()[-1])
        landemu = str(Path(sys.executable).parent / "landemu")
        cli_s, cli_mb, _ = run_measured(
            [
                landemu,
                "regrid",
                SRC,
                DST,
                "-o",
                str(tmpd / "esmf.nc"),
                "--no-progress",
                "--normalization",
                "dstarea",
            ],
            cwd=str(ROOT),
        )
        ref = read_map(tmpd / "cdo.nc")
        z = np.load(tmpd / "ours.npz")
        shape = (ref.n_b, ref.n_a)
        d = (
            sp.csr_matrix((z["S"], (z["rows"], z["cols"])), shape=shape)
            - sp.csr_matrix((ref.S, (ref.rows, ref.cols)), shape=shape)
        ).tocoo()
        diff = float(np.abs(d.data).max()) if d.nnz else 0.0
    res = {
        "src": SRC,
        "dst": DST,
        "n_s": inner["n_s"],
        "landemu_s": round(inner["weights_s"], 4),
        "landemu_process_s": round(wall, 3),
        "landemu_cli_s": round(cli_s, 3),
        "cdo_s": round(cdo_s, 3),
        "kernel_speedup_vs_cdo": round(cdo_s / inner["weights_s"], 1),
        "speedup_vs_cdo": round(cdo_s / cli_s, 2),
        "landemu_peak_mb": round(lem_mb, 1),
        "landemu_cli_peak_mb": round(cli_mb, 1),
        "cdo_peak_mb": round(cdo_mb, 1),
        "max_abs_diff_vs_cdo": diff,
        "self_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(res))


if __name__ == "__main__":
    main()
