"""Pipeline wiring: which step reads what from where, checked once at init.

Every step input is resolved, in this order, to
  'fine'   – an output of an earlier step on a fine grid (the default 'fine' or a named one:
             on another grid it is remapped; a categorical output is read as class
             fractions by a continuous input with one level per class, or as the majority
             class by a categorical input; with halo > 0 the halo comes from the neighbours),
  'host'   – an output of an earlier step on the host grid,
  'import' – a field the host puts (time-aggregated per the step's `aggregation`: mean,
             last, or a window of the last N interval means for host steps),
  'static' – a variable of the static file of the step's fine grid (fine steps only),
  'previous' – the step's own output from its previous run (`from: previous`; before
             the first run, the declared initial value).
Units and levels must agree everywhere; every export must have a producer. A mistake is a
ConfigError naming the step, the field and what was expected — before the first advance.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from coupler.config import Config, StepConfig
from coupler.errors import ConfigError
from coupler.fields import FieldRegistry, FieldSpec
from coupler.steps.base import Step, Var
from coupler.stepstate import as_state_var, static_vars_needed
from coupler.windows import WindowOf


@dataclass(frozen=True)
class Source:
    """Where a step input comes from."""

    kind: str  # 'fine' | 'host' | 'import' | 'static' | 'previous'
    producer: str | None = None
    grid: str | None = None  # 'fine': the producer's fine grid
    categories: str = "codes"  # categorical 'fine' input: codes | fractions | majority


def build_steps(config: Config) -> list[Step]:
    """Instantiate the configured steps (transforms by registry name, ONNX by file)."""
    steps: list[Step] = []
    for sc in config.steps:
        if sc.transform is not None:
            steps.append(_build_transform(sc))
        else:
            from coupler.steps.onnx_step import OnnxStep

            steps.append(OnnxStep.from_config(sc, threads=config.run["onnx_threads"]))
    return steps


def _build_transform(sc: StepConfig) -> Step:
    from emulators.transforms import lookup

    try:
        cls = lookup(sc.transform)
    except KeyError as exc:
        raise ConfigError(f"steps.{sc.name}.transform: {exc.args[0]}") from None
    for key in ("inputs", "outputs"):
        if getattr(sc, key) is not None:
            raise ConfigError(
                f"steps.{sc.name}.{key}: transform '{sc.transform}' declares its own {key}; "
                "remove this key"
            )
    step = cls(name=sc.name, schedule=sc.schedule, params=sc.params, grid=sc.grid, halo=sc.halo)
    for name, opts in sc.state.items():
        if name not in step.state:
            raise ConfigError(
                f"steps.{sc.name}.state.{name}: transform '{sc.transform}' has no state {name} "
                f"(its state: {', '.join(step.state) or 'none'})"
            )
        step.state[name] = replace(as_state_var(step.state[name]), init=opts["init"])
    return step


class Pipeline:
    """The validated wiring of steps, imports, static fields and exports."""

    def __init__(
        self,
        steps: list[Step],
        step_configs: list[StepConfig],
        registry: FieldRegistry,
        imports: dict[str, dict],
        exports: dict[str, dict],
        static_vars: set[str] | dict[str, set[str] | None] | None,
    ) -> None:
        self.steps = steps
        self.registry = registry
        self.imports = {self._canonical("host.imports", n): opts for n, opts in imports.items()}
        for n, opts in imports.items():
            registry.check_units(f"host.imports.{n}", n, opts.get("units"))
        self.aggregation = {sc.name: sc.aggregation for sc in step_configs}
        self.sources: dict[str, dict[str, Source]] = {}
        self.producer: dict[str, tuple[Step, Var]] = {}
        if not isinstance(static_vars, dict):  # one fine grid: its static variables
            static_vars = {"fine": static_vars}
        self.static_on: dict[str, set[str]] = {}  # static variables needed, per fine grid
        self.import_consumers: dict[str, dict[str, str]] = {n: {} for n in self.imports}
        for step in steps:
            self._wire(step, static_vars.get(step.grid if step.on_fine_grid else "fine"))
        # exports may name fields that only steps define, so they are resolved last
        self.exports = [self._canonical("host.exports", n) for n in exports]
        for n, opts in exports.items():
            registry.check_units(f"host.exports.{n}", n, opts.get("units"))
        for name in self.exports:
            if name not in self.producer:
                made = ", ".join(sorted(self.producer)) or "nothing"
                raise ConfigError(
                    f"host.exports: no step produces {name} (the steps produce: {made})"
                )
        self.fine_grids = sorted({s.grid for s in steps if s.on_fine_grid})
        self.static_needed = self.static_on.get("fine", set())
        self.max_halo = self.halo_on("fine")
        self.has_fine_steps = "fine" in self.fine_grids

    def halo_on(self, grid: str) -> int:
        """The widest halo a step on fine grid `grid` reads."""
        return max((s.halo for s in self.steps if s.grid == grid), default=0)

    def _canonical(self, where: str, name: str) -> str:
        canonical = self.registry.canonical(name)
        if canonical is None:
            raise ConfigError(f"{where}: {self.registry.unknown_message(name)}")
        return canonical

    def _wire(self, step: Step, static_vars: set[str] | None) -> None:
        where = f"steps.{step.name}"
        for name in self.aggregation.get(step.name, {}):
            if name not in step.inputs:
                raise ConfigError(
                    f"{where}.aggregation.{name}: '{name}' is not an input of this step "
                    f"(inputs: {', '.join(step.inputs)})"
                )
        sources: dict[str, Source] = {}
        for name, var in step.inputs.items():
            if name in step.previous:
                sources[name] = Source("previous", step.name)
                continue
            source = self._resolve(step, name, var, static_vars)
            sources[name] = source
            how = self.aggregation.get(step.name, {}).get(name, "mean")
            if isinstance(how, WindowOf) and (step.grid != "host" or source.kind != "import"):
                raise ConfigError(
                    f"{where}.aggregation.{name}: windows are kept of host imports read by "
                    f"host-grid steps; here {name} is a {source.kind} field of a "
                    f"{step.grid}-grid step"
                )
            if source.kind == "import":
                self.import_consumers[name][step.name] = how
            elif source.kind == "static":
                self.static_on.setdefault(step.grid, set()).add(name)
        self.sources[step.name] = sources
        for var in [*step.state.values(), *step.previous.values()]:
            needed = static_vars_needed(as_state_var(var))
            if needed and (not step.on_fine_grid or static_vars is None or needed - static_vars):
                raise ConfigError(
                    f"{where}: initial value from static field {', '.join(needed)}, which "
                    "exists only for fine-grid steps with that variable in their grid's static file"
                )
            self.static_on.setdefault(step.grid, set()).update(needed)
        for name, var in step.outputs.items():
            if name in self.producer:
                raise ConfigError(
                    f"{where}: output {name} is also produced by step "
                    f"'{self.producer[name][0].name}'"
                )
            if name in self.imports:
                raise ConfigError(f"{where}: output {name} is also a host import")
            self._register_output(where, name, var)
            self.producer[name] = (step, var)
        for name in step.previous:
            if name not in step.outputs:
                raise ConfigError(
                    f"{where} input {name}: 'from: previous' reads this step's own previous "
                    f"output, but the step has no output {name} "
                    f"(outputs: {', '.join(step.outputs)})"
                )
            _same_var(f"{where} input {name}", step.inputs[name], step.outputs[name], "output")

    def _resolve(self, step: Step, name: str, var: Var, static_vars: set[str] | None) -> Source:
        where = f"steps.{step.name} input {name}"
        if name in self.producer:
            prod, pvar = self.producer[name]
            if not prod.on_fine_grid:
                _same_var(where, var, pvar, f"step '{prod.name}' output")
                return Source("host", prod.name)
            categories = _categories(where, var, pvar, prod, step)
            return Source("fine", prod.name, prod.grid, categories)
        if name in self.imports:
            spec = self.registry[name]
            _same_var(where, var, Var(spec.units, spec.levels, axes=spec.axes), "host import")
            return Source("import")
        if static_vars is not None and name in static_vars:
            if not step.on_fine_grid:
                raise ConfigError(f"{where}: static fields exist on fine grids only")
            return Source("static")
        options = [
            f"host imports ({', '.join(self.imports) or 'none'})",
            f"outputs of earlier steps ({', '.join(self.producer) or 'none'})",
        ]
        options.append(
            f"static variables ({', '.join(sorted(static_vars))})"
            if static_vars is not None
            else "static variables (no fine.static file configured)"
        )
        raise ConfigError(f"{where}: not available; it must be one of the " + "; ".join(options))

    def _register_output(self, where: str, name: str, var: Var) -> None:
        if name in self.registry:
            spec = self.registry[name]
            _same_var(
                f"{where} output {name}",
                var,
                Var(spec.units, spec.levels, axes=spec.axes),
                "field dictionary",
            )
        else:
            self.registry.register(
                FieldSpec(
                    name=name,
                    units=var.units,
                    levels=var.levels,
                    long_name=var.long_name,
                    axes=var.axes,
                )
            )

    def spec(self, name: str) -> FieldSpec:
        return self.registry[name]


def _categories(where: str, var: Var, pvar: Var, prod: Step, step: Step) -> str:
    """How a consumer reads a fine output: as it is ('codes'), or — for a categorical
    output — as class fractions or the majority class (after a remap to another grid)."""
    what = f"step '{prod.name}' output"
    if pvar.kind != "categorical":
        _same_var(where, var, pvar, what)
        return "codes"
    if var.kind != "categorical":
        if var.levels != pvar.levels:
            raise ConfigError(
                f"{where}: reads the {pvar.levels} classes of the categorical {what} as class "
                f"fractions, so it needs {pvar.levels} levels, not {var.levels}"
            )
        _same_var(where, Var(var.units, pvar.levels), Var(pvar.units, pvar.levels), what)
        return "fractions"
    _same_var(where, var, pvar, what)
    return "codes" if step.grid == prod.grid else "majority"


def _same_var(where: str, got: Var, expected: Var, what: str) -> None:
    if got.units.replace(" ", "") != expected.units.replace(" ", ""):
        raise ConfigError(
            f"{where}: units '{got.units}' differ from the {what}'s '{expected.units}'"
        )
    if got.levels != expected.levels:
        raise ConfigError(
            f"{where}: {got.levels} level(s) differ from the {what}'s {expected.levels}"
        )
    if got.axes and expected.axes and got.axes != expected.axes:
        raise ConfigError(
            f"{where}: level axes {_axes(got.axes)} differ from the {what}'s {_axes(expected.axes)}"
        )


def _axes(axes: tuple[tuple[str, int], ...]) -> str:
    return " × ".join(f"{a}({n})" for a, n in axes)
