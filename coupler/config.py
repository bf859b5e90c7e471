"""The run configuration: a YAML file read like a namelist, checked before anything runs.

Every key is known in advance (see `SCHEMA`); an unknown or misspelt key, a wrong type or
a value outside its allowed set is a ConfigError naming the key path, what was given and
what is allowed ("run.calender: unknown key; did you mean 'calendar'?"). Relative paths
are resolved against the folder of the config file, so a run directory can be moved.

Example::

    run:      {name: demo, calendar: noleap, coupling_interval: 86400, output_dir: out}
    host:     {grid: domain.nc, imports: [TBOT, PRECTmms], exports: [LAI]}
    fine:     {grid: "latlon:1200,1200:40,50,-5,5", tile: [120, 120], static: static.nc}
    steps:
      - {name: phenology, transform: phenology_gsi, schedule: daily}
    history:  {fields: [LAI, TBOT], frequency: daily}
"""

from __future__ import annotations

import copy
import datetime
import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from coupler.clock import Schedule, canonical_calendar
from coupler.errors import ConfigError, shorten
from coupler.stepstate import check_init, resolve_init
from coupler.windows import WindowOf

# --- a tiny declarative schema ---------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """One allowed key: its type check, default, and whether it is required."""

    kind: str  # str | int | float | bool | path | list | map | schedule | calendar | any
    default: Any = None
    required: bool = False
    choices: tuple[str, ...] = ()
    help: str = ""


def _section(**keys: Key) -> dict[str, Key]:
    return keys


SCHEMA: dict[str, dict[str, Key]] = {
    "run": _section(
        name=Key("str", "landemu"),
        calendar=Key("calendar", "noleap"),
        start=Key("date", None, help="model time before the first advance, e.g. 2001-01-01"),
        coupling_interval=Key("int", None, help="seconds between advances; checked if given"),
        output_dir=Key("path", "."),
        on_error=Key("str", "return", choices=("return", "abort")),
        log_level=Key("str", "info", choices=("debug", "info", "warning", "error")),
        per_rank_logs=Key("bool", False),
        onnx_threads=Key("int", 1, help="ONNX Runtime intra-op threads per rank"),
    ),
    "host": _section(
        grid=Key("str", required=True, help="E3SM domain / SCRIP grid file, or latlon:... spec"),
        imports=Key("fields", required=True),
        exports=Key("fields", required=True),
    ),
    "fine": _section(
        grid=Key("str", required=True, help="latlon:NLAT,NLON:S,N,W,E"),
        tile=Key("list", [120, 120], help="tile size [ny, nx] in fine cells"),
        static=Key("path", None, help="static fine-grid file (landemu prepare-static)"),
        mask=Key("str", "landmask", help="static variable used as the fine land mask"),
    ),
    "remap": _section(
        host_to_fine=Key("map", {}, help="field → conservative | bilinear | nearest"),
        host_to_fine_default=Key(
            "str", "conservative", choices=("conservative", "bilinear", "nearest")
        ),
        normalization=Key("str", "fracarea", choices=("fracarea", "dstarea")),
        host_to_fine_map=Key("path", None, help="ESMF/SCRIP map file host → fine"),
        fine_to_host_map=Key("path", None, help="ESMF/SCRIP map file fine → host"),
    ),
    "history": _section(
        fields=Key("list", []),
        frequency=Key("schedule", "daily"),
        file=Key("str", None, help="file name; default <run.name>.landemu.h.nc"),
        fine_fields=Key("list", [], help="fine step outputs written on fine_region"),
        fine_region=Key("list", None, help="[south, north, west, east] of the fine history"),
    ),
    "driver": _section(
        stop=Key("date", None, help="model time to stop at (landemu run only)"),
        steps=Key("int", None, help="number of coupling steps (alternative to stop)"),
        forcing=Key("str", "analytic", help="'analytic' or a forcing netCDF file"),
        decomposition=Key("str", "blocks", choices=("blocks", "round_robin")),
        restart_at_end=Key("bool", True),
    ),
    "restart": _section(
        read=Key("path", None, help="restart file to start from"),
        frequency=Key("schedule", None, help="also write restarts on this schedule"),
    ),
}

STEP_KEYS: dict[str, Key] = _section(
    name=Key("str", required=True),
    transform=Key("str", None),
    onnx=Key("path", None),
    schedule=Key("schedule", "every step"),
    grid=Key("str", None, help="host, fine (the fine: section) or a name under grids:"),
    halo=Key("int", 0),
    blend=Key("map", None, help="CNN windows: {window: N, margin: M, overlap: K, batch: B}"),
    params=Key("map", {}),
    inputs=Key("any", None),
    outputs=Key("any", None),
    aggregation=Key("map", {}, help="input field → mean | last | {window: N}"),
    state=Key("map", {}, help="state array → {init: number | {static: VAR} | {file, variable}}"),
    device=Key("str", "cpu", choices=("cpu", "cuda"), help="ONNX Runtime execution provider"),
)

AGGREGATIONS = ("mean", "last", "{window: N}")


def _suggest(word: str, allowed: list[str], label: str = "allowed") -> str:
    close = difflib.get_close_matches(word, allowed, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ";"
    return f"{hint} {label}: {', '.join(allowed) or 'none'}"


def _check_keys(where: str, given: dict, allowed: dict[str, Key]) -> None:
    for key in given:
        if key not in allowed:
            raise ConfigError(f"{where}.{key}: unknown key{_suggest(str(key), list(allowed))}")
    for key, spec in allowed.items():
        if spec.required and given.get(key) is None:
            help_ = f" ({spec.help})" if spec.help else ""
            raise ConfigError(f"{where}.{key}: required key is missing{help_}")


def _convert(where: str, value: Any, spec: Key, base: Path) -> Any:
    if value is None:
        if spec.default is None:
            return None
        value = copy.deepcopy(
            spec.default
        )  # defaults go through the same conversion (paths, schedules)
    kind = spec.kind
    checks: dict[str, Callable[[Any], bool]] = {
        "str": lambda v: isinstance(v, str | int | float) and not isinstance(v, bool),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "bool": lambda v: isinstance(v, bool),
        "path": lambda v: isinstance(v, str),
        "list": lambda v: isinstance(v, list),
        "map": lambda v: isinstance(v, dict),
        "fields": lambda v: isinstance(v, list | dict),
        "schedule": lambda v: isinstance(v, str),
        "date": lambda v: isinstance(v, str | datetime.date),
        "calendar": lambda v: isinstance(v, str),
        "any": lambda v: True,
    }
    if not checks[kind](value):
        raise ConfigError(f"{where}: expected a {kind}, got {type(value).__name__} {value!r}")
    if kind == "str":
        value = str(value)
    if kind == "date":  # YAML reads 2001-01-01 as a date; keep the text
        return value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else str(value)
    if spec.choices and value not in spec.choices:
        raise ConfigError(
            f"{where}: '{value}' is not allowed"
            + _suggest(str(value), list(spec.choices), "choices")
        )
    if kind == "path":
        return (base / Path(value).expanduser()).resolve()
    if kind == "schedule":
        return Schedule.parse(value, where)
    if kind == "calendar":
        try:
            return canonical_calendar(value)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    if kind == "fields":
        return _field_list(where, value)
    return value


FIELD_OPTIONS = {
    "units": Key("str"),
    "interpolate": Key("str", help="exports: 'monthly' = ELM-style mid-month interpolation"),
}


def _field_list(where: str, value: list | dict) -> dict[str, dict]:
    """Field lists may be names or {name: {units: ...}} (units checked by the registry)."""
    if isinstance(value, list):
        out: dict[str, dict] = {}
        for item in value:
            if not isinstance(item, str):
                raise ConfigError(f"{where}: field names must be strings, got {item!r}")
            out[item] = {}
        return out
    out = {}
    for name, opts in value.items():
        opts = opts or {}
        if not isinstance(opts, dict):
            raise ConfigError(f"{where}.{name}: expected a mapping like {{units: K}}, got {opts!r}")
        _check_keys(f"{where}.{name}", opts, FIELD_OPTIONS)
        if opts.get("interpolate") not in (None, "monthly"):
            raise ConfigError(
                f"{where}.{name}.interpolate: '{opts['interpolate']}' is not allowed; "
                "allowed: monthly"
            )
        out[str(name)] = dict(opts)
    return out


# --- the validated configuration -------------------------------------------------------


@dataclass
class StepConfig:
    """One validated `steps:` entry."""

    name: str
    transform: str | None
    onnx: Path | None
    schedule: Schedule
    grid: str | None
    halo: int
    params: dict
    inputs: Any
    outputs: Any
    aggregation: dict[str, str | WindowOf]
    state: dict[str, dict]
    device: str
    blend: dict | None = None


@dataclass
class Config:
    """A validated run configuration (sections as plain dicts of converted values)."""

    path: Path
    run: dict[str, Any]
    host: dict[str, Any]
    fine: dict[str, Any]
    remap: dict[str, Any]
    history: dict[str, Any]
    driver: dict[str, Any]
    restart: dict[str, Any]
    steps: list[StepConfig] = field(default_factory=list)
    grids: dict[str, dict[str, Any]] = field(default_factory=dict)  # 'fine' + grids: entries

    @property
    def calendar(self) -> str:
        return self.run["calendar"]

    def resolve(self, value: str) -> Path:
        """A path written in the config, relative to the config's folder."""
        return (self.path.parent / value).resolve()


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML configuration file."""
    shown = shorten(str(path))
    try:
        path = Path(path).expanduser()
        if path.is_dir():
            raise ConfigError(f"configuration file '{shown}' is a directory, not a YAML file")
        if not path.is_file():
            raise ConfigError(f"configuration file '{shown}' does not exist")
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(
            f"configuration file '{shown}' cannot be read: {exc.strerror or exc}"
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"configuration file '{shown}' is not a UTF-8 text (YAML) file: byte {exc.start} "
            "cannot be decoded"
        ) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{shown}: not valid YAML: {shorten(str(exc))}") from None
    except RecursionError:
        raise ConfigError(f"{shown}: the YAML is nested too deeply to be a configuration") from None
    return parse_config(raw or {}, path.resolve())


def parse_config(raw: dict, path: Path) -> Config:
    """Validate an already-parsed YAML mapping (`path` locates relative paths)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    allowed_sections = [*SCHEMA, "steps", "grids"]
    for section in raw:
        if section not in allowed_sections:
            raise ConfigError(
                f"{section}: unknown section{_suggest(str(section), allowed_sections)}"
            )
    base = path.parent
    sections: dict[str, dict[str, Any]] = {}
    for section, keys in SCHEMA.items():
        given = raw.get(section) or {}
        if not isinstance(given, dict):
            raise ConfigError(f"{section}: expected a mapping of keys, got {given!r}")
        _check_keys(section, given, keys)
        sections[section] = {
            key: _convert(f"{section}.{key}", given.get(key), spec, base)
            for key, spec in keys.items()
        }
    steps = _parse_steps(raw.get("steps") or [], base)
    grids = {"fine": sections["fine"], **_parse_grids(raw.get("grids") or {}, base)}
    _check_cross_references(sections, steps)
    _check_step_grids(steps, grids)
    return Config(path=path, steps=steps, grids=grids, **sections)


def _parse_grids(entries: Any, base: Path) -> dict[str, dict[str, Any]]:
    """`grids: {lc: {grid: ..., tile: [...], static: ...}}`: named fine grids, each checked
    like the `fine:` section (which stays the grid named 'fine')."""
    if not isinstance(entries, dict):
        raise ConfigError(f"grids: expected a mapping of grid names to grids, got {entries!r}")
    out: dict[str, dict[str, Any]] = {}
    for name, given in entries.items():
        where = f"grids.{name}"
        if name in ("fine", "host"):
            raise ConfigError(f"{where}: '{name}' is reserved (the fine: section, host columns)")
        if not isinstance(given, dict):
            raise ConfigError(f"{where}: expected a mapping of keys, got {given!r}")
        _check_keys(where, given, SCHEMA["fine"])
        out[str(name)] = {
            key: _convert(f"{where}.{key}", given.get(key), spec, base)
            for key, spec in SCHEMA["fine"].items()
        }
        _check_tile(f"{where}.tile", out[str(name)]["tile"])
    return out


def _check_step_grids(steps: list[StepConfig], grids: dict[str, dict[str, Any]]) -> None:
    allowed = ["host", *grids]
    for sc in steps:
        if sc.grid is not None and sc.grid not in allowed:
            raise ConfigError(
                f"steps.{sc.name}.grid: '{sc.grid}' is not a grid of this run"
                f"{_suggest(sc.grid, allowed)}"
            )


def _check_tile(where: str, tile: Any) -> None:
    if not (
        isinstance(tile, list)
        and len(tile) == 2
        and all(isinstance(t, int) and t > 0 for t in tile)
    ):
        raise ConfigError(f"{where}: expected two positive integers [ny, nx], got {tile!r}")


def _parse_steps(entries: Any, base: Path) -> list[StepConfig]:
    if not isinstance(entries, list):
        raise ConfigError("steps: expected a list of step entries")
    steps: list[StepConfig] = []
    seen: set[str] = set()
    for k, entry in enumerate(entries):
        where = f"steps[{k}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a mapping, got {entry!r}")
        if isinstance(entry.get("name"), str):
            where = f"steps.{entry['name']}"
        _check_keys(where, entry, STEP_KEYS)
        values = {
            key: _convert(f"{where}.{key}", entry.get(key), spec, base)
            for key, spec in STEP_KEYS.items()
        }
        if (values["transform"] is None) == (values["onnx"] is None):
            raise ConfigError(
                f"{where}: give exactly one of 'transform' (a name) or 'onnx' (a file)"
            )
        if values["halo"] < 0:
            raise ConfigError(
                f"{where}.halo: must be 0 or a positive number of fine cells, got {values['halo']}"
            )
        if values["name"] in seen:
            raise ConfigError(f"{where}.name: step name '{values['name']}' is used twice")
        seen.add(values["name"])
        values["aggregation"] = {
            name: _aggregation(f"{where}.aggregation.{name}", how)
            for name, how in values["aggregation"].items()
        }
        values["state"] = _state_overrides(f"{where}.state", values["state"], base)
        for e in values["inputs"] if isinstance(values["inputs"], list) else []:
            if isinstance(e, dict) and "init" in e:  # `from: previous` inputs' initial files
                e["init"] = resolve_init(e["init"], base)
        steps.append(StepConfig(**values))
    return steps


def _aggregation(where: str, how: Any) -> str | WindowOf:
    """'mean', 'last', or {window: N} (the last N interval means)."""
    if isinstance(how, dict) and set(how) == {"window"}:
        n = how["window"]
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ConfigError(f"{where}.window: expected a positive number of values, got {n!r}")
        return WindowOf(n)
    if how not in AGGREGATIONS[:2]:
        raise ConfigError(
            f"{where}: '{how}' is not allowed{_suggest(str(how), list(AGGREGATIONS), 'choices')}"
        )
    return how


def _state_overrides(where: str, given: dict, base: Path) -> dict[str, dict]:
    """{state name: {init: ...}}: how a step's declared state arrays start."""
    out = {}
    for name, opts in given.items():
        if not isinstance(opts, dict):
            raise ConfigError(f"{where}.{name}: expected a mapping like {{init: 0.0}}")
        _check_keys(f"{where}.{name}", opts, {"init": Key("any", required=True)})
        check_init(f"{where}.{name}.init", opts["init"])
        out[str(name)] = {"init": resolve_init(opts["init"], base)}
    return out


def _check_cross_references(sections: dict[str, dict[str, Any]], steps: list[StepConfig]) -> None:
    _check_tile("fine.tile", sections["fine"]["tile"])
    interval = sections["run"]["coupling_interval"]
    if interval is not None and interval <= 0:
        raise ConfigError(
            f"run.coupling_interval: must be a positive number of seconds, got {interval}"
        )
    if sections["run"]["onnx_threads"] < 1:
        raise ConfigError("run.onnx_threads: must be at least 1")
    for field_name, method in sections["remap"]["host_to_fine"].items():
        allowed = ("conservative", "bilinear", "nearest")
        if method not in allowed:
            raise ConfigError(
                f"remap.host_to_fine.{field_name}: '{method}' is not allowed"
                + _suggest(str(method), list(allowed), "choices")
            )
