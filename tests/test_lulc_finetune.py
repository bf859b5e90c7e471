"""Fine-tuning losses of the land-use U-Net (focal term for the rare classes)."""

import math

import pytest
import torch

from emulators.lulc.classes import IGNORE
from emulators.lulc.train import FOCAL_GAMMA, Loss, focal


def test_focal_loss_scales_each_pixel_by_its_error_and_weights_rare_classes():
    logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]]).T.reshape(1, 2, 1, 2)  # pixels: p=.88, .5
    target = torch.tensor([[[0, 1]]])
    p = [math.exp(2) / (math.exp(2) + 1), 0.5]
    per_pixel = [-((1 - q) ** FOCAL_GAMMA) * math.log(q) for q in p]
    assert float(focal(logits, target, None)) == pytest.approx(sum(per_pixel) / 2, rel=1e-5)
    w = torch.tensor([1.0, 3.0])
    expected = (per_pixel[0] + 3 * per_pixel[1]) / 4
    assert float(focal(logits, target, w)) == pytest.approx(expected, rel=1e-5)


def test_focal_loss_ignores_unlabelled_pixels_and_is_a_loss_choice():
    logits = torch.randn(2, 8, 4, 4)
    target = torch.randint(0, 8, (2, 4, 4))
    masked = target.clone()
    masked[0, 0, 0] = IGNORE
    keep = masked != IGNORE
    full = focal(
        logits.permute(0, 2, 3, 1)[keep].T[None, :, :, None], target[keep][None, :, None], None
    )
    assert float(focal(logits, masked, None)) == pytest.approx(float(full), rel=1e-5)
    loss = Loss("weighted_focal", torch.ones(8), torch.ones(11))
    out = (torch.randn(1, 8, 4, 4), torch.randn(1, 11, 4, 4))
    assert float(loss(out, target[:1], torch.randint(0, 11, (1, 4, 4)))) > 0
    with pytest.raises(ValueError, match="unknown loss 'focal'"):
        Loss("focal")


def test_selection_rule_needs_all_four_criteria(tmp_path):
    import csv

    from emulators.lulc.validation import read_product_rows, selection_verdict

    settings = [(c, m) for c in (1.25, 0.25) for m in (0.5, 0.75, 0.95)]

    def table(name: str, lc: float, lu: float, target_lc: float) -> dict:
        d = tmp_path / name
        d.mkdir()
        with open(d / "validation_decoding.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(
                ["coarse_deg", "mask_ratio", "decoding", "lc_miou", "lc_miou_common", "lu_miou"]
            )
            for c, m in settings:
                value = target_lc if (c, m) == (1.25, 0.75) else lc
                w.writerow([c, m, "raw", 0.0, 0.0, 0.0])  # only the product's rows count
                w.writerow([c, m, "product", value, value + 0.1, lu])
        return read_product_rows(d)

    shipped = table("shipped", 0.60, 0.70, 0.55)
    better = table("better", 0.62, 0.70, 0.56)
    assert selection_verdict(shipped, better)["replace"]
    worse_target = table("worse_target", 0.63, 0.70, 0.54)
    verdict = selection_verdict(shipped, worse_target)
    assert not verdict["replace"] and not verdict["criteria"]["2_target_setting_higher"]
    lu_down = table("lu_down", 0.62, 0.69, 0.56)
    assert not selection_verdict(shipped, lu_down)["replace"]
    with pytest.raises(ValueError, match="settings differ"):
        selection_verdict(shipped, {(1.25, 0.75): better[(1.25, 0.75)]})


def test_choose_floor_takes_each_tables_best_product_floor(tmp_path):
    import csv

    from emulators.lulc.infer import PRODUCT
    from emulators.lulc.validation import floor_decodings, read_product_rows

    decodings = floor_decodings((0.01, 0.3))
    assert list(decodings) == ["product floor=0.01", "product floor=0.3"]
    assert decodings["product floor=0.3"].floor == 0.3
    assert decodings["product floor=0.3"].radius == PRODUCT.radius
    with open(tmp_path / "validation_decoding.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["coarse_deg", "mask_ratio", "decoding", "lc_miou", "lc_miou_common", "lu_miou"])
        for c, m in ((1.25, 0.75), (0.25, 0.5)):
            w.writerow([c, m, "product", 0.5, 0.6, 0.7])
            w.writerow([c, m, "product floor=0.01", 0.5, 0.6, 0.7])
            w.writerow([c, m, "product floor=0.3", 0.55 if c == 1.25 else 0.48, 0.6, 0.7])
    chosen = read_product_rows(tmp_path, choose_floor=True)
    assert {r["decoding"] for r in chosen.values()} == {"product floor=0.3"}  # mean 0.515
    assert chosen[(1.25, 0.75)]["lc_miou"] == 0.55
    assert read_product_rows(tmp_path)[(1.25, 0.75)]["decoding"] == "product"
