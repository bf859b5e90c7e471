"""Benchmark: the shipped g_z ONNX graph in onnxruntime — what its cost depends on.

g_z on 10,000 random input windows (B, 48, 28) in fixed zero-padded batches (as the online
step runs it) with 1 and 2 intra-op threads, thread spinning on and off, fixed batches of
256 / 1024 / 2048, and graph optimisation level basic vs all; best of `--repeat` runs. Also
reports the graph's operators and dtypes. The last line printed is one JSON object of
seconds per 10,000 columns (keys `t<threads>_spin<0|1>_b<batch>_<level>`) plus `load`, the
1-minute load average when it started (the machine is shared: figures wobble with it).

    python run/bench/mdpl_gz_ort.py [--model emulators/mdpl/gz.onnx] [--repeat 3]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402

NCOL = 10_000
REPO = Path(__file__).resolve().parents[2]
LEVELS = {
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def session(path: Path, threads: int, spin: bool, level: str) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = LEVELS[level]
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def seconds(sess: ort.InferenceSession, x: np.ndarray, batch: int, repeat: int) -> float:
    """Best wall time over `repeat` runs of all columns in zero-padded batches of `batch`."""
    pad = np.zeros((batch, *x.shape[1:]), np.float32)
    sess.run(None, {"x": pad})  # warm
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        for k in range(0, len(x), batch):
            chunk = x[k : k + batch]
            pad[: len(chunk)] = chunk
            sess.run(None, {"x": pad})
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, default=REPO / "emulators" / "mdpl" / "gz.onnx")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    graph = onnx.load(str(a.model)).graph
    ops = sorted({n.op_type for n in graph.node})
    dtypes = sorted({i.data_type for i in graph.initializer})
    print(f"operators: {ops}; initializer dtypes {dtypes} (1 = float32)")
    x = (
        np.random.default_rng(0)
        .standard_normal((NCOL, 48, graph.input[0].type.tensor_type.shape.dim[2].dim_value))
        .astype(np.float32)
    )
    fig: dict[str, float] = {"load": round(os.getloadavg()[0], 2)}
    for threads in (1, 2):
        for spin in (True, False):
            sess = session(a.model, threads, spin, "all")
            fig[f"t{threads}_spin{int(spin)}_b256_all"] = round(seconds(sess, x, 256, a.repeat), 3)
    sess = session(a.model, 1, True, "basic")
    fig["t1_spin1_b256_basic"] = round(seconds(sess, x, 256, a.repeat), 3)
    sess = session(a.model, 1, True, "all")
    for batch in (1024, 2048):
        fig[f"t1_spin1_b{batch}_all"] = round(seconds(sess, x, batch, a.repeat), 3)
    print(json.dumps(fig))


if __name__ == "__main__":
    main()
