"""The component end to end on one rank: a coupled loop, its outputs, and every way a host
can call it wrongly."""

import netCDF4
import numpy as np
import pytest
from mpi4py import MPI

from coupler.clock import ModelTime
from coupler.component import Component
from coupler.errors import CallOrderError, ConfigError, FieldError, GridError, LandemuError

COMM = MPI.COMM_WORLD


def start(config_path, ids=None):
    comp = Component(COMM, config_path)
    active = np.flatnonzero(comp.host.mask) + 1
    comp.set_decomposition(active if ids is None else ids)
    return comp


def forcing(comp, day):
    n = comp.n_local
    t = 275.0 + 10.0 * np.sin(2 * np.pi * (day - 110) / 365) + 0.1 * np.arange(n)
    return {"TBOT": t, "PRECTmms": np.full(n, 3e-5)}


T0 = ModelTime.from_date(2001, 1, 1)


def step(comp, day, t0=T0):
    for name, values in forcing(comp, day).items():
        comp.put(name, values)
    comp.advance(t0 + 86400 * day)


def test_round_trip_reproduces_what_the_host_put(make_config):
    comp = start(make_config())
    step(comp, 1)
    out = np.empty(comp.n_local)
    comp.get("TBOT_FINE_CHECK", out)
    np.testing.assert_allclose(out, forcing(comp, 1)["TBOT"], rtol=1e-13)
    lai = np.empty(comp.n_local)
    comp.get("LAI", lai)
    assert np.all((lai >= 0) & (lai <= 8)) and lai.max() > 0
    comp.finalize()


def test_history_is_cf_netcdf_with_monthly_means(make_config, tmp_path):
    comp = start(make_config())
    for day in range(1, 60):
        step(comp, day)
    comp.finalize()
    path = comp.history.path
    assert path.exists() and not path.with_name(path.name + ".partial").exists()
    with netCDF4.Dataset(path) as ds:
        assert ds.Conventions == "CF-1.8"
        assert ds["time"].calendar == "noleap"
        assert ds["time"].units.startswith("days since 2001-01-01")
        assert ds["time"][:].tolist() == [31.0, 59.0]
        assert ds["time_bounds"][0].tolist() == [0.0, 31.0]
        lai = ds["LAI"]
        assert lai.dimensions == ("time", "lat", "lon") and lai.units == "m2 m-2"
        assert lai.cell_methods == "time: mean"
        assert np.ma.count_masked(lai[0]) == 4  # the 4 all-ocean host cells
        tb = ds["TBOT"][0].compressed()
        assert 260 < tb.mean() < 290


def test_restart_2n_equals_n_plus_restart_plus_n(make_config, tmp_path):
    n = 20
    ref = start(make_config("a.yaml", run={"output_dir": str(tmp_path / "a")}))
    for day in range(1, 2 * n + 1):
        step(ref, day)
    want = np.empty(ref.n_local)
    ref.get("LAI", want)
    ref.finalize()

    first = start(make_config("b.yaml", run={"output_dir": str(tmp_path / "b")}))
    for day in range(1, n + 1):
        step(first, day)
    restart = first.write_restart()
    first.finalize()
    assert restart.exists() and restart.name.endswith("2001-01-21-00000.nc")
    second = start(
        make_config(
            "c.yaml", run={"output_dir": str(tmp_path / "c")}, restart={"read": str(restart)}
        )
    )
    for day in range(n + 1, 2 * n + 1):
        step(second, day)
    got = np.empty(second.n_local)
    second.get("LAI", got)
    second.finalize()
    np.testing.assert_array_equal(got, want)


def test_calls_out_of_order_are_errors_not_crashes(make_config):
    comp = Component(COMM, make_config())
    with pytest.raises(CallOrderError, match="put TBOT is not allowed before set_decomposition"):
        comp.put("TBOT", np.zeros(3))
    with pytest.raises(CallOrderError, match="advance is not allowed before set_decomposition"):
        comp.advance(ModelTime.from_date(2001, 1, 2))
    comp.set_decomposition(np.flatnonzero(comp.host.mask) + 1)
    with pytest.raises(
        CallOrderError, match="set_decomposition is not allowed after set_decomposition"
    ):
        comp.set_decomposition(np.array([1]))
    with pytest.raises(FieldError, match="get LAI: no value yet; step 'phenology' has not run"):
        comp.get("LAI", np.zeros(comp.n_local))
    comp.finalize()
    with pytest.raises(CallOrderError, match="not allowed after finalize"):
        comp.get("LAI", np.zeros(comp.n_local))
    with pytest.raises(CallOrderError, match="already finalized"):
        comp.finalize()


def test_bad_puts_name_field_and_cell_and_the_host_can_go_on(make_config):
    comp = start(make_config())
    n = comp.n_local
    with pytest.raises(FieldError, match="unknown field 'TBTO'; did you mean 'TBOT'"):
        comp.put("TBTO", np.zeros(n))
    with pytest.raises(FieldError, match="put FSDS: not a host import of this configuration"):
        comp.put("FSDS", np.zeros(n))
    with pytest.raises(FieldError, match=r"expected 1 level\(s\) × 12 local cells"):
        comp.put("TBOT", np.full(n + 1, 280.0))
    bad = np.full(n, 280.0)
    bad[4] = np.nan
    with pytest.raises(FieldError, match="first: NaN at host cell id"):
        comp.put("TBOT", bad)
    step(comp, 1)  # the host fixes its data and goes on
    out = np.empty(n)
    comp.get("TBOT_FINE_CHECK", out)
    np.testing.assert_allclose(out, forcing(comp, 1)["TBOT"], rtol=1e-13)


def test_advance_checks_time_and_missing_puts(make_config):
    comp = start(make_config())
    with pytest.raises(FieldError, match="no values of TBOT were put"):
        comp.advance(ModelTime.from_date(2001, 1, 2))
    for name, values in forcing(comp, 1).items():
        comp.put(name, values)
    with pytest.raises(LandemuError, match="but run.coupling_interval is 86400 s"):
        comp.advance(ModelTime.from_date(2001, 1, 3))
    comp.advance(ModelTime.from_date(2001, 1, 2))
    with pytest.raises(LandemuError, match="not after the current model time"):
        comp.advance(ModelTime.from_date(2001, 1, 2))


def test_domain_that_does_not_match_the_decomposition(make_config):
    comp = Component(COMM, make_config())
    with pytest.raises(GridError, match="cell id 17, outside 1..16 of the host grid"):
        comp.set_decomposition(np.arange(1, 18))
    with pytest.raises(GridError, match="leaves 11 active cell"):
        comp.set_decomposition(np.array([4]))


def test_config_mistakes_are_found_at_init(make_config, tmp_path):
    with pytest.raises(ConfigError, match="host.exports: no step produces SAI"):
        Component(COMM, make_config(host={"exports": ["LAI", "SAI"]}))
    with pytest.raises(
        ConfigError, match="steps.phenology.transform: unknown transform 'phenolgy_gsi'"
    ):
        Component(COMM, make_config(steps=[{"name": "phenology", "transform": "phenolgy_gsi"}]))
    with pytest.raises(ConfigError, match=r"steps.phenology input PRECTmms: not available"):
        Component(COMM, make_config(host={"imports": ["TBOT"]}))
    with pytest.raises(ConfigError, match="exchanged in 'K', the config says 'degC'"):
        Component(
            COMM, make_config(host={"imports": {"TBOT": {"units": "degC"}, "PRECTmms": None}})
        )
    with pytest.raises(ConfigError, match="history.fields: FSDS is neither a host import"):
        Component(COMM, make_config(history={"fields": ["FSDS"]}))


def test_missing_static_file_is_named(make_config, tmp_path):
    from coupler.errors import DataFileError

    with pytest.raises(DataFileError, match="nowhere.nc' does not exist"):
        Component(COMM, make_config(fine={"static": str(tmp_path / "nowhere.nc")}))


def test_field_info_tells_imports_from_exports(make_config):
    comp = Component(COMM, make_config())
    assert comp.field_info("Sa_tbot") == ("import", 1)
    assert comp.field_info("LAI") == ("export", 1)
    assert comp.field_info("PCT_NAT_PFT") == (None, 17)
    assert comp.field_info("nonsense") == (None, 0)


def test_a_failed_restart_write_leaves_no_file_and_the_run_goes_on(make_config, tmp_path):
    comp = start(make_config())
    step(comp, 1)
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the restart folder should be")
    with pytest.raises(LandemuError, match="cannot write restart"):
        comp.write_restart(blocker / "r.nc")
    assert sorted(p.name for p in tmp_path.rglob("r.nc*")) == []
    step(comp, 2)  # the host can go on
    assert comp.write_restart(tmp_path / "ok.nc").exists()
