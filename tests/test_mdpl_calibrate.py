"""`landemu calibrate` on a NEW twin site (not one of the 20): ALMA files in, parameters,
report and plot out, RMSE against the twin observations reduced vs the PFT defaults; and
clear errors for bad files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from coupler.errors import ConfigError, DataFileError, FieldError
from emulators.landmodel import PARAM_NAMES
from emulators.mdpl import twin
from emulators.mdpl.calibrate import ALMA_FORCING, make_site, parse_attrs
from emulators.mdpl.cli import run_calibrate
from emulators.mdpl.runtime import PACKAGE_DIR

pytestmark = pytest.mark.skipif(
    not (PACKAGE_DIR / "gz.onnx").exists(), reason="shipped MdPL models not built"
)
NEW_SITE = "lat=47.2,lon=8.4,sand=35,clay=25,elevation=450"
UNITS = {"FSDS": "W/m2", "FLDS": "W/m2", "TBOT": "K", "QBOT": "kg/kg", "WIND": "m/s"}
UNITS |= {"PSRF": "Pa", "PRECTmms": "kg/m2/s"}


def _write(path: Path, series: dict[str, tuple[np.ndarray, str]]) -> Path:
    n = len(next(iter(series.values()))[0])
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("time", n)
        ds.createDimension("y", 1)
        ds.createDimension("x", 1)
        t = ds.createVariable("time", "f8", ("time",))
        t.units = "seconds since 2001-01-01 00:00:00"
        t[:] = np.arange(n) * 1800.0
        for name, (v, units) in series.items():
            var = ds.createVariable(name, "f4", ("time", "y", "x"), fill_value=-9999.0)
            var.units = units
            var[:] = np.where(np.isfinite(v), v, -9999.0)[:, None, None]
    return path


@pytest.fixture(scope="module")
def new_site(tmp_path_factory):
    """A woodland twin site near Zurich: 120 days of forcing, hidden truth, observations."""
    d = tmp_path_factory.mktemp("mdpl_new_site")
    site = make_site("XX-New", "woodland", parse_attrs(NEW_SITE))
    forcing = twin.site_forcing((site,), nyears=1, seed=23, first_id=900)
    nstep = 120 * 48
    f = {k: v[100 * 48 : 100 * 48 + nstep, 0] for k, v in forcing.items()}
    truth = twin.hidden_truth(site, seed=5)
    sim = twin.simulate(site, truth[None], f, spinup_steps=nstep)
    obs, _ = twin.observe(np.stack([sim[n][:, 0] for n in twin.FLUXES], 1), seed=9)
    alma = {a: (f[h], UNITS[h]) for a, (h, _) in ALMA_FORCING.items()}
    fpath = _write(d / "forcing.nc", alma)
    opath = _write(d / "fluxes.nc", {"Qh": (obs[:, 0], "W/m2"), "Qle": (obs[:, 1], "W/m2")})
    return d, fpath, opath, alma


def _args(d, fpath, opath, generations=3, closure=None, out="out", refine_runs=0):
    return argparse.Namespace(
        refine_runs=refine_runs,
        forcing=fpath,
        fluxes=opath,
        pft="woodland",
        site_attrs=NEW_SITE,
        name="XX-New",
        output=d / out,
        generations=generations,
        closure=closure,
    )


def test_calibrate_new_twin_site_reduces_rmse_vs_defaults(new_site):
    d, fpath, opath, _ = new_site
    assert run_calibrate(_args(d, fpath, opath, refine_runs=4)) == 0  # as the CLI's default
    out = d / "out"
    params = json.loads((out / "parameters.json").read_text())
    assert len(params["parameters"]) == 12
    report = (out / "report.md").read_text()
    assert "| default |" in report and (out / "fluxes.png").stat().st_size > 1000
    lines = report.splitlines()
    table = lines[6 : lines.index("", 6)]  # one row per candidate, line-search steps included
    rows = {r.split("|")[1].strip(): r.split("|")[2:4] for r in table}
    assert {"default", "gz", "gz@0.5", "gz@1.5"} <= set(rows)
    default = [float(v) for v in rows["default"]]
    chosen = [float(v) for v in rows[params["method"]]]
    assert chosen[0] < default[0] and chosen[1] < default[1]  # H and LE
    assert 0.7 <= params["closure_factor"] <= 1.05  # reported, not used by the shipped g_z
    assert "closure factor of the written set: c* = " in report and "not used in" in report


def test_calibrate_with_closure_scores_the_scaled_fluxes_and_reports_the_factor(new_site, capsys):
    d, fpath, opath, _ = new_site
    assert run_calibrate(_args(d, fpath, opath, 0, "0.8,1.0", "out_closure")) == 0
    params = json.loads((d / "out_closure" / "parameters.json").read_text())
    report = (d / "out_closure" / "report.md").read_text()
    assert 0.8 <= params["closure_factor"] <= 1.0
    assert "closure-aware (misfit of c*·sim)" in report and "[0.8, 1]; used in" in report
    assert f"closure factor c* {params['closure_factor']:.3f}" in capsys.readouterr().out
    with pytest.raises(ConfigError, match=r"closure range .* needs 0 < lo <= hi"):
        run_calibrate(_args(d, fpath, opath, 0, "1.0,0.8"))


def test_wrong_flux_units_and_names_are_named(new_site):
    d, fpath, _, _ = new_site
    obs = np.ones(200)
    bad_units = _write(d / "bad_units.nc", {"Qh": (obs, "mm"), "Qle": (obs, "W/m2")})
    with pytest.raises(DataFileError, match="Qh .* has units 'mm'; expected 'W/m2'"):
        run_calibrate(_args(d, fpath, bad_units))
    bad_names = _write(d / "bad_names.nc", {"H": (obs, "W/m2"), "Qle": (obs, "W/m2")})
    with pytest.raises(DataFileError, match=r"lacks \['Qh'\]"):
        run_calibrate(_args(d, fpath, bad_names))


def test_short_record_and_nan_forcing_are_rejected(new_site):
    d, _, _, alma = new_site
    short = {k: (v[:40], u) for k, (v, u) in alma.items()}
    sf = _write(d / "short.nc", short)
    so = _write(d / "short_obs.nc", {"Qh": (np.ones(40), "W/m2"), "Qle": (np.ones(40), "W/m2")})
    with pytest.raises((FieldError, DataFileError), match="48"):
        run_calibrate(_args(d, sf, so))
    nan = {k: (v.copy(), u) for k, (v, u) in alma.items()}
    nan["Tair"][0][77] = np.nan
    with pytest.raises(FieldError, match="Tair is NaN or missing at step 77"):
        run_calibrate(_args(d, _write(d / "nan.nc", nan), new_site[2]))


def test_site_attribute_typos_are_named():
    with pytest.raises(FieldError, match="unknown site attribute 'latt'"):
        parse_attrs("latt=3")
    with pytest.raises(FieldError, match="'lon' is required"):
        make_site("x", "woodland", parse_attrs("lat=3"))


def test_physics_refinement_is_written_only_when_its_calibration_cost_is_lower(new_site):
    from emulators.mdpl.calibrate import calibrate, read_fluxes, read_forcing, set_cost
    from emulators.mdpl.runtime import MdplModels

    d, fpath, opath, _ = new_site
    forcing = read_forcing(fpath)
    obs = read_fluxes(opath, len(forcing["TBOT"]))
    site = make_site("XX-New", "woodland", parse_attrs(NEW_SITE))
    models = MdplModels()
    cal = calibrate(forcing, obs, site, models, generations=0, refine_runs=2)
    cost = set_cost(models, obs, cal.candidates["default"])
    costs = {n: cost(p, cal.sims[n]) for n, p in cal.candidates.items()}
    assert cal.chosen == "physics_refinement"  # on this site it beats every candidate
    assert costs["physics_refinement"] < min(c for n, c in costs.items() if n != cal.chosen)
    influential = [PARAM_NAMES.index(n) for n in ("vgcov", "vegh", "gradm", "chl", "binter")]
    moved = [  # which parameters moved from the candidate the search started at
        set(np.flatnonzero(~np.isclose(p, cal.candidates[cal.chosen], rtol=1e-9, atol=0)))
        for n, p in cal.candidates.items()
        if n != cal.chosen
    ]
    assert any(m and m <= set(influential) for m in moved)
    assert run_calibrate(_args(d, fpath, opath, 0, out="out_refined", refine_runs=2)) == 0
    with pytest.raises(ConfigError, match="--refine-runs -1"):
        run_calibrate(_args(d, fpath, opath, 0, refine_runs=-1))
