"""Aggregation to host cells: closure of land units and PFTs, LAI·area conservation, a
hand-checked cell, and the translation of a block."""

import numpy as np
import pytest

from coupler.errors import FieldError
from coupler.grids.latlon import LatLonGrid
from emulators.surface.aggregate import FineCells, SurfaceSums, overlap_integrator
from emulators.surface.pft import LAKE, N_PFT, NOT_LAND, URBAN_MD
from emulators.surface.soil import synthetic_soil, to_elm_layers
from emulators.surface.translate import monthly_step, translate_block
from emulators.surface.vegetation import sai_year

LAND_UNITS = ("PCT_NATVEG", "PCT_CROP", "PCT_LAKE", "PCT_WETLAND", "PCT_GLACIER")


def random_cells(n: int, rng: np.random.Generator) -> FineCells:
    classes = rng.integers(-1, 23, n)
    lai = rng.uniform(0, 6, (12, n))
    top = rng.uniform(0, 30, n)
    soil = {k: to_elm_layers(v) * rng.uniform(0.5, 1.0, n) for k, v in synthetic_soil((n,)).items()}
    return FineCells(classes, lai, lai * 0.3, top, top * 0.5, soil)


@pytest.mark.parametrize("host_spec", ["latlon:4,4:40,42,10,12", "latlon:3,3:40,42,10,12"])
def test_land_units_and_pfts_close_and_lai_area_is_conserved(host_spec):
    fine = LatLonGrid.parse("latlon:48,48:40,42,10,12")
    host = LatLonGrid.parse(host_spec)  # aligned 0.5° and non-aligned 2/3° cells
    cells = random_cells(fine.size, np.random.default_rng(1))
    sums = SurfaceSums(host.size)
    sums.add(overlap_integrator(fine, host), cells)
    out = sums.fields(host.areas().ravel())
    total = sum(out[k] for k in LAND_UNITS) + out["PCT_URBAN"].sum(axis=0)
    np.testing.assert_allclose(total, 100.0, rtol=0, atol=1e-10)
    np.testing.assert_allclose(out["PCT_NAT_PFT"].sum(axis=0), 100.0, rtol=0, atol=1e-10)
    np.testing.assert_allclose(out["PCT_CFT"].sum(axis=0), 100.0, rtol=0, atol=1e-10)
    assert out["MONTHLY_LAI"].shape == (12, N_PFT, host.size)
    area = fine.areas().ravel()
    for p in (2, 7, 14, 15):
        fine_integral = (cells.lai * area * (cells.surface_class == p)).sum(axis=1)
        host_integral = (out["MONTHLY_LAI"][:, p] * out["pft_area_sr"][p]).sum(axis=1)
        np.testing.assert_allclose(host_integral, fine_integral, rtol=1e-12)
    assert np.all((out["LANDFRAC_PFT"] > 0.85) & (out["LANDFRAC_PFT"] < 1.0))


def test_hand_checked_host_cell():
    fine = LatLonGrid(2, 2, 0.0, 0.002, 0.0, 0.002)  # four nearly equal cells
    host = LatLonGrid(1, 1, 0.0, 0.002, 0.0, 0.002)
    lai = np.array([[4.0, 2.0, 1.0, 9.0]] * 12)
    soil = {k: np.zeros((10, 4)) for k in ("PCT_SAND", "PCT_CLAY", "ORGANIC")}
    cells = FineCells(np.array([7, 7, 13, LAKE]), lai, lai, np.full(4, 20.0), np.ones(4), soil)
    sums = SurfaceSums(1)
    sums.add(overlap_integrator(fine, host), cells)
    out = sums.fields(host.areas().ravel())
    assert out["PCT_NATVEG"][0] == pytest.approx(75.0, rel=1e-6)
    assert out["PCT_LAKE"][0] == pytest.approx(25.0, rel=1e-6)
    assert out["PCT_NAT_PFT"][7, 0] == pytest.approx(200.0 / 3.0, rel=1e-6)
    assert out["PCT_NAT_PFT"][13, 0] == pytest.approx(100.0 / 3.0, rel=1e-6)
    assert out["MONTHLY_LAI"][6, 7, 0] == pytest.approx(3.0, rel=1e-6)
    assert out["MONTHLY_LAI"][6, 13, 0] == pytest.approx(1.0, rel=1e-12)
    assert out["MONTHLY_LAI"][6, 4, 0] == 0.0  # absent PFT
    assert out["PCT_CFT"][:, 0].tolist() == [100.0, 0.0]  # no crop: the first type


def test_cell_without_land_is_bare_natural_vegetation():
    fine = LatLonGrid(2, 2, 0.0, 1.0, 0.0, 1.0)
    host = LatLonGrid(1, 1, 0.0, 1.0, 0.0, 1.0)
    cells = random_cells(4, np.random.default_rng(0))
    cells.surface_class[:] = NOT_LAND
    sums = SurfaceSums(1)
    sums.add(overlap_integrator(fine, host), cells)
    out = sums.fields(host.areas().ravel())
    assert out["PCT_NATVEG"][0] == 100.0 and out["PCT_NAT_PFT"][0, 0] == 100.0
    assert out["LANDFRAC_PFT"][0] == 0.0 and out["PFTDATA_MASK"][0] == 0
    assert out["PCT_SAND"][0, 0] == 43.0  # the synthetic loam default


def test_translate_block_end_to_end_and_bad_lai():
    land_cover = np.array([[1, 6], [8, 0]])  # ENF, grass, urban, water
    t = np.full((12, 2, 2), 12.0)
    t[:6] = -25.0  # a cold winter: boreal needleleaf
    p = np.full((12, 2, 2), 60.0)
    lai = np.full((12, 2, 2), 2.0)
    lai[8:] = 0.5
    soil = synthetic_soil((2, 2))
    soil["PCT_SAND"][:, 1, 1] = np.nan  # no soil over the lake: filled from a neighbour
    cells, state = translate_block(land_cover, t, p, lai, soil)
    # Tc −25 °C: boreal needleleaf; GDD5 = 7·183 = 1281 ≥ 1000: non-arctic C3 grass
    assert cells.surface_class.tolist() == [2, 13, URBAN_MD, LAKE]
    assert cells.lai[:, 2].tolist() == [0.0] * 12  # urban has no PFT LAI
    assert cells.sai[8, 0] == pytest.approx(0.5 * 1.0 + 1.5)
    assert cells.soil["PCT_SAND"][:, 3].tolist() == [43.0] * 10
    assert cells.height_top[0] == 17.0 and state.sai.shape == (2, 2)
    with pytest.raises(FieldError, match="negative or non-finite"):
        translate_block(land_cover, t, p, -lai, soil)


def test_monthly_online_step_carries_sai_state_like_the_year():
    surface = np.array([7, 15, 0, LAKE])
    lai = np.abs(np.sin(np.arange(12)[:, None] + np.arange(4)[None, :])) * 4
    pft = np.array([7, 15, 0, 0])  # the lake has no PFT: bare, no leaves
    year, after = sai_year(lai * (pft > 0), pft)
    state = {"sai_prev_lai": np.zeros(4), "sai_prev_sai": np.zeros(4)}
    state["sai_prev_lai"][:] = after.lai  # restart from last December
    state["sai_prev_sai"][:] = after.sai
    for m in range(12):
        out = monthly_step(surface, lai[m], state)
        np.testing.assert_allclose(out["SAI"], year[m], rtol=1e-12, atol=1e-12)
    assert out["LAI"][3] == 0.0 and out["SAI"][2] == 0.0
    with pytest.raises(FieldError, match=r"state \['sai_prev_sai'\] missing"):
        monthly_step(surface, lai[0], {"sai_prev_lai": np.zeros(4)})
