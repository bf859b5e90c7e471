"""Everything that defines, trains, exports and evaluates landemu's emulators and transforms."""

# the xarray functions of emulators/xapi.py, loaded when first used (the LAI function is
# `leaf_area_index` here: `emulators.lai` is the LAI family's package)
XARRAY_FUNCTIONS = {
    "calibrate": "calibrate",
    "landcover": "landcover",
    "leaf_area_index": "lai",
    "pft_parameters": "pft_parameters",
    "soil_moisture": "soil_moisture",
}


def __getattr__(name: str):
    if name in XARRAY_FUNCTIONS:
        from importlib import import_module

        return getattr(import_module("emulators.xapi"), XARRAY_FUNCTIONS[name])
    raise AttributeError(f"module 'emulators' has no attribute '{name}'")
