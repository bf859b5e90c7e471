"""ONNX export of g_z and the multi-task surrogate, with their normalisation as metadata.

Why ONNX: the runtime (online step, `landemu calibrate`, the benchmark) runs on onnxruntime
and never imports torch. `surrogate.onnx`: x (B, 48, 27) [normalised forcing, DOY encoding,
unit parameters] → (B, 48, 2) sensible and latent heat in W m-2. `gz.onnx`: x (B, 48, 28)
[normalised forcing, DOY encoding, attributes, normalised observed fluxes, mask] → (B, 12)
parameters in physical units inside their Table 2 ranges. Files are written atomically.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import onnx
import torch
from torch import nn

from emulators.landmodel import PARAM_NAMES, PARAM_UNITS, parameter_table
from emulators.mdpl.dataset import DATA_DIR, N_DOY, WINDOW, Norm
from emulators.mdpl.model import GENERATOR_IN, SURROGATE_IN, PhysicalGenerator
from emulators.mdpl.train import load_generator, load_prior, load_surrogate

PACKAGE_DIR = Path(__file__).resolve().parent


class _Physical(nn.Module):
    """Surrogate output de-standardised to W m-2 inside the graph."""

    def __init__(self, model: nn.Module, norm: Norm) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.as_tensor(norm.y_mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(norm.y_std, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) * self.std + self.mean


def metadata(
    norm: Norm, arch: str, gz_config: dict | None = None, prior: dict | None = None
) -> dict[str, str]:
    tab = parameter_table()
    return {
        "landemu_mdpl": json.dumps(
            {
                "norm": norm.to_dict(),
                "window": WINDOW,
                "n_doy": N_DOY,
                "surrogate_arch": arch,
                "gz": gz_config or {},
                "prior": prior,  # a MAP g_z's prior (prior.PriorWeight), else None
                "param_names": list(PARAM_NAMES),
                "param_units": list(PARAM_UNITS),
                "param_lo": tab.lo.tolist(),
                "param_hi": tab.hi.tolist(),
                "data": "trained on TWIN data: landemu host physics, ERA5-climatology forcing",
            }
        )
    }


def _export(module: nn.Module, n_in: int, out_name: str, path: Path, meta: dict) -> None:
    module.eval()
    x = torch.zeros(2, WINDOW, n_in)
    tmp = path.with_suffix(".tmp.onnx")
    torch.onnx.export(
        module,
        (x,),
        str(tmp),
        input_names=["x"],
        output_names=[out_name],
        dynamic_axes={"x": {0: "batch"}, out_name: {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    model = onnx.load(str(tmp))
    for k, v in meta.items():
        model.metadata_props.add(key=k, value=v)
    onnx.save(model, str(tmp))
    os.replace(tmp, path)


def export_models(
    surrogate: nn.Module,
    gz: nn.Module,
    norm: Norm,
    arch: str,
    out_dir: Path = PACKAGE_DIR,
    prior: dict | None = None,
) -> tuple[Path, Path]:
    """Write surrogate.onnx and gz.onnx (physical units in and out, metadata attached)."""
    tab = parameter_table()
    meta = metadata(norm, arch, getattr(gz, "config", None), prior)
    s_path, g_path = out_dir / "surrogate.onnx", out_dir / "gz.onnx"
    _export(_Physical(surrogate, norm), SURROGATE_IN, "fluxes", s_path, meta)
    phys = PhysicalGenerator(gz, torch.tensor(tab.lo), torch.tensor(tab.hi))
    _export(phys, GENERATOR_IN, "params", g_path, meta)
    return s_path, g_path


def export_all(
    arch: str = "multitask",
    data_dir: Path = DATA_DIR,
    out_dir: Path = PACKAGE_DIR,
    gz_name: str = "lstm4x128",
) -> tuple[Path, Path]:
    """Export the trained checkpoints of `arch` (g_z variant `gz_name`)."""
    surrogate, norm = load_surrogate(arch, data_dir)
    gz = load_generator(arch, data_dir, gz_name)
    prior = load_prior(arch, data_dir, gz_name)
    return export_models(surrogate, gz, norm, arch, out_dir, prior and prior.to_dict())


def main(argv: list[str] | None = None) -> None:
    """`python -m emulators.mdpl.export [GZ] [--data-dir D]`: the multi-task surrogate and
    g_z variant GZ from the checkpoints in D into the package."""
    import argparse

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("gz", nargs="?", default="lstm4x128", help="g_z variant, e.g. gru1x64_map")
    ap.add_argument("--data-dir", type=Path, default=DATA_DIR)
    a = ap.parse_args(argv)
    print(*export_all(data_dir=a.data_dir, gz_name=a.gz))


if __name__ == "__main__":
    main()
