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
