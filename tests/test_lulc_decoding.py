"""Land-use decoding: repair to a tolerance, neighbourhood land cover, the product's promises."""

import numpy as np
import pytest

from coupler.errors import FieldError
from emulators.lulc.classes import compatible_lc_given_lu
from emulators.lulc.features import MASK, N_LU, PRIOR_LC, coarse_fractions, row_area_weights
from emulators.lulc.infer import (
    MODEL_PATH,
    PRODUCT,
    Decoding,
    OnnxLulc,
    box_mean,
    decode_maps,
    neighbourhood_share,
    predict_maps,
    quotas,
    repair_to_tolerance,
)
from emulators.lulc.metrics import miou_common
from emulators.lulc.validation import changes_markdown, count_changes
from tests.test_lulc_data import valid_input
from tests.test_lulc_evaluate import CROP, scenario


def cell_distance(labels: np.ndarray, coarse: np.ndarray, factor: int) -> np.ndarray:
    """½ Σ_k |count_k − quota_k| / n per coarse cell."""
    k, n = coarse.shape[0], factor * factor
    out = np.empty(coarse.shape[1:])
    for i in range(coarse.shape[1]):
        for j in range(coarse.shape[2]):
            cell = labels[i * factor : (i + 1) * factor, j * factor : (j + 1) * factor]
            counts = np.bincount(cell.ravel(), minlength=k)
            out[i, j] = 0.5 * np.abs(counts - quotas(coarse[:, i, j], n)).sum() / n
    return out


@pytest.mark.parametrize("tolerance", [0.0, 0.04, 0.1])
def test_repair_brings_every_cell_within_the_tolerance_with_the_fewest_changes(tolerance):
    rng = np.random.default_rng(7)
    prob = rng.dirichlet(np.ones(8) * 0.5, size=(50, 75)).transpose(2, 0, 1)
    coarse = rng.dirichlet(np.ones(8), size=(2, 3)).transpose(2, 0, 1)
    start = prob.argmax(0).astype(np.uint8)
    before = cell_distance(start, coarse, 25)
    repaired = repair_to_tolerance(prob, start, coarse, 25, tolerance)
    assert cell_distance(repaired, coarse, 25).max() <= tolerance + 1e-12
    changed = (repaired != start).reshape(2, 25, 3, 25).sum(axis=(1, 3))
    needed = np.maximum(0, np.round(before * 625) - np.floor(tolerance * 625 + 1e-9))
    np.testing.assert_array_equal(changed, needed)


def test_repair_moves_the_least_confident_pixels():
    prob = np.zeros((2, 2, 2))
    prob[0] = [[0.9, 0.6], [0.8, 0.7]]  # every pixel prefers class 0, the cell wants 1 of class 1
    prob[1] = 1 - prob[0]
    coarse = np.array([0.75, 0.25]).reshape(2, 1, 1)
    out = repair_to_tolerance(prob, np.zeros((2, 2), np.uint8), coarse, 2, 0.0)
    np.testing.assert_array_equal(out, [[0, 1], [0, 0]])


def test_repair_refuses_fractions_that_do_not_tile_the_probabilities():
    with pytest.raises(FieldError, match="do not tile probabilities"):
        repair_to_tolerance(np.ones((8, 30, 30)), np.zeros((30, 30)), np.ones((8, 2, 2)), 16, 0)


def test_box_mean_equals_a_direct_clipped_mean():
    field = np.random.default_rng(1).random((2, 9, 7))
    got = box_mean(field, 2)
    i, j = 1, 6  # near two edges: the box is clipped to rows 0-3, columns 4-6
    assert got[1, i, j] == pytest.approx(field[1, 0:4, 4:7].mean())


def test_neighbourhood_share_counts_only_visible_prior_pixels():
    prior = np.zeros((3, 5, 5))
    prior[0, :, :2] = 1
    prior[2, :, 2:4] = 1
    prior[0, :, 4] = 1  # column 4 is hidden: its class 0 must not count
    visible = np.ones((5, 5), bool)
    visible[:, 4] = False
    share = neighbourhood_share(prior, visible, 1)
    assert share[:, 2, 2].tolist() == pytest.approx([1 / 3, 0, 2 / 3])
    assert share[:, 2, 3].tolist() == pytest.approx([0, 0, 1])
    np.testing.assert_allclose(share.sum(0), 1)


def test_product_decoding_keeps_land_cover_within_land_use_and_the_visible_prior():
    x = valid_input(64, 64)
    rng = np.random.default_rng(5)
    prob = rng.dirichlet(np.ones(19), size=(64, 64)).transpose(2, 0, 1)
    prob = np.concatenate([prob[:8] / prob[:8].sum(0), prob[8:] / prob[8:].sum(0)])
    coarse = x[:8, ::16, ::16]
    pred = decode_maps(prob, x, coarse, 16, decoding=PRODUCT)
    assert compatible_lc_given_lu()[pred.lu, pred.lc].all()
    assert cell_distance(pred.lu, coarse, 16).max() <= PRODUCT.tolerance
    visible = x[MASK] < 0.5
    prior_lc = x[PRIOR_LC].argmax(0)
    keep = visible & (pred.lu == x[8:16].argmax(0)) & compatible_lc_given_lu()[pred.lu, prior_lc]
    assert keep.sum() > 100
    np.testing.assert_array_equal(pred.lc[keep], prior_lc[keep])


def test_exact_decoding_is_the_allocation_of_before():
    x = valid_input(64, 64)
    prob = np.random.default_rng(6).random((19, 64, 64))
    coarse = x[:8, ::16, ::16]
    exact = decode_maps(prob, x, coarse, 16, decoding=Decoding())
    assert cell_distance(exact.lu, coarse, 16).max() == 0


def test_land_cover_on_a_given_land_use_follows_it_and_otherwise_the_product():
    x = valid_input(64, 64)
    rng = np.random.default_rng(7)
    prob = rng.dirichlet(np.ones(19), size=(64, 64)).transpose(2, 0, 1)
    coarse = x[:8, ::16, ::16]
    given = rng.integers(0, N_LU, (64, 64)).astype(np.uint8)
    pred = decode_maps(prob, x, coarse, 16, decoding=PRODUCT)
    on_given = decode_maps(prob, x, coarse, 16, decoding=PRODUCT, land_use=given)
    np.testing.assert_array_equal(on_given.lu, given)
    assert compatible_lc_given_lu()[given, on_given.lc].all()
    same = pred.lu == given  # where the land use agrees, so does the land cover
    assert 100 < same.sum() < same.size
    np.testing.assert_array_equal(on_given.lc[same], pred.lc[same])


def test_common_class_miou_leaves_out_classes_of_few_pixels():
    conf = np.array([[5000, 0, 0], [0, 5000, 1000], [0, 0, 1]])  # class 2 has 1 truth pixel
    assert miou_common(conf, 1000) == pytest.approx((1 + 5000 / 6000) / 2)


@pytest.mark.skipif(not MODEL_PATH.is_file(), reason="no shipped lulc.onnx yet")
def test_product_raises_fine_cropland_with_the_coarse_cropland():
    model = OnnxLulc()
    x = valid_input(256, 256)
    coarse = coarse_fractions(x[8:16].argmax(0), 32, N_LU, np.ones(256))
    x[:N_LU] = np.repeat(np.repeat(coarse, 32, axis=1), 32, axis=2)
    w = row_area_weights(10.0, 256)
    before = predict_maps(model, x, coarse, 32, decoding=PRODUCT)
    y, raised = scenario(x, coarse, 32, 0.2)
    after = predict_maps(model, y, raised, 32, decoding=PRODUCT)
    gain = (
        coarse_fractions(after.lu, 32, N_LU, w)[CROP]
        - coarse_fractions(before.lu, 32, N_LU, w)[CROP]
    )
    assert float(gain.mean()) == pytest.approx(0.2, abs=0.05)


def test_changes_against_the_raw_network_are_counted_by_kind_with_who_is_right():
    region = (slice(0, 2), slice(0, 2))
    raw = (np.array([[3, 3], [5, 5]]), np.array([[4, 4], [6, 6]]))
    decoded = (np.array([[3, 3], [4, 5]]), np.array([[1, 4], [5, 5]]))
    truth = (np.array([[3, 3], [4, 5]]), np.array([[1, 4], [6, 5]]))
    visible = np.array([[True, True], [False, False]])
    acc: dict = {}
    count_changes(acc, "product", raw, decoded, truth, visible, region)
    assert acc[("product", "visible prior")] == {"changed": 1, "right_after": 1, "right_before": 0}
    assert acc[("product", "hidden, land use moved")] == {
        "changed": 1,
        "right_after": 0,
        "right_before": 1,
    }
    assert acc[("product", "hidden, same land use")]["changed"] == 1
    assert "| 1.25 | 0.75 | product | visible prior | 1 | 1 | 0 |" in changes_markdown(
        [
            {
                "coarse_deg": 1.25,
                "mask_ratio": 0.75,
                "decoding": "product",
                "pixels": "visible prior",
            }
            | acc[("product", "visible prior")]
        ]
    )
