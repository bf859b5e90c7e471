#!/usr/bin/env bash
# The land-use scenario demo (after the main demo in `make demo`): the host's cropland grows
# 0.08 a year for five years over Mato Grosso; the online land-use U-Net follows on 2 ranks.
# First run builds the land-use cube (~1-2 min, cached in run/data/lulc/); then ~30 s.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
export OMP_NUM_THREADS=1
static=run/data/lulc_demo_static.nc
[ -f run/data/lulc/cube.zarr/manifest.json ] || .venv/bin/python -m emulators.lulc.dataset build
[ -f "$static" ] || .venv/bin/landemu lulc-static --region=-15,-10,-60,-55 -o "$static" > /dev/null
rm -rf run/out/landuse
echo "landemu demo: land-use scenario, 5 model years, 2 ranks"
run/mpirun.sh -n 2 .venv/bin/python run/demo/landuse.py run/demo/landuse.yaml run/out/landuse
