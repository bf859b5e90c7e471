"""The two phase-two designs on phase one's U-Net body (emulators/lulc/model.py).

* `LaiUNet` (separate): the same U-Net with one LAI head; its land-use/land-cover heads are
  dropped. LAI = softplus(head) · 8 (non-negative, m² m⁻²), or with `residual` a change on
  top of the visible prior: LAI = relu(prior + head) (0 stands for the prior where it is
  hidden; `residual=1`), or split by the mask channel (`residual=2`: prior + change where
  visible, a value where hidden). Copying the prior is then the network's starting point
  rather than something it must learn; a plain U-Net trained for minutes stayed below the
  copy-the-prior baseline. `residual=3` multiplies amplitudes by the month's GSI channel
  (PhenologyHead), `residual=4` adds a per-pixel path from the inputs (PixelPhenologyHead,
  the shipped v3).
  `dropout` drops feature elements before the head in training (and for MC-dropout spread,
  emulators/lai/uncertainty.py); export runs in eval mode, so the ONNX model is deterministic.
* `JointUNet` (multi-task): phase one's U-Net with its two heads plus the LAI head on the
  shared encoder–decoder; forward returns (land-use logits, land-cover logits, LAI).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as nnf

from emulators.lai.features import GSI, LAI_SCALE, MASK, PRIOR
from emulators.lulc.architecture import BASE
from emulators.lulc.features import N_LC, N_LU
from emulators.lulc.model import UNet


class LaiHead(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(width, 1, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return nnf.softplus(self.conv(h))[:, 0] * LAI_SCALE


class ResidualHead(nn.Module):
    """LAI = relu(visible prior + change); starts near 'copy the prior' (+0.5 m² m⁻²)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(width, 1, 1)
        nn.init.zeros_(self.conv.weight)
        nn.init.constant_(self.conv.bias, 0.5)

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        prior = x[:, PRIOR] * LAI_SCALE  # 0 where hidden (features.assemble)
        return torch.relu(prior + self.conv(h)[:, 0])


class SplitResidualHead(nn.Module):
    """Where the prior is visible LAI = relu(prior + change), where it is hidden LAI =
    relu(value): one 1×1 convolution, two channels, chosen by the mask channel. The change
    starts at 0, so a visible prior is copied exactly before training; a single head
    (ResidualHead) has to learn from the mask alone that visible pixels need no offset, and
    the offset it kept accumulated month after month when fed back online."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(width, 2, 1)
        nn.init.zeros_(self.conv.weight)
        with torch.no_grad():
            self.conv.bias.copy_(torch.tensor([0.0, 0.5]))

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        c = self.conv(h)
        prior = x[:, PRIOR] * LAI_SCALE
        return torch.relu(torch.where(x[:, MASK] > 0.5, c[:, 1], prior + c[:, 0]))


class PhenologyHead(nn.Module):
    """SplitResidualHead with the month's growing-season index (input channel GSI) as a
    multiplier: hidden LAI = relu(base + GSI·amplitude), visible LAI = relu(prior + change +
    GSI·gain), all four maps from one 1×1 convolution. The U-Net then learns per-pixel
    amplitudes (static: from NDVI and class) instead of a product of a static field and the
    month's climate. This mirrors how the SEMI-EMPIRICAL target is built (LAI_lo + g·(LAI_hi
    − LAI_lo), target.py), so it is skill by construction as much as the NDVI channels are.
    Outputs 0–1 are SplitResidualHead's: warm-started from it with 2–3 at zero, it computes
    the same LAI."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(width, 4, 1)
        nn.init.zeros_(self.conv.weight)
        with torch.no_grad():
            self.conv.bias.copy_(torch.tensor([0.0, 0.5, 0.0, 0.0]))

    def maps(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.conv(h)

    def before_relu(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        c = self.maps(h, x)
        prior, gsi = x[:, PRIOR] * LAI_SCALE, x[:, GSI]
        hidden = c[:, 1] + gsi * c[:, 2]
        visible = prior + c[:, 0] + gsi * c[:, 3]
        return torch.where(x[:, MASK] > 0.5, hidden, visible)

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.before_relu(h, x))


class PixelPhenologyHead(PhenologyHead):
    """PhenologyHead whose four maps also get a per-pixel path from the raw inputs: a 1×1
    MLP (inputs → 32 → 32 → 4, last layer at zero, so a warm start from PhenologyHead gives
    the same LAI). A pixel-wise gradient-boosting model on the v3 channels reached an RMSE
    of 0.12 on hidden validation pixels where the U-Net, after 70 minutes, was at 0.69: the
    amplitudes are pixel-wise functions of NDVI and class which the encoder–decoder learns
    slowly; this path learns them directly (fitted alone: train.pretrain_pixel)."""

    def __init__(self, width: int, in_channels: int) -> None:
        super().__init__(width)
        self.pixel = nn.Sequential(
            nn.Conv2d(in_channels, 32, 1),
            nn.ReLU(),
            nn.Conv2d(32, 32, 1),
            nn.ReLU(),
            nn.Conv2d(32, 4, 1),
        )
        nn.init.zeros_(self.pixel[-1].weight)
        nn.init.zeros_(self.pixel[-1].bias)

    def maps(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.conv(h) + self.pixel(x)

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        z = self.before_relu(h, x)
        if not self.training:
            return torch.relu(z)
        # straight-through in training: the same values, but a pixel predicted below 0
        # whose target has leaves still gets a gradient (a relu gives none; a pixel MLP
        # trained alone with a relu output stayed at 0: measured)
        return z + (torch.relu(z) - z).detach()


RESIDUAL_HEADS = {1: ResidualHead, 2: SplitResidualHead, 3: PhenologyHead}  # 4: needs inputs


class LaiUNet(UNet):
    """Separate design: (B, C, H, W) → LAI (B, H, W)."""

    def __init__(
        self, in_channels: int, base: int = BASE, residual: int = 0, dropout: float = 0.0
    ) -> None:
        super().__init__(in_channels, N_LU, N_LC, base)
        del self.head_lu, self.head_lc
        self.residual = int(residual)  # 0: LaiHead, 1: Residual-, 2: SplitResidual-,
        # 3: Phenology-, 4: PixelPhenologyHead
        if self.residual == 4:
            self.head_lai = PixelPhenologyHead(base, in_channels)
        else:
            self.head_lai = RESIDUAL_HEADS[self.residual](base) if residual else LaiHead(base)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        h = self.dropout(self.features(x))
        return self.head_lai(h, x) if self.residual else self.head_lai(h)


class JointUNet(UNet):
    """Joint design: (B, C, H, W) → (land-use logits, land-cover logits, LAI (B, H, W))."""

    def __init__(self, in_channels: int, base: int = BASE) -> None:
        super().__init__(in_channels, N_LU, N_LC, base)
        self.head_lai = LaiHead(base)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # type: ignore[override]
        h = self.features(x)
        return self.head_lu(h), self.head_lc(h), self.head_lai(h)
