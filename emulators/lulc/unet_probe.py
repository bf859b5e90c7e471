"""Probe U-Nets (trained with or without extra inputs) scored as the product, on validation.

    python -m emulators.lulc.unet_probe NAME=CHECKPOINT [NAME=CHECKPOINT …] [--out DIR]

The information probe's second half (`information_probe` is the per-pixel first): a U-Net
fine-tuned with extra input channels (`train run --extra-inputs ndvi --init …`) against the
same fine-tune without them, both run in torch over the same blended windows as the ONNX
path and decoded as the product (`infer.PRODUCT`), on the 8 validation blocks at the six
settings of `evaluate validation` (same seeds). A probe is never exported or shipped: its
inputs are outside issue 9's list. Writes unet_probe.json / .md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from coupler.blending import blend_windows
from emulators.lulc.classes import LAND_COVER
from emulators.lulc.dataset import DEFAULT_CUBE
from emulators.lulc.features import N_CHANNELS, N_LC, N_LU
from emulators.lulc.infer import MARGIN, OVERLAP, PRODUCT, WINDOW, decode_maps, softmax
from emulators.lulc.information_probe import write_tables
from emulators.lulc.metrics import confusion
from emulators.lulc.model import UNet
from emulators.lulc.train import extra_inputs
from emulators.lulc.validation import SETTINGS, summary_row


class TorchLulc:
    """A checkpoint's U-Net as the callable `blend_windows` takes: (B, C, h, w) float32 →
    (B, 19, h, w) probabilities; `extra_channels` gives its extra inputs (None: none)."""

    def __init__(self, checkpoint: Path) -> None:
        saved = torch.load(checkpoint, weights_only=False)
        self.extra_channels, n_extra = extra_inputs(saved["config"].get("extra_inputs", ""))
        self.net = UNet(N_CHANNELS + n_extra, N_LU, N_LC, saved["config"]["base"])
        self.net.load_state_dict(saved["model"])
        self.net.eval()

    @torch.no_grad()
    def __call__(self, batch: np.ndarray) -> np.ndarray:
        lu, lc = self.net(torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)))
        return np.concatenate([softmax(lu.numpy()), softmax(lc.numpy())], axis=1)


def probe(runs: dict[str, Path], cube_path: Path = DEFAULT_CUBE, n_regions: int = 8) -> list[dict]:
    """One row per (setting, run): the product's land-cover and land-use scores."""
    from emulators.lulc.evaluate import Evaluator, held_out_regions

    ev = Evaluator(cube_path=cube_path, baselines=False)
    nets = {name: TorchLulc(path) for name, path in runs.items()}
    regions = held_out_regions(ev.cube, n_regions, which="validation")
    rows = []
    for coarse_deg, mask in SETTINGS:
        conf = {name: (0, 0) for name in nets}
        consistency: dict[str, list[float]] = {name: [] for name in nets}
        for k, reg in enumerate(regions):
            inp = ev.inputs(reg, coarse_deg, mask, seed=k)
            (r0, c0), (rr, cc) = inp.origin, inp.region
            for name, net in nets.items():
                x = inp.x
                if net.extra_channels is not None:
                    x = np.concatenate([x, net.extra_channels(r0, c0, inp.lc)])
                prob = blend_windows(
                    net, x, window=WINDOW, margin=MARGIN, overlap=OVERLAP, origin=(r0, c0)
                )
                pred = decode_maps(prob, inp.x, inp.coarse, inp.factor, decoding=PRODUCT)
                c_lu, c_lc = conf[name]
                conf[name] = (
                    c_lu + confusion(inp.lu[rr, cc], pred.lu[rr, cc], N_LU),
                    c_lc + confusion(inp.lc[rr, cc], pred.lc[rr, cc], N_LC),
                )
                consistency[name].append(inp.consistency(pred.lu))
        for name, (c_lu, c_lc) in conf.items():
            row = summary_row(coarse_deg, mask, name, c_lu, c_lc, consistency[name])
            row = {"run": row.pop("decoding"), **row}
            rows.append(row)
            print(json.dumps({k: row[k] for k in list(row)[:8]}), flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    runs = list(dict.fromkeys(r["run"] for r in rows))
    lines = [
        "Probe U-Nets on the 8 validation blocks, product decoding (`python -m "
        "emulators.lulc.unet_probe`): LC mIoU / LC mIoU over the common classes (≥ 1 000 "
        "truth pixels) / LC OA / LU mIoU.",
        "",
        "| coarse ° | mask | " + " | ".join(runs) + " |",
        "|---|---|" + "---|" * len(runs),
    ]
    for coarse_deg, mask in SETTINGS:
        cells = [
            "{lc_miou:.3f} / {lc_miou_common:.3f} / {lc_oa:.3f} / {lu_miou:.3f}".format(**r)
            for name in runs
            for r in rows
            if (r["coarse_deg"], r["mask_ratio"], r["run"]) == (coarse_deg, mask, name)
        ]
        lines.append(f"| {coarse_deg} | {mask} | " + " | ".join(cells) + " |")
    means = [np.mean([r["lc_miou"] for r in rows if r["run"] == name]) for name in runs]
    lines.append("| mean LC mIoU | | " + " | ".join(f"{m:.4f}" for m in means) + " |")
    target = {r["run"]: r for r in rows if (r["coarse_deg"], r["mask_ratio"]) == (1.25, 0.75)}
    if target:
        lines += ["", "Land-cover IoU per class at 1.25°, 75 %:", ""]
        lines += ["| class | " + " | ".join(runs) + " |", "|---|" + "---|" * len(runs)]
        for c in LAND_COVER:
            cells = [target[n].get(f"iou_{c}") for n in runs]
            lines.append(
                f"| {c} | " + " | ".join("–" if v is None else f"{v:.3f}" for v in cells) + " |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m emulators.lulc.unet_probe", description=__doc__)
    p.add_argument("runs", nargs="+", metavar="NAME=CHECKPOINT")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--cube", type=Path, default=DEFAULT_CUBE)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    runs = dict(arg.split("=", 1) for arg in args.runs)
    rows = probe({k: Path(v) for k, v in runs.items()}, args.cube)
    write_tables(args.out, "unet_probe", rows, markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
