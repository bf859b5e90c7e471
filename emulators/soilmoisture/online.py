"""The daily online step of the soil-moisture forest: 10-layer fine soil moisture (10–100 cm)
on every fine tile from the host's coarse state remapped to the tile and the tile's statics.

Why one function: `soil_moisture_tile` is the whole computation — the twin's predictor
definitions (`features.host_predictors`) applied to the host fields on the fine cells, then
`predict.predict_tile` through the ONNX forest. The transform below, the xarray face and the
tests call it, so the online output equals offline prediction by construction. Each fine
cell lies in one host cell (the fine grid nests in the host grid), so the predictors of a
fine cell are those the twin computed for its host cell.

Inputs (transform 'soil_moisture', grid 'fine', schedule daily):
  host imports H2OSOI, TSOI (m3 m-3, K; ELM's 10 layers), TBOT (K), PRECTmms, QFLX_EVAP
  (kg m-2 s-1), RNET (W m-2, for the Priestley–Taylor potential evaporation) — the twin
  used end-of-day soil states, so configure `aggregation: {H2OSOI: last, TSOI: last}`;
  fine fields LAI (an earlier step's output, e.g. phenology_gsi, or a static variable),
  land_cover (IGBP codes), elevation (m), sand, silt, clay (%), organic (kg m-3), porosity
  (m3 m-3) and landmask from the grid's static file (`landemu soilmoisture static` adds
  the twin's synthetic soil to a `landemu prepare-static` file).
Output H2OSOI_FINE (10 levels, axis `depth`), 0 over fine ocean; listing it in
`host.exports` gives its conservative aggregate on the host grid.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from coupler.errors import ConfigError, FieldError, LandemuError
from coupler.steps.base import StepContext, Transform, Var
from emulators.soilmoisture.features import NLAYER, OUTPUT_NAME, host_predictors
from emulators.soilmoisture.predict import ForestModel, predict_tile

SHIPPED_MODEL = Path(__file__).resolve().parent / "soilmoisture.onnx"
N_IGBP = 17
LEVSOI = (("levsoi", NLAYER),)

HOST_INPUTS: dict[str, Var] = {
    "H2OSOI": Var("m3 m-3", NLAYER, axes=LEVSOI, long_name="soil water, ELM layers"),
    "TSOI": Var("K", NLAYER, axes=LEVSOI, long_name="soil temperature, ELM layers"),
    "TBOT": Var("K", long_name="daily mean air temperature"),
    "PRECTmms": Var("kg m-2 s-1", long_name="precipitation rate"),
    "QFLX_EVAP": Var("kg m-2 s-1", long_name="evaporation"),
    "RNET": Var("W m-2", long_name="net radiation"),
}
# online input name → predictor name (features.FEATURE_NAMES) of the fine fields
FINE_PREDICTORS: dict[str, str] = {
    "LAI": "lai",
    "land_cover": "land_cover",
    "elevation": "elevation",
    "sand": "sand",
    "silt": "silt",
    "clay": "clay",
    "organic": "organic",
    "porosity": "porosity",
}
FINE_INPUTS: dict[str, Var] = {
    "LAI": Var("m2 m-2", long_name="leaf area index (fine)"),
    "land_cover": Var("1", N_IGBP, kind="categorical", long_name="MODIS IGBP class (static)"),
    "elevation": Var("m", long_name="elevation (static)"),
    "sand": Var("%", long_name="sand content (static)"),
    "silt": Var("%", long_name="silt content (static)"),
    "clay": Var("%", long_name="clay content (static)"),
    "organic": Var("kg m-3", long_name="soil organic matter (static)"),
    "porosity": Var("m3 m-3", long_name="porosity (static)"),
    "landmask": Var("1", long_name="land mask, 1 land 0 ocean (static)"),
}


def tile_predictors(
    host: Mapping[str, np.ndarray], fine: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The forest's 32 predictor fields (ny, nx) of a tile.

    host : H2OSOI, TSOI (10, ny, nx) and TBOT, PRECTmms, QFLX_EVAP, RNET (ny, nx): the host
        fields on the fine cells. fine : LAI, land_cover, elevation, sand, silt, clay,
        organic, porosity (ny, nx). FieldError names a missing field or a wrong shape."""
    missing = [n for n in (*HOST_INPUTS, *FINE_PREDICTORS) if n not in {**host, **fine}]
    if missing:
        raise FieldError(f"soil-moisture inputs missing: {missing}")
    shape = np.shape(host["TBOT"])
    for name in (*HOST_INPUTS, *FINE_PREDICTORS):
        values = host[name] if name in HOST_INPUTS else fine[name]
        want = (NLAYER, *shape) if HOST_INPUTS.get(name, Var("")).levels > 1 else shape
        if len(shape) != 2 or np.shape(values) != want:
            raise FieldError(
                f"soil-moisture input {name} has shape {np.shape(values)}; expected {want} "
                "(a tile's (ny, nx), layers first)"
            )
    columns = {
        name: np.asarray(host[name], np.float64).reshape(-1, int(np.prod(shape)))
        for name in HOST_INPUTS
    }
    coarse = host_predictors(
        columns["H2OSOI"].T,
        columns["TSOI"].T,
        columns["TBOT"][0],
        columns["PRECTmms"][0],
        columns["QFLX_EVAP"][0],
        columns["RNET"][0],
    )
    fields = {name: values.reshape(shape) for name, values in coarse.items()}
    fields.update({feature: fine[name] for name, feature in FINE_PREDICTORS.items()})
    return fields


def soil_moisture_tile(
    model: ForestModel,
    host: Mapping[str, np.ndarray],
    fine: Mapping[str, np.ndarray],
    land: np.ndarray | None = None,
) -> np.ndarray:
    """Fine soil moisture (10, ny, nx) in m3 m-3 at 10, 20, …, 100 cm of one tile: the
    online step's whole computation (see `tile_predictors` for the inputs; `land` (ny, nx)
    restricts prediction to land cells, 0 elsewhere)."""
    return predict_tile(model, tile_predictors(host, fine), land)


class SoilMoistureForest(Transform):
    """Daily 10-layer fine soil moisture from the ONNX forest (see the module docstring)."""

    transform_name: ClassVar[str] = "soil_moisture"
    input_vars: ClassVar[dict[str, Var]] = {**HOST_INPUTS, **FINE_INPUTS}
    output_vars: ClassVar[dict[str, Var]] = {
        OUTPUT_NAME: Var(
            "m3 m-3",
            NLAYER,
            axes=(("depth", NLAYER),),
            long_name="volumetric soil moisture at 10, 20, ..., 100 cm (random forest)",
        ),
    }
    default_params: ClassVar[dict[str, Any]] = {"model": None, "threads": 1}
    default_grid: ClassVar[str] = "fine"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        threads = self.params["threads"]
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ConfigError(f"steps.{self.name}.params.threads: expected an integer >= 1")
        path = self.params["model"] or SHIPPED_MODEL
        try:
            self.model = ForestModel(path, threads=threads)
        except LandemuError as exc:
            raise type(exc)(f"steps.{self.name}.params.model: {exc}") from None

    def compute(
        self, inputs: dict[str, np.ndarray], state: dict[str, np.ndarray], ctx: StepContext
    ) -> dict[str, np.ndarray]:
        h = int(ctx.halo)
        inner = (Ellipsis, slice(h, -h), slice(h, -h)) if h else (Ellipsis,)
        tile = {name: values[inner] for name, values in inputs.items()}
        host = {name: tile[name] for name in HOST_INPUTS}
        land = np.asarray(tile["landmask"]) >= 0.5
        try:
            sm = soil_moisture_tile(self.model, host, tile, land)
        except FieldError as exc:
            raise FieldError(f"step '{self.name}' (tile {ctx.tile_id}): {exc}") from None
        return {OUTPUT_NAME: sm.astype(np.float64)}
