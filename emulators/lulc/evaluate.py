"""Evaluate the shipped land-use ONNX model on real data of any region, against baselines.

    landemu evaluate lc --region S,N,W,E [--mask-ratio R] [--coarse DEG]
    landemu plot lc --region S,N,W,E -o map.png
    python -m emulators.lulc.evaluate table [--out emulators/lulc/evaluation]
    python -m emulators.lulc.evaluate validation [--model M.onnx] [--out DIR]   (validation.py)

A region is predicted through the same tiled, blended path the coupler uses
(emulators/lulc/infer.py), with a ring of `CONTEXT` pixels of inputs around it (a halo:
static maps, coarse fractions and masked prior, never the truth of hidden pixels), on a
window aligned to the coarse grid (coarse cells sit on the global lattice of DEG). Scores
count the region's pixels only. The maps scored are the product's (`infer.PRODUCT`); the
exact allocation (`infer.EXACT`, the online step's) and the raw network are scored
alongside ("exact", "raw"), and, in the table, the product's land cover decoded on the true
land use ("true_lu", a diagnostic of how much land-cover error is land use's). Baselines get
the same inputs:

* copy: the prior where visible; hidden pixels take the coarse cell's majority land use and
  the land cover most frequent on that land use in the training blocks;
* random forest: per-pixel, on the 40 input channels (no spatial context), trained once on
  pixels of training-block samples and cached under run/data/lulc/ (never committed).

`fraction_consistency`: mean over the coarse cells wholly inside the region of
½ Σ_k |fine fraction_k − coarse input fraction_k| for land use (0 = consistent).
"""

from __future__ import annotations

import argparse
import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coupler.errors import DataFileError, FieldError
from emulators.lulc import split
from emulators.lulc.classes import IGNORE, LAND_COVER, LAND_USE
from emulators.lulc.dataset import DEFAULT_CUBE, DEG, Cube, Sampler, window_inputs
from emulators.lulc.features import (
    MASK,
    N_LC,
    N_LU,
    PRIOR_LC,
    PRIOR_LU,
    coarse_fractions,
    row_area_weights,
    upsample,
)
from emulators.lulc.infer import EXACT, MODEL_PATH, PRODUCT, OnnxLulc, decode_maps, predict_maps
from emulators.lulc.metrics import confusion, fraction_consistency, miou_common, miou_oa

CONTEXT = 64  # pixels of input context around a region
RF_FILE = "random_forest.pkl"  # cached next to the cube
TABLE_DIR = Path(__file__).with_name("evaluation")
NLAT, NLON = 3600, 7200


def parse_region(text: str) -> tuple[float, float, float, float]:
    """'S,N,W,E' in degrees, on the 0.05° grid, S < N, W < E (no dateline crossing)."""
    try:
        s, n, w, e = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise FieldError(f"region '{text}' must be S,N,W,E in degrees (e.g. 30,40,-10,0)") from exc
    if not (-90 <= s < n <= 90 and -180 <= w < e <= 180):
        raise FieldError(f"region '{text}': need -90 ≤ S < N ≤ 90 and -180 ≤ W < E ≤ 180")
    for v in (s, n, w, e):
        if abs(v / DEG - round(v / DEG)) > 1e-6:
            raise FieldError(f"region '{text}': edge {v} is not on the 0.05° grid")
    return s, n, w, e


def region_window(region: tuple[float, float, float, float], factor: int, context: int = CONTEXT):
    """Global rows/columns (r0, r1, c0, c1) of the coarse-aligned window with context, and
    the region's rows/columns inside it."""
    s, n, w, e = region
    rs, rn = round((s + 90) / DEG), round((n + 90) / DEG)
    cw, ce = round((w + 180) / DEG), round((e + 180) / DEG)
    r0 = max(0, (rs - context) // factor * factor)
    r1 = min(NLAT // factor * factor, -(-(rn + context) // factor) * factor)
    c0 = max(0, (cw - context) // factor * factor)
    c1 = min(NLON // factor * factor, -(-(ce + context) // factor) * factor)
    return (r0, r1, c0, c1), (slice(rs - r0, rn - r0), slice(cw - c0, ce - c0))


# ----------------------------------------------------------------------------------------
# baselines
# ----------------------------------------------------------------------------------------
def land_cover_for_land_use(cube: Cube) -> np.ndarray:
    """(8,) the land-cover class most frequent on each land-use class in training blocks."""
    joint = np.zeros((N_LU, N_LC), np.int64)
    sampler = Sampler(cube, split.TRAIN, 16)
    for r0, c0 in sampler.origins[::4]:
        lu = cube.arrays["lu"][r0 : r0 + 200, c0 : c0 + 200].ravel()
        lc = cube.arrays["lc"][r0 : r0 + 200, c0 : c0 + 200].ravel()
        ok = lu < N_LU
        joint += np.bincount(lu[ok] * N_LC + lc[ok], minlength=N_LU * N_LC).reshape(N_LU, N_LC)
    return joint.argmax(axis=1).astype(np.uint8)


def copy_baseline(x: np.ndarray, coarse: np.ndarray, factor: int, lc_of_lu: np.ndarray):
    """(land use, land cover): visible prior copied, hidden pixels from the coarse majority."""
    hidden = x[MASK] > 0.5
    fill_lu = upsample(coarse.argmax(0), factor).astype(np.uint8)
    lu = np.where(hidden, fill_lu, x[PRIOR_LU].argmax(0)).astype(np.uint8)
    lc = np.where(hidden, lc_of_lu[fill_lu], x[PRIOR_LC].argmax(0)).astype(np.uint8)
    return lu, lc


def baseline_forest(seed: int = 0, n_jobs: int = 1):
    """The random-forest baseline's settings (unfitted); n_jobs does not change the fit."""
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=60, min_samples_leaf=5, n_jobs=n_jobs, random_state=seed
    )


def train_random_forest(cube: Cube, pixels: int = 60000, seed: int = 0):
    """Multi-output random forest (land use, land cover) on per-pixel input channels."""
    rng = np.random.default_rng(seed)
    sampler = Sampler(cube, split.TRAIN, 160)
    xs, ys = [], []
    per = 400
    for _ in range(pixels // per):
        x, lu, lc = sampler.sample(rng)
        idx = rng.choice(lu.size, per, replace=False)
        xs.append(x.reshape(x.shape[0], -1)[:, idx].T)
        ys.append(np.stack([lu.ravel()[idx], lc.ravel()[idx]], axis=1))
    features, labels = np.concatenate(xs), np.concatenate(ys)
    keep = labels[:, 0] < N_LU
    return baseline_forest(seed).fit(features[keep], labels[keep])


def load_random_forest(cube: Cube, path: Path):
    if path.is_file():
        with path.open("rb") as fh:
            return pickle.load(fh)
    forest = train_random_forest(cube)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        pickle.dump(forest, fh)
    tmp.replace(path)
    return forest


def forest_predict(forest, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = forest.predict(x.reshape(x.shape[0], -1).T)
    h, w = x.shape[1:]
    return pred[:, 0].reshape(h, w).astype(np.uint8), pred[:, 1].reshape(h, w).astype(np.uint8)


# ----------------------------------------------------------------------------------------
# one region
# ----------------------------------------------------------------------------------------
@dataclass
class RegionInputs:
    """A region's window: inputs (40, H, W), truth, coarse fractions, and where it lies."""

    x: np.ndarray
    lu: np.ndarray
    lc: np.ndarray
    coarse: np.ndarray
    factor: int
    origin: tuple[int, int]  # global row, column of the window
    region: tuple[slice, slice]  # the region's pixels inside the window
    inner: tuple[slice, slice] | None  # the coarse cells wholly inside the region
    row_weights: np.ndarray

    def consistency(self, land_use: np.ndarray) -> float:
        """fraction_consistency of a land-use map over the region's inner coarse cells."""
        if self.inner is None:
            return float("nan")
        fine = coarse_fractions(land_use, self.factor, N_LU, self.row_weights)
        return fraction_consistency(fine[:, *self.inner], self.coarse[:, *self.inner])


class Evaluator:
    """The cube, the ONNX model and the baselines, loaded once for many regions."""

    def __init__(
        self,
        model_path: Path = MODEL_PATH,
        cube_path: Path = DEFAULT_CUBE,
        threads: int = 1,
        baselines: bool = True,
    ):
        self.cube = Cube.open(cube_path)
        self.model = OnnxLulc(model_path, threads)
        if baselines:
            self.forest = load_random_forest(self.cube, Path(cube_path).parent / RF_FILE)
            self.lc_of_lu = land_cover_for_land_use(self.cube)

    def inputs(self, region, coarse_deg: float, mask_ratio: float, seed: int = 0) -> RegionInputs:
        """The model's inputs and the truth on the coarse-aligned window around `region`."""
        factor = round(coarse_deg / DEG)
        if abs(factor * DEG - coarse_deg) > 1e-9 or factor < 1:
            raise FieldError(f"--coarse {coarse_deg}: must be a multiple of 0.05°")
        if not 0 <= mask_ratio <= 1:
            raise FieldError(f"--mask-ratio {mask_ratio}: must lie in [0, 1]")
        (r0, r1, c0, c1), (rr, cc) = region_window(region, factor)
        rng = np.random.default_rng(seed)
        x, lu, lc, coarse = window_inputs(self.cube, r0, r1, c0, c1, factor, mask_ratio, rng)
        inner = self._inner_cells(rr, cc, factor)
        weights = row_area_weights(-90.0 + r0 * DEG, r1 - r0, DEG)
        return RegionInputs(x, lu, lc, coarse, factor, (r0, c0), (rr, cc), inner, weights)

    def region(self, region, coarse_deg: float, mask_ratio: float, seed: int = 0) -> dict:
        """Metrics (and confusion matrices, under '_confusion') for one region."""
        inp = self.inputs(region, coarse_deg, mask_ratio, seed)
        x, lu, lc, coarse, factor = inp.x, inp.lu, inp.lc, inp.coarse, inp.factor
        (r0, c0), (rr, cc) = inp.origin, inp.region
        pred = predict_maps(self.model, x, coarse, factor, origin=(r0, c0), decoding=PRODUCT)
        exact = decode_maps(pred.prob, x, coarse, factor, decoding=EXACT)
        true_lu = np.where(lu == IGNORE, pred.lu, lu)  # unlabelled pixels are not scored
        on_true_lu = decode_maps(pred.prob, x, coarse, factor, decoding=PRODUCT, land_use=true_lu)
        copy_lu, copy_lc = copy_baseline(x, coarse, factor, self.lc_of_lu)
        rf_lu, rf_lc = forest_predict(self.forest, x[:, rr, cc])
        truth = {"lu": lu[rr, cc], "lc": lc[rr, cc]}
        maps = {
            "lu": {"model": pred.lu, "raw": pred.lu_raw, "exact": exact.lu, "copy": copy_lu},
            "lc": {
                "model": pred.lc,
                "raw": pred.lc_raw,
                "exact": exact.lc,
                "copy": copy_lc,
                "true_lu": on_true_lu.lc,
            },
        }
        out: dict = {"region": list(region), "coarse_deg": coarse_deg, "mask_ratio": mask_ratio}
        out["overlaps_training"] = split.overlaps_training(*region)
        conf = {}
        for scheme, n, names, rf in (
            ("lu", N_LU, LAND_USE, rf_lu),
            ("lc", N_LC, LAND_COVER, rf_lc),
        ):
            c = {k: confusion(truth[scheme], v[rr, cc], n) for k, v in maps[scheme].items()}
            c["rf"] = confusion(truth[scheme], rf, n)
            conf[scheme] = c
            miou, oa, per = miou_oa(c["model"])
            res = {"oa": oa, "miou": miou, "per_class_iou": dict(zip(names, per, strict=True))}
            for k in ("raw", "exact", "copy", "rf"):
                m, a, _ = miou_oa(c[k])
                res[f"miou_{k}"] = m
                res[f"oa_{k}"] = a
            res["miou_copy_baseline"], res["miou_rf_baseline"] = (
                res.pop("miou_copy"),
                res.pop("miou_rf"),
            )
            out[scheme] = res
        for key, labels in (
            ("fraction_consistency", pred.lu),
            ("fraction_consistency_exact", exact.lu),
            ("fraction_consistency_raw", pred.lu_raw),
        ):
            out[key] = inp.consistency(labels)
        # headline: land cover (what the acceptance targets), land use alongside
        lc_res = out["lc"]
        out.update(
            {
                k: lc_res[k]
                for k in ("oa", "miou", "per_class_iou", "miou_copy_baseline", "miou_rf_baseline")
            }
        )
        out["pixels"] = int(truth["lu"].size)
        out["_confusion"] = conf
        out["_maps"] = {"truth": truth, "lu": pred.lu[rr, cc], "lc": pred.lc[rr, cc]}
        return out

    @staticmethod
    def _inner_cells(rr: slice, cc: slice, factor: int):
        i0, i1 = -(-rr.start // factor), rr.stop // factor
        j0, j1 = -(-cc.start // factor), cc.stop // factor
        return (slice(i0, i1), slice(j0, j1)) if i1 > i0 and j1 > j0 else None


def public(result: dict) -> dict:
    """The JSON-able part of a region result (no confusion matrices, no maps)."""
    return {k: v for k, v in result.items() if not k.startswith("_")}


# ----------------------------------------------------------------------------------------
# the model-card table over held-out regions
# ----------------------------------------------------------------------------------------
def held_out_regions(
    cube: Cube, n: int = 12, min_land: float = 0.5, which: str = "test"
) -> list[tuple[float, float, float, float]]:
    """Test blocks (10°) between 60°S and 80°N with at least `min_land` land, spread over the
    globe (every k-th in west-to-east, south-to-north order); `which="validation"` gives
    the validation blocks the same way (e.g. to calibrate on them)."""
    spec = json.loads(split.SPLIT_FILE.read_text())
    lf = cube.arrays["land_fraction"]
    cands = []
    for s, w in spec[which]:
        if s >= -60 and s + 10 <= 80:
            r, c = round((s + 90) / DEG), round((w + 180) / DEG)
            if lf[r : r + 200, c : c + 200].mean() >= min_land:
                cands.append((float(s), float(s + 10), float(w), float(w + 10)))
    step = max(1, len(cands) // n)
    return cands[::step][:n]


def table(
    out_dir: Path = TABLE_DIR,
    masks=(0.0, 0.5, 0.75, 0.95),
    coarse=(0.25, 1.25),
    n_regions: int = 8,
    model_path: Path = MODEL_PATH,
) -> list[dict]:
    """Pooled and per-region-mean metrics over held-out regions for every (mask, coarse)."""
    ev = Evaluator(model_path)
    regions = held_out_regions(ev.cube, n_regions)
    rows = []
    for cdeg in coarse:
        for mask in masks:
            pooled: dict = {}
            per_region = {"lu": [], "lc": []}
            fc = []
            for k, reg in enumerate(regions):
                res = ev.region(reg, cdeg, mask, seed=k)
                fc.append(res["fraction_consistency"])
                for scheme in ("lu", "lc"):
                    per_region[scheme].append(res[scheme]["miou"])
                    for name, c in res["_confusion"][scheme].items():
                        key = (scheme, name)
                        pooled[key] = pooled.get(key, 0) + c
            for scheme, names in (("lu", LAND_USE), ("lc", LAND_COVER)):
                row = {
                    "scheme": scheme,
                    "coarse_deg": cdeg,
                    "mask_ratio": mask,
                    "regions": len(regions),
                }
                for name in ("model", "raw", "exact", "copy", "rf", "true_lu"):
                    if (scheme, name) not in pooled:  # true_lu: land cover only
                        continue
                    m, a, per = miou_oa(pooled[(scheme, name)])
                    row[f"miou_{name}"], row[f"oa_{name}"] = round(m, 4), round(a, 4)
                    if name == "model":
                        row.update(
                            {
                                f"iou_{c}": (round(v, 4) if v is not None else None)
                                for c, v in zip(names, per, strict=True)
                            }
                        )
                for name in ("model", "copy", "rf"):
                    row[f"miou_common_{name}"] = round(miou_common(pooled[(scheme, name)]), 4)
                truth = pooled[(scheme, "model")].sum(1)
                row.update({f"truth_{c}": int(n) for c, n in zip(names, truth, strict=True)})
                row["mean_region_miou"] = round(float(np.mean(per_region[scheme])), 4)
                row["fraction_consistency"] = round(float(np.mean(fc)), 4)
                rows.append(row)
                print(
                    json.dumps(
                        {
                            k: row[k]
                            for k in (
                                "scheme",
                                "coarse_deg",
                                "mask_ratio",
                                "miou_model",
                                "oa_model",
                                "miou_copy",
                                "miou_rf",
                            )
                        }
                    ),
                    flush=True,
                )
    write_table(rows, regions, out_dir)
    return rows


def write_table(rows: list[dict], regions: list, out_dir: Path) -> None:
    import csv

    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "heldout.csv").open("w", newline="") as fh:
        keys = sorted(
            {k for r in rows for k in r},
            key=lambda k: list(rows[0]).index(k) if k in rows[0] else 999,
        )
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    (out_dir / "heldout.json").write_text(json.dumps({"regions": regions, "rows": rows}, indent=1))
    (out_dir / "heldout.md").write_text(markdown(rows, regions))


def markdown(rows: list[dict], regions: list) -> str:
    """The held-out table as Markdown: summary per scheme/setting, then per-class IoU."""
    cols = {
        "scheme": "scheme",
        "coarse_deg": "coarse °",
        "mask_ratio": "mask",
        "miou_model": "mIoU",
        "oa_model": "OA",
        "miou_raw": "mIoU raw net",
        "miou_exact": "mIoU exact alloc.",
        "miou_copy": "mIoU copy",
        "miou_rf": "mIoU RF",
        "oa_copy": "OA copy",
        "oa_rf": "OA RF",
        "mean_region_miou": "mean region mIoU",
        "fraction_consistency": "fraction consistency",
        "miou_common_model": "mIoU common",
        "miou_common_copy": "mIoU common copy",
        "miou_common_rf": "mIoU common RF",
        "miou_true_lu": "mIoU on true LU",
        "oa_true_lu": "OA on true LU",
    }
    lines = [f"Held-out regions ({len(regions)} test blocks, S,N,W,E): {regions}", ""]
    lines += ["| " + " | ".join(cols.values()) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r.get(k, "–")) for k in cols) + " |" for r in rows]
    lines += [
        "",
        "mIoU common: mean IoU over the classes with ≥ 1000 truth pixels in these blocks "
        "(`metrics.miou_common`); plain mIoU weighs every class present alike, however few "
        "its pixels (truth pixels per class: first line of each per-class table). "
        "On true LU (land cover only): the product's land cover decoded on the true land use "
        "instead of its own, a diagnostic of how much land-cover error is land use's.",
    ]
    for scheme, names in (("lu", LAND_USE), ("lc", LAND_COVER)):
        lines += [
            "",
            f"Per-class IoU, {scheme}:",
            "",
            "| coarse ° | mask | " + " | ".join(names) + " |",
            "|" + "---|" * (len(names) + 2),
        ]
        first = next(r for r in rows if r["scheme"] == scheme)
        counts = " | ".join(str(first[f"truth_{n}"]) for n in names)
        lines.append(f"| truth pixels | all | {counts} |")
        for r in rows:
            if r["scheme"] == scheme:
                vals = [f"{r[f'iou_{n}']:.3f}" if r[f"iou_{n}"] is not None else "–" for n in names]
                lines.append(
                    f"| {r['coarse_deg']} | {r['mask_ratio']} | " + " | ".join(vals) + " |"
                )
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------
# plot
# ----------------------------------------------------------------------------------------
def plot_region(result: dict, path: Path) -> Path:
    """Truth / prediction / error maps for land use and land cover, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    maps = result["_maps"]
    s, n, w, e = result["region"]
    fig, axes = plt.subplots(2, 3, figsize=(13, 8), constrained_layout=True)
    for row, (scheme, names) in enumerate((("lu", LAND_USE), ("lc", LAND_COVER))):
        cmap = ListedColormap(plt.get_cmap("tab20").colors[: len(names)])
        truth, pred = maps["truth"][scheme], maps[scheme]
        for col, (title, img) in enumerate((("truth (MODIS 2019)", truth), ("prediction", pred))):
            ax = axes[row, col]
            im = ax.imshow(
                np.ma.masked_greater_equal(img, len(names)),
                cmap=cmap,
                vmin=-0.5,
                vmax=len(names) - 0.5,
                origin="lower",
                extent=(w, e, s, n),
                interpolation="nearest",
            )
            ax.set_title(f"{scheme.upper()} {title}")
        cb = fig.colorbar(im, ax=axes[row, :2], ticks=range(len(names)), shrink=0.9)
        cb.ax.set_yticklabels(names, fontsize=7)
        ax = axes[row, 2]
        ax.imshow(
            truth != pred, cmap="Reds", origin="lower", extent=(w, e, s, n), interpolation="nearest"
        )
        res = result[scheme]
        ax.set_title(f"{scheme.upper()} error: OA {res['oa']:.3f}, mIoU {res['miou']:.3f}")
    fig.suptitle(
        f"region {s},{n},{w},{e}; coarse {result['coarse_deg']}°, mask {result['mask_ratio']}; "
        f"overlaps training: {result['overlaps_training']}"
    )
    path = Path(path)
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m emulators.lulc.evaluate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("table", help="the held-out table of the model card")
    t.add_argument("--out", type=Path, default=TABLE_DIR)
    t.add_argument("--regions", type=int, default=8)
    v = sub.add_parser("validation", help="decodings (and a candidate model) on validation blocks")
    v.add_argument("--model", type=Path, default=MODEL_PATH)
    v.add_argument("--out", type=Path, default=TABLE_DIR)
    v.add_argument("--regions", type=int, default=8)
    v.add_argument(
        "--floors", default="", help="also the product with these floors, e.g. 0.01,0.1,1"
    )
    r = sub.add_parser("select", help="selection_rule.md: does a candidate replace the model?")
    r.add_argument("candidate", type=Path, help="the candidate's validation table directory")
    r.add_argument("--shipped", type=Path, default=TABLE_DIR)
    r.add_argument(
        "--choose-floor", action="store_true", help="each model with its best product floor"
    )
    args = p.parse_args(argv)
    if args.cmd == "select":
        from emulators.lulc.validation import read_product_rows, selection_verdict

        rows = tuple(
            read_product_rows(d, args.choose_floor) for d in (args.shipped, args.candidate)
        )
        print(json.dumps(selection_verdict(*rows)))
        return 0
    model = getattr(args, "model", MODEL_PATH)
    if not model.is_file():
        raise DataFileError(f"no model at {model}; run python -m emulators.lulc.export")
    if args.cmd == "validation":
        from emulators.lulc.validation import validation_table

        floors = tuple(float(f) for f in args.floors.split(",") if f)
        validation_table(model, args.out, args.regions, floors=floors)
    else:
        table(args.out, n_regions=args.regions)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
