#!/usr/bin/env bash
# Creates .venv and installs landemu with the packages that must be built against Debian's
# Open MPI and netCDF (mpi4py, netCDF4): one MPI and one netCDF/HDF5 per process, even
# when Python is embedded in a Fortran host linked with netCDF-Fortran.
set -euo pipefail
venv=${1:-.venv}
python=${PYTHON:-python3}
if [ ! -x "$venv/bin/python" ]; then
    shared=$("$python" -c 'import sysconfig; print(sysconfig.get_config_var("Py_ENABLE_SHARED") or 0)')
    if [ "$shared" != "1" ]; then
        echo "landemu setup: $python has no shared libpython, which the C library embeds;" \
             "use PYTHON=/usr/bin/python3 make ..." >&2
        exit 1
    fi
    echo "landemu setup: creating $venv with $("$python" --version)"
    "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)
"${pip[@]}" --upgrade pip setuptools wheel
"${pip[@]}" "cython>=3" "numpy>=1.26" "cffi>=1.17"
"$venv/bin/python" - <<'PY' || "${pip[@]}" --no-build-isolation --no-binary netCDF4,mpi4py "netCDF4==1.6.5" "mpi4py>=4.0"
import netCDF4, mpi4py, sys
sys.exit(0 if netCDF4.__version__ == "1.6.5" else 1)
PY
"${pip[@]}" --no-build-isolation -e ".[data,dev,train]"
# Data-only packages whose declared dependencies are huge and unused: --no-deps.
"$venv/bin/python" - <<'PY' || "${pip[@]}" --no-deps "bess-jpl==1.28.0" "ptjpl==1.9.0" "exoplasim==3.4.2"
import importlib.util, sys
sys.exit(0 if all(importlib.util.find_spec(m) for m in ("BESS_JPL", "PTJPL", "exoplasim")) else 1)
PY
