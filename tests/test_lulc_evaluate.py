"""Land-use evaluation: regions, baselines, coarse consistency, scenario response, CLI."""

import numpy as np
import pytest

from coupler.errors import FieldError
from emulators.lulc.classes import LAND_COVER, LAND_USE
from emulators.lulc.evaluate import copy_baseline, markdown, parse_region, region_window
from emulators.lulc.features import N_LU, coarse_fractions, row_area_weights, upsample
from emulators.lulc.infer import MODEL_PATH, OnnxLulc, predict_maps
from tests.test_lulc_data import valid_input

CROP = LAND_USE.index("cropland")


def test_region_is_parsed_and_checked():
    assert parse_region("30,40,-10,0") == (30.0, 40.0, -10.0, 0.0)
    with pytest.raises(FieldError, match="must be S,N,W,E"):
        parse_region("30,40,-10")
    with pytest.raises(FieldError, match="S < N"):
        parse_region("40,30,-10,0")
    with pytest.raises(FieldError, match="not on the 0.05° grid"):
        parse_region("30.01,40,-10,0")


def test_region_window_is_aligned_to_the_coarse_lattice_with_context():
    (r0, r1, c0, c1), (rr, cc) = region_window((40.0, 50.0, 0.0, 10.0), 25, context=64)
    assert r0 % 25 == r1 % 25 == c0 % 25 == c1 % 25 == 0
    assert (rr.stop - rr.start, cc.stop - cc.start) == (200, 200)
    assert r0 + rr.start == round(130 / 0.05) and rr.start >= 64


def test_copy_baseline_copies_visible_prior_and_fills_with_coarse_majority():
    x = valid_input(64, 64)
    coarse = x[:8, ::16, ::16]
    lu, _ = copy_baseline(x, coarse, 16, np.arange(8, dtype=np.uint8))
    hidden = x[27] > 0.5
    np.testing.assert_array_equal(lu[~hidden], x[8:16].argmax(0)[~hidden])
    np.testing.assert_array_equal(lu[hidden], upsample(coarse.argmax(0), 16)[hidden])


def scenario(
    x: np.ndarray, coarse: np.ndarray, factor: int, delta: float
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs with the coarse cropland fraction raised by `delta` (others scaled down)."""
    c = coarse.copy()
    add = np.minimum(delta, 1 - c[CROP])
    others = [k for k in range(N_LU) if k != CROP]
    rest = c[others].sum(0)
    c[others] *= np.where(rest > 0, (rest - add) / np.maximum(rest, 1e-12), 1.0)
    c[CROP] += add
    y = x.copy()
    y[:N_LU] = upsample(c, factor)
    return y, c


@pytest.mark.skipif(not MODEL_PATH.is_file(), reason="no shipped lulc.onnx yet")
def test_raising_coarse_cropland_raises_fine_cropland_by_the_same_share():
    model = OnnxLulc()
    x = valid_input(256, 256)
    coarse = coarse_fractions(x[8:16].argmax(0), 32, N_LU, np.ones(256))
    x[:N_LU] = upsample(coarse, 32)
    w = row_area_weights(10.0, 256)
    before = predict_maps(model, x, coarse, 32)
    y, raised = scenario(x, coarse, 32, 0.2)
    after = predict_maps(model, y, raised, 32)
    gain = (
        coarse_fractions(after.lu, 32, N_LU, w)[CROP]
        - coarse_fractions(before.lu, 32, N_LU, w)[CROP]
    )
    assert float(gain.mean()) == pytest.approx(float((raised - coarse)[CROP].mean()), abs=0.05)
    assert float(gain.mean()) == pytest.approx(0.2, abs=0.05)


def test_held_out_markdown_shows_truth_pixels_and_land_cover_on_true_land_use():
    rows = []
    for scheme, names in (("lu", LAND_USE), ("lc", LAND_COVER)):
        row = {"scheme": scheme, "coarse_deg": 1.25, "mask_ratio": 0.75, "regions": 1}
        for name in ("model", "raw", "exact", "copy", "rf"):
            row[f"miou_{name}"], row[f"oa_{name}"] = 0.5, 0.8
        row |= {f"iou_{c}": 0.5 for c in names} | {f"truth_{c}": 7 for c in names}
        row |= {"mean_region_miou": 0.5, "fraction_consistency": 0.02}
        row |= {f"miou_common_{k}": 0.6 for k in ("model", "copy", "rf")}
        if scheme == "lc":
            row |= {"miou_true_lu": 0.7, "oa_true_lu": 0.9}
        rows.append(row)
    text = markdown(rows, [(0.0, 10.0, 0.0, 10.0)])
    assert "| truth pixels | all | " + " | ".join(["7"] * len(LAND_COVER)) + " |" in text
    assert "mIoU on true LU" in text
    assert "| 0.6 | 0.6 | 0.6 | – | – |" in text  # land use has no true-land-use column
    assert "| 0.6 | 0.6 | 0.6 | 0.7 | 0.9 |" in text
