"""A host grid that is not lat-lon (here: the coast grid written as an unstructured SCRIP
file) couples through ESMF map files made offline; results equal the exact lat-lon path.

The map files are written by `landemu regrid` between the equivalent lat-lon specs (same
cells, same order), so the test checks the runtime's map-file path, not a weight generator.
"""

import numpy as np
from conftest import COAST_FINE, COAST_HOST
from mpi4py import MPI

from coupler.cli import main as landemu
from coupler.clock import ModelTime
from coupler.component import Component
from coupler.grids.host import HostGrid

COMM = MPI.COMM_WORLD


def unstructured(domain) -> HostGrid:
    """The domain's cells as a 1-D (unstructured) grid: same cells, no lat-lon structure."""
    g = HostGrid.from_file(domain)
    return HostGrid(
        g.center_lat,
        g.center_lon,
        g.corner_lat,
        g.corner_lon,
        g.area,
        g.mask,
        g.frac,
        dims=(g.n,),
        source="unstructured",
    )


def run(config, days=3):
    comp = Component(COMM, config)
    comp.set_decomposition(np.flatnonzero(comp.host.mask) + 1)
    t = ModelTime.from_date(2001, 1, 1)
    out = {}
    for day in range(1, days + 1):
        comp.put("TBOT", 285.0 + np.arange(comp.n_local) * 0.5 + day)
        comp.put("PRECTmms", np.full(comp.n_local, 2e-5))
        comp.advance(t + 86400 * day)
    for name in ("LAI", "TBOT_FINE_CHECK"):
        out[name] = np.empty(comp.n_local)
        comp.get(name, out[name])
    comp.finalize()
    return out, comp.host.latlon


def test_unstructured_host_with_map_files_matches_exact_latlon_weights(
    make_config, coast_domain, tmp_path
):
    scrip = unstructured(coast_domain).write_scrip(tmp_path / "host_scrip.nc")
    h2f, f2h = tmp_path / "map_host_to_fine.nc", tmp_path / "map_fine_to_host.nc"
    common = ["--normalization", "dstarea", "--no-progress"]
    assert landemu(["regrid", COAST_HOST, COAST_FINE, "-o", str(h2f), *common]) == 0
    assert landemu(["regrid", COAST_FINE, COAST_HOST, "-o", str(f2h), *common]) == 0

    exact, latlon = run(make_config("exact.yaml"))
    mapped, none = run(
        make_config(
            "mapped.yaml",
            host={"grid": str(scrip)},
            remap={"host_to_fine_map": str(h2f), "fine_to_host_map": str(f2h)},
        )
    )
    assert latlon is not None and none is None  # the second run really is unstructured
    for name in exact:
        np.testing.assert_allclose(mapped[name], exact[name], rtol=1e-12, atol=1e-12, err_msg=name)


def test_unstructured_host_without_map_files_says_what_to_give(make_config, coast_domain, tmp_path):
    import pytest

    from coupler.errors import ConfigError

    scrip = unstructured(coast_domain).write_scrip(tmp_path / "h.nc")
    comp = Component(COMM, make_config(host={"grid": str(scrip)}))
    with pytest.raises(
        ConfigError, match="not a regular lat-lon grid: give remap.host_to_fine_map"
    ):
        comp.set_decomposition(np.flatnonzero(comp.host.mask) + 1)
