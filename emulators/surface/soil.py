"""Soil texture and organic matter: six SoilGrids layers → ELM's ten, filled over water.

Source layout (SoilGrids v2, seed 000 §2.3): layers 0–5, 5–15, 15–30, 30–60, 60–100,
100–200 cm of percent sand, percent clay and organic matter density (kg m⁻³). ELM's ten
soil layers have node depths z_j = 0.025·(exp(0.5·(j − 0.5)) − 1) m; each takes the source
layer whose mid-depth is nearest (seed 000: "nearest neighbouring method"), which gives the
source layers 0,0,0,1,2,3,3,4,5,5 for ELM layers 1..10.

No global soil grid installs offline (REFERENCES.md), so a user file is accepted
(`read_soil_file`) and the default is a *synthetic* horizontally uniform loam profile
(`SYNTHETIC_LOAM`: sand 43 %, clay 18 %, organic matter 30 → 1 kg m⁻³ with depth), stated
as such in every file that uses it. Cells without soil (water, NaN in the source) take the
value of the nearest cell with soil (ring by ring, deterministic order).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from coupler.errors import DataFileError, FieldError

SOURCE_TOPS_CM = np.array([0.0, 5.0, 15.0, 30.0, 60.0, 100.0])
SOURCE_BOTTOMS_CM = np.array([5.0, 15.0, 30.0, 60.0, 100.0, 200.0])
N_SOURCE_LAYERS = 6
N_ELM_LAYERS = 10
ELM_NODE_DEPTH_M = 0.025 * (np.exp(0.5 * (np.arange(1, N_ELM_LAYERS + 1) - 0.5)) - 1.0)
SOIL_FIELDS = ("PCT_SAND", "PCT_CLAY", "ORGANIC")

#: The synthetic default profile (per source layer): sand %, clay %, organic kg m-3.
SYNTHETIC_LOAM = {
    "PCT_SAND": np.full(N_SOURCE_LAYERS, 43.0),
    "PCT_CLAY": np.full(N_SOURCE_LAYERS, 18.0),
    "ORGANIC": np.array([30.0, 20.0, 12.0, 6.0, 3.0, 1.0]),
}
SYNTHETIC_SOURCE = "synthetic uniform loam profile (landemu default; no soil grid installs offline)"


def nearest_source_layer() -> np.ndarray:
    """For each ELM layer, the source layer whose mid-depth is nearest its node depth."""
    mid_m = 0.5 * (SOURCE_TOPS_CM + SOURCE_BOTTOMS_CM) / 100.0
    return np.abs(ELM_NODE_DEPTH_M[:, None] - mid_m[None, :]).argmin(axis=1)


def to_elm_layers(source: np.ndarray) -> np.ndarray:
    """(6, ...) source layers → (10, ...) ELM layers by nearest depth."""
    source = np.asarray(source, dtype=np.float64)
    if source.shape[0] != N_SOURCE_LAYERS:
        raise FieldError(
            f"soil source must have {N_SOURCE_LAYERS} layers (0-5, 5-15, 15-30, 30-60, "
            f"60-100, 100-200 cm) first; got shape {source.shape}"
        )
    return source[nearest_source_layer()]


def fill_nearest(
    field: np.ndarray, max_rings: int | None = None, needed: np.ndarray | None = None
) -> np.ndarray:
    """Fill NaN cells of (..., ny, nx) with the nearest valid cell of the same 2-D slice.

    Ring by ring (4-neighbours, taking the first valid one in the order S, N, W, E), so the
    result is deterministic; slices with no valid cell stay NaN. With `needed` (ny, nx) bool,
    stop as soon as every needed cell is filled (e.g. lakes, not the open ocean).
    """
    out = np.array(field, dtype=np.float64, copy=True)
    rings = max_rings if max_rings is not None else sum(out.shape[-2:])
    for _ in range(rings):
        missing = np.isnan(out)
        if not (missing if needed is None else missing & needed).any():
            break
        filled = out.copy()
        for axis, shift in ((-2, 1), (-2, -1), (-1, 1), (-1, -1)):
            neighbour = np.roll(out, shift, axis=axis)
            edge = [slice(None)] * out.ndim
            edge[axis] = 0 if shift == 1 else -1
            neighbour[tuple(edge)] = np.nan  # no wrap-around
            take = np.isnan(filled) & ~np.isnan(neighbour)
            filled[take] = neighbour[take]
        if np.array_equal(np.isnan(filled), missing):
            break
        out = filled
    return out


def synthetic_soil(shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """The synthetic default on the source layers: {name: (6, *shape)}."""
    return {
        k: np.broadcast_to(v.reshape(-1, *[1] * len(shape)), (N_SOURCE_LAYERS, *shape)).copy()
        for k, v in SYNTHETIC_LOAM.items()
    }


def check_soil(source: dict[str, np.ndarray], where: str) -> None:
    """Layers, ranges and sand + clay ≤ 100 of a source soil dict."""
    for name in SOIL_FIELDS:
        if name not in source:
            raise DataFileError(f"{where}: soil field '{name}' is missing")
        arr = source[name]
        if arr.shape[0] != N_SOURCE_LAYERS:
            raise DataFileError(
                f"{where}: '{name}' has {arr.shape[0]} layers; the SoilGrids layout has "
                f"{N_SOURCE_LAYERS} (0-5, 5-15, 15-30, 30-60, 60-100, 100-200 cm)"
            )
    with np.errstate(invalid="ignore"):
        for name, hi in (("PCT_SAND", 100.0), ("PCT_CLAY", 100.0), ("ORGANIC", 130.0)):
            bad = (source[name] < 0) | (source[name] > hi)
            if np.any(bad):
                raise DataFileError(f"{where}: '{name}' has values outside [0, {hi}]")
        if np.any(source["PCT_SAND"] + source["PCT_CLAY"] > 100.0 + 1e-9):
            raise DataFileError(f"{where}: PCT_SAND + PCT_CLAY exceeds 100 %")


def read_soil_file(path: str | Path) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Read a user soil file: PCT_SAND, PCT_CLAY (%), ORGANIC (kg m-3) on dims
    (layer=6, lat, lon), lat/lon cell centres (regular). Returns (fields, lat, lon)."""
    import netCDF4

    try:
        ds = netCDF4.Dataset(str(path))
    except OSError as exc:
        raise DataFileError(f"cannot open soil file '{path}': {exc}") from exc
    with ds:
        for name in ("lat", "lon"):
            if name not in ds.variables:
                raise DataFileError(f"soil file '{path}' has no coordinate '{name}'")
        fields = {}
        for name in SOIL_FIELDS:
            if name not in ds.variables:
                raise DataFileError(f"soil file '{path}': soil field '{name}' is missing")
            v = ds[name]
            v.set_auto_maskandscale(True)
            fields[name] = np.ma.filled(v[:].astype(np.float64), np.nan)
        lat = np.asarray(ds["lat"][:], dtype=np.float64)
        lon = np.asarray(ds["lon"][:], dtype=np.float64)
    check_soil(fields, f"soil file '{path}'")
    return fields, lat, lon
