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
