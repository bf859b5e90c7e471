"""Map quality checks as ESMF_RegridWeightGenCheck and CIME's check_maps do them: remap the
analytic fields 2 + cos²(lat)·cos(k·lon) (k = 2, 8, 16, 32) and the constant 2, and report the
mean / max relative error against the field at destination centres and the relative
conservation error of the area integral (source Σ f·area_a·frac_a vs destination).
"""

from __future__ import annotations

import os

import numpy as np

from coupler.errors import RegridError
from coupler.regrid.mapfile import read_map
from coupler.regrid.weights import Weights

WAVENUMBERS = (2, 8, 16, 32)


def analytic_field(lat_deg: np.ndarray, lon_deg: np.ndarray, k: int | None) -> np.ndarray:
    """2 + cos²(lat)·cos(k·lon), or the constant 2 for k None; shape of lat_deg."""
    if k is None:
        return np.full(np.shape(lat_deg), 2.0)
    lat, lon = np.deg2rad(lat_deg), np.deg2rad(lon_deg)
    return 2.0 + np.cos(lat) ** 2 * np.cos(k * lon)


def area_integrals(w: Weights, f_a: np.ndarray, y_b: np.ndarray) -> tuple:
    """Source and destination area integrals (sr × units) of f_a (..., n_a) and its remap
    y_b = S·f_a (..., n_b), in the map's normalisation: conservation means they are equal.
    Destination cells no source covers (frac_b = 0) count as 0 whatever y_b holds there."""
    y = np.where(np.asarray(w.frac_b) > 0, y_b, 0.0)
    if w.normalization == "dstarea":
        integral_b = np.sum(y * w.area_b, axis=-1)
    elif w.normalization == "none":
        integral_b = np.sum(y, axis=-1)
    else:
        integral_b = np.sum(y * w.area_b * w.frac_b, axis=-1)
    return np.sum(f_a * w.area_a * w.frac_a, axis=-1), integral_b


def check_weights(
    w: Weights, src_lat: np.ndarray, src_lon: np.ndarray, dst_lat: np.ndarray, dst_lon: np.ndarray
) -> dict:
    """Errors of map `w` on the analytic fields; centres in degrees, shapes (n_a,), (n_b,).

    Returns {'fields': {name: {'mean_rel_error', 'max_rel_error', 'conservation_rel_error'}},
    'S_min', 'S_max', 'n_s', 'n_a', 'n_b', 'max_const_error'}.
    """
    frac_b = np.asarray(w.frac_b, np.float64)
    live = (frac_b > 0) & (np.asarray(w.mask_b) != 0)
    res: dict = {
        "n_a": w.n_a,
        "n_b": w.n_b,
        "n_s": w.n_s,
        "S_min": float(w.S.min()) if w.n_s else 0.0,
        "S_max": float(w.S.max()) if w.n_s else 0.0,
        "fields": {},
    }
    for k in (None, *WAVENUMBERS):
        f_a = analytic_field(src_lat, src_lon, k)
        f_b = analytic_field(dst_lat, dst_lon, k)
        y = np.bincount(w.rows, w.S * f_a[w.cols], w.n_b)
        integral_a, integral_b = area_integrals(w, f_a, y)
        if w.normalization == "dstarea":
            y = np.divide(y, frac_b, out=np.zeros_like(y), where=frac_b > 0)
        elif w.normalization == "none":
            y = np.divide(y, w.area_b * frac_b, out=np.zeros_like(y), where=frac_b > 0)
        rel = np.abs(y[live] - f_b[live]) / np.abs(f_b[live])
        name = "constant 2" if k is None else f"2+cos2(lat)cos({k}lon)"
        res["fields"][name] = {
            "mean_rel_error": float(rel.mean()) if rel.size else float("nan"),
            "max_rel_error": float(rel.max()) if rel.size else float("nan"),
            "conservation_rel_error": float(abs(integral_b - integral_a) / abs(integral_a))
            if integral_a
            else float("nan"),
        }
        if k is None:
            res["max_const_error"] = float(rel.max()) if rel.size else 0.0
    return res


def check_map(path: str | os.PathLike) -> dict:
    """check_weights on a map file (ESMF or SCRIP), using the centres stored in it."""
    w = read_map(path, allow_negative=True)
    need = ("yc_a", "xc_a", "yc_b", "xc_b")
    missing = [k for k in need if k not in w.attrs]
    if missing:
        raise RegridError(
            f"map file '{path}' has no cell centres ({', '.join(missing)}); "
            "cannot evaluate analytic fields"
        )
    if np.any(~np.isfinite(w.area_a)) or np.any(~np.isfinite(w.area_b)):
        raise RegridError(f"map file '{path}' has no cell areas (area_a/area_b)")
    return check_weights(w, w.attrs["yc_a"], w.attrs["xc_a"], w.attrs["yc_b"], w.attrs["xc_b"])


def format_report(res: dict, path: str = "") -> str:
    """Human-readable table of a check result."""
    lines = [
        f"map {path}: n_a={res['n_a']} n_b={res['n_b']} n_s={res['n_s']} "
        f"S in [{res['S_min']:.3g}, {res['S_max']:.3g}]",
        f"{'field':26s} {'mean rel err':>13s} {'max rel err':>13s} {'conservation':>13s}",
    ]
    for name, r in res["fields"].items():
        lines.append(
            f"{name:26s} {r['mean_rel_error']:13.3e} {r['max_rel_error']:13.3e} "
            f"{r['conservation_rel_error']:13.3e}"
        )
    return "\n".join(lines)
