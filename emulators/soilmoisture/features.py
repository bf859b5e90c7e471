"""The predictors of the soil-moisture forest, in the order of the model's input columns.

Why one list: training (dataset.py), the ONNX file's metadata and the online `predict` all
take their column order from here, and `predict` refuses a model whose list differs.
Predictors follow seed 002 Table 1: reanalysis soil moisture and soil temperature at the 10
target depths, air temperature, precipitation, evaporation, potential evaporation (all at
the host/reanalysis cell), and fine LAI, land cover, elevation and soil properties.
"""

from __future__ import annotations

import numpy as np

NLAYER = 10
DEPTHS_CM = tuple(range(10, 101, 10))
OUTPUT_NAME = "H2OSOI_FINE"

FEATURE_UNITS: dict[str, str] = {
    **{f"sm_ra_{d}cm": "m3 m-3" for d in DEPTHS_CM},
    **{f"st_ra_{d}cm": "K" for d in DEPTHS_CM},
    "ta": "K",
    "pre": "mm day-1",
    "eva": "mm day-1",
    "pet": "mm day-1",
    "lai": "m2 m-2",
    "land_cover": "IGBP class 0..16",
    "elevation": "m",
    "sand": "%",
    "silt": "%",
    "clay": "%",
    "organic": "kg m-3",
    "porosity": "m3 m-3",
}
FEATURE_DESCRIPTIONS: dict[str, str] = {
    **{f"sm_ra_{d}cm": f"reanalysis soil moisture at {d} cm (host cell)" for d in DEPTHS_CM},
    **{f"st_ra_{d}cm": f"reanalysis soil temperature at {d} cm (host cell)" for d in DEPTHS_CM},
    "ta": "daily mean air temperature (host cell)",
    "pre": "daily precipitation (host cell)",
    "eva": "daily evaporation, QFLX_EVAP (host cell)",
    "pet": "daily Priestley-Taylor potential evaporation (host cell)",
    "lai": "leaf area index (fine cell)",
    "land_cover": "MODIS IGBP land cover (fine cell)",
    "elevation": "elevation (fine cell)",
    "sand": "sand content (fine cell)",
    "silt": "silt content (fine cell)",
    "clay": "clay content (fine cell)",
    "organic": "soil organic matter (fine cell)",
    "porosity": "porosity (fine cell)",
}
FEATURE_NAMES: tuple[str, ...] = tuple(FEATURE_UNITS)
NFEATURE = len(FEATURE_NAMES)


def elm_node_depths() -> np.ndarray:
    """ELM's 10 soil node depths (m): z_i = 0.025·(exp(0.5·(i − 0.5)) − 1), i = 1..10."""
    i = np.arange(1, 11)
    return 0.025 * (np.exp(0.5 * (i - 0.5)) - 1.0)


def depth_weights(node_depths: np.ndarray | None = None) -> np.ndarray:
    """(10 target depths, n layers) weights that interpolate layer values linearly in depth to
    10, 20, …, 100 cm (rows sum to 1). Default layers: ELM's (the host's H2OSOI/TSOI)."""
    z = elm_node_depths() if node_depths is None else np.asarray(node_depths, float)
    w = np.zeros((NLAYER, z.size))
    for k, d in enumerate(np.asarray(DEPTHS_CM) / 100.0):
        j = int(np.clip(np.searchsorted(z, d) - 1, 0, z.size - 2))
        f = (d - z[j]) / (z[j + 1] - z[j])
        w[k, j], w[k, j + 1] = 1.0 - f, f
    return w


def priestley_taylor_mm(rnet: np.ndarray, tair: np.ndarray) -> np.ndarray:
    """Potential evaporation (mm day-1) from daily mean net radiation (W m-2) and air T (K):
    Priestley & Taylor (1972), α = 1.26, γ = 0.066 kPa K-1, λ = 2.45 MJ kg-1."""
    tc = tair - 273.15
    es = 0.6108 * np.exp(17.27 * tc / (tc + 237.3))
    delta = 4098.0 * es / (tc + 237.3) ** 2
    return 1.26 * delta / (delta + 0.066) * np.maximum(rnet, 0.0) / 2.45e6 * 86400.0


def host_predictors(
    h2osoi: np.ndarray,
    tsoi: np.ndarray,
    tbot: np.ndarray,
    prect: np.ndarray,
    qflx_evap: np.ndarray,
    rnet: np.ndarray,
) -> dict[str, np.ndarray]:
    """The 24 reanalysis predictors from the host's daily state and means, per host cell.

    h2osoi (m3 m-3), tsoi (K): (n, 10) on ELM's layers (end of day); tbot (K), prect and
    qflx_evap (kg m-2 s-1), rnet (W m-2): (n,) daily means. The twin builds its training
    predictors with this function, so an online step that calls it sees the same definitions.
    """
    w = depth_weights()
    sm = np.asarray(h2osoi) @ w.T
    st = np.asarray(tsoi) @ w.T
    out = {f"sm_ra_{d}cm": sm[:, k] for k, d in enumerate(DEPTHS_CM)}
    out.update({f"st_ra_{d}cm": st[:, k] for k, d in enumerate(DEPTHS_CM)})
    out["ta"] = np.asarray(tbot)
    out["pre"] = np.asarray(prect) * 86400.0
    out["eva"] = np.asarray(qflx_evap) * 86400.0
    out["pet"] = priestley_taylor_mm(np.asarray(rnet), out["ta"])
    return out
