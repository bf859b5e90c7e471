"""The faster paths behind landemu's share of a coupled run (issue 7 item 5) give the bits of
the code they replaced: the one-hot select, the land-cover rules, the masked select of the
step outputs, the fresh remap output, the per-tile day length."""

from types import SimpleNamespace

import numpy as np
import pytest
from mpi4py import MPI

from coupler.clock import ModelTime, Schedule
from coupler.component import Component, _check_step_output, _zero_ocean
from coupler.errors import ModelError, RegridError
from coupler.steps.base import Var
from emulators.surface.online import _on_pft_level
from emulators.surface.pft import (
    GLACIER,
    LAKE,
    LAND_COVER_CODE,
    NOT_LAND,
    URBAN_MD,
    c4_share,
    growing_degree_days,
    landcover_to_surface_class,
)
from emulators.transforms.phenology import PhenologyGSI, day_length_hours

RNG = np.random.default_rng(7)


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def test_pft_levels_by_scatter_equal_the_one_hot_select():
    pft = RNG.integers(0, 17, (120, 120)).astype(np.int16)  # 16 * 14400 overflows int16
    lai = RNG.normal(2.0, 1.0, (120, 120))
    lai[0, :5] = -0.0
    onehot = pft[None] == np.arange(17)[:, None, None]
    assert _same_bits(_on_pft_level(lai, pft), np.where(onehot, lai[None], 0.0))


def _rules_as_before(land_cover, t, p):
    """The rules as landcover_to_surface_class applied them before the lookup table."""
    with np.errstate(invalid="ignore"):
        tc, gdd = t.min(axis=0), growing_degree_days(t)
        tropical = tc > 15.5
        needle_boreal = (tc <= -19.0) | (gdd <= 1200.0)
        broad_boreal = (tc <= -15.0) | (gdd <= 1200.0)
        c4 = c4_share(t, p) >= 0.5
    rules = {
        "water": LAKE,
        "evergreen_needleleaf_trees": np.where(needle_boreal, 2, 1),
        "evergreen_broadleaf_trees": np.where(tropical, 4, 5),
        "deciduous_needleleaf_trees": 3,
        "deciduous_broadleaf_trees": np.where(tropical, 6, np.where(broad_boreal, 8, 7)),
        "shrub": np.where(needle_boreal, 11, 10),
        "grass": np.where(gdd < 1000.0, 12, np.where(c4, 14, 13)),
        "crop": 15,
        "urban": URBAN_MD,
        "snow_ice": GLACIER,
        "barren": 0,
    }
    out = np.full(land_cover.shape, NOT_LAND, dtype=np.int16)
    for name, value in rules.items():
        sel = land_cover == LAND_COVER_CODE[name]
        out[sel] = np.broadcast_to(value, land_cover.shape)[sel]
    return out


def test_surface_class_lookup_equals_the_rules_for_every_class_and_climate():
    shape = (40, 50)
    codes = RNG.choice([*LAND_COVER_CODE.values(), 255], shape)
    t = RNG.uniform(-30.0, 30.0, shape) + RNG.uniform(-8.0, 8.0, (12, *shape))
    p = RNG.uniform(0.0, 200.0, (12, *shape))
    codes[0, :3] = LAND_COVER_CODE["water"]
    t[:, 0, :3] = np.nan  # no climate where no PFT depends on it
    want = _rules_as_before(codes, t, p)
    assert len(np.unique(want)) == 19  # every class the rules can give, and no data
    assert _same_bits(landcover_to_surface_class(codes, t, p), want)
    assert _same_bits(landcover_to_surface_class(codes.astype(np.float64), t, p), want)
    irrigated = np.zeros(shape, bool)
    irrigated[:, ::2] = True
    crop = codes == LAND_COVER_CODE["crop"]
    got = landcover_to_surface_class(codes, t, p, irrigated=irrigated)
    np.testing.assert_array_equal(got[crop], np.where(irrigated, 16, 15)[crop])


def test_zero_ocean_equals_the_masked_select():
    mask = RNG.random((30, 40)) > 0.3
    tile = SimpleNamespace(mask=mask, ocean=np.flatnonzero(~mask))
    land = SimpleNamespace(mask=np.ones_like(mask), ocean=np.zeros(0, np.int64))
    values = RNG.normal(size=(3, 30, 40))
    values[:, ~mask] = np.nan
    values[0, 0, 0] = -0.0
    for v in (values, values[1], values[:1], values[2] > 0, values[:, ::-1, :]):
        for td in (tile, land):
            got = _zero_ocean(v, td)
            assert _same_bits(got, np.where(td.mask, np.asarray(v, np.float64), 0.0))
            assert not np.shares_memory(got, v)


def test_step_output_check_ignores_ocean_and_names_nan_on_land():
    step = SimpleNamespace(name="s", outputs={"X": Var("1", levels=2)})
    land = np.array([[True, False]])
    ok = np.array([[[1e308, np.nan]], [[1e308, np.inf]]])  # a sum that overflows: still fine
    _check_step_output(step, {"X": ok}, (1, 2), "tile 3", land)
    with pytest.raises(ModelError, match=r"produced 2 NaN/Inf value\(s\) of X \(tile 3\)"):
        _check_step_output(step, {"X": ok[:, :, ::-1]}, (1, 2), "tile 3", land)
    with pytest.raises(ModelError, match=r"produced 2 NaN/Inf value\(s\) of X \(host"):
        _check_step_output(step, {"X": ok[:, 0]}, (2,), "host columns")


def test_host_to_fine_reuses_its_buffer_only_when_no_result_is_held(make_config):
    comp = Component(MPI.COMM_WORLD, make_config())
    comp.set_decomposition(np.flatnonzero(comp.host.mask) + 1)
    to_fine = next(iter(comp.host_to_fine.values()))
    x, y = RNG.uniform(270, 300, (2, 2, comp.n_local))
    fresh = to_fine.regridder(y)  # no buffer: a new array
    held = to_fine(x)
    before = [a.copy() for a in held]
    second = to_fine(y)  # `held` is alive: a new buffer, `held` unchanged
    assert not np.shares_memory(second[0], held[0])
    assert all(_same_bits(a, b) for a, b in zip(held, before, strict=True))
    address = second[0].__array_interface__["data"][0]
    del second
    third = to_fine(y)  # nothing holds the last one: the same memory, the same bits
    assert third[0].__array_interface__["data"][0] == address
    assert _same_bits(np.concatenate([a.reshape(2, -1) for a in third], axis=1), fresh)
    with pytest.raises(RegridError, match=r"expected C-contiguous float64 \(2, "):
        to_fine.regridder(y, out=np.empty((3, 5)))
    comp.finalize()


def test_row_day_lengths_are_the_day_lengths_and_kept_for_one_day():
    step = PhenologyGSI("phenology", Schedule.parse("daily"))
    lat = np.linspace(42.0, 43.0, 120)
    for day in (100, 100, 101):
        got = step._row_day_lengths(lat, day)
        assert _same_bits(got, day_length_hours(lat, day, step.params["sun_angle_deg"]))
    assert len(step._day_length_cache) == 2  # the day and one row set: day 100 dropped


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def test_tile_outputs_reuse_the_last_runs_memory_only_when_nobody_holds_it(make_config):
    comp = Component(MPI.COMM_WORLD, make_config())
    comp.set_decomposition(np.flatnonzero(comp.host.mask) + 1)
    n = comp.n_local

    def advance(day: int) -> None:
        comp.put("TBOT", np.full(n, 280.0 + day))
        comp.put("PRECTmms", np.full(n, 3e-5))
        comp.advance(ModelTime.from_date(2001, 1, 1) + 86400 * day)

    advance(1)
    first = _address(comp.fine_values["LAI"][0])
    advance(2)
    assert _address(comp.fine_values["LAI"][0]) == first  # nobody held day 1's LAI
    held = comp.fine_values["LAI"][0]
    kept = held.copy()
    advance(3)
    assert _address(comp.fine_values["LAI"][0]) != first  # day 2's LAI is held: new memory
    assert _same_bits(held, kept)
    comp.finalize()
