"""g_z and the surrogate through onnxruntime (no torch): what calibration and the online step
run. Builds the network inputs from physical forcing, checks them, and never hands out a
parameter outside its Table 2 range (out-of-range outputs of a bad model are clamped and
logged; NaN outputs are an error).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort

from coupler.errors import FieldError, LandemuRuntimeError, ModelError
from emulators.landmodel import FORCING_NAMES
from emulators.mdpl.dataset import (
    WINDOW,
    Norm,
    column_window_inputs,
    generator_inputs,
    surrogate_inputs,
)
from emulators.mdpl.prior import PriorWeight

log = logging.getLogger(__name__)
PACKAGE_DIR = Path(__file__).resolve().parent


def _session(path: Path, threads: int) -> tuple[ort.InferenceSession, dict]:
    if not Path(path).exists():
        raise ModelError(f"MdPL model {path} is missing (build it with `make models-mdpl`)")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    try:
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        meta = json.loads(sess.get_modelmeta().custom_metadata_map["landemu_mdpl"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelError(f"MdPL model {path} cannot be loaded: {exc}") from None
    return sess, meta


class MdplModels:
    """The shipped g_z (and optionally the surrogate) with their metadata."""

    def __init__(
        self,
        gz_path: Path = PACKAGE_DIR / "gz.onnx",
        surrogate_path: Path | None = PACKAGE_DIR / "surrogate.onnx",
        threads: int = 1,
    ) -> None:
        self.gz, meta = _session(gz_path, threads)
        self.surrogate = None if surrogate_path is None else _session(surrogate_path, threads)[0]
        self.norm = Norm.from_dict(meta["norm"])
        self.lo = np.asarray(meta["param_lo"])
        self.hi = np.asarray(meta["param_hi"])
        self.names = meta["param_names"]
        prior = meta.get("prior")  # a MAP g_z: its physics check uses the same posterior
        self.prior = PriorWeight.from_dict(prior) if prior else None
        if meta["window"] != WINDOW:
            raise ModelError(
                f"{gz_path} was trained on {meta['window']}-step windows, not {WINDOW}"
            )

    def _checked(self, params: np.ndarray) -> np.ndarray:
        """Clamp out-of-range parameters into their ranges, logging which; NaN is an error."""
        if not np.isfinite(params).all():
            raise LandemuRuntimeError("g_z produced non-finite parameters (corrupt model?)")
        bad = (params < self.lo) | (params > self.hi)
        if bad.any():
            names = sorted({self.names[k] for k in np.nonzero(bad)[-1]})
            log.warning("g_z parameters out of range clamped (%d values: %s)", bad.sum(), names)
            params = np.clip(params, self.lo, self.hi)
        return params

    def window_parameters(
        self,
        forcing: np.ndarray,
        start: np.ndarray,
        attrs: np.ndarray,
        obs: np.ndarray | None = None,
        batch: int = 1024,
    ) -> np.ndarray:
        """g_z on windows starting at `start` of one record → parameters (len(start), 12).

        forcing: (nstep, 7) physical units, FORCING_NAMES order; obs: (nstep, 2) H, LE in
        W m-2 with NaN gaps, or None (no observations: the generator's regional estimate).
        """
        forcing = np.asarray(forcing, dtype=np.float32)
        if forcing.ndim != 2 or forcing.shape[1] != 7:
            raise FieldError(f"forcing has shape {forcing.shape}; expected (nstep, 7)")
        if forcing.shape[0] < WINDOW:
            raise FieldError(f"record has {forcing.shape[0]} steps; MdPL needs >= {WINDOW}")
        if not np.isfinite(forcing).all():
            k, v = np.argwhere(~np.isfinite(forcing))[0]
            raise FieldError(f"forcing column {v} is not finite at step {k}")
        fn = self.norm.forcing(forcing)
        on = None if obs is None else self.norm.flux(np.asarray(obs, dtype=np.float32))
        out = []
        for k in range(0, len(start), batch):
            x = generator_inputs(fn, np.asarray(start[k : k + batch]), attrs, on)
            out.append(self.gz.run(None, {"x": x})[0])
        return self._checked(np.concatenate(out).astype(float))

    def column_parameters(
        self, windows: np.ndarray, attrs: np.ndarray, first_step: int, batch: int = 256
    ) -> np.ndarray:
        """g_z on one window per column, without observations → (n, 12), clamped.

        windows: (n, WINDOW, 7) physical forcing (FORCING_NAMES order), oldest first;
        attrs: (n, N_ATTR); first_step: half-hour index in the year of the first window step.
        Columns go through onnxruntime in zero-padded batches of exactly `batch`, so a
        column's parameters do not depend on how many columns share its call (bit for bit
        on any rank count).
        """
        windows = np.asarray(windows, dtype=np.float32)
        if windows.ndim != 3 or windows.shape[2] != len(FORCING_NAMES):
            raise FieldError(f"forcing windows have shape {windows.shape}; expected (n, 48, 7)")
        if windows.shape[1] != WINDOW:
            raise FieldError(
                f"forcing windows hold {windows.shape[1]} steps; g_z needs the last {WINDOW} "
                f"half-hourly steps (aggregation: {{FIELD: {{window: {WINDOW}}}}})"
            )
        if not np.isfinite(windows).all():
            c, k, v = np.argwhere(~np.isfinite(windows))[0]
            raise FieldError(f"forcing {FORCING_NAMES[v]} is not finite at column {c}, step {k}")
        x = column_window_inputs(self.norm, windows, np.asarray(attrs, np.float32), first_step)
        out = np.empty((x.shape[0], len(self.names)))
        for k in range(0, x.shape[0], batch):
            chunk = x[k : k + batch]
            padded = np.zeros((batch, *x.shape[1:]), np.float32)
            padded[: len(chunk)] = chunk
            out[k : k + len(chunk)] = self.gz.run(None, {"x": padded})[0][: len(chunk)]
        return self._checked(out)

    def site_parameters(
        self, forcing: np.ndarray, attrs: np.ndarray, obs: np.ndarray | None, n_windows: int = 256
    ) -> np.ndarray:
        """One parameter set (12,) for a site: mean over evenly spaced windows of its record."""
        nstep = np.asarray(forcing).shape[0]
        start = np.unique(np.linspace(0, max(nstep - WINDOW, 0), n_windows).astype(int))
        return self._checked(self.window_parameters(forcing, start, attrs, obs).mean(axis=0))

    def surrogate_fluxes(
        self, forcing: np.ndarray, start: np.ndarray, params: np.ndarray
    ) -> np.ndarray:
        """Surrogate H, LE (B, 48, 2) W m-2 for windows `start` and parameter sets (B, 12)."""
        if self.surrogate is None:
            raise ModelError("no surrogate model loaded")
        unit = ((params - self.lo) / (self.hi - self.lo)).astype(np.float32)
        x = surrogate_inputs(self.norm.forcing(np.asarray(forcing, np.float32)), start, unit)
        return self.surrogate.run(None, {"x": x})[0]
