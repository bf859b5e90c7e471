#!/usr/bin/env bash
# The coupled demo behind `make demo`: prepare the (cached) real static data and domain,
# run the Fortran host on 2 MPI ranks for one simulated year with daily coupling, and
# summarise what landemu handed back.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
landemu=.venv/bin/landemu
mkdir -p run/data run/out/demo
static=run/data/demo_static.nc
domain=run/data/demo_domain.nc
[ -f "$static" ] || $landemu prepare-static --grid "latlon:1200,1200:42,52,0,10" -o "$static"
[ -f "$domain" ] || $landemu domain --grid "latlon:20,20:42,52,0,10" --static "$static" -o "$domain"
cp run/demo/landemu.yaml run/demo/testhost.nml run/out/demo/
rm -f run/out/demo/*.nc run/out/demo/*.partial
cd run/out/demo
start=$(date +%s)
"$repo/run/mpirun.sh" -n 2 "$repo/build/install/bin/landemu_testhost" testhost.nml
echo "landemu demo: coupled year finished in $(( $(date +%s) - start )) s"
"$repo/.venv/bin/python" "$repo/run/demo/summary.py" .
