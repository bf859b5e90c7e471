"""Fine steps that see beyond their tile and beyond their grid: halo exchange of step outputs
(wrapping across the dateline), CNN steps on Gaussian-blended windows whose result does not
depend on the tiling, and a categorical step on a 0.05° grid feeding a 1/120° step."""

from __future__ import annotations

import netCDF4
import numpy as np
import pytest
from conftest import COAST_FINE, REPO, run_mpi
from mpi4py import MPI
from onnx_graphs import (
    box_filter,
    conv_relu_stack,
    scale_image,
    signed_logits,
    weighted_channels,
)
from scipy.ndimage import uniform_filter

from coupler.blending import lattice_halo, window_starts
from coupler.clock import ModelTime
from coupler.component import Component
from coupler.decomposition import FineTiling
from coupler.errors import ConfigError
from coupler.grids.latlon import LatLonGrid
from coupler.static import StaticFineData
from coupler.steps.onnx_step import _load_session

COMM = MPI.COMM_WORLD
T1 = ModelTime.from_date(2001, 1, 2)
LC_GRID = "latlon:40,40:47,49,-5,-3"  # 0.05° over the 1/120° coast window
NCLASS = 5


def warm_step(model, grid="fine"):
    """WARM = TBOT − 273.15 on fine cells (TBOT remapped bilinearly, so it varies per cell)."""
    return {
        "name": f"warm_{grid}",
        "onnx": str(model),
        "grid": grid,
        "schedule": "daily",
        "inputs": [{"name": "TBOT", "units": "K", "offset": 273.15}],
        "outputs": [{"name": "WARM", "units": "K"}],
    }


def smooth_step(model, blend=None, **extra):
    return {
        "name": "smooth",
        "onnx": str(model),
        "grid": "fine",
        "schedule": "daily",
        "blend": blend or {"window": 24, "margin": 2, "overlap": 4, "batch": 4},
        "inputs": [{"name": "WARM", "units": "K"}],
        "outputs": [{"name": "SMOOTH", "units": "K"}],
        **extra,
    }


def global_field(comp, name, grid="fine"):
    """The fine field assembled from this (single) rank's tiles; 0 on tiles nobody owns."""
    fine = comp.fines[grid]
    out = np.zeros(fine.grid.shape)
    for td, a in zip(fine.tiles, comp.fine_values[name], strict=True):
        t = td.tile
        out[t.j0 : t.j1, t.i0 : t.i1] = a
    return out


def run_day(cfg, tbot=None):
    comp = Component(COMM, cfg)
    comp.set_decomposition(np.flatnonzero(comp.host.mask) + 1)
    n = comp.n_local
    comp.put("TBOT", 270.0 + 0.5 * np.arange(n) if tbot is None else tbot(comp))
    comp.advance(T1)
    return comp


@pytest.fixture
def models(tmp_path):
    return {
        "warm": scale_image(tmp_path / "warm.onnx", 1, 1.0, 0.0),
        "box": box_filter(tmp_path / "box.onnx", 5),
    }


def tiled(make_config, models, tile, **smooth_extra):
    return make_config(
        f"tiled_{tile[0]}x{tile[1]}.yaml",
        fine={"tile": list(tile)},
        remap={"host_to_fine": {"TBOT": "bilinear"}},
        host={"imports": ["TBOT"], "exports": ["SMOOTH"]},
        steps=[warm_step(models["warm"]), smooth_step(models["box"], **smooth_extra)],
        history=None,
    )


def test_box_filter_on_blended_windows_of_70x50_tiles_equals_the_whole_domain_filter(
    make_config, models
):
    comp = run_day(tiled(make_config, models, (70, 50)))
    # derived from the tiles: windows of 24 (cores of 20 every 16) touching a 70×50 tile
    assert comp.steps[1].halo == lattice_halo(240, 50, 24, 2, 4) == 20
    warm, smooth = global_field(comp, "WARM"), global_field(comp, "SMOOTH")
    # the whole domain at once, edge cells repeated beyond the grid's edge (as tiles pad)
    expected = uniform_filter(warm, size=5, mode="nearest")
    land = np.zeros(warm.shape, bool)
    for td in comp.fine.tiles:
        land[td.tile.j0 : td.tile.j1, td.tile.i0 : td.tile.i1] = td.mask
    assert np.abs(smooth - warm)[land].max() > 0.05  # the filter does something
    np.testing.assert_allclose(smooth[land], expected[land], atol=2e-5)  # float32 model


def test_every_input_of_a_step_on_a_grid_with_a_halo_carries_the_halo(
    make_config, models, tmp_path
):
    """A step without a halo of its own, on a grid another step gives a halo, reads an
    import and a fine output alike (both with the grid's halo, cut off its output)."""
    both = {
        "name": "both",
        "onnx": str(scale_image(tmp_path / "sum2.onnx", 2, 1.0, 0.0)),
        "grid": "fine",
        "schedule": "daily",
        "inputs": [
            {"name": "TBOT", "units": "K", "offset": 273.15},
            {"name": "WARM", "units": "K"},
        ],
        "outputs": [{"name": "TWICE", "units": "K"}],
    }
    cfg = make_config(
        "both.yaml",
        fine={"tile": [70, 50]},
        remap={"host_to_fine": {"TBOT": "bilinear"}},
        host={"imports": ["TBOT"], "exports": ["SMOOTH", "TWICE"]},
        steps=[warm_step(models["warm"]), smooth_step(models["box"]), both],
        history=None,
    )
    comp = run_day(cfg)
    assert comp.fine.halo == 20 and comp.steps[2].halo == 0
    np.testing.assert_allclose(
        global_field(comp, "TWICE"), 2 * global_field(comp, "WARM"), rtol=1e-6, atol=1e-5
    )


def test_blended_result_does_not_depend_on_the_tiling(make_config, models):
    a = global_field(run_day(tiled(make_config, models, (70, 50))), "SMOOTH")
    b = global_field(run_day(tiled(make_config, models, (240, 240))), "SMOOTH")
    c = global_field(run_day(tiled(make_config, models, (33, 125))), "SMOOTH")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_the_windows_of_all_tiles_of_a_rank_share_full_batches(make_config, models):
    comp = Component(COMM, tiled(make_config, models, (70, 50)))
    comp.set_decomposition(np.flatnonzero(comp.host.mask) + 1)
    step, batches = comp.steps[1], []
    session = step.session

    class Counting:  # the step's ONNX Runtime session, counting the windows of each call
        def run(self, names, feeds):
            batches.append(next(iter(feeds.values())).shape[0])
            return session.run(names, feeds)

    step.session = Counting()
    comp.put("TBOT", 270.0 + 0.5 * np.arange(comp.n_local))
    comp.advance(T1)

    def windows(t):  # of 24 px: cores of 20 px every 16 px on the global lattice, touching t
        rows = window_starts(t.shape[0], t.j0, 20, 16)
        cols = window_starts(t.shape[1], t.i0, 20, 16)
        return {(t.j0 + r, t.i0 + c) for r in rows for c in cols}

    per_tile = [windows(td.tile) for td in comp.fine.tiles]
    unique = set().union(*per_tile)
    assert sum(map(len, per_tile)) > len(unique) > 40  # neighbouring tiles share windows
    assert batches == [4] * -(-len(unique) // 4)  # each window once, in calls of `batch`


def test_a_windows_prediction_does_not_depend_on_its_batch_mates(tmp_path):
    """Why batches may mix the windows of any tiles: a window's prediction is the same bits
    whichever windows share its batch and whichever slot it takes (a small CNN and the
    shipped land-use U-Net)."""
    rng = np.random.default_rng(7)
    for path, channels in (
        (conv_relu_stack(tmp_path / "cnn.onnx", 8), 1),
        (REPO / "emulators" / "lulc" / "lulc.onnx", 40),
    ):
        session = _load_session(path, 1, "cpu")
        name = session.get_inputs()[0].name
        windows = rng.normal(size=(5, channels, 64, 64)).astype(np.float32)
        alone = np.zeros((4, channels, 64, 64), np.float32)
        alone[0] = windows[0]
        reference = session.run(None, {name: alone})
        for mates in ([1, 2, 3], [4, 3, 1], [2, 4, 4]):
            for slot in range(4):
                batch = windows[[*mates[:slot], 0, *mates[slot:]]]
                for got, want in zip(session.run(None, {name: batch}), reference, strict=True):
                    np.testing.assert_array_equal(got[slot], want[0], err_msg=f"{path.name}")


def test_blended_classifier_takes_the_argmax_of_blended_logits(make_config, models, tmp_path):
    classify = smooth_step(
        signed_logits(tmp_path / "logits.onnx"),
        blend={"window": 16, "margin": 0, "overlap": 4, "batch": 3},
    )
    classify["outputs"] = [
        {"name": "COLD", "units": "1", "kind": "categorical", "levels": 2, "argmax": True}
    ]
    cfg = make_config(
        "classify.yaml",
        fine={"tile": [70, 50]},
        remap={"host_to_fine": {"TBOT": "bilinear"}},
        host={"imports": ["TBOT"], "exports": ["COLD"]},
        steps=[warm_step(models["warm"]), classify],
        history=None,
    )
    comp = run_day(cfg, lambda c: 268.0 + 2.0 * np.arange(c.n_local))  # −5 … +17 °C
    warm, cold = global_field(comp, "WARM"), global_field(comp, "COLD")
    land = warm != 0
    assert 0 < cold[land].mean() < 1
    np.testing.assert_array_equal(cold[land], (warm[land] < 0).astype(float))
    out = np.empty((2, comp.n_local))
    comp.get("COLD", out)  # on the host: the area fractions of the two classes
    np.testing.assert_allclose(out.sum(axis=0), 1.0, atol=1e-12)


def diffuse_step(model):
    """HEAT ← 5×5 box mean of its own previous value (halo from the neighbours' previous)."""
    return {
        "name": "diffuse",
        "onnx": str(model),
        "grid": "fine",
        "schedule": "daily",
        "blend": {"window": 24, "margin": 2, "overlap": 4, "batch": 4},
        "inputs": [{"name": "HEAT", "units": "1", "from": "previous", "init": 1.0}],
        "outputs": [{"name": "HEAT", "units": "1"}],
    }


def test_autoregressive_step_reads_its_previous_output_with_a_halo(make_config, models):
    from coupler.clock import ModelTime

    cfg = make_config(
        "diffuse.yaml",
        fine={"tile": [70, 50]},
        host={"imports": ["TBOT"], "exports": ["HEAT"]},
        steps=[diffuse_step(models["box"])],
        history=None,
    )
    comp = run_day(cfg)
    for day in (3, 4):
        comp.put("TBOT", np.full(comp.n_local, 280.0))
        comp.advance(ModelTime.from_date(2001, 1, day))
    owned, land = np.zeros((240, 240), bool), np.zeros((240, 240), bool)
    for td in comp.fine.tiles:
        t = td.tile
        owned[t.j0 : t.j1, t.i0 : t.i1] = True
        land[t.j0 : t.j1, t.i0 : t.i1] = td.mask
    heat = owned.astype(float)  # the initial value on every owned tile, 0 on all-ocean tiles
    for _ in range(3):
        heat = uniform_filter(heat, size=5, mode="nearest") * land  # ocean outputs are 0
    got = global_field(comp, "HEAT")
    assert 0.0 < got[land].min() < 0.5 and got[land].max() == pytest.approx(1.0)
    np.testing.assert_allclose(got, heat, atol=2e-6)


def test_halo_columns_wrap_across_the_dateline_on_a_global_grid():
    tiling = FineTiling(LatLonGrid.parse("latlon:18,36:-90,90,-180,180"), 9, 12)
    tile = tiling.tile(0)  # columns 0..11 at the western edge
    j0, j1, i0, i1 = tiling.halo_window(tile, 2)
    rows, cols = tiling.halo_indices(tile, 2)
    assert (i0, i1) == (0, 36) and (j0, j1) == (0, 11)
    assert list(cols[:3] + i0) == [34, 35, 0]
    assert list(rows[:3] + j0) == [0, 0, 0]  # no wrap across the pole: edge repeated
    regional = FineTiling(LatLonGrid.parse(COAST_FINE), 60, 60)
    _, cols = regional.halo_indices(regional.tile(0), 2)
    assert list(cols[:3]) == [0, 0, 0]


def test_halo_exchange_on_a_global_grid_wraps_the_box_filter(tmp_path, models):
    from conftest import write_config

    cfg = {
        "run": {"start": "2001-01-01", "coupling_interval": 86400, "output_dir": str(tmp_path)},
        "host": {"grid": "latlon:4,8:-90,90,-180,180", "imports": ["TBOT"], "exports": ["SMOOTH"]},
        "fine": {"grid": "latlon:36,72:-90,90,-180,180", "tile": [13, 17]},
        "remap": {"host_to_fine_default": "bilinear"},
        "steps": [
            warm_step(models["warm"]),
            smooth_step(models["box"], blend={"window": 12, "margin": 2, "overlap": 2}),
        ],
    }
    comp = run_day(
        write_config(tmp_path / "g.yaml", cfg),
        lambda c: 250.0 + 10.0 * np.sin(np.deg2rad(c.host.center_lon[c.ids0])),
    )
    warm, smooth = global_field(comp, "WARM"), global_field(comp, "SMOOTH")
    expected = uniform_filter(warm, size=5, mode=("nearest", "wrap"))
    np.testing.assert_allclose(smooth, expected, atol=2e-5)
    assert np.abs(smooth[:, 0] - uniform_filter(warm, 5, mode="nearest")[:, 0]).max() > 0.01


# --- several grids -------------------------------------------------------------------------


def lc_static(coast_static, path):
    """A static file for the 0.05° grid: land where any 1/120° cell under it is land."""
    fine = StaticFineData(coast_static)
    mask = (
        fine.read("landmask", LatLonGrid.parse(COAST_FINE)).reshape(40, 6, 40, 6).max(axis=(1, 3))
    )
    g = LatLonGrid.parse(LC_GRID)
    with netCDF4.Dataset(path, "w") as ds:
        for dim, centres in (("lat", g.lat_centres()), ("lon", g.lon_centres())):
            ds.createDimension(dim, centres.size)
            v = ds.createVariable(dim, "f8", (dim,))
            v[:] = centres
            v.bounds = f"{dim}_bnds"
        ds.createDimension("nv", 2)
        for dim, edges in (("lat", g.lat_edges()), ("lon", g.lon_edges())):
            ds.createVariable(f"{dim}_bnds", "f8", (dim, "nv"))[:] = np.stack(
                [edges[:-1], edges[1:]], 1
            )
        ds.createVariable("landmask", "i1", ("lat", "lon"))[:] = mask
    return path


def two_grid_steps(tmp_path, lc_tile=(15, 11)):
    classes = scale_image(tmp_path / "classes.onnx", 1, 1.0, 0.0)
    return [
        {  # class codes 0..4 on the 0.05° grid
            "name": "landcover",
            "onnx": str(classes),
            "grid": "lc",
            "schedule": "daily",
            "inputs": [{"name": "TBOT", "units": "K", "offset": 270.0, "scale": 1.0 / 0.7}],
            "outputs": [{"name": "LC", "units": "1", "levels": NCLASS, "kind": "categorical"}],
        },
        {  # Σ class · fraction on the 1/120° grid: the class, where a cell has one class
            "name": "expected_class",
            "onnx": str(weighted_channels(tmp_path / "ec.onnx", list(range(NCLASS)))),
            "grid": "fine",
            "schedule": "daily",
            "inputs": [{"name": "LC", "units": "1", "levels": NCLASS}],
            "outputs": [{"name": "KM_CLASS", "units": "1"}],
        },
        {  # the majority class read by a categorical input, passed through
            "name": "majority",
            "onnx": str(scale_image(tmp_path / "copy.onnx", 1, 1.0, 0.0)),
            "grid": "fine",
            "schedule": "daily",
            "inputs": [{"name": "LC", "units": "1", "levels": NCLASS, "kind": "categorical"}],
            "outputs": [{"name": "KM_MAJORITY", "units": "1"}],
        },
    ]


def two_grids(make_config, coast_static, tmp_path, lc_tile=(15, 11)):
    return make_config(
        "two_grids.yaml",
        grids={
            "lc": {
                "grid": LC_GRID,
                "tile": list(lc_tile),
                "static": str(lc_static(coast_static, tmp_path / "lc_static.nc")),
            }
        },
        fine={"tile": [70, 50]},
        host={"imports": ["TBOT"], "exports": ["LC", "KM_CLASS"]},
        steps=two_grid_steps(tmp_path, lc_tile),
        history=None,
    )


def test_categorical_step_on_a_005_grid_feeds_a_1_120_grid_step(
    make_config, coast_static, tmp_path
):
    comp = run_day(two_grids(make_config, coast_static, tmp_path))
    lc = global_field(comp, "LC", "lc")
    lc_land = np.zeros(lc.shape, bool)
    for td in comp.fines["lc"].tiles:
        lc_land[td.tile.j0 : td.tile.j1, td.tile.i0 : td.tile.i1] = td.mask
    assert len(np.unique(lc[lc_land])) >= 3  # a map with several classes
    # each 1/120° cell lies in one 0.05° cell: its fractions are 1 for that cell's class
    parent = np.repeat(np.repeat(lc, 6, axis=0), 6, axis=1)
    km_land = np.zeros(parent.shape, bool)
    for td in comp.fine.tiles:
        km_land[td.tile.j0 : td.tile.j1, td.tile.i0 : td.tile.i1] = td.mask
    km_class = global_field(comp, "KM_CLASS")
    np.testing.assert_allclose(km_class[km_land], parent[km_land], atol=1e-6)
    np.testing.assert_array_equal(global_field(comp, "KM_MAJORITY")[km_land], parent[km_land])
    # on the host, class fractions are the share of 0.05° land cells of each class
    out = np.empty((NCLASS, comp.n_local))
    comp.get("LC", out)
    host = comp.host.latlon
    for k, cell in enumerate(comp.ids0[:4]):
        j, i = divmod(int(cell), host.nlon)
        block, land = (
            lc[10 * j : 10 * j + 10, 10 * i : 10 * i + 10],
            lc_land[10 * j : 10 * j + 10, 10 * i : 10 * i + 10],
        )
        counts = np.bincount(block[land].astype(int), minlength=NCLASS) / land.sum()
        # equal-area weights differ slightly with latitude: within 1 %
        np.testing.assert_allclose(out[:, k], counts, atol=0.01)
    np.testing.assert_allclose(out.sum(axis=0), 1.0, atol=1e-12)


# --- configuration errors ------------------------------------------------------------------


def test_grid_and_window_mistakes_are_named(make_config, models, tmp_path):
    bad_grid = warm_step(models["warm"], grid="lcc")
    with pytest.raises(ConfigError, match=r"steps.warm_lcc.grid: 'lcc' is not a grid"):
        Component(
            COMM,
            make_config(
                "a.yaml", steps=[bad_grid], host={"imports": ["TBOT"], "exports": ["WARM"]}
            ),
        )
    with pytest.raises(ConfigError, match="on tiles of 70x50 need a halo of at least 20"):
        Component(COMM, tiled(make_config, models, (70, 50), halo=3))
    with pytest.raises(ConfigError, match=r"blend: unknown key\(s\) sise"):
        Component(COMM, tiled(make_config, models, (60, 60), blend={"sise": 24}))
    with pytest.raises(ConfigError, match="grids.fine: 'fine' is reserved"):
        Component(COMM, make_config("b.yaml", grids={"fine": {"grid": LC_GRID}}))
    with pytest.raises(ConfigError, match="needs 5 levels, not 3"):
        steps = two_grid_steps(tmp_path)
        steps[1]["inputs"][0]["levels"] = 3
        steps[1]["onnx"] = str(weighted_channels(tmp_path / "ec3.onnx", [0.0, 1.0, 2.0]))
        Component(
            COMM,
            make_config(
                "c.yaml",
                grids={"lc": {"grid": LC_GRID, "tile": [20, 20]}},
                host={"imports": ["TBOT"], "exports": ["KM_CLASS"]},
                steps=steps[:2],
            ),
        )


# --- bit for bit on 1–4 ranks, and across a restart ----------------------------------------

SCRIPT = str(REPO / "tests" / "mpi" / "component_run.py")


def everything(make_config, coast_static, tmp_path, name, models, **overrides):
    """Two grids, a categorical step, class fractions and majority, a blended CNN with halo
    exchange: tiles of 70×50 and 15×11 that do not line up with the 0.5° host cells."""
    steps = two_grid_steps(tmp_path)
    steps[0]["inputs"][0].update(offset=259.5, scale=0.7)  # classes 0..4 in January
    return make_config(
        name,
        grids={
            "lc": {
                "grid": LC_GRID,
                "tile": [15, 11],
                "static": str(lc_static(coast_static, tmp_path / "lc_static.nc")),
            }
        },
        fine={"tile": [70, 50]},
        remap={"host_to_fine": {"TBOT": "bilinear"}},
        host={"imports": ["TBOT"], "exports": ["LC", "KM_CLASS", "SMOOTH", "HEAT"]},
        steps=[
            *steps,
            warm_step(models["warm"]),
            smooth_step(models["box"]),
            diffuse_step(models["box"]),
        ],
        history=None,
        **overrides,
    )


def exports(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


@pytest.mark.mpi
def test_grids_halos_and_blending_are_bit_for_bit_on_1_2_3_and_4_ranks(
    make_config, coast_static, tmp_path, models
):
    results = {}
    for n in (1, 2, 3, 4):
        cfg = everything(make_config, coast_static, tmp_path, f"e{n}.yaml", models)
        run_mpi(n, SCRIPT, str(cfg), "1", "2", str(tmp_path / f"e{n}.npz"))
        results[n] = exports(tmp_path / f"e{n}.npz")
    assert results[1]["LC"].shape == (2, NCLASS, 16)
    assert np.nanmax(results[1]["LC"]) == 1.0 and np.nanmin(results[1]["LC"]) == 0.0
    for n in (2, 3, 4):
        for name, values in results[1].items():
            np.testing.assert_array_equal(results[n][name], values, err_msg=f"{name}, {n} ranks")


@pytest.mark.mpi
def test_two_grids_restart_bit_for_bit_on_another_rank_count(
    make_config, coast_static, tmp_path, models
):
    cfg = everything(make_config, coast_static, tmp_path, "ref.yaml", models)
    run_mpi(1, SCRIPT, str(cfg), "1", "4", str(tmp_path / "ref.npz"))
    restart = tmp_path / "mid.nc"
    cfg = everything(make_config, coast_static, tmp_path, "first.yaml", models)
    run_mpi(
        3, SCRIPT, str(cfg), "1", "2", str(tmp_path / "first.npz"), "--write-restart", str(restart)
    )
    cfg = everything(
        make_config, coast_static, tmp_path, "second.yaml", models, restart={"read": str(restart)}
    )
    run_mpi(2, SCRIPT, str(cfg), "3", "4", str(tmp_path / "second.npz"))
    ref, first, second = (exports(tmp_path / f"{k}.npz") for k in ("ref", "first", "second"))
    for name in ref:
        np.testing.assert_array_equal(np.concatenate([first[name], second[name]]), ref[name], name)
