"""Benchmark: land-use U-Net inference on 512×512 tiles, ONNX Runtime vs torch eager.

  ort_mpx_s_1t / _2t     megapixels per second through ONNX Runtime (1 / 2 intra-op threads)
  torch_mpx_s_1t / _2t   the same through torch eager (torch.set_num_threads 1 / 2), no grad
  ort_vs_torch           ort_mpx_s_1t / torch_mpx_s_1t
  gflop_per_tile         2 × multiply-adds of every convolution for one 40×512×512 tile
  matmul_gflops_1t       float32 1024² matrix product on one thread (torch), the peak proxy
  fraction_of_peak       ORT GFLOP/s on one thread / matmul_gflops_1t
The shipped emulators/lulc/lulc.onnx is timed if present (else a freshly initialised U-Net
of the same shape is exported); speed does not depend on the weights. Median of repeats;
the machine is shared, so figures wobble and are reported as measured. Prints one JSON
line last.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from emulators.lulc.export import export_onnx  # noqa: E402
from emulators.lulc.features import N_CHANNELS, N_LC, N_LU  # noqa: E402
from emulators.lulc.infer import MODEL_PATH, OnnxLulc  # noqa: E402
from emulators.lulc.model import UNet  # noqa: E402

TILE = 512
REPEAT = 5


def median_time(fn: Callable[[], object], repeat: int = REPEAT) -> float:
    fn()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def conv_flops(model: torch.nn.Module, x: torch.Tensor) -> float:
    """2 × multiply-adds of all (transposed) convolutions for input x."""
    total = [0.0]

    def hook(mod, inp, out):
        k = mod.kernel_size[0] * mod.kernel_size[1]
        cin = mod.in_channels // mod.groups
        if isinstance(mod, torch.nn.ConvTranspose2d):  # every input pixel scatters k weights
            total[0] += 2.0 * inp[0].shape[2] * inp[0].shape[3] * cin * mod.out_channels * k
        else:
            total[0] += 2.0 * out.shape[2] * out.shape[3] * cin * mod.out_channels * k

    handles = [
        m.register_forward_hook(hook)
        for m in model.modules()
        if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d)
    ]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return total[0]


def main() -> None:
    torch.manual_seed(0)
    model = UNet(N_CHANNELS, N_LU, N_LC).eval()
    x = np.random.default_rng(0).normal(size=(1, N_CHANNELS, TILE, TILE)).astype(np.float32)
    xt = torch.from_numpy(x)
    mpx = TILE * TILE / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        path = MODEL_PATH if MODEL_PATH.is_file() else export_onnx(model, Path(tmp) / "u.onnx")
        res: dict[str, float | str] = {"model": path.name, "tile": TILE}
        for threads in (1, 2):
            ort = OnnxLulc(path, threads)
            res[f"ort_mpx_s_{threads}t"] = mpx / median_time(lambda o=ort: o.logits(x))
            torch.set_num_threads(threads)
            with torch.no_grad():
                res[f"torch_mpx_s_{threads}t"] = mpx / median_time(lambda: model(xt))
    torch.set_num_threads(1)
    a = torch.randn(1024, 1024)
    peak = 2 * 1024**3 / median_time(lambda: a @ a) / 1e9
    flops = conv_flops(model, xt)
    ort_gflops = flops / 1e9 * res["ort_mpx_s_1t"] / mpx
    res.update(
        {
            "ort_vs_torch": res["ort_mpx_s_1t"] / res["torch_mpx_s_1t"],
            "gflop_per_tile": flops / 1e9,
            "matmul_gflops_1t": peak,
            "ort_gflops_1t": ort_gflops,
            "fraction_of_peak": ort_gflops / peak,
        }
    )
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in res.items()}))


if __name__ == "__main__":
    main()
