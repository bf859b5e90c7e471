"""An emulator step run by ONNX Runtime: a YAML entry plus an ONNX file, no code.

YAML::

    - name: lai_net
      onnx: models/lai.onnx          # relative to the config file
      grid: fine                     # fine tiles (1, C, H, W) or host columns (N, C)
      schedule: monthly
      halo: 8                        # fine only: extra cells per side fed to the model
      blend: {window: 64, margin: 4, overlap: 8, batch: 4}  # optional, fine only: see below
      inputs:                        # model input = (x - offset) / scale
        - {name: TBOT, units: K, offset: 273.15, scale: 10.0}
        - {name: landmask, units: "1"}
      outputs:                       # field = y * scale + offset
        - {name: LAI_NET, units: m2 m-2, levels: 1, scale: 1.0, offset: 0.0}
      device: cpu                    # or cuda (an error if ONNX Runtime has no CUDA here)

More input and output options:
  - {name: LC, units: "1", kind: categorical, levels: 17, from: previous,
     init: {static: land_cover}}   # the step's own output LC of its previous run (its
                                   # init before the first run: a number, {static: VAR},
                                   # {file: PATH, variable: VAR}); per-field models name
                                   # this input LC_previous
  - {name: LC, units: "1", kind: categorical, levels: 17, argmax: true}
                                   # output: the model gives 17 logits, the field is the
                                   # class id of the largest (the first on ties)
  aggregation: {TBOT: {window: 48}}  # host steps: the model input is (N, 48, C), oldest
                                     # first; inputs without a window repeat along T

The model either has one input tensor holding every input as channels (in the order
listed; a field with L levels takes L channels), or one input per field named like the
field. Outputs likewise. Everything is checked when the step is built: a missing or
corrupt file, or a model whose inputs do not match the configuration, is a ModelError
naming the file and the mismatch, before the first advance.

Without `blend`, the model sees each tile plus its halo in one call (any H, W: results
equal a whole-domain run when the model's receptive radius is at most the halo). With
`blend`, the model sees fixed window×window squares on a lattice anchored at the grid's
origin; `margin` pixels at each window edge are dropped and overlapping cores (by
`overlap` pixels) are blended with Gaussian weights (coupler.blending). The step's halo is
what the windows touching a tile need (at most window − margin − 1; only `margin` when the
cores, window − 2·margin, line up with the tiles and overlap is 0), so every such window
lies inside tile + halo and the result does not depend on the tiling or the rank count;
windows go through the model in batches of exactly `batch` (zero-padded), so every window
takes the same kernel path.

Reproducibility: ONNX Runtime runs with a fixed thread count and sequential execution;
host columns go through the model in fixed-size, zero-padded batches so every column
takes the same kernel path whatever the decomposition; fine tiles are fixed by the config.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from coupler.blending import Lattice, TileWindows, lattice_halo, predict_windows
from coupler.config import StepConfig
from coupler.errors import ConfigError, ModelError
from coupler.fields import axes_levels, level_axes
from coupler.steps.base import Step, StepContext, Var
from coupler.stepstate import StateVar, check_init
from coupler.windows import WindowOf

HOST_BATCH = 256  # host columns per model call (fixed: see module docstring)


@dataclass(frozen=True)
class _Channel:
    """An input or output field with its normalisation."""

    name: str
    var: Var
    scale: float
    offset: float
    previous: StateVar | None = None  # inputs `from: previous`: the state holding it
    argmax: bool = False  # categorical outputs given as one logit per class

    @property
    def width(self) -> int:
        """Model channels: class codes take one, unless the model gives logits."""
        return 1 if self.var.kind == "categorical" and not self.argmax else self.var.levels

    @property
    def model_name(self) -> str:
        return f"{self.name}_previous" if self.previous is not None else self.name


_COMMON_KEYS = {"name", "units", "levels", "axes", "scale", "offset", "kind", "long_name"}


def _channels(where: str, entries: Any, direction: str) -> list[_Channel]:
    if not isinstance(entries, list) or not entries:
        raise ConfigError(
            f"{where}: expected a non-empty list of {{name: ..., units: ...}} entries"
        )
    allowed = _COMMON_KEYS | ({"from", "init"} if direction == "input" else {"argmax"})
    out = []
    for k, e in enumerate(entries):
        if not isinstance(e, dict) or "name" not in e or "units" not in e:
            raise ConfigError(
                f"{where}[{k}]: each entry needs at least 'name' and 'units', got {e!r}"
            )
        unknown = sorted(set(e) - allowed)
        if unknown:
            raise ConfigError(
                f"{where}[{k}]: unknown key(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(sorted(allowed))}"
            )
        scale = float(e.get("scale", 1.0))
        if scale == 0.0:
            raise ConfigError(f"{where}[{k}].scale: must not be 0")
        kind = e.get("kind", "continuous")
        if kind not in ("continuous", "categorical"):
            raise ConfigError(f"{where}[{k}].kind: '{kind}' is not continuous or categorical")
        axes = level_axes(f"{where}[{k}]", e.get("axes"))
        levels = int(e.get("levels", axes_levels(axes)))
        if axes and levels != axes_levels(axes):
            raise ConfigError(
                f"{where}[{k}]: levels {levels} differ from the product of its axes "
                f"({axes_levels(axes)})"
            )
        var = Var(str(e["units"]), levels, kind, str(e.get("long_name", "")), axes)
        argmax = e.get("argmax", False)
        if argmax not in (True, False) or (argmax and kind != "categorical"):
            raise ConfigError(f"{where}[{k}].argmax: true only for kind: categorical outputs")
        previous = _previous(f"{where}[{k}]", e, var)
        offset = float(e.get("offset", 0.0))
        out.append(_Channel(str(e["name"]), var, scale, offset, previous, bool(argmax)))
    return out


def _previous(where: str, e: dict, var: Var) -> StateVar | None:
    """The state behind a `from: previous` input (None for other inputs)."""
    if "from" not in e:
        if "init" in e:
            raise ConfigError(f"{where}.init: only inputs with 'from: previous' have an init")
        return None
    if e["from"] != "previous":
        raise ConfigError(f"{where}.from: '{e['from']}' is not allowed; allowed: previous")
    init = e.get("init", 0.0)
    check_init(f"{where}.init", init)
    shape = () if var.kind == "categorical" or var.levels == 1 else (var.levels,)
    return StateVar(shape=shape, init=init)  # file paths resolved by coupler.config


class OnnxStep(Step):
    """A step whose computation is an ONNX model."""

    def __init__(
        self,
        name,
        schedule,
        grid,
        halo,
        path: Path,
        inputs: list[_Channel],
        outputs: list[_Channel],
        threads: int,
        blend: dict | None = None,
        windows: dict[str, int] | None = None,
        device: str = "cpu",
    ) -> None:
        self.blend = _blend(f"steps.{name}.blend", blend, grid, outputs)
        self.lattice = (
            None
            if self.blend is None
            else Lattice(self.blend["window"], self.blend["margin"], self.blend["overlap"])
        )
        super().__init__(
            name=name,
            grid=grid,
            schedule=schedule,
            inputs={c.name: c.var for c in inputs},
            outputs={c.name: c.var for c in outputs},
            halo=halo,
            previous={c.name: c.previous for c in inputs if c.previous is not None},
        )
        self.path = path
        self.in_channels = inputs
        self.out_channels = outputs
        self.windows = dict(windows or {})  # input field → window length
        lengths = set(self.windows.values())
        if len(lengths) > 1:
            raise ConfigError(
                f"steps.{name}.aggregation: every window of a step has the same length "
                f"(the model's T); got {', '.join(f'{k}: {v}' for k, v in self.windows.items())}"
            )
        self.window = lengths.pop() if lengths else None
        self.session = _load_session(path, threads, device)
        self._check_signature()

    @classmethod
    def from_config(cls, sc: StepConfig, threads: int) -> OnnxStep:
        where = f"steps.{sc.name}"
        if sc.params:
            raise ConfigError(
                f"{where}.params: ONNX steps take no params (normalise with scale/offset)"
            )
        if sc.grid is None:
            raise ConfigError(f"{where}.grid: say where the model runs: fine or host")
        if sc.grid == "host" and sc.halo:
            raise ConfigError(f"{where}.halo: only fine-grid steps have a halo")
        if sc.state:
            raise ConfigError(
                f"{where}.state: ONNX steps keep state through 'from: previous' inputs and "
                "windows, not state arrays"
            )
        inputs = _channels(f"{where}.inputs", sc.inputs, "input")
        outputs = _channels(f"{where}.outputs", sc.outputs, "output")
        windows = {n: a.length for n, a in sc.aggregation.items() if isinstance(a, WindowOf)}
        if windows and sc.grid != "host":
            raise ConfigError(
                f"{where}.aggregation: windows are kept of host imports read by host-grid "
                f"steps; this step runs on the {sc.grid} grid"
            )
        return cls(
            sc.name,
            sc.schedule,
            sc.grid,
            sc.halo,
            Path(sc.onnx),
            inputs,
            outputs,
            threads,
            sc.blend,
            windows,
            sc.device,
        )

    # -- signature checks ------------------------------------------------------------------
    def _check_signature(self) -> None:
        rank = 4 if self.on_fine_grid else 2
        layout = "(1, C, H, W)" if self.on_fine_grid else "(N, C)"
        in_rank, in_layout = (3, f"(N, {self.window}, C)") if self.window else (rank, layout)
        self.channel_axis = 2 if self.window else 1
        model_in = self.session.get_inputs()
        model_out = self.session.get_outputs()
        self.stacked_in = _match(self, "input", model_in, self.in_channels, in_rank, in_layout)
        self.stacked_out = _match(self, "output", model_out, self.out_channels, rank, layout)
        if self.window:
            _check_window_axis(self, model_in[0] if self.stacked_in else None, model_in)
        self.input_names = [i.name for i in model_in]
        self.output_names = [o.name for o in model_out]
        self.input_dtypes = [_np_type(self, i) for i in model_in]
        if self.blend is not None:
            batch = self.blend["batch"]
            for node in (*model_in, *model_out):
                first = node.shape[0]
                if isinstance(first, int) and first != batch:
                    raise ModelError(
                        f"step '{self.name}': model '{self.path}' {node.name} has a fixed batch "
                        f"of {first}; set blend.batch: {first} (or export a dynamic batch)"
                    )

    # -- running ---------------------------------------------------------------------------
    def run(
        self, inputs: dict[str, np.ndarray], state: dict[str, np.ndarray], ctx: StepContext
    ) -> dict[str, np.ndarray]:
        if self.blend is not None:
            return self.run_tiles([inputs], [state], [ctx])[0]
        tensors = [self._normalised(c, inputs[c.name]) for c in self.in_channels]
        if self.on_fine_grid:
            arrays = [t[None] for t in tensors]  # (1, L, H, W)
            raw = self._call(arrays)
            return self._fine_outputs(raw, ctx)
        n = tensors[0].shape[-1]
        if self.window:  # (T, L, n) → (n, T, L), inputs without a window repeated along T
            t_len = self.window
            columns = [
                np.broadcast_to(t, (t_len, *t.shape)).transpose(2, 0, 1)
                if c.name not in self.windows
                else t.transpose(2, 0, 1)
                for c, t in zip(self.in_channels, tensors, strict=True)
            ]
        else:
            columns = [t.T for t in tensors]  # (n, L)
        pieces: list[list[np.ndarray]] = []
        for start in range(0, n, HOST_BATCH):
            batch = [_pad_rows(c[start : start + HOST_BATCH], HOST_BATCH) for c in columns]
            got = self._call(batch)
            pieces.append([g[: min(HOST_BATCH, n - start)] for g in got])
        if not pieces:  # a rank that owns no host cells: nothing to run
            return {c.name: np.zeros((_levels(c), 0)) for c in self.out_channels}
        raw = [np.concatenate([p[k] for p in pieces], axis=0) for k in range(len(pieces[0]))]
        return self._host_outputs(raw, n)

    def fit_halo(self, grid_shape: tuple[int, int], tile_shape: tuple[int, int]) -> None:
        """Set the halo blended windows need on tiles of `tile_shape` (ConfigError if the
        configured halo is smaller): every window touching a tile must lie in tile + halo."""
        w = self.blend
        need = max(
            lattice_halo(n, t, w["window"], w["margin"], w["overlap"])
            for n, t in zip(grid_shape, tile_shape, strict=True)
        )
        if self.halo and self.halo < need:
            raise ConfigError(
                f"steps.{self.name}.blend: windows of {w['window']} with margin {w['margin']} "
                f"and overlap {w['overlap']} on tiles of {tile_shape[0]}x{tile_shape[1]} need a "
                f"halo of at least {need}, the step has halo {self.halo} (leave halo out to "
                f"get {need})"
            )
        self.halo = max(self.halo, need)

    def run_tiles(
        self,
        inputs: list[dict[str, np.ndarray]],
        states: list[dict[str, np.ndarray]],
        ctxs: list[StepContext],
    ) -> list[dict[str, np.ndarray]]:
        """Blended steps: the windows of all this rank's tiles share the model calls — each
        window once (a window two tiles touch too), in global lattice order, `blend.batch`
        per call (zero-padded) — then each tile blends its cores (module docstring)."""
        if self.blend is None:
            return super().run_tiles(inputs, states, ctxs)
        tiles = [
            TileWindows(
                self._stacked_input(tile_inputs),
                self.lattice,
                origin=ctx.origin,
                halo=ctx.halo,
                pad_mode="edge",
            )
            for tile_inputs, ctx in zip(inputs, ctxs, strict=True)
        ]
        cores = predict_windows(self._window_model, tiles, self.blend["batch"])
        return [self._blended_outputs(tile.blend(cores)) for tile in tiles]

    def _stacked_input(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """A tile's normalised inputs as one (C, H, W) array, channels in config order."""
        tensors = [self._normalised(c, inputs[c.name]) for c in self.in_channels]
        return tensors[0] if len(tensors) == 1 else np.concatenate(tensors, axis=0)

    def _window_model(self, batch: np.ndarray) -> np.ndarray:
        """(n ≤ batch, C, window, window) → (n, K, window, window), run as a full batch."""
        n = batch.shape[0]
        padded = _pad_rows(batch, self.blend["batch"])
        if self.stacked_in:
            raw = self._call([padded])
        else:
            cuts = np.cumsum([c.width for c in self.in_channels])[:-1]
            raw = self._call(np.split(padded, cuts, axis=1))
        if self.stacked_out:
            return raw[0][:n]
        split = self._split(raw)
        return np.concatenate([split[c.name] for c in self.out_channels], axis=1)[:n]

    def _blended_outputs(self, blended: np.ndarray) -> dict[str, np.ndarray]:
        """Blended model channels (K, H, W) → fields (logits: blended, then the argmax)."""
        out, k = {}, 0
        for c in self.out_channels:
            out[c.name] = self._physical(c, blended[k : k + c.width])
            k += c.width
        return out

    def _normalised(self, c: _Channel, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if c.name in self.windows:
            if x.ndim == 2:  # (T, n) → (T, 1, n)
                x = x[:, None]
        elif (self.on_fine_grid and x.ndim == 2) or (self.grid == "host" and x.ndim == 1):
            x = x[None]
        if c.offset == 0.0 and c.scale == 1.0:  # the same bits, without two passes
            return x
        return (x - c.offset) / c.scale

    def _call(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        if self.stacked_in:
            stacked = arrays[0] if len(arrays) == 1 else np.concatenate(arrays, self.channel_axis)
            feeds = {self.input_names[0]: np.ascontiguousarray(stacked, self.input_dtypes[0])}
        else:
            dtypes = dict(zip(self.input_names, self.input_dtypes, strict=True))
            feeds = {
                c.model_name: np.ascontiguousarray(a, dtypes[c.model_name])
                for c, a in zip(self.in_channels, arrays, strict=True)
            }
        try:
            return self.session.run(None, feeds)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(
                f"step '{self.name}': ONNX Runtime failed on '{self.path}': {exc}"
            ) from None

    def _split(self, raw: list[np.ndarray]) -> dict[str, np.ndarray]:
        """Model outputs → {field: array with levels first (after the batch axis)}."""
        if not self.stacked_out:
            by_name = dict(zip(self.output_names, raw, strict=True))
            return {c.name: by_name[c.name] for c in self.out_channels}
        y = raw[0]
        out, k = {}, 0
        for c in self.out_channels:
            out[c.name] = y[:, k : k + c.width]
            k += c.width
        return out

    def _fine_outputs(self, raw: list[np.ndarray], ctx: StepContext) -> dict[str, np.ndarray]:
        h = ctx.halo
        ny, nx = ctx.lat.shape[0] - 2 * h, ctx.lat.shape[1] - 2 * h
        split = self._split(raw)
        out = {}
        for c in self.out_channels:
            y = split[c.name][0].astype(np.float64)  # (L, H, W)
            if y.shape[-2:] == (ny + 2 * h, nx + 2 * h) and h:
                y = y[:, h:-h, h:-h]
            if y.shape[-2:] != (ny, nx):
                raise ModelError(
                    f"step '{self.name}': model output {c.name} is {y.shape[-2]}x{y.shape[-1]}, "
                    f"expected the tile {ny}x{nx} (or {ny + 2 * h}x{nx + 2 * h} with halo)"
                )
            out[c.name] = self._physical(c, y)
        return out

    def _host_outputs(self, raw: list[np.ndarray], n: int) -> dict[str, np.ndarray]:
        split = self._split(raw)
        return {
            c.name: self._physical(c, split[c.name].T.astype(np.float64)) for c in self.out_channels
        }

    @staticmethod
    def _physical(c: _Channel, y: np.ndarray) -> np.ndarray:
        if c.argmax:  # logits (L, ...) → the class of the largest, the first on ties
            return np.argmax(y, axis=0).astype(np.float64)
        if c.var.kind == "categorical":
            return np.rint(y[0] * c.scale + c.offset)
        y = y * c.scale + c.offset
        return y[0] if c.var.levels == 1 else y


def _blend(
    where: str, given: dict | None, grid: str, outputs: list[_Channel]
) -> dict[str, int] | None:
    """Check a step's `blend:` entry (its halo is set by `fit_halo` once tiles are known)."""
    if given is None:
        return None
    allowed = {"window", "margin", "overlap", "batch"}
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )
    if grid == "host":
        raise ConfigError(f"{where}: only fine-grid steps run on windows")
    w = {"margin": 0, "overlap": 0, "batch": 1, **given}
    for key in ("window", "margin", "overlap", "batch"):
        if not isinstance(w.get(key), int) or isinstance(w.get(key), bool):
            raise ConfigError(f"{where}.{key}: expected an integer, got {w.get(key)!r}")
    core = w["window"] - 2 * w["margin"]
    if w["margin"] < 0 or core < 1:
        raise ConfigError(
            f"{where}: window {w['window']} leaves no core after margins {w['margin']}"
        )
    if not 0 <= w["overlap"] < core or w["batch"] < 1:
        raise ConfigError(
            f"{where}: overlap must be in [0, {core - 1}] and batch ≥ 1, "
            f"got overlap {w['overlap']}, batch {w['batch']}"
        )
    if any(c.var.kind == "categorical" and not c.argmax for c in outputs):
        raise ConfigError(
            f"{where}: blended windows need continuous outputs or class logits "
            "(kind: categorical with argmax: true; logits are blended, then the argmax taken), "
            "not class codes"
        )
    return w


def _levels(c: _Channel) -> int:
    """Levels of an output channel as the step returns it (categorical: one code)."""
    return 1 if c.var.kind == "categorical" else c.var.levels


def _pad_rows(a: np.ndarray, n: int) -> np.ndarray:
    if a.shape[0] == n:
        return a
    pad = np.zeros((n - a.shape[0], *a.shape[1:]), a.dtype)
    return np.concatenate([a, pad], axis=0)


def _providers(device: str) -> list[str]:
    """The one execution provider for `device`; never a silent fallback to another."""
    import onnxruntime as ort

    if device == "cpu":
        return ["CPUExecutionProvider"]
    available = ort.get_available_providers()
    if "CUDAExecutionProvider" not in available:
        raise ModelError(
            "device: cuda, but this ONNX Runtime has no CUDAExecutionProvider "
            f"(onnxruntime {ort.__version__} offers: {', '.join(available)}); install "
            "onnxruntime-gpu with a matching CUDA and cuDNN, or use device: cpu"
        )
    return ["CUDAExecutionProvider"]


def _load_session(path: Path, threads: int, device: str = "cpu"):
    import onnxruntime as ort

    if not path.is_file():
        raise ModelError(f"ONNX model file '{path}' does not exist")
    providers = _providers(device)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    with contextlib.suppress(AttributeError):  # older onnxruntime lacks the switch
        options.use_deterministic_compute = True
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"ONNX model file '{path}' cannot be loaded (corrupt or not ONNX?): {first}"
        ) from None
    if session.get_providers()[0] != providers[0]:
        raise ModelError(
            f"ONNX model file '{path}': ONNX Runtime could not start {providers[0]} "
            f"(it offers {', '.join(session.get_providers())}); landemu does not fall back"
        )
    return session


def _np_type(step: OnnxStep, node) -> type:
    types = {"tensor(float)": np.float32, "tensor(double)": np.float64}
    if node.type not in types:
        raise ModelError(
            f"step '{step.name}': model '{step.path}' input {node.name} has type {node.type}; "
            "landemu feeds float or double tensors"
        )
    return types[node.type]


def _match(
    step: OnnxStep, what: str, nodes, channels: list[_Channel], rank: int, layout: str
) -> bool:
    """Check model inputs/outputs against the config; True when channels are stacked."""
    where = f"step '{step.name}': model '{step.path}'"
    want_c = sum(c.width for c in channels)
    names = [c.model_name for c in channels]
    if len(nodes) == 1 and (len(channels) > 1 or nodes[0].name not in names):
        _check_node(where, what, nodes[0], rank, layout, want_c, "+".join(names))
        return True
    got = [n.name for n in nodes]
    if sorted(got) != sorted(names):
        raise ModelError(
            f"{where} has {what}s {got}, the configuration lists {names}: give either one "
            f"{what} holding all fields as channels, or one {what} per field named like the field"
        )
    by_name = {n.name: n for n in nodes}
    for c in channels:
        _check_node(where, what, by_name[c.model_name], rank, layout, c.width, c.model_name)
    return False


def _check_node(
    where: str, what: str, node, rank: int, layout: str, channels: int, label: str
) -> None:
    shape = list(node.shape)
    if len(shape) != rank:
        raise ModelError(
            f"{where} {what} '{node.name}' has rank {len(shape)} {shape}, expected {layout}"
        )
    c = shape[2] if rank == 3 else shape[1]  # (N, T, C) windows; else (N, C) or (1, C, H, W)
    if isinstance(c, int) and c != channels:
        raise ModelError(
            f"{where} {what} '{node.name}' has {c} channels, "
            f"the configuration gives {channels} ({label})"
        )


def _check_window_axis(step: OnnxStep, stacked, nodes) -> None:
    """A windowed model's T axis (axis 1) must be dynamic or the window length."""
    for node in [stacked] if stacked is not None else nodes:
        t = list(node.shape)[1]
        if isinstance(t, int) and t != step.window:
            raise ModelError(
                f"step '{step.name}': model '{step.path}' input '{node.name}' takes windows "
                f"of {t} values, the configuration keeps {step.window}"
            )
