#!/usr/bin/env bash
# The LAI demo behind `make demo` (after run/demo/run.sh, whose domain, static file and
# forcing it reuses): `landemu run` plays the host for 2001 on 2 ranks with the GSI transform
# and the LAI U-Net side by side (run/demo/lai.yaml), then run/demo/lai_plot.py plots both.
# The U-Net's 0.05° static file (`landemu lai static`: phase one's statics plus NDVI max/min
# and fAPAR max) is cut from phase one's cube, which run/demo/landuse.sh (run before this by
# `make demo`) builds; run alone without the cube, the demo says so and stops.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
cube=run/data/lulc/cube.zarr
static=run/data/demo_lai_vegstatic.nc  # with NDVI max/min and fAPAR max (v3)
if [ ! -f "$static" ] && [ ! -f "$cube/manifest.json" ]; then
    echo "landemu LAI demo skipped: phase one's cube $cube is missing (python -m emulators.lulc.dataset build)"
    exit 0
fi
[ -f "$static" ] || .venv/bin/landemu lai static --region 42,52,0,10 -o "$static"
rm -rf run/out/demo_lai
mkdir -p run/out/demo_lai
cp run/demo/lai.yaml run/out/demo_lai/
cd run/out/demo_lai
start=$(date +%s)
echo "landemu LAI demo: GSI transform and LAI U-Net side by side, 2 ranks, 2001"
OMP_NUM_THREADS=1 "$repo/run/mpirun.sh" -n 2 "$repo/.venv/bin/landemu" run --quiet lai.yaml
echo "landemu LAI demo: year finished in $(( $(date +%s) - start )) s"
"$repo/.venv/bin/python" "$repo/run/demo/lai_plot.py" .
