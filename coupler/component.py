"""The landemu component: what a host talks to, one instance per MPI rank.

Phases map one-to-one onto a NUOPC cap's (and onto the C API):

    Component(comm, config)        init            read config, host grid, static tiles
    .set_decomposition(ids)        realize         host cells of this rank, remaps, state
    .put(name, values)             import          checked, accumulated for consumers
    .advance(time)                 advance         run due steps, remap, fill exports
    .get(name, out)                export          checked copy into the host's buffer
    .write_restart(path)           checkpoint
    .finalize()                    finalize        close history, report timers

A call in the wrong phase is a CallOrderError. Inputs are validated before any state
changes, so after an error in put/get/advance-input checks the host can fix its call and go
on; an error *inside* a step (an emulator producing NaN, say) stops the component, and
later calls say so.
"""

from __future__ import annotations

import os
from pathlib import Path
from time import perf_counter_ns

import numpy as np

from coupler.agreement import Agreement
from coupler.clock import ModelTime
from coupler.config import Config, load_config
from coupler.decomposition import check_host_decomposition
from coupler.errors import (
    CallOrderError,
    ConfigError,
    FieldError,
    LandemuError,
    ModelError,
    shorten,
)
from coupler.faults import Faults
from coupler.fields import FieldRegistry
from coupler.finegrid import FineDomain, TileData
from coupler.finehistory import FineHistory
from coupler.finemaps import FineMaps, FineWiring
from coupler.grids.host import HostGrid
from coupler.grids.latlon import LatLonGrid
from coupler.history import History
from coupler.interpolation import MonthlyInterpolation
from coupler.log import setup_logging
from coupler.persistence import Persistent, item, mapping_time, optional_item, time_scalar
from coupler.pipeline import Pipeline, build_steps
from coupler.remapping import FineToHost, HostToFine
from coupler.restart import read_restart, write_restart
from coupler.reuse import unreferenced
from coupler.state import SEP, ExportField, ImportField, as_host_array
from coupler.static import StaticFineData
from coupler.steps.base import Step, StepContext
from coupler.stepstate import allocate_fine, allocate_host, as_state_var, checked_update
from coupler.timers import Timers

CALL_ORDER = "init → set_decomposition → (put … → advance → get …)* → write_restart/finalize"


class Component:
    """landemu on one MPI rank of the host's communicator."""

    def __init__(self, comm, config: str | Path | Config) -> None:
        self.comm = comm
        self.timers = Timers()
        self._phase = "init"
        self._broken: str | None = None
        self.agreement = Agreement(comm)
        self.faults = Faults.from_environment(comm.rank)
        with self.timers("init"):
            self.config = config if isinstance(config, Config) else load_config(config)
            cfg = self.config
            self.output_dir = Path(cfg.run["output_dir"])
            with self.agreement.phase("init"):
                if comm.rank == 0:
                    make_output_dir(self.output_dir)
            per_rank = self.output_dir / "logs" if cfg.run["per_rank_logs"] else None
            self.log = setup_logging(comm.rank, cfg.run["log_level"], per_rank)
            self.on_error = cfg.run["on_error"]
            self.registry = FieldRegistry.default()
            statics = {g: _open_static(section) for g, section in cfg.grids.items()}
            self.static = statics["fine"]
            self.steps: list[Step] = build_steps(cfg)
            self.pipeline = Pipeline(
                self.steps,
                cfg.steps,
                self.registry,
                cfg.host["imports"],
                cfg.host["exports"],
                {g: set(st.variables) if st is not None else None for g, st in statics.items()},
            )
            self.history_fields = [self._history_field(n) for n in cfg.history["fields"]]
            self.interpolated_exports = self._interpolated_exports()
            self.host = _read_host_grid(comm, cfg.host["grid"], cfg.path)
            for step in self.steps:  # blended windows: the halo follows from the tiles
                if getattr(step, "blend", None) is not None:
                    grid = LatLonGrid.parse(cfg.grids[step.grid]["grid"])
                    step.fit_halo(grid.shape, tuple(cfg.grids[step.grid]["tile"]))
            self.fines: dict[str, FineDomain] = {  # the fine grids some step runs on
                g: FineDomain(
                    comm,
                    LatLonGrid.parse(cfg.grids[g]["grid"]),
                    tuple(cfg.grids[g]["tile"]),
                    statics[g],
                    cfg.grids[g]["mask"],
                    self.pipeline.static_on.get(g, set()),
                    self.pipeline.halo_on(g),
                )
                for g in self.pipeline.fine_grids
            }
            self.fine = self.fines.get("fine")
            history = cfg.history
            self.fine_history = FineHistory(self, history["fine_fields"], history["fine_region"])
            self.start = self._run_start()
            self.now: ModelTime | None = None
            self.last_run: dict[str, ModelTime] = {}
        if comm.rank == 0:
            self.log.info(
                "initialised '%s': %d host cells, %d step(s), %s",
                cfg.run["name"],
                self.host.n,
                len(self.steps),
                ", ".join(
                    f"fine grid '{g}' {f.grid.spec} in {f.tiling.ntiles} tiles"
                    for g, f in self.fines.items()
                )
                or "no fine grid",
            )

    # ----------------------------------------------------------------------------------
    # helpers used at init
    def _history_field(self, name: str) -> str:
        canonical = self.registry.canonical(name)
        known = set(self.pipeline.imports) | set(self.pipeline.producer)
        if canonical not in known:
            raise ConfigError(
                f"history.fields: {name} is neither a host import nor produced by a step "
                f"(available: {', '.join(sorted(known))})"
            )
        return canonical

    def _interpolated_exports(self) -> list[str]:
        """Exports with `interpolate: monthly`; their producers must run monthly."""
        out = []
        for name, opts in self.config.host["exports"].items():
            if opts.get("interpolate") != "monthly":
                continue
            canonical = self.registry.canonical(name)
            step = self.pipeline.producer[canonical][0]
            if step.schedule.kind != "monthly":
                raise ConfigError(
                    f"host.exports.{name}.interpolate: monthly interpolation needs a monthly "
                    f"producer, but step '{step.name}' runs {step.schedule}"
                )
            out.append(canonical)
        return out

    def _run_start(self) -> ModelTime | None:
        run = self.config.run
        if run["start"] is not None:
            try:
                return ModelTime.parse(run["start"], self.config.calendar)
            except LandemuError as exc:
                raise ConfigError(f"run.start: {exc}") from None
        if run["coupling_interval"] is None:
            raise ConfigError(
                "run: give run.start (the model time before the first advance) or "
                "run.coupling_interval (seconds), so the first step knows its interval"
            )
        return None

    @property
    def calendar(self) -> str:
        return self.config.calendar

    # ----------------------------------------------------------------------------------
    # phase checks
    def _require(self, call: str, *phases: str) -> None:
        if self._broken:
            raise CallOrderError(f"{call}: landemu stopped after an earlier error: {self._broken}")
        if self._phase not in phases:
            needs = {
                "init": "before set_decomposition",
                "decomposed": "after set_decomposition",
                "finalized": "after finalize",
            }
            raise CallOrderError(
                f"{call} is not allowed {needs.get(self._phase, 'now')}; call order: {CALL_ORDER}"
            )

    # ----------------------------------------------------------------------------------
    # realize
    def set_decomposition(self, global_ids: np.ndarray) -> None:
        """Take the host's 1-based global ids of the cells this rank owns; build remaps."""
        self._require("set_decomposition", "init")
        with self.timers("set_decomposition"):
            ids0 = check_host_decomposition(
                self.comm, global_ids, self.host.n, self.host.mask, self.host.source
            )
            self.ids0 = ids0
            self.n_local = int(ids0.size)
            self._build_remaps()
            self._build_state()
            if self.config.restart["read"] is not None:
                read_restart(self, self.config.restart["read"])
        self._phase = "decomposed"

    def _build_remaps(self) -> None:
        cfg = self.config
        self.host_to_fine: dict[tuple[str, str], HostToFine] = {}
        self.fine_to_hosts: dict[str, FineToHost] = {}
        self.fine_to_host: FineToHost | None = None
        wiring = FineWiring(self.steps, self.pipeline.sources)
        for grid, method in wiring.host_to_fine(self._method):
            map_file = self._map_file("host_to_fine_map", grid)
            self.host_to_fine[grid, method] = HostToFine(
                self.comm, self.host, self.ids0, self.fines[grid], method, map_file
            )
        need = self._host_consumers()
        for grid in wiring.fine_to_host(self.pipeline.producer, need):
            f2h = FineToHost(
                self.comm,
                self.host,
                self.ids0,
                self.fines[grid],
                cfg.remap["normalization"],
                self._map_file("fine_to_host_map", grid),
            )
            if cfg.remap["normalization"] == "fracarea":
                f2h.check_covers(self.host.mask[self.ids0], self.comm, self.host.source)
            self.fine_to_hosts[grid] = f2h
        self.fine_to_host = self.fine_to_hosts.get("fine")
        self.fine_maps = FineMaps(self.comm, self.fines, wiring)

    def _map_file(self, key: str, grid: str) -> Path | None:
        """A map file of remap: serves the default fine grid only (named grids need a
        lat-lon host, whose weights are generated)."""
        path = self.config.remap[key]
        if path is not None and grid != "fine" and self.host.latlon is None:
            raise ConfigError(
                f"remap.{key}: map files serve the fine: grid; grid '{grid}' needs a regular "
                "lat-lon host grid (weights generated exactly)"
            )
        return path if grid == "fine" else None

    def _method(self, name: str, grid: str = "fine") -> str:
        """How a field goes host → fine (a map file, when given, serves every field)."""
        remap = self.config.remap
        if remap["host_to_fine_map"] is not None and grid == "fine":
            return "map file"
        return remap["host_to_fine"].get(name, remap["host_to_fine_default"])

    def _host_consumers(self) -> set[str]:
        """Fields needed on the host grid: exports, history, inputs of host steps."""
        need = set(self.pipeline.exports) | set(self.history_fields)
        for step in self.steps:
            if step.grid == "host":
                need |= set(step.inputs)
        return need

    def _build_state(self) -> None:
        p = self.pipeline
        self.imports: dict[str, ImportField] = {}
        for name in p.imports:
            consumers = dict(p.import_consumers[name])
            if name in self.history_fields:
                consumers["history"] = "mean"
            if not consumers:
                self.log.warning("host import %s is not used by any step or history", name)
            self.imports[name] = ImportField(p.spec(name), self.n_local, consumers)
        active = self.host.mask[self.ids0] != 0
        self.exports = {
            name: ExportField(p.spec(name), self.n_local, p.producer[name][0].name, active)
            for name in p.exports
        }
        self.host_values: dict[str, np.ndarray] = {}  # latest host-grid value of step outputs
        self.fine_values: dict[str, list[np.ndarray]] = {}  # fine step outputs per tile
        # state arrays each step declared, and its own previous outputs (`from: previous`)
        self.step_state = {s.name: self._allocate(s, s.state) for s in self.steps}
        self.previous = {s.name: self._allocate(s, s.previous) for s in self.steps}
        self.interpolation = {
            name: MonthlyInterpolation(p.spec(name).levels, self.n_local)
            for name in self.interpolated_exports
        }
        self.history = History(self, self.history_fields, self.config.history)
        self._put_fields = _by_every_name(self.imports, self.registry)
        self._get_fields = _by_every_name(self.exports, self.registry)

    def _allocate(self, step: Step, declared: dict) -> dict:
        """Arrays for declared state, on the step's tiles or this rank's host columns."""
        out = {}
        for name, value in declared.items():
            var, where = as_state_var(value), f"steps.{step.name} state {name}"
            if step.on_fine_grid:
                out[name] = allocate_fine(where, var, self.fines[step.grid])
            else:
                out[name] = allocate_host(where, var, self.ids0, self.host.n)
        return out

    def persistent(self) -> list[Persistent]:
        """Everything the next step needs, as declared by its owners (for restart files)."""
        out = [time_scalar("now", self, "now"), time_scalar("start", self, "start")]
        for step in self.steps:
            out.append(
                mapping_time(f"last_run{SEP}{step.name}", self.last_run, step.name, self.calendar)
            )
        for name, field in self.imports.items():
            out += field.persistent(f"import{SEP}{name}")
        for name, field in self.exports.items():
            out += field.persistent(f"export{SEP}{name}")
        out += self.history.persistent()
        for step in self.steps:
            for kind, arrays, declared in (
                ("state", self.step_state, step.state),
                ("previous", self.previous, step.previous),
            ):
                for name, value in declared.items():
                    var = as_state_var(value)
                    key = f"{kind}{SEP}{step.name}{SEP}{name}"
                    where = "fine" if step.on_fine_grid else "host"
                    out.append(
                        item(key, where, arrays[step.name], name, var.shape, var.dtype, step.grid)
                    )
        for name, interpolation in self.interpolation.items():
            out += interpolation.persistent(f"interpolation{SEP}{name}")
        out += self._persistent_outputs()
        return out

    def _persistent_outputs(self) -> list[Persistent]:
        """Step outputs a later advance may read before their producer runs again."""
        out: list[Persistent] = []
        on_host = self._host_consumers()
        read_on_fine = {
            name
            for sources in self.pipeline.sources.values()
            for name, src in sources.items()
            if src.kind == "fine"
        }
        for name, (step, var) in self.pipeline.producer.items():
            if step.grid == "host" or name in on_host:
                shape = (var.levels, self.n_local)
                out += optional_item(
                    f"hostvalue{SEP}{name}",
                    "host",
                    self.host_values,
                    name,
                    (var.levels,),
                    lambda shape=shape: np.zeros(shape),
                )
            if step.on_fine_grid and name in read_on_fine:
                nlev = 1 if var.kind == "categorical" else var.levels
                tiles = self.fines[step.grid].tiles
                out += optional_item(
                    f"finevalue{SEP}{name}",
                    "fine",
                    self.fine_values,
                    name,
                    (nlev,),
                    lambda nlev=nlev, tiles=tiles: [
                        np.zeros((nlev, *td.tile.shape)) for td in tiles
                    ],
                    step.grid,
                )
        return out

    # ----------------------------------------------------------------------------------
    # import / export
    def _import(self, call: str, name: str) -> ImportField:
        canonical = self.registry.canonical(name)
        field = self.imports.get(canonical) if canonical else None
        if field is None:
            if canonical is None:
                self.registry[name]  # unknown everywhere: FieldError with suggestions
            raise FieldError(
                f"{call} {name}: not a host import of this configuration "
                f"(host.imports: {', '.join(self.imports) or 'none'})"
            )
        return field

    # put and get run many times per coupling step: the field is looked up by the exact
    # name the host uses (aliases included, cached at set_decomposition) and timed
    # without a context manager; anything unusual takes the slow path with its messages.
    def put(self, name: str, values: np.ndarray) -> None:
        """Hand landemu this rank's values of an import: (nlev, n_local) or (n_local,)."""
        t0 = perf_counter_ns()
        field = self._put_fields.get(name) if self._ready else None
        if field is None:
            self._require(f"put {name}", "decomposed")
            field = self._import("put", name)
        if self.faults.phase == "put":
            self.faults.hit("put")
        field.put(as_host_array(values, field.spec, self.n_local, "put"), self.ids0)
        self.timers.add("put", perf_counter_ns() - t0)

    def get(self, name: str, out: np.ndarray) -> None:
        """Fill the host's buffer `out` ((nlev, n_local) or (n_local,)) with an export."""
        t0 = perf_counter_ns()
        field = self._get_fields.get(name) if self._ready else None
        if field is None:
            self._require(f"get {name}", "decomposed")
            field = self._export("get", name)
        field.get(as_host_array(out, field.spec, self.n_local, "get"))
        self.timers.add("get", perf_counter_ns() - t0)

    @property
    def _ready(self) -> bool:
        return self._phase == "decomposed" and self._broken is None

    def _export(self, call: str, name: str) -> ExportField:
        canonical = self.registry.canonical(name)
        field = self.exports.get(canonical) if canonical else None
        if field is None:
            if canonical is None:
                self.registry[name]  # unknown everywhere: FieldError with suggestions
            raise FieldError(
                f"{call} {name}: not an export of this configuration "
                f"(host.exports: {', '.join(self.exports) or 'none'})"
            )
        return field

    def field_axes(self, name: str) -> tuple[tuple[str, int], ...]:
        """Named level axes of a field of this run, Fortran order (() if none or unknown)."""
        direction, _ = self.field_info(name)
        return self.registry[name].axes if direction is not None else ()

    def field_info(self, name: str) -> tuple[str | None, int]:
        """('import' | 'export' | None, levels) for a field name or alias."""
        canonical = self.registry.canonical(name)
        if canonical in self.pipeline.imports:
            return "import", self.registry[canonical].levels
        if canonical in self.pipeline.exports:
            return "export", self.registry[canonical].levels
        return None, self.registry[canonical].levels if canonical else 0

    # ----------------------------------------------------------------------------------
    # advance
    def advance(self, time: ModelTime) -> None:
        """Advance to `time`: run every step whose schedule has a boundary in (now, time]."""
        self._require("advance", "decomposed")
        with self.timers("advance"):
            # inputs checked on every rank, no change; the timer includes the wait for the
            # slowest rank (the host's own imbalance shows here)
            with self.timers("advance/inputs"), self.agreement.phase("advance"):
                self.faults.hit("advance")
                previous = self._check_time(time)
                start = self.start if self.start is not None else previous
                first = self.now is None
                due = [s for s in self.steps if first or s.schedule.is_due(previous, time, start)]
                for field in self.imports.values():
                    field.check_windows()
                inputs = {s.name: self._collect_imports(s) for s in due}
            self.start = start
            for field in self.imports.values():
                field.push_windows()
            for s in due:
                inputs[s.name].update(self._collect_windows(s))
            try:
                for step in due:
                    with self.timers(f"advance/step:{step.name}"):
                        self._run_step(step, time, inputs[step.name])
                    self.last_run[step.name] = time
                    for name in self.pipeline.sources[step.name]:
                        if name in self.imports:
                            self.imports[name].consumed(step.name)
                for name, interpolation in self.interpolation.items():
                    self.exports[name].set(interpolation.value(time), self.ids0)
                self.now = time
                with self.timers("advance/history"):
                    self.history.after_advance(previous, time)
                    self.fine_history.after_advance(due, time)
            except LandemuError as exc:
                self._broken = str(exc)
                raise
            if self.config.restart["frequency"] is not None and self.config.restart[
                "frequency"
            ].is_due(previous, time, self.start):
                self.write_restart()

    def _check_time(self, time: ModelTime) -> ModelTime:
        """Validate the advance time; return the time before it."""
        if time.calendar != self.calendar:
            raise LandemuError(
                f"advance: time in the {time.calendar} calendar, run is {self.calendar}"
            )
        interval = self.config.run["coupling_interval"]
        previous = self.now if self.now is not None else self.start
        if previous is None:
            previous = time + (-interval)
        if time <= previous:
            raise LandemuError(f"advance to {time}: not after the current model time {previous}")
        if interval is not None and time - previous != interval:
            raise LandemuError(
                f"advance to {time}: {time - previous} s after {previous}, but "
                f"run.coupling_interval is {interval} s"
            )
        return previous

    def _collect_imports(self, step: Step) -> dict[str, np.ndarray]:
        return {
            name: self.imports[name].value_for(step.name)
            for name, src in self.pipeline.sources[step.name].items()
            if src.kind == "import" and step.name not in self.imports[name].windows
        }

    def _collect_windows(self, step: Step) -> dict[str, np.ndarray]:
        return {
            name: self.imports[name].value_for(step.name)
            for name, src in self.pipeline.sources[step.name].items()
            if src.kind == "import" and step.name in self.imports[name].windows
        }

    def _run_step(self, step: Step, time: ModelTime, imported: dict[str, np.ndarray]) -> None:
        """Run one step; each rank's local work is agreed on before the next collective."""
        previous_run = self.last_run.get(step.name, self.start)
        if step.on_fine_grid:
            self._run_fine_step(step, time, previous_run, imported)
        with self.agreement.phase("advance"):
            if not step.on_fine_grid:
                self.faults.hit(f"step:{step.name}")
                self._run_host_step(step, time, previous_run, imported)
            for name in step.outputs:
                if name in self.interpolation:
                    self.interpolation[name].update(self.host_values[name], time)
                elif name in self.exports:
                    self.exports[name].set(self.host_values[name], self.ids0)

    def _run_fine_step(self, step, time, previous_run, imported) -> None:
        fine = self.fines[step.grid]
        sources = self.pipeline.sources[step.name]
        per_tile = [dict() for _ in fine.tiles]
        by_method: dict[str, list[tuple[str, np.ndarray]]] = {}
        for name, src in sources.items():
            if src.kind in ("import", "host"):
                values = imported[name] if src.kind == "import" else self.host_values[name]
                by_method.setdefault(self._method(name, step.grid), []).append((name, values))
            elif src.kind == "static":
                for t, td in enumerate(fine.tiles):
                    per_tile[t][name] = td.static[name]
            elif src.kind == "previous" and fine.halo == 0:
                for t in range(len(fine.tiles)):
                    per_tile[t][name] = _single(self.previous[step.name][name][t])
            elif src.kind == "previous":  # with the halo, from the neighbours' previous
                prev = self.previous[step.name][name]
                nvar = int(np.prod(as_state_var(step.previous[name]).shape))
                with self.timers("advance/halo_exchange"):
                    tiles = self.fine_maps.halo[step.grid](prev, nvar)
                for t in range(len(fine.tiles)):
                    per_tile[t][name] = _single(tiles[t])
            else:
                with self.timers("advance/remap_fine_to_fine"):
                    var = self.pipeline.producer[name][1]
                    tiles = self.fine_maps.read(self.fine_values[name], src, step, var)
                for t in range(len(fine.tiles)):
                    per_tile[t][name] = tiles[t]
        with self.timers("advance/remap_host_to_fine"):
            for method, items in by_method.items():
                with self.agreement.phase("advance"):
                    self.faults.hit("remap")
                    stacked = np.concatenate([v for _, v in items], axis=0)
                tiles_out = self.host_to_fine[step.grid, method](stacked)
                for t, arr in enumerate(tiles_out):
                    k = 0
                    for name, v in items:
                        n = v.shape[0]
                        per_tile[t][name] = arr[k] if n == 1 else arr[k : k + n]
                        k += n
        with self.agreement.phase("advance"):
            self.faults.hit(f"step:{step.name}")
            with self.timers(f"advance/tiles:{step.name}"):
                outputs = self._run_tiles(step, time, previous_run, per_tile)
        for name in step.outputs:
            self.fine_values[name] = outputs[name]
        for name, tiles in self.previous[step.name].items():
            for t, values in enumerate(outputs[name]):
                tiles[t] = values.reshape(tiles[t].shape).astype(tiles[t].dtype)
        needed = self._host_consumers()
        to_host = self.fine_to_hosts.get(step.grid)
        with self.timers("advance/remap_fine_to_host"):
            for name, var in step.outputs.items():
                if name not in needed:
                    continue
                if var.kind == "categorical":
                    self.host_values[name] = to_host.class_fractions(outputs[name], var.levels)
                else:
                    self.host_values[name] = to_host(outputs[name], var.levels)

    def _run_tiles(self, step, time, previous_run, per_tile) -> dict[str, list[np.ndarray]]:
        """The step on every tile this rank owns (local work only): outputs per tile."""
        fine = self.fines[step.grid]
        state = self.step_state[step.name]
        outputs: dict[str, list[np.ndarray]] = {name: [] for name in step.outputs}
        h = fine.halo
        ctxs = [
            StepContext(
                time, previous_run, td.lat, td.lon, td.tile.id, h, (td.tile.j0 - h, td.tile.i0 - h)
            )
            for td in fine.tiles
        ]
        tile_states = [{k: v[t] for k, v in state.items()} for t in range(len(fine.tiles))]
        results = step.run_tiles(per_tile, tile_states, ctxs)  # may batch across tiles
        if not isinstance(results, list) or len(results) != len(fine.tiles):
            raise ModelError(
                f"step '{step.name}': run_tiles returned {type(results).__name__}, expected a "
                f"list of {len(fine.tiles)} dicts (one per tile)"
            )
        for t, (td, out) in enumerate(zip(fine.tiles, results, strict=True)):
            for k in state:  # a step may replace rather than update its state arrays
                where = f"step '{step.name}' state {k} (tile {td.tile.id})"
                state[k][t] = checked_update(where, tile_states[t][k], state[k][t])
            _check_step_output(step, out, td.tile.shape, f"tile {td.tile.id}", td.mask)
            for name in step.outputs:  # values over fine ocean are ignored: zero them
                spare = unreferenced(self.fine_values.get(name, []), t)
                outputs[name].append(_zero_ocean(out[name], td, spare))
        return outputs

    def _run_host_step(self, step, time, previous_run, imported) -> None:
        sources = self.pipeline.sources[step.name]
        inputs: dict[str, np.ndarray] = {}
        for name, src in sources.items():
            if src.kind == "import" and step.name in self.imports[name].windows:
                v = imported[name]  # (T, nlev, n)
                inputs[name] = v[:, 0] if v.shape[1] == 1 else v
                continue
            if src.kind == "previous":
                inputs[name] = self.previous[step.name][name]
                continue
            v = imported[name] if src.kind == "import" else self.host_values[name]
            inputs[name] = v[0] if v.shape[0] == 1 else v
        lat = self.host.center_lat[self.ids0]
        lon = self.host.center_lon[self.ids0]
        ctx = StepContext(time, previous_run, lat, lon, None, 0)
        state = self.step_state[step.name]
        declared = dict(state)  # a step may replace its arrays: check them against these
        out = step.run(inputs, state, ctx)
        for k, old in declared.items():
            state[k] = checked_update(f"step '{step.name}' state {k}", state[k], old)
        _check_step_output(step, out, (self.n_local,), "host columns")
        for name in step.outputs:
            v = np.asarray(out[name], np.float64)
            self.host_values[name] = v.reshape(step.outputs[name].levels, self.n_local)
        for name, prev in self.previous[step.name].items():
            prev[...] = self.host_values[name].reshape(prev.shape)

    # ----------------------------------------------------------------------------------
    # checkpoint / finalize
    def write_restart(self, path: str | Path | None = None) -> Path:
        """Write everything the next step needs to a netCDF restart file (collective)."""
        self._require("write_restart", "decomposed")
        with self.timers("write_restart"):
            return write_restart(self, path)

    def finalize(self) -> None:
        """Close history files and print the timers (collective; finalized even on error)."""
        if self._phase == "finalized":
            raise CallOrderError("finalize: landemu is already finalized")
        try:
            with self.agreement.phase("finalize"):
                self.faults.hit("finalize")
                if self._phase == "decomposed":
                    self.history.close()
                    self.fine_history.close()
            report = self.timers.report(self.comm)
            if self.comm.rank == 0 and report:
                self.log.info("timers (seconds):\n%s", report)
        finally:
            self._phase = "finalized"


def _single(a: np.ndarray) -> np.ndarray:
    """A single-level array is handed to steps without its level axis."""
    return a[0] if a.ndim == 3 and a.shape[0] == 1 else a


def _zero_ocean(values: np.ndarray, td: TileData, into: np.ndarray | None = None) -> np.ndarray:
    """A float64 copy of a tile's output (…, ny, nx) with 0.0 on the tile's ocean cells:
    np.where(mask, values, 0.0) without the masked pass over land (same bits). Written to
    `into` when it has the shape (an unreferenced array: fresh memory costs page faults)."""
    values = np.asarray(values)
    if (
        into is not None
        and into.shape == values.shape
        and into.dtype == np.float64
        and into.flags.c_contiguous
    ):
        out = into
        np.copyto(out, values, casting="unsafe")
    else:
        out = np.array(values, np.float64, order="C")
    if td.ocean.size:
        out.reshape(-1, td.mask.size)[:, td.ocean] = 0.0
    return out


def _by_every_name(fields: dict, registry: FieldRegistry) -> dict:
    """{name or alias: field} for the fast lookups of put and get."""
    out = {}
    for name, field in fields.items():
        for alias in (name, *registry[name].aliases):
            out[alias] = field
    return out


def _check_step_output(
    step: Step, out: dict, shape: tuple[int, ...], where: str, land: np.ndarray | None = None
) -> None:
    """Every declared output, with the right shape and finite values where they count (on
    fine land cells, or everywhere on host columns); else ModelError."""
    if not isinstance(out, dict):
        raise ModelError(
            f"step '{step.name}' returned {type(out).__name__}, expected a dict of arrays"
        )
    for name, var in step.outputs.items():
        if name not in out:
            raise ModelError(f"step '{step.name}' returned no {name} ({where})")
        a = np.asarray(out[name])
        want = shape if (var.levels == 1 or var.kind == "categorical") else (var.levels, *shape)
        if a.shape != want and not (var.levels == 1 and a.shape == (1, *shape)):
            raise ModelError(
                f"step '{step.name}' returned {name} with shape {a.shape}, "
                f"expected {want} ({where})"
            )
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(a.sum()):  # a finite sum: every value is finite (one pass)
                continue
        finite = np.isfinite(a) if land is None else np.isfinite(a) | ~land
        if not np.all(finite):
            bad = int(np.count_nonzero(~finite))
            raise ModelError(
                f"step '{step.name}' produced {bad} NaN/Inf value(s) of {name} ({where})"
            )


def _open_static(grid_section: dict) -> StaticFineData | None:
    """The static file of one fine grid (the fine: section or a grids: entry), if any."""
    path = grid_section["static"]
    return None if path is None else StaticFineData(path)


def make_output_dir(path: Path) -> None:
    """Create run.output_dir (root), or say why it cannot be used (ConfigError)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"run.output_dir '{shorten(str(path), 200)}' cannot be used: {exc.strerror or exc}"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"run.output_dir '{shorten(str(path), 200)}' is not writable")


def _read_host_grid(comm, spec: str, config_path: Path):
    """Root reads the host grid (coarse: small) and broadcasts it."""
    grid, error = None, None
    if comm.rank == 0:
        try:
            if spec.strip().lower().startswith("latlon:"):
                grid = HostGrid.from_latlon(LatLonGrid.parse(spec))
            else:
                path = (config_path.parent / spec).resolve()
                grid = HostGrid.from_file(path)
        except LandemuError as exc:
            error = exc
    grid, error = comm.bcast((grid, error), root=0)
    if error is not None:
        raise error
    return grid
