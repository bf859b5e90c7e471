"""Decodings compared on the validation blocks: how the network's probabilities become maps.

    python -m emulators.lulc.evaluate validation [--model lulc.onnx] [--out DIR]

The decoding (and any candidate model) is chosen here, on the 8 validation blocks (10°, the
same selection rule as the held-out table's test blocks), never on the test blocks. The
network runs once per region and setting (coarse 1.25° and 0.25° × masking 0.5, 0.75, 0.95,
seeded as the held-out table); every decoding reads the same probabilities:

* raw: argmax of the network; raw + prior: the same with visible prior pixels copied (not
  consistent with the coarse fractions: a reference, not a product);
* exact: the allocation to the coarse fractions and land cover under land use (the product
  of sessions 1–4, and the online step's);
* tolerance, neighbourhood: each half of the product's change alone;
* product: both (`emulators.lulc.infer.PRODUCT`).

Writes validation_decoding.csv / .md (per setting and decoding: land-cover mIoU, mIoU over
the common classes, OA, land-use mIoU, fraction consistency; per-class land-cover IoU).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from emulators.lulc.classes import LAND_COVER
from emulators.lulc.dataset import DEFAULT_CUBE
from emulators.lulc.features import MASK, N_LC, N_LU, PRIOR_LC, PRIOR_LU
from emulators.lulc.infer import (
    EXACT,
    MODEL_PATH,
    PRODUCT,
    Decoding,
    decode_maps,
    predict_probabilities,
)
from emulators.lulc.metrics import confusion, miou_common, miou_oa

SETTINGS = tuple((c, m) for c in (1.25, 0.25) for m in (0.5, 0.75, 0.95))
DECODINGS: dict[str, Decoding] = {
    "exact": EXACT,
    "tolerance": Decoding(tolerance=PRODUCT.tolerance),
    "neighbourhood": Decoding(radius=PRODUCT.radius, floor=PRODUCT.floor),
    "product": PRODUCT,
}


def floor_decodings(floors: tuple[float, ...]) -> dict[str, Decoding]:
    """The product with other floors (weight of a land-cover class absent from the visible
    neighbourhood): large floors trust the network, small ones the neighbourhood."""
    return {f"product floor={f:g}": Decoding(PRODUCT.tolerance, PRODUCT.radius, f) for f in floors}


def variant_maps(
    prob: np.ndarray,
    x: np.ndarray,
    coarse: np.ndarray,
    factor: int,
    decodings: dict[str, Decoding] = DECODINGS,
) -> dict:
    """{decoding name: (land use, land cover)} from one window's probabilities."""
    raw = (prob[:N_LU].argmax(0), prob[N_LU:].argmax(0))
    visible = x[MASK] < 0.5
    maps = {
        "raw": raw,
        "raw + prior": (
            np.where(visible, x[PRIOR_LU].argmax(0), raw[0]),
            np.where(visible, x[PRIOR_LC].argmax(0), raw[1]),
        ),
    }
    for name, decoding in decodings.items():
        pred = decode_maps(prob, x, coarse, factor, decoding=decoding)
        maps[name] = (pred.lu, pred.lc)
    return maps


def validation_table(
    model_path: Path = MODEL_PATH,
    out_dir: Path | None = None,
    n_regions: int = 8,
    cube_path: Path = DEFAULT_CUBE,
    settings: tuple = SETTINGS,
    floors: tuple[float, ...] = (),
) -> list[dict]:
    """One row per (setting, decoding), pooled over the validation blocks; written to out_dir.
    `floors`: also the product with each of these floors (`floor_decodings`)."""
    from emulators.lulc.evaluate import TABLE_DIR, Evaluator, held_out_regions

    ev = Evaluator(model_path, cube_path, baselines=False)
    decodings = DECODINGS | floor_decodings(floors)
    regions = held_out_regions(ev.cube, n_regions, which="validation")
    rows, changes = [], []
    for coarse_deg, mask in settings:
        conf: dict = {}
        consistency: dict = {}
        changed: dict = {}
        for k, reg in enumerate(regions):
            inp = ev.inputs(reg, coarse_deg, mask, seed=k)
            prob = predict_probabilities(ev.model, inp.x, inp.origin)
            truth = (inp.lu[inp.region], inp.lc[inp.region])
            maps = variant_maps(prob, inp.x, inp.coarse, inp.factor, decodings)
            visible = inp.x[MASK][inp.region] < 0.5
            for name in ("exact", "product"):
                count_changes(changed, name, maps["raw"], maps[name], truth, visible, inp.region)
            for name, (lu, lc) in maps.items():
                c_lu, c_lc = conf.get(name, (0, 0))
                conf[name] = (
                    c_lu + confusion(truth[0], lu[inp.region], N_LU),
                    c_lc + confusion(truth[1], lc[inp.region], N_LC),
                )
                consistency.setdefault(name, []).append(inp.consistency(lu))
        for name, (c_lu, c_lc) in conf.items():
            rows.append(summary_row(coarse_deg, mask, name, c_lu, c_lc, consistency[name]))
            print(json.dumps({k: rows[-1][k] for k in list(rows[-1])[:8]}), flush=True)
        changes += [
            {"coarse_deg": coarse_deg, "mask_ratio": mask, "decoding": d, "pixels": kind, **v}
            for (d, kind), v in changed.items()
        ]
    write(rows, changes, regions, Path(out_dir or TABLE_DIR), Path(model_path).name)
    return rows


CHANGE_KINDS = ("visible prior", "hidden, land use moved", "hidden, same land use")


def count_changes(acc: dict, name: str, raw, decoded, truth, visible, region) -> None:
    """Land-cover pixels where a decoding differs from the raw network, by kind, and how
    many of them each gets right: where the decoding wins or loses against raw."""
    lu_raw, lc_raw = raw[0][region], raw[1][region]
    lu_dec, lc_dec = decoded[0][region], decoded[1][region]
    differ = (lc_dec != lc_raw) & (truth[1] < N_LC)
    kinds = (visible, ~visible & (lu_dec != lu_raw), ~visible & (lu_dec == lu_raw))
    for kind, where in zip(CHANGE_KINDS, kinds, strict=True):
        sel = differ & where
        entry = acc.setdefault((name, kind), {"changed": 0, "right_after": 0, "right_before": 0})
        entry["changed"] += int(sel.sum())
        entry["right_after"] += int((lc_dec[sel] == truth[1][sel]).sum())
        entry["right_before"] += int((lc_raw[sel] == truth[1][sel]).sum())


def summary_row(coarse_deg, mask, name, c_lu, c_lc, consistency) -> dict:
    m_lc, oa_lc, per = miou_oa(c_lc)
    m_lu, oa_lu, _ = miou_oa(c_lu)
    row = {
        "coarse_deg": coarse_deg,
        "mask_ratio": mask,
        "decoding": name,
        "lc_miou": round(m_lc, 4),
        "lc_miou_common": round(miou_common(c_lc), 4),
        "lc_oa": round(oa_lc, 4),
        "lu_miou": round(m_lu, 4),
        "fraction_consistency": round(float(np.mean(consistency)), 4),
        "lu_oa": round(oa_lu, 4),
    }
    row.update(
        {
            f"iou_{c}": None if v is None else round(v, 3)
            for c, v in zip(LAND_COVER, per, strict=True)
        }
    )
    row["lc_truth_pixels"] = json.dumps(c_lc.sum(1).tolist())
    return row


def write(rows: list[dict], changes: list[dict], regions: list, out_dir: Path, model: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / "validation_decoding.csv.tmp"
    with tmp.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    tmp.replace(out_dir / "validation_decoding.csv")
    tmp = out_dir / "validation_decoding.md.tmp"
    tmp.write_text(markdown(rows, regions, model) + changes_markdown(changes))
    tmp.replace(out_dir / "validation_decoding.md")


def markdown(rows: list[dict], regions: list, model: str) -> str:
    cols = list(rows[0])[:9]
    lines = [
        f"Decodings of `{model}` on {len(regions)} validation blocks (S,N,W,E): {regions}",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    lines += ["| " + " | ".join(str(r[k]) for k in cols) + " |" for r in rows]
    names = [f"iou_{c}" for c in LAND_COVER]
    lines += ["", "Per-class land-cover IoU:", ""]
    lines += ["| coarse ° | mask | decoding | " + " | ".join(LAND_COVER) + " |"]
    lines += ["|" + "---|" * (len(names) + 3)]
    for r in rows:
        vals = ["–" if r[n] is None else f"{r[n]:.3f}" for n in names]
        lines.append(
            f"| {r['coarse_deg']} | {r['mask_ratio']} | {r['decoding']} | "
            + " | ".join(vals)
            + " |"
        )
    lines += [
        "",
        f"Land-cover truth pixels per class (last setting): {rows[-1]['lc_truth_pixels']}",
    ]
    return "\n".join(lines) + "\n"


def changes_markdown(changes: list[dict]) -> str:
    """Where the decodings change the raw network's land cover, and who is right there."""
    lines = [
        "",
        "Land-cover pixels the decoding changes against the raw network (argmax), and how many",
        "of them are right after (decoded) and before (raw):",
        "",
        "| coarse ° | mask | decoding | pixels | changed | right after | right before |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in changes:
        lines.append(
            f"| {c['coarse_deg']} | {c['mask_ratio']} | {c['decoding']} | {c['pixels']} | "
            f"{c['changed']} | {c['right_after']} | {c['right_before']} |"
        )
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------
# the rule for replacing the shipped model (evaluation/selection_rule.md)
# ----------------------------------------------------------------------------------------
def read_product_rows(
    table_dir: Path, choose_floor: bool = False
) -> dict[tuple[float, float], dict]:
    """The product's rows of a validation_decoding.csv: (coarse °, mask) → metrics. With
    `choose_floor`, those of the "product floor=…" decoding with the best mean land-cover
    mIoU over the settings (its name under the key "decoding" of every row)."""
    with open(Path(table_dir) / "validation_decoding.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    names = {r["decoding"] for r in rows if r["decoding"].startswith("product floor=")}
    if choose_floor and not names:
        raise ValueError(f"{table_dir}: no 'product floor=' rows; run validation --floors")

    def mean_lc(name: str) -> float:
        return float(np.mean([float(r["lc_miou"]) for r in rows if r["decoding"] == name]))

    chosen = max(sorted(names), key=mean_lc) if choose_floor else "product"
    return {
        (float(r["coarse_deg"]), float(r["mask_ratio"])): {
            "decoding": chosen,
            **{k: float(r[k]) for k in ("lc_miou", "lc_miou_common", "lu_miou")},
        }
        for r in rows
        if r["decoding"] == chosen
    }


def selection_verdict(
    shipped: dict[tuple[float, float], dict],
    candidate: dict[tuple[float, float], dict],
) -> dict:
    """The four criteria of selection_rule.md on the product's validation rows; the
    candidate replaces the shipped model only if all hold."""
    if set(shipped) != set(candidate):
        raise ValueError(f"settings differ: {sorted(shipped)} vs {sorted(candidate)}")

    def mean(rows: dict, key: str) -> float:
        return float(np.mean([r[key] for r in rows.values()]))

    target = (1.25, 0.75)
    res = {
        "lc_miou_mean": (mean(shipped, "lc_miou"), mean(candidate, "lc_miou")),
        "lc_miou_1.25_0.75": (shipped[target]["lc_miou"], candidate[target]["lc_miou"]),
        "lc_miou_common_mean": (mean(shipped, "lc_miou_common"), mean(candidate, "lc_miou_common")),
        "lu_miou_mean": (mean(shipped, "lu_miou"), mean(candidate, "lu_miou")),
    }
    passed = {
        "1_mean_lc_miou_up_0.01": res["lc_miou_mean"][1] >= res["lc_miou_mean"][0] + 0.01,
        "2_target_setting_higher": res["lc_miou_1.25_0.75"][1] > res["lc_miou_1.25_0.75"][0],
        "3_common_classes_higher": res["lc_miou_common_mean"][1] > res["lc_miou_common_mean"][0],
        "4_lu_not_down_0.005": res["lu_miou_mean"][1] >= res["lu_miou_mean"][0] - 0.005,
    }
    return {
        "decodings": [next(iter(t.values()))["decoding"] for t in (shipped, candidate)],
        "shipped_vs_candidate": {k: [round(v, 4) for v in pair] for k, pair in res.items()},
        "criteria": passed,
        "replace": all(passed.values()),
    }
