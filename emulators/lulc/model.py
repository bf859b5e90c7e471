"""The standard U-Net of seed 004 with two heads (land use, land cover).

16 base channels, four levels of 2×2 max-pool + double 3×3 convolution (16→32→64→128→256),
a symmetric decoder with 2×2 transposed convolutions and skip connections, and a 1×1
convolution per head. Group normalisation (8 groups) follows every 3×3 convolution instead
of batch normalisation: it does not depend on the batch, so training on 4-sample batches
behaves like inference, and data-parallel gradients equal single-process ones exactly (CPU
has no synchronised batch norm). Height and width must be multiples of 16.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from emulators.lulc.architecture import BASE, GROUPS, LEVELS


class DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.GroupNorm(min(GROUPS, cout), cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.GroupNorm(min(GROUPS, cout), cout),
            nn.ReLU(inplace=True),
        )


class UNet(nn.Module):
    """U-Net returning (land-use logits (B, n_lu, H, W), land-cover logits (B, n_lc, H, W))."""

    def __init__(self, in_channels: int, n_lu: int, n_lc: int, base: int = BASE) -> None:
        super().__init__()
        widths = [base * 2**k for k in range(LEVELS + 1)]
        self.inc = DoubleConv(in_channels, widths[0])
        self.down = nn.ModuleList(DoubleConv(widths[k], widths[k + 1]) for k in range(LEVELS))
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(widths[k + 1], widths[k], 2, stride=2)
            for k in reversed(range(LEVELS))
        )
        self.dec = nn.ModuleList(
            DoubleConv(2 * widths[k], widths[k]) for k in reversed(range(LEVELS))
        )
        self.pool = nn.MaxPool2d(2)
        self.head_lu = nn.Conv2d(widths[0], n_lu, 1)
        self.head_lc = nn.Conv2d(widths[0], n_lc, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The shared encoder–decoder: (B, base, H, W) features the 1×1 heads read
        (phase two's LAI and joint models add heads on them)."""
        skips = [self.inc(x)]
        for down in self.down:
            skips.append(down(self.pool(skips[-1])))
        h = skips.pop()
        for up, dec in zip(self.up, self.dec, strict=True):
            h = dec(torch.cat([skips.pop(), up(h)], dim=1))
        return h

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x)
        return self.head_lu(h), self.head_lc(h)


def with_input_channels(state: dict[str, torch.Tensor], n_in: int) -> dict[str, torch.Tensor]:
    """A U-Net state dict whose first convolution takes `n_in` input channels: channels beyond
    the trained ones get zero weights, so the widened network starts as the trained one."""
    key = "inc.0.weight"
    weight = state[key]
    if weight.shape[1] == n_in:
        return state
    if weight.shape[1] > n_in:
        raise ValueError(f"cannot narrow a {weight.shape[1]}-channel U-Net to {n_in} channels")
    pad = weight.new_zeros(weight.shape[0], n_in - weight.shape[1], *weight.shape[2:])
    return {**state, key: torch.cat([weight, pad], dim=1)}


class Ensemble(nn.Module):
    """Several trained U-Nets as one: their probabilities averaged, each member also run on
    the east–west mirror of the input when `mirror` (the flip the members were trained with).

    Returns log mean probabilities as the two heads' logits (softmax gives the mean back), so
    an exported ensemble keeps the single network's ONNX contract. Computed as logsumexp of
    log-softmaxes, finite even where a probability underflows.
    """

    def __init__(self, members: list[UNet], mirror: bool = True) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.mirror = mirror

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        views = [x, torch.flip(x, dims=[3])] if self.mirror else [x]
        lu, lc = [], []
        for member in self.members:
            for k, view in enumerate(views):
                out = member(view)
                if k:  # mirrored view: mirror the output back
                    out = tuple(torch.flip(o, dims=[3]) for o in out)
                lu.append(torch.log_softmax(out[0], dim=1))
                lc.append(torch.log_softmax(out[1], dim=1))
        log_n = math.log(len(lu))
        return (
            torch.logsumexp(torch.stack(lu), dim=0) - log_n,
            torch.logsumexp(torch.stack(lc), dim=0) - log_n,
        )
