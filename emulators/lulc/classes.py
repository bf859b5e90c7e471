"""The two class schemes the U-Net predicts, derived from MODIS IGBP by fixed tables.

Land use (8 classes, HILDA+-like, consolidated as in seed 004) and land cover (11 classes,
MODIS LC_Type5-like plant functional types, what the ELM translation consumes). Both come
from the IGBP class of MCD12C1 (2019) through the tables below; choices a reader might not
guess are stated:

* woody savannas (IGBP 8, 30–60 % tree cover) count as forest in land use (FAO forest: >10 %
  tree cover) and as deciduous broadleaf trees in land cover;
* savannas (9), shrublands (6, 7) and wetlands (11) are unmanaged shrub/grass land; grasslands
  (10) are pasture/grassland (IGBP cannot tell grazed from natural grass);
* cropland/natural mosaics (14) count as cropland;
* mixed forests (5) are deciduous broadleaf trees in land cover (LC_Type5 splits them per
  pixel with information IGBP does not carry);
* LC_Type5's cereal vs broadleaf crop split needs information IGBP does not have, so land
  cover keeps one crop class (ELM's translation assigns it to its generic C3 crop).
IGBP no data (255) is "ignore" (label 255) in both schemes.
"""

from __future__ import annotations

import numpy as np

IGNORE = 255

LAND_USE: tuple[str, ...] = (
    "urban",
    "cropland",
    "pasture_grassland",
    "forest",
    "unmanaged_shrub_grass",
    "sparse_barren",
    "water",
    "snow_ice",
)
LAND_COVER: tuple[str, ...] = (
    "water",
    "evergreen_needleleaf_trees",
    "evergreen_broadleaf_trees",
    "deciduous_needleleaf_trees",
    "deciduous_broadleaf_trees",
    "shrub",
    "grass",
    "crop",
    "urban",
    "snow_ice",
    "barren",
)

# IGBP class → (land use, land cover) names
IGBP_TABLE: dict[int, tuple[str, str]] = {
    0: ("water", "water"),
    1: ("forest", "evergreen_needleleaf_trees"),
    2: ("forest", "evergreen_broadleaf_trees"),
    3: ("forest", "deciduous_needleleaf_trees"),
    4: ("forest", "deciduous_broadleaf_trees"),
    5: ("forest", "deciduous_broadleaf_trees"),
    6: ("unmanaged_shrub_grass", "shrub"),
    7: ("unmanaged_shrub_grass", "shrub"),
    8: ("forest", "deciduous_broadleaf_trees"),
    9: ("unmanaged_shrub_grass", "grass"),
    10: ("pasture_grassland", "grass"),
    11: ("unmanaged_shrub_grass", "grass"),
    12: ("cropland", "crop"),
    13: ("urban", "urban"),
    14: ("cropland", "crop"),
    15: ("snow_ice", "snow_ice"),
    16: ("sparse_barren", "barren"),
}

SCHEMES: dict[str, tuple[str, ...]] = {"lu": LAND_USE, "lc": LAND_COVER}


def _lookup(scheme: str) -> np.ndarray:
    names = SCHEMES[scheme]
    table = np.full(256, IGNORE, dtype=np.uint8)
    for igbp, pair in IGBP_TABLE.items():
        table[igbp] = names.index(pair[0 if scheme == "lu" else 1])
    return table


LU_FROM_IGBP = _lookup("lu")
LC_FROM_IGBP = _lookup("lc")


def compatible_lc_given_lu() -> np.ndarray:
    """Bool (8, 11): land-cover class c can occur on land-use class u under the IGBP table.

    Used to decode a land-cover map consistent with the land-use map it accompanies.
    """
    ok = np.zeros((len(LAND_USE), len(LAND_COVER)), dtype=bool)
    for lu, lc in IGBP_TABLE.values():
        ok[LAND_USE.index(lu), LAND_COVER.index(lc)] = True
    return ok


def markdown_table() -> str:
    """The IGBP → land use / land cover table as Markdown (for the model card)."""
    from emulators.data.static_fine import IGBP_CLASSES

    rows = ["| IGBP | name | land use | land cover |", "|---|---|---|---|"]
    for k, (lu, lc) in IGBP_TABLE.items():
        rows.append(f"| {k} | {IGBP_CLASSES[k]} | {lu} | {lc} |")
    return "\n".join(rows)
