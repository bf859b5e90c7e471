"""The MdPL networks (seed 003 §2.2): multi-task surrogate, single-task baseline, g_z.

Why these shapes: the surrogate must map [forcing, DOY encoding, parameters] windows to
sensible and latent heat of the host physics; the multi-task one shares a 4-layer LSTM and
lets each task gate the shared features by the combined input (eq. 7-9) before its own
2-layer LSTM, so parameters irrelevant to one flux interfere less. g_z maps a site's windows
to one parameter set squashed into the Table 2 ranges.
"""

from __future__ import annotations

import torch
from torch import nn

from emulators.mdpl.dataset import N_DOY
from emulators.mdpl.sites import N_ATTR

N_FORCING = 7
N_PARAM = 12
N_TASK = 2  # sensible heat, latent heat
SURROGATE_IN = N_FORCING + 2 * N_DOY + N_PARAM
GENERATOR_IN = N_FORCING + 2 * N_DOY + N_ATTR + 3


class MultiTaskSurrogate(nn.Module):
    """Shared LSTM(4×128) → per task sigmoid gate × shared features → task LSTM(2×128) → head."""

    def __init__(self, hidden: int = 128, shared_layers: int = 4, task_layers: int = 2) -> None:
        super().__init__()
        self.shared = nn.LSTM(SURROGATE_IN, hidden, shared_layers, batch_first=True)
        self.gates = nn.ModuleList(nn.Linear(SURROGATE_IN, hidden) for _ in range(N_TASK))
        self.tasks = nn.ModuleList(
            nn.LSTM(hidden, hidden, task_layers, batch_first=True) for _ in range(N_TASK)
        )
        self.heads = nn.ModuleList(nn.Linear(hidden, 1) for _ in range(N_TASK))

    def shared_parameters(self) -> list[nn.Parameter]:
        return list(self.shared.parameters())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, SURROGATE_IN) → standardised (H, LE) (B, T, 2)."""
        h, _ = self.shared(x)
        outs = []
        for gate, task, head in zip(self.gates, self.tasks, self.heads, strict=True):
            y, _ = task(torch.sigmoid(gate(x)) * h)
            outs.append(head(y))
        return torch.cat(outs, dim=2)


class SingleTaskSurrogate(nn.Module):
    """The dPL-style baseline: one 6-layer LSTM (hidden 190) on the concatenated input."""

    def __init__(self, hidden: int = 190, layers: int = 6) -> None:
        super().__init__()
        self.lstm = nn.LSTM(SURROGATE_IN, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, N_TASK)

    def shared_parameters(self) -> list[nn.Parameter]:
        return []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.lstm(x)
        return self.head(y)


class ParameterGenerator(nn.Module):
    """g_z: a recurrent net over [forcing, DOY, attributes, observed fluxes, mask] windows → 12
    parameters in [0, 1] of their ranges (sigmoid of the last step's projection).

    Default: seed 003's LSTM(4×128), ~50 MFLOP per window. `cell="gru", hidden=64, layers=1`
    is the cheap online variant (~1.7 MFLOP), trained through the same frozen surrogate."""

    def __init__(self, hidden: int = 128, layers: int = 4, cell: str = "lstm") -> None:
        super().__init__()
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.config = {"hidden": hidden, "layers": layers, "cell": cell}
        self.lstm = rnn(GENERATOR_IN, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, N_PARAM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, GENERATOR_IN) → unit parameters (B, 12)."""
        y, _ = self.lstm(x)
        return torch.sigmoid(self.head(y[:, -1]))


# g_z variants by name: the paper's, and the cheap one for the online step
GENERATORS = {
    "lstm4x128": {"hidden": 128, "layers": 4, "cell": "lstm"},
    "gru1x64": {"hidden": 64, "layers": 1, "cell": "gru"},
}


class PhysicalGenerator(nn.Module):
    """g_z with its output scaled onto the physical ranges (what ONNX ships)."""

    def __init__(self, gz: ParameterGenerator, lo: torch.Tensor, hi: torch.Tensor) -> None:
        super().__init__()
        self.gz = gz
        self.register_buffer("lo", lo.float())
        self.register_buffer("span", (hi - lo).float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lo + self.gz(x) * self.span


SURROGATES = {"multitask": MultiTaskSurrogate, "singletask": SingleTaskSurrogate}
