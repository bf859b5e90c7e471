"""The geographic split: whole 10° blocks held out for testing and validation (split.json).

Why blocks: neighbouring pixels are nearly copies of each other, so a random pixel split
measures memory, not skill. The table is data in the package (split.json, also readable
by non-Python tools) so every tool can tell whether a region overlaps what the model saw.
"Training" for `overlaps_training` means training or validation blocks: both were used
while building the model (validation chose the loss and the checkpoint).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np

SPLIT_FILE = Path(__file__).with_name("split.json")
TRAIN, VALIDATION, TEST = 0, 1, 2
NAMES = {TRAIN: "train", VALIDATION: "validation", TEST: "test"}


@cache
def block_map() -> np.ndarray:
    """int8 (18, 36): the split of each 10° block, rows from 90°S, columns from 180°W."""
    spec = json.loads(SPLIT_FILE.read_text())
    deg = spec["block_deg"]
    out = np.full((180 // deg, 360 // deg), TRAIN, dtype=np.int8)
    for key, code in (("test", TEST), ("validation", VALIDATION)):
        for s, w in spec[key]:
            out[(s + 90) // deg, (w + 180) // deg] = code
    return out


def block_deg() -> int:
    return int(json.loads(SPLIT_FILE.read_text())["block_deg"])


def region_blocks(south: float, north: float, west: float, east: float) -> np.ndarray:
    """Split codes of every block a region (degrees; west < east) touches."""
    deg = block_deg()
    eps = 1e-9
    i0, i1 = int((south + 90) // deg), int((north - eps + 90) // deg)
    j0, j1 = int((west + 180) // deg), int((east - eps + 180) // deg)
    return block_map()[max(i0, 0) : i1 + 1, max(j0, 0) : j1 + 1]


def overlaps_training(south: float, north: float, west: float, east: float) -> bool:
    """True if the region touches any block used in training or validation."""
    return bool(np.any(region_blocks(south, north, west, east) != TEST))


def pixel_split(rows: slice, cols: slice, deg_per_pixel: float = 0.05) -> np.ndarray:
    """int8 split code of every pixel of a window of the global grid (rows from 90°S)."""
    per_block = round(block_deg() / deg_per_pixel)
    r = np.arange(rows.start, rows.stop) // per_block
    c = np.arange(cols.start, cols.stop) // per_block
    return block_map()[np.ix_(r, c)]
