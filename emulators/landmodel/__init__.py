"""The ELM/ILS-style host land model, callable from Python (ctypes over the Fortran physics).

`HostModel` runs batches of columns with per-column PFT parameters, vegetation and state;
`ensemble` builds perturbed-parameter ensembles for the MdPL surrogate from it. The Fortran
library is built by `make` (CMake project fortran_shim/hostmodel).
"""

from emulators.landmodel.ensemble import (
    lhs_samples,
    oat_samples,
    run_ensemble,
    scale_to_ranges,
)
from emulators.landmodel.model import (
    FORCING_NAMES,
    FORCING_UNITS,
    OUTPUT_NAMES,
    OUTPUT_UNITS,
    HostModel,
    forcing_records,
    monthly_weights,
    soil_layers,
    solar_geometry,
)
from emulators.landmodel.params import (
    GROUP_NAMES,
    PARAM_NAMES,
    PARAM_UNITS,
    PFT_NAMES,
    check_params,
    default_params,
    parameter_table,
)
from emulators.landmodel.surface import default_monthly_lai, default_vegetation, sai_from_lai

__all__ = [
    "FORCING_NAMES",
    "FORCING_UNITS",
    "GROUP_NAMES",
    "OUTPUT_NAMES",
    "OUTPUT_UNITS",
    "PARAM_NAMES",
    "PARAM_UNITS",
    "PFT_NAMES",
    "HostModel",
    "check_params",
    "default_monthly_lai",
    "default_params",
    "default_vegetation",
    "forcing_records",
    "lhs_samples",
    "monthly_weights",
    "oat_samples",
    "parameter_table",
    "run_ensemble",
    "sai_from_lai",
    "scale_to_ranges",
    "soil_layers",
    "solar_geometry",
]
