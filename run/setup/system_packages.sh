#!/usr/bin/env bash
# Installs the Debian packages landemu needs, only those missing (fast when all are there).
set -euo pipefail
pkgs=(gfortran libopenmpi-dev openmpi-bin libnetcdf-dev libnetcdff-dev netcdf-bin
      pkg-config cmake make gcc g++ cdo nco python3-dev python3-venv
      ferret-datasets)  # ferret-datasets: ETOPO5 elevation (etopo5.cdf), real data for the emulators
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "landemu setup: installing Debian packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "landemu setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# --no-install-recommends keeps cdo/nco near 400 MB instead of 1.1 GB.
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
