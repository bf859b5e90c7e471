"""The yearly online land-use step's pure core (`downscale_year`) on real data: tiles of any
size equal the whole region, raising the host's cropland raises the fine map's, bad inputs
are named. The coupled step on 1–4 ranks and across a restart: test_lulc_online_mpi.py."""

import numpy as np
import pytest

from coupler.clock import Schedule
from coupler.errors import ConfigError, FieldError
from emulators.lulc.classes import LAND_USE
from emulators.lulc.dataset import DEFAULT_CUBE, DEG, Cube, build_cube
from emulators.lulc.features import N_LU, coarse_fractions, row_area_weights
from emulators.lulc.infer import MODEL_PATH, OnnxLulc
from emulators.lulc.online import ONLINE_HALO, LandUseYearly, downscale_year, neighbourhood_share
from emulators.lulc.staticfile import cube_inputs
from tests.test_lulc_evaluate import scenario

H = ONLINE_HALO
R0, C0 = round((45 + 90) / DEG), round((30 + 180) / DEG)  # 45° N, 30° E (Ukraine)
SIZE = 100  # a 5° × 5° region
CROP = LAND_USE.index("cropland")
needs_model = pytest.mark.skipif(not MODEL_PATH.is_file(), reason="no shipped lulc.onnx")


def open_cube(tmp_path_factory) -> Cube:
    """The developer's cube if built, else a fresh one from the installed data (~1 min)."""
    path = DEFAULT_CUBE
    if not (path / "manifest.json").is_file():
        path = tmp_path_factory.mktemp("lulc") / "cube.zarr"
        build_cube(path)
    return Cube.open(path)


@pytest.fixture(scope="module")
def cube(tmp_path_factory) -> Cube:
    return open_cube(tmp_path_factory)


@pytest.fixture(scope="module")
def model() -> OnnxLulc:
    return OnnxLulc()


def region_inputs(cube: Cube, cell: int) -> dict:
    """The region with a halo of real context, for host cells of `cell` pixels."""
    return cube_inputs(cube, slice(R0 - H, R0 + SIZE + H), slice(C0 - H, C0 + SIZE + H), cell)


def downscale(model, inp: dict, sl=(slice(None), slice(None)), **kw):
    """downscale_year on the `sl` window of `inp` (year 2001 unless given)."""
    return downscale_year(
        model,
        inp["fractions"][(slice(None), *sl)],
        inp["prior_lu"][sl],
        inp["prior_lc"][sl],
        {k: v[sl] for k, v in inp["static"].items()},
        inp["lat"][sl[0]],
        **{"year": 2001, **kw},
    )


def run(model, inp: dict, rows: slice, cols: slice, cell: int, cache=None):
    """The tile whose interior is region rows/cols (0-based in the region)."""
    sl = (slice(rows.start, rows.stop + 2 * H), slice(cols.start, cols.stop + 2 * H))
    return downscale(
        model, inp, sl, cell=cell, origin=(rows.start - H, cols.start - H), cache=cache
    )


@needs_model
@pytest.mark.slow
def test_tiles_of_any_size_equal_the_whole_region(cube, model):
    cell = 10
    inp = region_inputs(cube, cell)
    whole = run(model, inp, slice(0, SIZE), slice(0, SIZE), cell)
    for tile, shared in ((50, None), (20, {})):  # separate windows per tile; shared cache
        lu = np.zeros((SIZE, SIZE), np.uint8)
        lc = np.zeros((SIZE, SIZE), np.uint8)
        for r in range(0, SIZE, tile):
            for c in range(0, SIZE, tile):
                p = run(model, inp, slice(r, r + tile), slice(c, c + tile), cell, cache=shared)
                lu[r : r + tile, c : c + tile], lc[r : r + tile, c : c + tile] = p.lu, p.lc
        assert np.mean(lu == whole.lu) >= 0.995, tile
        assert np.mean(lc == whole.lc) >= 0.995, tile
    # the fine map holds the host's fractions in every host cell (up to pixel areas)
    w = row_area_weights(45.0, SIZE)
    fine = coarse_fractions(whole.lu, cell, N_LU, w)
    host = inp["fractions"][:, H : H + SIZE : cell, H : H + SIZE : cell]
    assert float(np.abs(fine - host).sum(0).max()) / 2 < 0.01


@needs_model
@pytest.mark.slow
def test_raising_host_cropland_by_02_raises_fine_cropland_by_02(cube, model):
    cell = 20
    inp = region_inputs(cube, cell)
    before = run(model, inp, slice(0, SIZE), slice(0, SIZE), cell)
    raised, _ = scenario(inp["fractions"], inp["fractions"], 1, 0.2)  # per fine pixel
    after = run(model, {**inp, "fractions": raised}, slice(0, SIZE), slice(0, SIZE), cell)
    w = row_area_weights(45.0, SIZE)
    gain = (
        coarse_fractions(after.lu, cell, N_LU, w)[CROP]
        - coarse_fractions(before.lu, cell, N_LU, w)[CROP]
    )
    wanted = (raised - inp["fractions"])[CROP, H : H + SIZE : cell, H : H + SIZE : cell]
    full = np.isclose(wanted, 0.2)  # cells with room for +0.2 (others are capped at 1)
    assert full.sum() >= 10
    assert float(gain[full].mean()) == pytest.approx(0.2, abs=0.05)
    assert float(np.abs(gain - wanted).max()) < 0.05


# ---- bad inputs (refused before the model runs: a model that would fail is passed) ----
def refusing_model(batch):
    raise AssertionError("the model must not run on bad inputs")


def small_inputs(cell: int = 10, tile: int = 20) -> dict:
    """Valid synthetic inputs for one tile of `tile` pixels with the online halo."""
    n = tile + 2 * H
    fractions = np.zeros((N_LU, n, n))
    fractions[CROP] = 0.25
    fractions[3] = 0.75
    static = {
        "elevation": np.full((n, n), 200.0),
        "slope": np.ones((n, n)),
        "land_fraction": np.ones((n, n)),
        "koppen": np.full((n, n), 3.0),
        "t_mean": np.full((n, n), 10.0),
        "t_range": np.full((n, n), 20.0),
        "precip": np.full((n, n), 700.0),
    }
    return {
        "fractions": fractions,
        "prior_lu": np.full((n, n), 3.0),
        "prior_lc": np.full((n, n), 4.0),
        "static": static,
        "lat": np.linspace(45, 46, n),
    }


def call(inp: dict, **kw):
    return downscale(refusing_model, inp, **{"cell": 10, "origin": (-H, -H), **kw})


def test_fractions_with_a_wrong_level_count_name_the_class_order():
    inp = small_inputs()
    inp["fractions"] = inp["fractions"][:7]
    with pytest.raises(FieldError, match=r"LANDUSE_FRAC must be \(8, .*urban, cropland"):
        call(inp)


def test_nan_fractions_name_the_channel():
    inp = small_inputs()
    inp["fractions"][CROP, H + 5, H + 5] = np.nan  # inside the tile (the halo is filled)
    with pytest.raises(FieldError, match="channel 1 .coarse_cropland. holds 1 NaN"):
        call(inp)


def test_halo_under_host_cells_without_data_takes_the_maps_own_classes():
    def uniform(batch):
        return np.full((batch.shape[0], 19, *batch.shape[2:]), 1 / 8, np.float32)

    inp = small_inputs()
    inp["fractions"][:, :50] = np.nan  # halo rows over inactive host cells
    pred = downscale(uniform, inp, cell=10, origin=(-H, -H))
    assert pred.lu.shape == (20, 20)
    assert np.mean(pred.lu == CROP) == pytest.approx(0.25, abs=0.01)  # the tile's fractions


def test_fractions_not_summing_to_one_are_refused():
    inp = small_inputs()
    inp["fractions"][CROP] = 0.4  # sums to 1.15
    with pytest.raises(FieldError, match="must sum to 1 in every cell; worst sum is off by 0.15"):
        call(inp)


def test_swapped_static_fields_are_refused_as_a_wrong_order():
    inp = small_inputs()
    st = inp["static"]
    st["land_fraction"], st["elevation"] = st["elevation"], st["land_fraction"]
    with pytest.raises(FieldError, match=r"land fraction .* \[0, 1\] — wrong channel order"):
        call(inp)


def test_a_halo_smaller_than_the_windows_need_names_the_receptive_field():
    inp = small_inputs()
    cut = (slice(100, -100), slice(100, -100))
    small = {
        "fractions": inp["fractions"][(slice(None), *cut)],
        "prior_lu": inp["prior_lu"][cut],
        "prior_lc": inp["prior_lc"][cut],
        "static": {k: v[cut] for k, v in inp["static"].items()},
        "lat": inp["lat"][100:-100],
    }
    with pytest.raises(FieldError, match=f"halo 123 px is too small.*receptive field 215.*{H}"):
        call(small, halo=H - 100, origin=(-(H - 100), -(H - 100)))


def test_tiles_not_made_of_whole_host_cells_are_refused():
    with pytest.raises(FieldError, match="20×20 fine pixels at grid row 0, column 0 is not made"):
        call(small_inputs(), cell=15)
    with pytest.raises(FieldError, match="grid row 5, column 5 is not made of whole host cells"):
        call(small_inputs(), origin=(5 - H, 5 - H))


def test_host_cells_misaligned_with_the_fine_grid_are_refused():
    inp = small_inputs()
    inp["fractions"][CROP, H + 5 :] = 0.5  # a host-cell edge inside a 10-pixel block
    inp["fractions"][3, H + 5 :] = 0.5
    with pytest.raises(FieldError, match="varies by 0.25 inside blocks of 10×10 fine pixels"):
        call(inp)


def test_a_prior_that_is_not_class_codes_is_named():
    inp = small_inputs()
    inp["prior_lc"][3, 3] = 11.0
    with pytest.raises(FieldError, match="LANDCOVER_FINE: 1 pixel.* not class codes 0..10"):
        call(inp)


def test_step_configuration_errors_name_the_key():
    every_year = Schedule.parse("yearly on 01-01")
    with pytest.raises(ConfigError, match="params.cell: give the host cell size in fine pixels"):
        LandUseYearly("lu", every_year, {})
    with pytest.raises(ConfigError, match=f"halo: 100 is smaller than the {H} px"):
        LandUseYearly("lu", every_year, {"cell": 20}, halo=100)
    step = LandUseYearly("lu", every_year, {"cell": 20})
    assert step.halo == H and step.grid == "lc"
    assert step.previous["LANDUSE_FINE"].init == {"static": "land_use"}


def test_neighbourhood_share_counts_each_class_in_the_clipped_box():
    codes = np.zeros((6, 7), np.uint8)
    codes[0, 0] = 2
    share = neighbourhood_share(codes, 3, radius=1)
    assert share.shape == (3, 6, 7)
    np.testing.assert_allclose(share.sum(0), 1.0)
    assert share[2, 0, 0] == pytest.approx(1 / 4)  # corner: a 2×2 box
    assert share[2, 1, 1] == pytest.approx(1 / 9)
    assert share[2, 3, 3] == 0.0
