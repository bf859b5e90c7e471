"""An emulator step run by ONNX Runtime: a YAML entry plus an ONNX file, no code.

YAML::

    - name: lai_net
      onnx: models/lai.onnx          # relative to the config file
      grid: fine                     # fine tiles (1, C, H, W) or host columns (N, C)
      schedule: monthly
      halo: 8                        # fine only: extra cells per side fed to the model
      inputs:                        # model input = (x - offset) / scale
        - {name: TBOT, units: K, offset: 273.15, scale: 10.0}
        - {name: landmask, units: "1"}
      outputs:                       # field = y * scale + offset
        - {name: LAI_NET, units: m2 m-2, levels: 1, scale: 1.0, offset: 0.0}

The model either has one input tensor holding every input as channels (in the order
listed; a field with L levels takes L channels), or one input per field named like the
field. Outputs likewise. Everything is checked when the step is built: a missing or
corrupt file, or a model whose inputs do not match the configuration, is a ModelError
naming the file and the mismatch, before the first advance.

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

from coupler.config import StepConfig
from coupler.errors import ConfigError, ModelError
from coupler.steps.base import Step, StepContext, Var

HOST_BATCH = 256  # host columns per model call (fixed: see module docstring)


@dataclass(frozen=True)
class _Channel:
    """An input or output field with its normalisation."""

    name: str
    var: Var
    scale: float
    offset: float


def _channels(where: str, entries: Any, default_grid_kind: str) -> list[_Channel]:
    if not isinstance(entries, list) or not entries:
        raise ConfigError(
            f"{where}: expected a non-empty list of {{name: ..., units: ...}} entries"
        )
    allowed = {"name", "units", "levels", "scale", "offset", "kind", "long_name"}
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
        var = Var(str(e["units"]), int(e.get("levels", 1)), kind, str(e.get("long_name", "")))
        out.append(_Channel(str(e["name"]), var, scale, float(e.get("offset", 0.0))))
    return out


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
    ) -> None:
        super().__init__(
            name=name,
            grid=grid,
            schedule=schedule,
            inputs={c.name: c.var for c in inputs},
            outputs={c.name: c.var for c in outputs},
            halo=halo,
        )
        self.path = path
        self.in_channels = inputs
        self.out_channels = outputs
        self.session = _load_session(path, threads)
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
        inputs = _channels(f"{where}.inputs", sc.inputs, sc.grid)
        outputs = _channels(f"{where}.outputs", sc.outputs, sc.grid)
        return cls(sc.name, sc.schedule, sc.grid, sc.halo, Path(sc.onnx), inputs, outputs, threads)

    # -- signature checks ------------------------------------------------------------------
    def _check_signature(self) -> None:
        rank = 4 if self.grid == "fine" else 2
        layout = "(1, C, H, W)" if self.grid == "fine" else "(N, C)"
        model_in = self.session.get_inputs()
        model_out = self.session.get_outputs()
        self.stacked_in = _match(self, "input", model_in, self.in_channels, rank, layout)
        self.stacked_out = _match(self, "output", model_out, self.out_channels, rank, layout)
        self.input_names = [i.name for i in model_in]
        self.input_dtypes = [_np_type(self, i) for i in model_in]

    # -- running ---------------------------------------------------------------------------
    def run(
        self, inputs: dict[str, np.ndarray], state: dict[str, np.ndarray], ctx: StepContext
    ) -> dict[str, np.ndarray]:
        tensors = [self._normalised(c, inputs[c.name]) for c in self.in_channels]
        if self.grid == "fine":
            arrays = [t[None] for t in tensors]  # (1, L, H, W)
            raw = self._call(arrays)
            return self._fine_outputs(raw, ctx)
        n = tensors[0].shape[-1]
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

    def _normalised(self, c: _Channel, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if (self.grid == "fine" and x.ndim == 2) or (self.grid == "host" and x.ndim == 1):
            x = x[None]
        return (x - c.offset) / c.scale

    def _call(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        if self.stacked_in:
            feeds = {
                self.input_names[0]: np.concatenate(arrays, axis=1).astype(self.input_dtypes[0])
            }
        else:
            feeds = {
                n: a.astype(t)
                for n, a, t in zip(self.input_names, arrays, self.input_dtypes, strict=True)
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
            return {c.name: r for c, r in zip(self.out_channels, raw, strict=True)}
        y = raw[0]
        out, k = {}, 0
        for c in self.out_channels:
            n = _levels(c)
            out[c.name] = y[:, k : k + n]
            k += n
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
        if c.var.kind == "categorical":
            return np.rint(y[0] * c.scale + c.offset)
        y = y * c.scale + c.offset
        return y[0] if c.var.levels == 1 else y


def _levels(c: _Channel) -> int:
    """Levels of an output channel as the step returns it (categorical: one code)."""
    return 1 if c.var.kind == "categorical" else c.var.levels


def _pad_rows(a: np.ndarray, n: int) -> np.ndarray:
    if a.shape[0] == n:
        return a
    pad = np.zeros((n - a.shape[0], *a.shape[1:]), a.dtype)
    return np.concatenate([a, pad], axis=0)


def _load_session(path: Path, threads: int):
    import onnxruntime as ort

    if not path.is_file():
        raise ModelError(f"ONNX model file '{path}' does not exist")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    with contextlib.suppress(AttributeError):  # older onnxruntime lacks the switch
        options.use_deterministic_compute = True
    try:
        return ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"ONNX model file '{path}' cannot be loaded (corrupt or not ONNX?): {first}"
        ) from None


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
    want_c = sum(1 if c.var.kind == "categorical" else c.var.levels for c in channels)
    names = [c.name for c in channels]
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
        levels = 1 if c.var.kind == "categorical" else c.var.levels
        _check_node(where, what, by_name[c.name], rank, layout, levels, c.name)
    return False


def _check_node(
    where: str, what: str, node, rank: int, layout: str, channels: int, label: str
) -> None:
    shape = list(node.shape)
    if len(shape) != rank:
        raise ModelError(
            f"{where} {what} '{node.name}' has rank {len(shape)} {shape}, expected {layout}"
        )
    c = shape[1]
    if isinstance(c, int) and c != channels:
        raise ModelError(
            f"{where} {what} '{node.name}' has {c} channels, "
            f"the configuration gives {channels} ({label})"
        )
