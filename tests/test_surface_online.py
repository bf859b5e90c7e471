"""The online surface step (single rank): closure of land units and PFTs on every land cell,
LAI·area conservation through the two-export ratio, equality with the offline aggregation of
the same fine inputs, restart mid-year, the in-run scaling diagnostics, and clear errors."""

from __future__ import annotations

import netCDF4
import numpy as np
import pytest
from mpi4py import MPI
from surface_online_setup import (
    DAY,
    EXPORTS,
    FINE,
    HOST,
    climate_file,
    config,
    forcing,
    static_file,
)

from coupler.clock import ModelTime, Schedule
from coupler.component import Component
from coupler.errors import ConfigError, FieldError, LandemuError
from coupler.grids.latlon import LatLonGrid
from coupler.steps.base import StepContext
from emulators.surface.aggregate import FineCells, SurfaceSums, overlap_integrator
from emulators.surface.hostcolumns import host_pft_percent
from emulators.surface.online import SurfacePft
from emulators.surface.online_scaling import ScalingBoxes
from emulators.surface.pft import N_PFT, NATVEG_PFTS, igbp_to_land_cover, landcover_to_surface_class
from emulators.surface.scaling import scaling_diagnostics
from emulators.surface.soil import N_ELM_LAYERS, SOIL_FIELDS
from emulators.surface.vegetation import SAI_MIN, SaiState, canopy_heights, sai_step

T0 = ModelTime.from_date(2001, 1, 1)
LAND_UNITS = ("PCT_NATVEG", "PCT_CROP", "PCT_LAKE", "PCT_WETLAND", "PCT_GLACIER")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("surface_online")
    return static_file(folder / "static.nc"), climate_file(folder / "climate.nc")


def start(cfg) -> Component:
    comp = Component(MPI.COMM_WORLD, cfg)
    comp.set_decomposition(np.arange(1, comp.host.n + 1))
    return comp


def advance(comp: Component, day: int) -> None:
    for name, values in forcing(comp.ids0 + 1, day).items():
        comp.put(name, values)
    comp.advance(T0 + DAY * day)


def exports(comp: Component) -> dict[str, np.ndarray]:
    out = {}
    for name in EXPORTS:
        out[name] = np.empty((comp.registry[name].levels, comp.n_local))
        comp.get(name, out[name])
    return out


def fine_field(comp: Component, name: str) -> np.ndarray:
    """A fine step output assembled on the whole (small) test grid — tests only."""
    grid = comp.fines["fine"].grid
    whole = np.zeros(grid.shape)
    for td, values in zip(comp.fines["fine"].tiles, comp.fine_values[name], strict=True):
        whole[td.tile.j0 : td.tile.j1, td.tile.i0 : td.tile.i1] = values.reshape(td.tile.shape)
    return whole


def run_days(cfg, days: int) -> tuple[Component, dict[str, np.ndarray]]:
    comp = start(cfg)
    lai_before = None
    for day in range(1, days + 1):
        if day == 32:  # the LAI of the step's run of January 1 (its SAI state)
            lai_before = fine_field(comp, "LAI")
        advance(comp, day)
    return comp, {"lai_before": lai_before, "lai": fine_field(comp, "LAI")}


@pytest.fixture(scope="module")
def february(inputs, tmp_path_factory):
    """The step after its runs of January 1 and February 1 (40 daily advances)."""
    static, climate = inputs
    comp, fine = run_days(config(tmp_path_factory.mktemp("feb"), static, climate), 40)
    out = exports(comp), fine, comp.host_values["CLIM_TBOT"], comp.host_values["CLIM_PRECTmms"]
    comp.finalize()
    return out


def offline(static, clim_t, clim_p, lai, lai_before) -> tuple[dict, np.ndarray, np.ndarray]:
    """The offline aggregation of the same fine inputs: the fields, the fine surface classes
    and the fine-cell areas (sr)."""
    fine, host = LatLonGrid.parse(FINE), LatLonGrid.parse(HOST)
    with netCDF4.Dataset(static) as ds:
        cover = np.ma.filled(ds["land_cover"][:], 255).astype(np.int64)
        land = ds["landmask"][:] > 0
    # the host climate on the fine cells under each 0.5° host cell
    per_host = np.kron(np.arange(host.size).reshape(host.shape), np.ones((60, 60), dtype=int))
    t_c, p_mm = clim_t[:, per_host] - 273.15, clim_p[:, per_host]
    days = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[:, None, None]
    surface = landcover_to_surface_class(
        igbp_to_land_cover(np.where(land, cover, 255)), t_c, p_mm * days * DAY
    )
    pft = np.where((surface >= 0) & (surface < N_PFT), surface, 0)
    lai_now = np.where(pft > 0, lai, 0.0)
    first = np.where(pft > 0, lai_before, 0.0)
    sai = sai_step(
        lai_now, pft, SaiState(first, sai_step(first, pft, SaiState(first, SAI_MIN[pft])))
    )
    n = fine.size
    soil = {k: np.zeros((N_ELM_LAYERS, n)) for k in SOIL_FIELDS}
    monthly = [np.broadcast_to(v.reshape(1, n), (12, n)) for v in (lai_now, sai)]
    top, bottom = canopy_heights(pft)
    cells = FineCells(surface.reshape(-1), *monthly, top.reshape(-1), bottom.reshape(-1), soil)
    sums = SurfaceSums(host.size)
    sums.add(overlap_integrator(fine, host), cells)
    fields = sums.fields(host.areas().ravel())
    fields["PCT_PFT"] = host_pft_percent(fields)
    return fields, surface, fine.areas()


def test_land_units_and_pft_percentages_close_on_every_land_cell(february):
    out, *_ = february
    units = sum(out[k][0] for k in LAND_UNITS) + out["PCT_URBAN"].sum(axis=0)
    np.testing.assert_allclose(units, 100.0, rtol=0, atol=1e-10)
    natveg = out["PCT_NATVEG"][0] > 0
    assert natveg.all()
    np.testing.assert_allclose(out["PCT_NAT_PFT"].sum(axis=0), 100.0, rtol=0, atol=1e-10)
    np.testing.assert_allclose(out["PCT_CFT"].sum(axis=0), 100.0, rtol=0, atol=1e-10)
    np.testing.assert_allclose(out["PCT_PFT"].sum(axis=0), 100.0, rtol=0, atol=1e-10)
    crop = out["PCT_CROP"][0] / 100.0 * out["PCT_CFT"][0]
    np.testing.assert_allclose(
        out["PCT_PFT"][15], 100.0 * crop / (out["PCT_NATVEG"][0] + out["PCT_CROP"][0]), rtol=1e-12
    )
    assert out["PCT_URBAN"][2].max() > 0 and out["PCT_GLACIER"].max() > 0  # MD urban, snow
    assert out["PCT_NAT_PFT"][14].max() > 0 and out["PCT_NAT_PFT"][13].max() > 0  # C4, C3


def test_online_exports_equal_the_offline_aggregation_of_the_same_fine_inputs(inputs, february):
    out, fine, clim_t, clim_p = february
    reference, _, _ = offline(inputs[0], clim_t, clim_p, fine["lai"], fine["lai_before"])
    for name in EXPORTS:
        ref = reference[name]
        if name.startswith("MONTHLY"):
            ref = ref[1]  # February (offline every month holds the same fine values here)
        ref = ref if ref.ndim == 2 else ref[None]
        np.testing.assert_allclose(out[name], ref, rtol=1e-12, atol=1e-12, err_msg=name)
    assert np.ptp(out["MONTHLY_LAI"][13]) > 0.1  # C3 grass LAI differs between host cells


def test_lai_times_pft_area_is_conserved_through_the_ratio(inputs, february):
    out, fine, clim_t, clim_p = february
    _, surface, area = offline(inputs[0], clim_t, clim_p, fine["lai"], fine["lai_before"])
    integrate = overlap_integrator(LatLonGrid.parse(FINE), LatLonGrid.parse(HOST))
    known_land = integrate((surface >= 0).astype(np.float64).reshape(1, -1))[0]
    natveg_area = out["PCT_NATVEG"][0] / 100.0 * known_land
    present = [p for p in NATVEG_PFTS[1:] if np.any(surface == p)]
    assert len(present) >= 5
    for p in present:
        host_integral = (out["MONTHLY_LAI"][p] * out["PCT_NAT_PFT"][p] / 100.0 * natveg_area).sum()
        fine_integral = (fine["lai"] * area * (surface == p)).sum()
        assert fine_integral > 0
        np.testing.assert_allclose(host_integral, fine_integral, rtol=1e-12, err_msg=f"PFT {p}")


def test_restart_mid_february_continues_bit_for_bit(inputs, tmp_path):
    static, climate = inputs
    ref, _ = run_days(config(tmp_path / "ref", static, climate), 70)
    expected = exports(ref)
    ref.finalize()
    first, _ = run_days(config(tmp_path / "a", static, climate), 35)
    first.write_restart(tmp_path / "r.nc")
    first.finalize()
    again = start(config(tmp_path / "b", static, climate, restart={"read": str(tmp_path / "r.nc")}))
    for day in range(36, 71):
        advance(again, day)
    got = exports(again)
    again.finalize()
    for name in EXPORTS:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


def test_scaling_diagnostics_per_host_cell_equal_the_offline_ones(inputs, tmp_path):
    static, climate = inputs
    comp, fine = run_days(config(tmp_path, static, climate, scaling=True), 32)
    gamma = comp.host_values["GAMMA12_LAI"][0].reshape(4, 4)
    beta = comp.host_values["BETA_LAI"][0].reshape(4, 4)
    comp.finalize()
    with netCDF4.Dataset(static) as ds:
        land = ds["landmask"][:] > 0
    ref = scaling_diagnostics(np.where(land, fine["lai"], np.nan), 60)
    np.testing.assert_allclose(gamma, ref.gamma_at(12), rtol=1e-12)
    np.testing.assert_allclose(beta, ref.beta, rtol=1e-12)
    assert np.all((gamma > 10) & (gamma < 90))  # 6-cell patches: much is lost at 12 cells
    history = sorted((tmp_path / "out").glob("*.nc"))
    with netCDF4.Dataset(history[0]) as ds:
        assert ds["GAMMA12_LAI"].shape[0] >= 1 and ds["BETA_LAI"].units == "1"


def test_unknown_climate_months_are_an_error_naming_the_state(inputs, tmp_path):
    static, _ = inputs
    comp = start(config(tmp_path, static, None))
    for name, values in forcing(comp.ids0 + 1, 1).items():
        comp.put(name, values)
    with pytest.raises(LandemuError, match=r"months \[1, 2, .*12\] are not known yet.*state"):
        comp.advance(T0 + DAY)
    comp.finalize()


def test_misconfigured_scaling_box_is_a_config_error(inputs, tmp_path):
    with pytest.raises(ConfigError, match="do not divide the box of 50"):
        ScalingBoxes("s", Schedule.parse("monthly"), params={"box": 50})


def test_class_codes_outside_the_scheme_and_negative_lai_are_named():
    step = SurfacePft("pft", Schedule.parse("monthly"))
    shape = (2, 3)
    ctx = StepContext(T0, T0, np.full(shape, 45.0), np.zeros(shape))
    inputs = {
        "land_cover": np.array([[1.0, 10.0, 42.0], [12.0, 0.0, 255.0]]),
        "landmask": np.ones(shape),
        "LAI": np.ones(shape),
        "CLIM_TBOT": np.full((12, *shape), 285.0),
        "CLIM_PRECTmms": np.full((12, *shape), 2e-5),
    }
    state = {k: np.full(shape, -1.0) for k in ("sai_prev_lai", "sai_prev_sai")}
    with pytest.raises(FieldError, match=r"codes \[42\] outside 0..16 and 255"):
        step.compute(inputs, state, ctx)
    inputs["land_cover"][0, 2] = 4.0
    inputs["LAI"][0, 0] = -1.0
    with pytest.raises(FieldError, match="step 'pft': LAI is negative"):
        step.compute(inputs, state, ctx)
    inputs["LAI"][0, 0] = 3.0
    out = step.compute(inputs, state, ctx)
    assert out["SURFACE_CLASS"].tolist() == [[1.0, 13.0, 7.0], [15.0, 17.0, 23.0]]
    assert out["PFT_LAI_SUM"][:, 0, 0].tolist() == [0.0, 3.0] + [0.0] * 15


def test_lc_unet_classes_and_another_lai_field_are_read_by_name():
    params = {"land_cover_scheme": "lulc", "land_cover_field": "LC_FINE", "lai_field": "LAI_UNET"}
    step = SurfacePft("pft", Schedule.parse("monthly"), params=params)
    assert step.inputs["LC_FINE"].levels == 11 and step.inputs["LC_FINE"].kind == "categorical"
    assert (
        "LAI_UNET" in step.inputs and "LAI" not in step.inputs and "land_cover" not in step.inputs
    )
    with pytest.raises(ConfigError, match="land_cover_scheme: 'modis' is not igbp or lulc"):
        SurfacePft("pft", Schedule.parse("monthly"), params={"land_cover_scheme": "modis"})
