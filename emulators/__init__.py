"""Everything that defines, trains, exports and evaluates landemu's emulators and transforms."""

# the xarray functions of emulators/xapi.py, loaded when first used
XARRAY_FUNCTIONS = ("calibrate", "landcover", "soil_moisture")


def __getattr__(name: str):
    if name in XARRAY_FUNCTIONS:
        from importlib import import_module

        return getattr(import_module("emulators.xapi"), name)
    raise AttributeError(f"module 'emulators' has no attribute '{name}'")
