#!/usr/bin/env bash
# mpirun as landemu's scripts and tests use it: root-safe, oversubscribed, unbound.
# Open MPI refuses to run as root without the two ALLOW variables, and binds each rank to
# one core by default (which halves throughput when ranks outnumber the 2 cores here).
set -euo pipefail
# A process that has imported mpi4py is an MPI singleton; the OMPI_/PMIX_/OPAL_ variables it
# passes on would make a child mpirun exit silently with status 1. Start from a clean slate.
for v in $(env | grep -oE '^(OMPI|PMIX|OPAL)_[A-Za-z0-9_]*' || true); do unset "$v"; done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# Silence the "no high-performance network" warnings of single-node runs.
export OMPI_MCA_btl=${OMPI_MCA_btl:-self,vader,tcp}
exec mpirun --oversubscribe --bind-to none "$@"
