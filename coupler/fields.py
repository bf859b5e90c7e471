"""The field registry: names, standard names, canonical units, levels and valid ranges.

A host may call a field by its landemu name or any alias from the dictionary
(`coupler/field_dictionary.yaml`, CMEPS/CMIP style); everything inside landemu uses the
canonical name. A multi-level field may name its level axes (`axes: {pft: 17, month: 12}`,
listed in the order of the host's Fortran array a(n_local, 17, 12), the first varying
fastest: level l = pft + 17·month, 0-based). Units are canonical: a config that declares
other units for a field is an error (landemu converts nothing silently), and the valid range
catches wrong units at put.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from importlib import resources

import numpy as np
import yaml

from coupler.errors import ConfigError, FieldError


@dataclass(frozen=True)
class FieldSpec:
    """What landemu knows about one field."""

    name: str
    units: str
    levels: int = 1
    valid_min: float = -np.inf
    valid_max: float = np.inf
    standard_name: str = ""
    long_name: str = ""
    aliases: tuple[str, ...] = ()
    axes: tuple[tuple[str, int], ...] = ()  # named level axes, Fortran order; Π sizes = levels

    def range_text(self) -> str:
        return f"[{self.valid_min:g}, {self.valid_max:g}] {self.units}"

    def axes_text(self) -> str:
        """'pft(17) × month(12)', or 'N level(s)' for a field without named axes."""
        if not self.axes:
            return f"{self.levels} level(s)"
        return " × ".join(f"{a}({n})" for a, n in self.axes)


def level_axes(where: str, given) -> tuple[tuple[str, int], ...]:
    """`{pft: 17, month: 12}` (or None) → (('pft', 17), ('month', 12)), checked."""
    if given is None:
        return ()
    if not isinstance(given, dict) or not given:
        raise ConfigError(
            f"{where}.axes: expected a mapping like {{pft: 17, month: 12}}, got {given!r}"
        )
    axes = []
    for name, size in given.items():
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ConfigError(
                f"{where}.axes.{name}: expected a positive integer size, got {size!r}"
            )
        axes.append((str(name), size))
    return tuple(axes)


def axes_levels(axes: tuple[tuple[str, int], ...]) -> int:
    """Number of levels of a field with these axes (1 without axes)."""
    return int(np.prod([n for _, n in axes], dtype=np.int64)) if axes else 1


class FieldRegistry:
    """Look up fields by name or alias."""

    def __init__(self, specs: list[FieldSpec]) -> None:
        self._specs = {s.name: s for s in specs}
        self._alias: dict[str, str] = {}
        for s in specs:
            for a in (s.name, *s.aliases):
                if a in self._alias and self._alias[a] != s.name:
                    raise ConfigError(f"field alias '{a}' names both {self._alias[a]} and {s.name}")
                self._alias[a] = s.name

    @classmethod
    def default(cls) -> FieldRegistry:
        text = resources.files("coupler").joinpath("field_dictionary.yaml").read_text()
        return cls.from_mapping(yaml.safe_load(text))

    @classmethod
    def from_mapping(cls, mapping: dict) -> FieldRegistry:
        specs = []
        for name, d in mapping.items():
            lo, hi = d.get("valid_range", [-np.inf, np.inf])
            axes = level_axes(f"field {name}", d.get("axes"))
            levels = int(d.get("levels", axes_levels(axes)))
            if axes and levels != axes_levels(axes):
                raise ConfigError(f"field {name}: levels {levels} differ from its axes' product")
            specs.append(
                FieldSpec(
                    name=name,
                    units=str(d["units"]),
                    levels=levels,
                    axes=axes,
                    valid_min=float(lo),
                    valid_max=float(hi),
                    standard_name=d.get("standard_name", ""),
                    long_name=d.get("long_name", ""),
                    aliases=tuple(d.get("aliases", ())),
                )
            )
        return cls(specs)

    def canonical(self, name: str) -> str | None:
        """The canonical name for `name` (or an alias), or None if unknown."""
        return self._alias.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._alias

    def __getitem__(self, name: str) -> FieldSpec:
        canonical = self._alias.get(name)
        if canonical is None:
            raise FieldError(self.unknown_message(name))
        return self._specs[canonical]

    def unknown_message(self, name: str) -> str:
        """'unknown field X; did you mean Y?' (for the callers' own error classes)."""
        close = difflib.get_close_matches(name, list(self._alias), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        return f"unknown field '{name}'{hint}"

    def register(self, spec: FieldSpec) -> None:
        """Add a field defined by a step (e.g. an ONNX output not in the dictionary)."""
        if spec.name in self._alias:
            raise ConfigError(f"field '{spec.name}' is already defined in the field dictionary")
        self._specs[spec.name] = spec
        self._alias[spec.name] = spec.name

    def check_units(self, where: str, name: str, units: str | None) -> None:
        """A unit declared in the config must be the canonical one."""
        spec = self[name]
        if units is not None and units.replace(" ", "") != spec.units.replace(" ", ""):
            raise ConfigError(
                f"{where}: field {spec.name} is exchanged in '{spec.units}', the config says "
                f"'{units}'; convert in the host (landemu never converts units silently)"
            )
