"""Acceptance: the Fortran host program on 2 ranks, taking landemu's online MdPL parameters,
has lower sensible and latent heat RMSE against TWIN observations than the same run with its
PFT defaults (a 6-day June run at US-Bar's location; the full year: `python -m
emulators.mdpl.coupled`)."""

from __future__ import annotations

import numpy as np
import pytest

from emulators.landmodel import PARAM_NAMES, parameter_table
from emulators.mdpl.coupled import experiment

pytestmark = [pytest.mark.fortran, pytest.mark.slow]


def test_coupled_host_with_calibrated_parameters_beats_its_defaults(tmp_path):
    res = experiment(tmp_path, "US-Bar", ndays=6, nranks=2, start_ymd=20010601)
    for flux in ("H", "LE"):
        assert res["mdpl"][flux] < res["default"][flux], res
    got = np.array([res["parameters_last"][p] for p in PARAM_NAMES])
    tab = parameter_table()
    assert ((got >= tab.lo) & (got <= tab.hi)).all()
    assert np.abs(got - tab.pft_defaults[7]).max() > 0  # the host received g_z's set


def test_coupled_run_is_bit_for_bit_on_1_and_5_ranks_one_without_columns(tmp_path):
    import netCDF4

    from emulators.mdpl.coupled import run_host, write_case
    from emulators.mdpl.sites import site

    s = site("DK-Lva")
    write_case(tmp_path, s, "daily", 20010601)
    runs = {n: run_host(tmp_path, s, f"r{n}", n, 2, 20010601, True) for n in (1, 5)}  # 4 cells
    with netCDF4.Dataset(runs[1]) as a, netCDF4.Dataset(runs[5]) as b:
        for v in ("FSH", "EFLX_LH_TOT", "landemu_vgcov", "landemu_gradm"):
            np.testing.assert_array_equal(a[v][:], b[v][:], err_msg=v)
        assert np.ptp(a["landemu_gradm"][:]) > 0  # defaults on day 1, then g_z's set
