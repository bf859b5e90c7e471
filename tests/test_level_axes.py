"""Named level axes (pft × month): the registry, ONNX step outputs, history, the C API and
the Fortran module's rank-3 arrays a(n_local, n1, n2) = C [n2][n1][n_local]."""

from __future__ import annotations

import ctypes

import netCDF4
import numpy as np
import pytest
from onnx_graphs import affine_levels
from test_capi import EXPORT, FIELD, OK, host, library  # noqa: F401 (fixtures)
from test_fortran_host import lines, run_testhost

from coupler.errors import ConfigError
from coupler.fields import FieldRegistry

NPFT, NMONTH = 3, 2
WEIGHTS = [0.5, -1.0, 2.0, 0.25, 3.0, -0.75]  # level l = pft + 3·month: all different
BIASES = [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]


def axes_config(make_config, tmp_path, **overrides):
    model = affine_levels(tmp_path / "levels.onnx", WEIGHTS, BIASES)
    step = {
        "name": "pft_month",
        "onnx": str(model),
        "grid": "host",
        "schedule": "daily",
        "inputs": [{"name": "TBOT", "units": "K", "scale": 100.0}],
        "outputs": [{"name": "PFT_MONTH", "units": "1", "axes": {"pft": NPFT, "month": NMONTH}}],
    }
    return make_config(
        "axes.yaml",
        steps=[step],
        host={"imports": ["TBOT"], "exports": ["PFT_MONTH"]},
        **overrides,
    )


def expected(tbot: np.ndarray) -> np.ndarray:
    """(levels, n) in float32 arithmetic, as the model computes it."""
    x = (tbot.astype(np.float64) / 100.0).astype(np.float32)
    w, b = np.float32(WEIGHTS), np.float32(BIASES)
    return (x[None, :] * w[:, None] + b[:, None]).astype(np.float64)


def test_registry_reads_axes_and_checks_their_product():
    reg = FieldRegistry.from_mapping(
        {"MONTHLY_LAI": {"units": "m2 m-2", "axes": {"pft": 17, "month": 12}}}
    )
    spec = reg["MONTHLY_LAI"]
    assert spec.levels == 204 and spec.axes == (("pft", 17), ("month", 12))
    assert spec.axes_text() == "pft(17) × month(12)"
    with pytest.raises(ConfigError, match="levels 200 differ"):
        FieldRegistry.from_mapping({"X": {"units": "1", "levels": 200, "axes": {"a": 17, "b": 12}}})
    with pytest.raises(ConfigError, match=r"X.axes.b: expected a positive integer size"):
        FieldRegistry.from_mapping({"X": {"units": "1", "axes": {"a": 17, "b": 0}}})


def test_history_names_the_axes_and_keeps_the_layout(make_config, tmp_path):
    from mpi4py import MPI

    from coupler.clock import ModelTime
    from coupler.component import Component

    cfg = axes_config(
        make_config, tmp_path, history={"fields": ["PFT_MONTH"], "frequency": "daily"}
    )
    comp = Component(MPI.COMM_WORLD, cfg)
    comp.set_decomposition(np.flatnonzero(comp.host.mask) + 1)
    tbot = 270.0 + np.arange(comp.n_local)
    comp.put("TBOT", tbot)
    comp.advance(ModelTime.from_date(2001, 1, 2))
    assert comp.field_axes("PFT_MONTH") == (("pft", 3), ("month", 2))
    comp.finalize()
    (path,) = (tmp_path / "out").glob("*.h.*.nc")
    with netCDF4.Dataset(path) as ds:
        v = ds["PFT_MONTH"]
        assert v.dimensions == ("time", "month", "pft", "lat", "lon")
        values = np.ma.filled(v[0], np.nan).reshape(NMONTH, NPFT, -1)
    want = expected(tbot)
    ids = comp.ids0
    for m in range(NMONTH):
        for p in range(NPFT):
            np.testing.assert_array_equal(values[m, p, ids], want[p + NPFT * m])


def test_c_api_reports_axes_and_refuses_swapped_rank3_arrays(host, make_config, tmp_path):  # noqa: F811
    import test_capi

    lib = host.lib
    i32, i64 = ctypes.c_int32, ctypes.c_int64
    lib.landemu_field_axes.argtypes = [
        ctypes.c_char_p,
        ctypes.POINTER(i32),
        ctypes.POINTER(i64),
        ctypes.c_char_p,
        i64,
    ]
    lib.landemu_get_axes.argtypes = [ctypes.c_char_p, ctypes.c_void_p, i64, i64, i64]
    assert host.init(axes_config(make_config, tmp_path, history=None)) == OK
    naxes, sizes, names = i32(), (i64 * 4)(), ctypes.create_string_buffer(64)
    assert lib.landemu_field_axes(b"PFT_MONTH", naxes, sizes, names, 64) == OK
    assert (naxes.value, list(sizes)[:2], names.value) == (2, [3, 2], b"pft,month")
    assert lib.landemu_field_axes(b"TBOT", naxes, sizes, names, 64) == OK and naxes.value == 0
    assert lib.landemu_field_axes(b"PFT_MONTH", naxes, sizes, names, 5) == FIELD
    assert "need 10 bytes" in host.error()
    direction, nlev = ctypes.c_int32(), ctypes.c_int64()
    assert lib.landemu_field_info(b"PFT_MONTH", direction, nlev) == OK
    assert (direction.value, nlev.value) == (EXPORT, 6)

    ids = test_capi.LAND_IDS
    assert host.set_decomposition(ids) == OK
    tbot = 270.0 + np.arange(ids.size)
    assert host.put("TBOT", tbot) == OK
    assert host.lib.landemu_advance(20010102, 0) == OK
    good = np.zeros((NMONTH, NPFT, ids.size))  # C [n2][n1][n_local]
    assert lib.landemu_get_axes(b"PFT_MONTH", good.ctypes.data, ids.size, NPFT, NMONTH) == OK
    np.testing.assert_array_equal(good.reshape(6, -1), expected(tbot))
    swapped = np.zeros((NPFT, NMONTH, ids.size))
    assert lib.landemu_get_axes(b"PFT_MONTH", swapped.ctypes.data, ids.size, NMONTH, NPFT) == FIELD
    assert "got a(n_local, 2, 3), expected Fortran a(n_local, 3, 2)" in host.error()
    assert "pft(3) × month(2)" in host.error()


@pytest.mark.mpi
@pytest.mark.fortran
def test_fortran_rank3_export_round_trips_with_asymmetric_values(
    make_config, coast_domain, tmp_path
):
    config = axes_config(make_config, tmp_path, history=None)
    folder = tmp_path / "rank3"
    proc = run_testhost(
        folder,
        2,
        config,
        domain_file=str(coast_domain),
        decomposition="roundrobin",
        ndays=2,
        export_names=["PFT_MONTH"],
    )
    assert "PFT_MONTH has level axes pft,month: 3 2" in proc.stdout
    tbot = {}
    for line in lines(folder / "exports.txt", "put"):
        ymd, _, _, _, cell, _, value = line.split()
        tbot[int(ymd), int(cell)] = float(value)
    got = {}
    for line in lines(folder / "exports.txt", "get"):
        ymd, _, _, _, cell, level, value = line.split()
        got[int(ymd), int(cell), int(level)] = float(value)
    assert len(got) == 2 * 12 * 6
    for (ymd, cell, level), value in got.items():
        # the Fortran host read a(cell, pft, month) into level pft + 3·(month − 1)
        assert value == expected(np.array([tbot[ymd, cell]]))[level - 1, 0], (ymd, cell, level)
    assert len({v for (d, c, _), v in got.items() if (d, c) == next(iter(got))[:2]}) == 6
