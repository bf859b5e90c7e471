"""landemu's runtime component: runs land-surface emulators inside a coupled Fortran land model."""

__version__ = "0.1.0"
