"""Deterministic transforms a pipeline can name in its YAML (`transform: <name>`)."""

from __future__ import annotations

from coupler.steps.base import Transform
from emulators.transforms.phenology import PhenologyGSI
from emulators.transforms.roundtrip import RoundTrip

# name used in YAML → Transform subclass. Add an entry when you add a transform.
TRANSFORMS: dict[str, type[Transform]] = {
    "phenology_gsi": PhenologyGSI,  # fine-grid LAI from the Growing Season Index
    "roundtrip": RoundTrip,  # diagnostic: host -> fine -> host copy of TBOT
}


def lookup(name: str) -> type[Transform]:
    """The transform class registered under `name` (KeyError lists what exists)."""
    try:
        return TRANSFORMS[name]
    except KeyError:
        known = ", ".join(sorted(TRANSFORMS)) or "none"
        raise KeyError(f"unknown transform '{name}'; known transforms: {known}") from None
