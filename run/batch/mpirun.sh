#!/bin/bash
# landemu with plain mpirun (workstations, PBS/LSF jobs): same as slurm.sbatch without srun.
# usage: run/batch/mpirun.sh NRANKS CONFIG [HOST_EXE]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
nranks=$1 config=$2 host=${3:-}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
if [ -n "$host" ]; then
    exec "$here/run/mpirun.sh" -n "$nranks" "$host" "$config"
else
    exec "$here/run/mpirun.sh" -n "$nranks" "$here/.venv/bin/landemu" run "$config"
fi
