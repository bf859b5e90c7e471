#!/usr/bin/env bash
# The coupled demo behind `make demo`: prepare the (cached) real static data, domain and
# forcing (ERA5 climatology + seeded weather), run the ELM/ILS-style host land model on 2
# MPI ranks for one year coupled to landemu, and once more alone for reference, then
# summarise what landemu's PFTs and LAI did to the host's latent heat.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
landemu=.venv/bin/landemu
host=build/install/bin/landemu_landmodel
rm -rf run/out/demo
mkdir -p run/data run/out/demo
static=run/data/demo_static.nc
domain=run/data/demo_domain.nc
forcing=run/data/demo_forcing.nc
climate=run/data/demo_climate.nc
[ -f "$static" ] || $landemu prepare-static --grid "latlon:1200,1200:42,52,0,10" -o "$static"
[ -f "$domain" ] || $landemu domain --grid "latlon:20,20:42,52,0,10" --static "$static" -o "$domain"
[ -f "$forcing" ] || $landemu forcing --domain "$domain" --start-year 2001 --years 1 -o "$forcing"
[ -f "$climate" ] || $landemu surface-climate --grid "$domain" -o "$climate"
cp run/demo/landemu.yaml run/demo/landmodel.nml run/demo/landmodel_alone.nml run/out/demo/
cd run/out/demo
start=$(date +%s)
echo "landemu demo: host land model + landemu, 2 ranks, 2001 (daily coupling)"
"$repo/run/mpirun.sh" -n 2 "$repo/$host" landmodel.nml
echo "landemu demo: coupled year finished in $(( $(date +%s) - start )) s; reference year without landemu"
"$repo/run/mpirun.sh" -n 2 "$repo/$host" landmodel_alone.nml > landmodel_alone.log
"$repo/.venv/bin/python" "$repo/run/demo/summary.py" . "$repo/$domain"
