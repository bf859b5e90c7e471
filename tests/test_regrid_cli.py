"""`landemu regrid`: writing a map from grid specs/files, checking it, and usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from coupler.cli import main
from coupler.grids import HostGrid, LatLonGrid
from coupler.regrid import conservative_weights, read_map


def test_regrid_writes_the_exact_esmf_map(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "map.nc"
    assert (
        main(
            [
                "regrid",
                "latlon:60,80:30,33,170,-170",
                "latlon:4,5:29,34,168,-168",
                "-o",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    assert "wrote" in capsys.readouterr().out
    w = read_map(out)
    ref = conservative_weights(
        LatLonGrid.parse("latlon:60,80:30,33,170,-170"),
        LatLonGrid.parse("latlon:4,5:29,34,168,-168"),
    )
    assert np.array_equal(w.S, ref.S) and np.array_equal(w.rows, ref.rows)
    assert np.allclose(w.frac_a, ref.frac_a, rtol=1e-15) and np.array_equal(w.frac_b, ref.frac_b)


def test_regrid_accepts_grid_files_with_masks(tmp_path: Path) -> None:
    src = LatLonGrid.parse("latlon:20,20:0,10,0,10")
    mask = (np.arange(src.size) % 4 != 0).astype(int)
    HostGrid.from_latlon(src, mask=mask).write_domain(tmp_path / "dom.nc")
    out = tmp_path / "m.nc"
    assert (
        main(
            [
                "regrid",
                str(tmp_path / "dom.nc"),
                "latlon:2,2:0,10,0,10",
                "-o",
                str(out),
                "--normalization",
                "dstarea",
            ]
        )
        == 0
    )
    w = read_map(out)
    assert np.array_equal(w.mask_a, mask)
    assert not np.isin(np.flatnonzero(mask == 0), w.cols).any()
    ref = conservative_weights(
        src, LatLonGrid.parse("latlon:2,2:0,10,0,10"), src_mask=mask, normalization="dstarea"
    )
    assert np.array_equal(w.frac_b, ref.frac_b) and w.frac_b.min() < 1.0


def test_check_reports_conservation_and_analytic_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "map.nc"
    main(["regrid", "latlon:90,180:-90,90,-180,180", "latlon:30,45:-90,90,0,360", "-o", str(out)])
    capsys.readouterr()
    assert main(["regrid", "--check", str(out), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert set(res["fields"]) == {
        "constant 2",
        "2+cos2(lat)cos(2lon)",
        "2+cos2(lat)cos(8lon)",
        "2+cos2(lat)cos(16lon)",
        "2+cos2(lat)cos(32lon)",
    }
    for r in res["fields"].values():
        assert r["conservation_rel_error"] < 1e-13
    assert res["fields"]["constant 2"]["max_rel_error"] < 1e-13
    assert 0 < res["fields"]["2+cos2(lat)cos(2lon)"]["mean_rel_error"] < 0.01
    assert main(["regrid", "--check", str(out)]) == 0
    assert "conservation" in capsys.readouterr().out


def test_usage_errors_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["regrid", "latlon:2,2:0,1,0,1"]) == 2
    assert "expected `landemu regrid SRC DST -o MAP.nc`" in capsys.readouterr().err
    assert main(["regrid", "latlon:2,2:0,1,0,1", str(tmp_path / "none.nc"), "-o", "x.nc"]) == 2
    assert "neither a latlon" in capsys.readouterr().err


def test_non_latlon_grid_without_esmpy_says_how_to_proceed(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    g = HostGrid.from_latlon(LatLonGrid.parse("latlon:4,4:0,10,0,10"))
    g.corner_lat = g.corner_lat + 0.1 * np.arange(4)[None, :]  # skewed: not lat-lon
    g.dims = (16,)
    g.write_scrip(tmp_path / "u.nc")
    from coupler.regrid.esmpy_backend import esmpy_available

    if esmpy_available():
        pytest.skip("esmpy is importable here; this checks the message without it")
    assert (
        main(
            ["regrid", str(tmp_path / "u.nc"), "latlon:2,2:0,10,0,10", "-o", str(tmp_path / "o.nc")]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "esmpy is not importable" in err and "ESMF_RegridWeightGen" in err
    assert not (tmp_path / "o.nc").exists()
