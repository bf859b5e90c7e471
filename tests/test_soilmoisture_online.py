"""The daily online soil-moisture step: on 70 × 50 fine tiles that straddle the 0.5° host
cells it equals offline `predict_tile` on the whole window, its host aggregate is the land
mean of the fine field, and every bad input is an error naming the culprit."""

from __future__ import annotations

import shutil

import netCDF4
import numpy as np
import pytest
from mpi4py import MPI
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.ensemble import RandomForestRegressor
from soilmoisture_setup import config, host_fields

from coupler.clock import ModelTime
from coupler.component import Component
from coupler.errors import ConfigError, DataFileError, FieldError, ModelError
from emulators.soilmoisture.features import OUTPUT_NAME
from emulators.soilmoisture.online import (
    HOST_INPUTS,
    SHIPPED_MODEL,
    soil_moisture_tile,
    tile_predictors,
)
from emulators.soilmoisture.predict import ForestModel, predict_tile
from emulators.soilmoisture.static import SOIL_FIELDS, add_soil

COMM = MPI.COMM_WORLD
T1 = ModelTime.from_date(2001, 1, 2)
RATIO = 60  # fine cells per host cell side
LAT = 47.0 + (np.arange(240) + 0.5) / 120.0  # the coast window's fine cell centres
LON = -5.0 + (np.arange(240) + 0.5) / 120.0
STATIC_FIELDS = ("landmask", "land_cover", "elevation", *SOIL_FIELDS)


@pytest.fixture(scope="module")
def soil_static(coast_static, tmp_path_factory):
    return add_soil(coast_static, tmp_path_factory.mktemp("sm") / "coast_soil.nc")


def run_day(cfg, fields=host_fields):
    comp = Component(COMM, cfg)
    ids = np.flatnonzero(comp.host.mask) + 1
    comp.set_decomposition(ids)
    for name, values in fields(ids, 1).items():
        comp.put(name, values)
    comp.advance(T1)
    return comp, ids


def whole_window(comp, name):
    """A fine field (nlev, 240, 240) assembled from this rank's tiles."""
    fine = comp.fines["fine"]
    tiles = comp.fine_values[name]
    out = np.zeros((tiles[0].shape[0] if tiles[0].ndim == 3 else 1, *fine.grid.shape))
    for td, a in zip(fine.tiles, tiles, strict=True):
        t = td.tile
        out[:, t.j0 : t.j1, t.i0 : t.i1] = a.reshape(-1, *t.shape)
    return out


def spread(comp, ids, values):
    """Host values (nlev, n) of cells `ids` on the fine cells under them (nlev, 240, 240)."""
    host = np.zeros((values.shape[0], comp.host.n))
    host[:, ids - 1] = values
    host = host.reshape(-1, 4, 4)  # the 4 × 4 coast host, ids row-major from the south
    return np.repeat(np.repeat(host, RATIO, axis=1), RATIO, axis=2)


def read_static(path):
    with netCDF4.Dataset(path) as ds:
        ds.set_auto_mask(False)
        return {n: np.asarray(ds[n][:], np.float64) for n in STATIC_FIELDS}


def test_tiled_online_output_equals_offline_predict_tile(tmp_path, soil_static, coast_domain):
    comp, ids = run_day(config(tmp_path, soil_static, coast_domain))
    online = whole_window(comp, OUTPUT_NAME)
    static = read_static(soil_static)
    land = static["landmask"] >= 0.5
    host = {k: spread(comp, ids, v) for k, v in host_fields(ids, 1).items()}
    host = {k: v[0] if HOST_INPUTS[k].levels == 1 else v for k, v in host.items()}
    fine = {**static, "LAI": whole_window(comp, "LAI")[0]}
    offline = soil_moisture_tile(ForestModel(SHIPPED_MODEL), host, fine, land)
    assert online.shape == (10, 240, 240) and land.sum() > 10_000
    np.testing.assert_array_equal(online, offline)
    assert np.all(online[:, ~land] == 0.0)
    assert online[:, land].min() > 0.05 and online[:, land].max() < 0.6
    # and that is predict_tile on the 32 predictors built from the same fields
    fields = tile_predictors(host, fine)
    np.testing.assert_array_equal(predict_tile(ForestModel(SHIPPED_MODEL), fields, land), online)

    # the host export is the land-area mean of the fine field over each host cell
    got = np.empty((10, ids.size))
    comp.get(OUTPUT_NAME, got)
    area = np.broadcast_to(comp.fines["fine"].grid.areas(), land.shape) * land
    blocks = (10, 4, RATIO, 4, RATIO)
    num = (online * area).reshape(blocks).sum(axis=(2, 4)).reshape(10, 16)
    den = area.reshape(blocks[1:]).sum(axis=(1, 3)).reshape(16)
    np.testing.assert_allclose(got, num[:, ids - 1] / den[ids - 1], rtol=1e-12)
    comp.finalize()

    # the fine history of the subregion holds the online field there (float32), fill on ocean
    (path,) = (tmp_path / "out").glob("*.landemu.hfine.*.nc")
    with netCDF4.Dataset(path) as ds:
        assert ds[OUTPUT_NAME].dimensions == ("time", "depth", "lat", "lon")
        sm = ds[OUTPUT_NAME][0]
        j0 = round((float(ds["lat"][0]) - 47.0) * 120.0 - 0.5)  # fine cells from the south
        i0 = round((float(ds["lon"][0]) + 5.0) * 120.0 - 0.5)
    assert sm.shape == (10, 96, 156)  # 47.6–48.4°N, 4.6–3.3°W
    window = (slice(j0, j0 + 96), slice(i0, i0 + 156))
    on_land = land[window]
    assert np.ma.count_masked(sm[0]) == (~on_land).sum() > 0
    expected = online[:, window[0], window[1]][:, on_land].astype(np.float32)
    np.testing.assert_array_equal(sm[:, on_land].filled(np.nan), expected)


def test_fine_history_region_errors_name_the_key(tmp_path, soil_static, coast_domain):
    for region, message in (
        (None, r"history\.fine_region: expected \[south, north, west, east\]"),
        ([48.0, 47.0, -4.0, -3.5], "need south < north"),
        ([10.0, 11.0, -4.0, -3.5], "holds no cell"),
    ):
        history = {"fine_fields": ["H2OSOI_FINE"], "fine_region": region}
        with pytest.raises(ConfigError, match=message):
            Component(COMM, config(tmp_path, soil_static, coast_domain, history=history))
    history = {"fine_fields": ["TBOT"], "fine_region": [47.6, 48.4, -4.6, -3.3]}
    with pytest.raises(ConfigError, match="fine_fields: TBOT is not an output of a fine-grid"):
        Component(COMM, config(tmp_path, soil_static, coast_domain, history=history))


def test_missing_predictor_field_is_a_config_error_naming_it(tmp_path, coast_static, coast_domain):
    with pytest.raises(ConfigError, match=r"steps\.soil input sand: not available"):
        Component(COMM, config(tmp_path, coast_static, coast_domain))


def test_nan_predictor_is_an_error_naming_field_and_tile(tmp_path, soil_static, coast_domain):
    bad = tmp_path / "nan_soil.nc"
    shutil.copyfile(soil_static, bad)
    with netCDF4.Dataset(bad, "a") as ds:
        land = np.asarray(ds["landmask"][:]) > 0
        j, i = np.argwhere(land)[0]
        ds["sand"][j, i] = np.nan
    with pytest.raises(FieldError, match=r"step 'soil' \(tile \d+\).*NaN/inf.*'sand': 1"):
        run_day(config(tmp_path, bad, coast_domain))


def test_nan_host_import_is_rejected_at_put_naming_it(tmp_path, soil_static, coast_domain):
    def with_nan(ids, day):
        fields = host_fields(ids, day)
        fields["TSOI"][3, 0] = np.nan
        return fields

    with pytest.raises(FieldError, match="TSOI"):
        run_day(config(tmp_path, soil_static, coast_domain), with_nan)


def test_model_with_other_feature_count_is_a_model_error(tmp_path, soil_static, coast_domain):
    rng = np.random.default_rng(0)
    forest = RandomForestRegressor(2, max_depth=3, random_state=0).fit(
        rng.random((50, 10)), rng.random((50, 10))
    )
    onnx_model = convert_sklearn(forest, initial_types=[("x", FloatTensorType([None, 10]))])
    path = tmp_path / "ten_features.onnx"
    path.write_bytes(onnx_model.SerializeToString())
    cfg = config(tmp_path, soil_static, coast_domain, params={"model": str(path)})
    with pytest.raises(ModelError, match=r"params\.model: .*ten_features\.onnx' takes .*32 pred"):
        Component(COMM, cfg)


def test_tile_predictors_name_a_missing_field_or_wrong_shape():
    host = {
        k: np.zeros((v.levels, 3, 4) if v.levels > 1 else (3, 4)) for k, v in HOST_INPUTS.items()
    }
    fine = {n: np.zeros((3, 4)) for n in ("LAI", "land_cover", "elevation", *SOIL_FIELDS)}
    with pytest.raises(FieldError, match=r"missing: \['RNET'\]"):
        tile_predictors({k: v for k, v in host.items() if k != "RNET"}, fine)
    with pytest.raises(FieldError, match=r"TSOI has shape \(3, 4\); expected \(10, 3, 4\)"):
        tile_predictors({**host, "TSOI": np.zeros((3, 4))}, fine)
    assert len(tile_predictors(host, fine)) == 32


def test_static_soil_is_added_atomically_and_refused_twice(tmp_path, soil_static):
    with netCDF4.Dataset(soil_static) as ds:
        sand = np.asarray(ds["sand"][:])
        assert "SYNTHETIC" in ds["sand"].comment
    assert sand.shape == (240, 240) and sand.min() >= 5.0 and sand.max() <= 85.0
    with pytest.raises(DataFileError, match="already holds"):
        add_soil(soil_static, tmp_path / "again.nc")
    assert not list(tmp_path.iterdir())


def test_static_cli_adds_the_soil_fields_to_a_copy(tmp_path, coast_static, capsys):
    from coupler.cli import main as landemu_main

    out = tmp_path / "soil.nc"
    assert landemu_main(["soilmoisture", "static", str(coast_static), "-o", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    with netCDF4.Dataset(out) as ds:
        assert set(SOIL_FIELDS) <= set(ds.variables) and "landmask" in ds.variables
    with netCDF4.Dataset(coast_static) as ds:
        assert not set(SOIL_FIELDS) & set(ds.variables)  # the input is left as it was
