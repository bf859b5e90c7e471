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
from coupler.finegrid import FineDomain
from coupler.grids.host import HostGrid
from coupler.grids.latlon import LatLonGrid
from coupler.history import History
from coupler.log import setup_logging
from coupler.pipeline import Pipeline, build_steps
from coupler.remapping import FineToHost, HostToFine
from coupler.restart import read_restart, write_restart
from coupler.state import ExportField, ImportField, as_host_array
from coupler.static import StaticFineData
from coupler.steps.base import Step, StepContext
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
            self.static = _open_static(cfg)
            self.steps: list[Step] = build_steps(cfg)
            self.pipeline = Pipeline(
                self.steps,
                cfg.steps,
                self.registry,
                cfg.host["imports"],
                cfg.host["exports"],
                set(self.static.variables) if self.static is not None else None,
            )
            self.history_fields = [self._history_field(n) for n in cfg.history["fields"]]
            self.host = _read_host_grid(comm, cfg.host["grid"], cfg.path)
            self.fine = None
            if self.pipeline.has_fine_steps:
                self.fine = FineDomain(
                    comm,
                    LatLonGrid.parse(cfg.fine["grid"]),
                    tuple(cfg.fine["tile"]),
                    self.static,
                    cfg.fine["mask"],
                    self.pipeline.static_needed,
                    self.pipeline.max_halo,
                )
            self.start = self._run_start()
            self.now: ModelTime | None = None
            self.last_run: dict[str, ModelTime] = {}
        if comm.rank == 0:
            self.log.info(
                "initialised '%s': %d host cells, %d step(s), %s",
                cfg.run["name"],
                self.host.n,
                len(self.steps),
                f"fine grid {self.fine.grid.spec} in {self.fine.tiling.ntiles} tiles"
                if self.fine
                else "no fine grid",
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
        cfg, fine = self.config, self.fine
        self.host_to_fine: dict[str, HostToFine] = {}
        self.fine_to_host: FineToHost | None = None
        if fine is None:
            return
        methods = {
            self._method(name)
            for step in self.steps
            if step.grid == "fine"
            for name, src in self.pipeline.sources[step.name].items()
            if src.kind in ("import", "host")
        }
        for method in sorted(methods):
            self.host_to_fine[method] = HostToFine(
                self.comm, self.host, self.ids0, fine, method, cfg.remap["host_to_fine_map"]
            )
        if self._fine_outputs_needed_on_host():
            self.fine_to_host = FineToHost(
                self.comm,
                self.host,
                self.ids0,
                fine,
                cfg.remap["normalization"],
                cfg.remap["fine_to_host_map"],
            )
            if cfg.remap["normalization"] == "fracarea":
                self.fine_to_host.check_covers(
                    self.host.mask[self.ids0], self.comm, self.host.source
                )

    def _method(self, name: str) -> str:
        """How a field goes host → fine (a map file, when given, serves every field)."""
        remap = self.config.remap
        if remap["host_to_fine_map"] is not None:
            return "map file"
        return remap["host_to_fine"].get(name, remap["host_to_fine_default"])

    def _host_consumers(self) -> set[str]:
        """Fields needed on the host grid: exports, history, inputs of host steps."""
        need = set(self.pipeline.exports) | set(self.history_fields)
        for step in self.steps:
            if step.grid == "host":
                need |= set(step.inputs)
        return need

    def _fine_outputs_needed_on_host(self) -> bool:
        need = self._host_consumers()
        return any(
            self.pipeline.producer[n][0].grid == "fine" for n in need if n in self.pipeline.producer
        )

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
        self.step_state: dict[str, dict[str, list[np.ndarray] | np.ndarray]] = {}
        for step in self.steps:
            if step.grid == "fine":
                self.step_state[step.name] = {
                    k: [np.full(td.tile.shape, v, np.float64) for td in self.fine.tiles]
                    for k, v in step.state.items()
                }
            else:
                self.step_state[step.name] = {
                    k: np.full(self.n_local, v, np.float64) for k, v in step.state.items()
                }
        self.history = History(self, self.history_fields, self.config.history)
        self._put_fields = _by_every_name(self.imports, self.registry)
        self._get_fields = _by_every_name(self.exports, self.registry)

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
            with self.agreement.phase("advance"):  # inputs checked on every rank, no change
                self.faults.hit("advance")
                previous = self._check_time(time)
                start = self.start if self.start is not None else previous
                first = self.now is None
                due = [s for s in self.steps if first or s.schedule.is_due(previous, time, start)]
                inputs = {s.name: self._collect_imports(s) for s in due}
            self.start = start
            try:
                for step in due:
                    with self.timers(f"advance/step:{step.name}"):
                        self._run_step(step, time, inputs[step.name])
                    self.last_run[step.name] = time
                    for name in self.pipeline.sources[step.name]:
                        if name in self.imports:
                            self.imports[name].consumed(step.name)
                self.now = time
                with self.timers("advance/history"):
                    self.history.after_advance(previous, time)
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
            if src.kind == "import"
        }

    def _run_step(self, step: Step, time: ModelTime, imported: dict[str, np.ndarray]) -> None:
        """Run one step; each rank's local work is agreed on before the next collective."""
        previous_run = self.last_run.get(step.name, self.start)
        if step.grid == "fine":
            self._run_fine_step(step, time, previous_run, imported)
        with self.agreement.phase("advance"):
            if step.grid == "host":
                self.faults.hit(f"step:{step.name}")
                self._run_host_step(step, time, previous_run, imported)
            for name in step.outputs:
                if name in self.exports:
                    self.exports[name].set(self.host_values[name], self.ids0)

    def _run_fine_step(self, step, time, previous_run, imported) -> None:
        fine = self.fine
        sources = self.pipeline.sources[step.name]
        per_tile = [dict() for _ in fine.tiles]
        by_method: dict[str, list[tuple[str, np.ndarray]]] = {}
        for name, src in sources.items():
            if src.kind in ("import", "host"):
                values = imported[name] if src.kind == "import" else self.host_values[name]
                by_method.setdefault(self._method(name), []).append((name, values))
            elif src.kind == "static":
                for t, td in enumerate(fine.tiles):
                    per_tile[t][name] = td.static[name]
            else:
                for t in range(len(fine.tiles)):
                    per_tile[t][name] = self.fine_values[name][t]
        with self.timers("advance/remap_host_to_fine"):
            for method, items in by_method.items():
                with self.agreement.phase("advance"):
                    self.faults.hit("remap")
                    stacked = np.concatenate([v for _, v in items], axis=0)
                tiles_out = self.host_to_fine[method](stacked)
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
        needed = self._host_consumers()
        with self.timers("advance/remap_fine_to_host"):
            for name, var in step.outputs.items():
                if name not in needed:
                    continue
                if var.kind == "categorical":
                    self.host_values[name] = self.fine_to_host.class_fractions(
                        outputs[name], var.levels
                    )
                else:
                    self.host_values[name] = self.fine_to_host(outputs[name], var.levels)

    def _run_tiles(self, step, time, previous_run, per_tile) -> dict[str, list[np.ndarray]]:
        """The step on every tile this rank owns (local work only): outputs per tile."""
        fine = self.fine
        state = self.step_state[step.name]
        outputs: dict[str, list[np.ndarray]] = {name: [] for name in step.outputs}
        for t, td in enumerate(fine.tiles):
            ctx = StepContext(time, previous_run, td.lat, td.lon, td.tile.id, fine.halo)
            tile_state = {k: v[t] for k, v in state.items()}
            out = step.run(per_tile[t], tile_state, ctx)
            for k in state:  # a step may replace rather than update its state arrays
                state[k][t] = tile_state[k]
            _check_step_output(step, out, td.tile.shape, f"tile {td.tile.id}", td.mask)
            for name in step.outputs:  # values over fine ocean are ignored: zero them
                outputs[name].append(np.where(td.mask, np.asarray(out[name], np.float64), 0.0))
        return outputs

    def _run_host_step(self, step, time, previous_run, imported) -> None:
        sources = self.pipeline.sources[step.name]
        inputs: dict[str, np.ndarray] = {}
        for name, src in sources.items():
            v = imported[name] if src.kind == "import" else self.host_values[name]
            inputs[name] = v[0] if v.shape[0] == 1 else v
        lat = self.host.center_lat[self.ids0]
        lon = self.host.center_lon[self.ids0]
        ctx = StepContext(time, previous_run, lat, lon, None, 0)
        out = step.run(inputs, self.step_state[step.name], ctx)
        _check_step_output(step, out, (self.n_local,), "host columns")
        for name in step.outputs:
            v = np.asarray(out[name], np.float64)
            self.host_values[name] = v.reshape(step.outputs[name].levels, self.n_local)

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
            report = self.timers.report(self.comm)
            if self.comm.rank == 0 and report:
                self.log.info("timers (seconds):\n%s", report)
        finally:
            self._phase = "finalized"


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
        finite = np.isfinite(a) if land is None else np.isfinite(a) | ~land
        if not np.all(finite):
            bad = int(np.count_nonzero(~finite))
            raise ModelError(
                f"step '{step.name}' produced {bad} NaN/Inf value(s) of {name} ({where})"
            )


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


def _open_static(cfg: Config) -> StaticFineData | None:
    return None if cfg.fine["static"] is None else StaticFineData(cfg.fine["static"])


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
