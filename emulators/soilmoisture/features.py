"""The predictors of the soil-moisture forest, in the order of the model's input columns.

Why one list: training (dataset.py), the ONNX file's metadata and the online `predict` all
take their column order from here, and `predict` refuses a model whose list differs.
Predictors follow seed 002 Table 1: reanalysis soil moisture and soil temperature at the 10
target depths, air temperature, precipitation, evaporation, potential evaporation (all at
the host/reanalysis cell), and fine LAI, land cover, elevation and soil properties.
"""

from __future__ import annotations

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
