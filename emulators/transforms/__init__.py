"""Deterministic transforms a pipeline can name in its YAML (`transform: <name>`).

Transforms are plugins: a distribution registers a `Transform` subclass under the entry-point
group `landemu.transforms` (`[project.entry-points."landemu.transforms"]` in its
pyproject.toml: `my_name = "my_package.module:MyTransform"`), and landemu finds it without
being edited. The built-in transforms are registered the same way in landemu's own
pyproject.toml.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from coupler.steps.base import Transform

GROUP = "landemu.transforms"


def lookup(name: str) -> type[Transform]:
    """The transform class registered under `name` (KeyError lists what exists).

    A plugin that cannot be imported, or is not a Transform, is a KeyError naming it."""
    found = {ep.name: ep for ep in entry_points(group=GROUP)}
    if name not in found:
        known = ", ".join(sorted(found)) or "none"
        raise KeyError(
            f"unknown transform '{name}'; known transforms (entry points '{GROUP}'): {known}"
        )
    ep = found[name]
    try:
        cls = ep.load()
    except Exception as exc:  # a broken plugin must not take the host down
        raise KeyError(f"transform '{name}' ({ep.value}) cannot be imported: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Transform)):
        raise KeyError(f"transform '{name}' ({ep.value}) is not a coupler Transform subclass")
    return cls


def __getattr__(attr: str):
    """`TRANSFORMS`: every registered transform by name (loaded when asked for)."""
    if attr == "TRANSFORMS":
        return {ep.name: lookup(ep.name) for ep in entry_points(group=GROUP)}
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
