"""landemu's runtime component: runs land-surface emulators inside a coupled Fortran land model."""

__version__ = "0.1.0"


def __getattr__(name: str):  # the xarray face loads xarray only when it is used
    if name == "Regridder":
        from coupler.xregrid import Regridder

        return Regridder
    raise AttributeError(f"module 'coupler' has no attribute '{name}'")
