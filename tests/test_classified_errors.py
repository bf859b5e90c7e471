"""Inputs found by fuzzing the C API that used to come back as LANDEMU_ERR_INTERNAL (99):
each is now a classified status with a message naming the file, key or argument, cut to a
sensible length. The library runs in this process, as in test_capi."""

from __future__ import annotations

import netCDF4
import numpy as np
import pytest
import test_capi
from test_capi import CONFIG, FIELD, GRID, OK, start, step

from coupler.config import load_config
from coupler.errors import ConfigError

library, host = test_capi.library, test_capi.host  # fixtures: the library in this process
DATA_FILE = 8
LONG = 12_000  # characters of the absurd paths


def test_restart_paths_without_a_name_too_long_or_a_directory_are_data_file_errors(
    host, make_config, tmp_path
):
    n = start(host, make_config())
    step(host, n, 1)
    long_path = tmp_path / ("x" * LONG)
    cases = [
        (b"/", "has no file name"),
        (str(tmp_path).encode(), "is a directory"),
        (str(long_path).encode(), "is too long"),
        (b"/proc/landemu_r.nc", "/proc/landemu_r.nc"),
    ]
    for path, needle in cases:
        assert host.lib.landemu_write_restart(path) == DATA_FILE, host.error()
        message = host.error()
        assert needle in message and len(message) < 600, message
    assert not list(tmp_path.glob("*.partial"))
    step(host, n, 2)  # the host goes on


def test_config_files_that_are_not_yaml_are_config_errors_naming_the_file(host, tmp_path):
    random_bytes = tmp_path / "random.yaml"
    random_bytes.write_bytes(np.random.default_rng(7).bytes(4096))
    deep = tmp_path / "deep.yaml"
    deep.write_text("[" * 20_000 + "]" * 20_000)
    cases = [
        (random_bytes, "random.yaml"),
        (deep, "nested too deeply"),
        (tmp_path, "is a directory"),
        (tmp_path / ("c" * LONG), "cannot be read"),
    ]
    for path, needle in cases:
        assert host.init(path) == CONFIG, host.error()
        message = host.error()
        assert needle in message and len(message) < 600, message


def test_a_directory_is_not_called_a_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="is a directory, not a YAML file"):
        load_config(tmp_path)


def test_domain_file_with_scalar_corners_is_a_grid_error_naming_file_and_variable(
    host, make_config, coast_domain, tmp_path
):
    bad = tmp_path / "scalar_xv.nc"
    with netCDF4.Dataset(coast_domain) as src, netCDF4.Dataset(bad, "w") as dst:
        for name, dim in src.dimensions.items():
            dst.createDimension(name, len(dim))
        for name, var in src.variables.items():
            dims = () if name in ("xv", "yv") else var.dimensions
            out = dst.createVariable(name, var.dtype, dims)
            out.setncatts({k: var.getncattr(k) for k in var.ncattrs()})
            out[...] = 0.0 if not dims else var[...]
    assert host.init(make_config(host={"grid": str(bad)})) == GRID, host.error()
    assert "scalar_xv.nc" in host.error() and "xv/yv" in host.error()


def test_absurd_sizes_are_field_errors_checked_before_reading_the_buffer(host, make_config):
    n = start(host, make_config())
    values = np.zeros(n)
    top = np.iinfo(np.int64).max
    assert host.put("TBOT", values, nlev=top) == FIELD and f"nlev = {top}" in host.error()
    assert host.lib.landemu_get(b"LAI", values.ctypes.data, n, top) == FIELD
    assert host.finalize() == OK
    assert host.init(make_config()) == OK, host.error()
    ids = np.arange(1, 4, dtype=np.int64)  # a short buffer: must not be read
    assert host.lib.landemu_set_decomposition(ids.ctypes.data, 10**9) == FIELD
    assert "n_local = 1000000000 is more than the 16 cells" in host.error()


def test_negative_halo_and_unknown_choices_are_config_errors(make_config):
    steps = [{"name": "phenology", "transform": "phenology_gsi", "halo": -3}]
    with pytest.raises(ConfigError, match="steps.phenology.halo: must be 0 or a positive"):
        load_config(make_config(steps=steps))
    with pytest.raises(ConfigError) as info:
        load_config(make_config(run={"on_error": "zzz"}))
    assert "not allowed allowed" not in str(info.value)
    assert "'zzz' is not allowed; choices: return, abort" in str(info.value)
