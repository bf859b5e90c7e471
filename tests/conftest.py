"""Shared fixtures: real static data for a small coastal window, its domain file, configs,
and a helper that runs a script under MPI on K ranks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
MPIRUN = REPO / "run" / "mpirun.sh"


# Brittany, 47–49°N 5–3°W: 38 % land, coast, several IGBP classes; 240 × 240 fine cells.
COAST_FINE = "latlon:240,240:47,49,-5,-3"
COAST_HOST = "latlon:4,4:47,49,-5,-3"


@pytest.fixture(scope="session")
def coast_static(tmp_path_factory) -> Path:
    """The real static fine-grid file (land mask, IGBP, Köppen, elevation) for the window."""
    from coupler.grids.latlon import LatLonGrid
    from emulators.data.static_fine import prepare_static

    path = tmp_path_factory.mktemp("static") / "coast_static.nc"
    prepare_static(LatLonGrid.parse(COAST_FINE), path, progress=False)
    return path


@pytest.fixture(scope="session")
def coast_domain(coast_static: Path) -> Path:
    """A 0.5° E3SM domain file whose mask comes from the fine land mask (12 of 16 cells)."""
    from coupler.domain import make_domain
    from coupler.grids.latlon import LatLonGrid

    path = coast_static.parent / "coast_domain.nc"
    make_domain(LatLonGrid.parse(COAST_HOST), coast_static, path)
    return path


def base_config(static: Path, domain: Path, out: Path, **overrides) -> dict:
    """A small but complete configuration: phenology + round trip on the coast window."""
    cfg = {
        "run": {
            "name": "t",
            "calendar": "noleap",
            "start": "2001-01-01",
            "coupling_interval": 86400,
            "output_dir": str(out),
            "log_level": "warning",
        },
        "host": {
            "grid": str(domain),
            "imports": ["TBOT", "PRECTmms"],
            "exports": ["LAI", "TBOT_FINE_CHECK"],
        },
        "fine": {"grid": COAST_FINE, "tile": [60, 60], "static": str(static)},
        "remap": {"host_to_fine_default": "conservative"},
        "steps": [
            {"name": "phenology", "transform": "phenology_gsi", "schedule": "daily"},
            {"name": "roundtrip", "transform": "roundtrip", "schedule": "daily"},
        ],
        "history": {"fields": ["LAI", "TBOT"], "frequency": "monthly"},
    }
    for section, values in overrides.items():
        if values is None:
            cfg.pop(section, None)
        elif isinstance(values, dict) and isinstance(cfg.get(section), dict):
            cfg[section] = {**cfg[section], **values}
        else:
            cfg[section] = values
    return cfg


def write_config(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture
def make_config(tmp_path, coast_static, coast_domain):
    """make_config(**overrides) -> path of a YAML config in a fresh folder."""

    def make(name: str = "cfg.yaml", **overrides) -> Path:
        cfg = base_config(coast_static, coast_domain, tmp_path / "out", **overrides)
        return write_config(tmp_path / name, cfg)

    return make


def run_mpi(
    nranks: int, *args: str, timeout: int = 300, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run `python args...` on nranks ranks; fail the test with the output if it fails."""
    cmd = [str(MPIRUN), "-n", str(nranks), sys.executable, *args]
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=full_env, cwd=REPO
    )
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc
