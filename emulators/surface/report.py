"""Scaling diagnostics of a fine field written as maps and a per-box table (netCDF + PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from coupler.errors import DataFileError, FieldError
from coupler.grids.ncio import atomic_dataset
from emulators.surface.scaling import ScalingResult, scaling_diagnostics


def map_extent(lat: np.ndarray, lon: np.ndarray, cell_deg: float | None = None) -> list[float]:
    """imshow extent (W, E, S, N) of cells centred at lat × lon (regular); a single cell
    along an axis needs `cell_deg` (default 1°)."""

    def edges(c: np.ndarray) -> tuple[float, float]:
        half = 0.5 * (c[1] - c[0]) if c.size > 1 else 0.5 * (cell_deg or 1.0)
        return float(c[0] - half), float(c[-1] + half)

    return [*edges(np.asarray(lon)), *edges(np.asarray(lat))]


def read_fine_field(path: str | Path, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 2-D fine field (its time mean when it has leading axes), lat and lon centres, rows
    south → north."""
    import netCDF4

    try:
        ds = netCDF4.Dataset(str(path))
    except OSError as exc:
        raise DataFileError(f"cannot open '{path}': {exc}") from exc
    with ds:
        if name not in ds.variables:
            raise FieldError(f"'{path}' has no variable '{name}'; it has {sorted(ds.variables)}")
        v = ds[name]
        data = np.ma.filled(np.ma.asarray(v[:], dtype=np.float64), np.nan)
        lat_name, lon_name = v.dimensions[-2:]
        lat = np.asarray(ds[lat_name][:], dtype=np.float64)
        lon = np.asarray(ds[lon_name][:], dtype=np.float64)
    if data.ndim < 2:
        raise FieldError(f"'{name}' in '{path}' is not a map (dimensions {data.shape})")
    while data.ndim > 2:
        data = np.nanmean(data, axis=0) if np.isfinite(data).any() else data[0]
    if lat[0] > lat[-1]:
        lat, data = lat[::-1], data[::-1]
    return data, lat, lon


def write_scaling(
    path: str | Path,
    result: ScalingResult,
    box_lat: np.ndarray,
    box_lon: np.ndarray,
    field_name: str,
    png: str | Path | None = None,
    box_deg: float | None = None,
) -> Path:
    """σ (scale, box_lat, box_lon), β and γ maps, and the per-box table (box dimension);
    box_deg (the box side in degrees) places the PNG's maps when there is a single box."""
    target = Path(path)
    nby, nbx = box_lat.size, box_lon.size
    with atomic_dataset(target) as ds:
        ds.createDimension("scale", len(result.scales))
        ds.createDimension("box_lat", nby)
        ds.createDimension("box_lon", nbx)
        ds.createDimension("box", nby * nbx)
        ds.createVariable("scale", "i4", ("scale",))[:] = result.scales
        ds["scale"].long_name = "upscaling factor in fine cells"
        ds.createVariable("box_lat", "f8", ("box_lat",))[:] = box_lat
        ds.createVariable("box_lon", "f8", ("box_lon",))[:] = box_lon
        maps = {
            "sigma": (("scale", "box_lat", "box_lon"), result.sigma, "spatial std in the box"),
            "beta": (("box_lat", "box_lon"), result.beta, "log-log scaling exponent"),
            "gamma": (("scale", "box_lat", "box_lon"), result.gamma, "information loss (%)"),
        }
        for name, (dims, values, long_name) in maps.items():
            v = ds.createVariable(name, "f8", dims, fill_value=np.nan)
            v.long_name = f"{long_name} of {field_name}"
            v[:] = values
        table = {
            "table_lat": np.repeat(box_lat, nbx),
            "table_lon": np.tile(box_lon, nby),
            "table_sigma_1": result.sigma[0].ravel(),
            "table_beta": result.beta.ravel(),
            f"table_gamma_{result.scales[-1]}": result.gamma[-1].ravel(),
        }
        for name, values in table.items():
            ds.createVariable(name, "f8", ("box",), fill_value=np.nan)[:] = values
        ds.setncatts(
            {
                "title": f"spatial scaling diagnostics of {field_name} (seed 000 section 3.2)",
                "field": field_name,
                "gamma_scale": np.int32(result.scales[-1]),
                "mean_beta": float(np.nanmean(result.beta)),
                "mean_gamma": float(np.nanmean(result.gamma[-1])),
            }
        )
    if png is not None:
        plot_scaling(png, result, box_lat, box_lon, field_name, box_deg)
    return target


def plot_scaling(
    path: str | Path,
    result: ScalingResult,
    box_lat: np.ndarray,
    box_lon: np.ndarray,
    field_name: str,
    box_deg: float | None = None,
) -> None:
    """β and γ maps per box and σ_s/σ_1 against s for every box (log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    ext = map_extent(box_lat, box_lon, box_deg)
    for ax, data, title in (
        (axes[0], result.beta, "β"),
        (axes[1], result.gamma[-1], f"γ at {result.scales[-1]} cells (%)"),
    ):
        im = ax.imshow(data, origin="lower", extent=ext, aspect="auto")
        ax.set_title(f"{field_name}: {title}")
        fig.colorbar(im, ax=ax)
    ratio = (result.sigma / result.sigma[0]).reshape(len(result.scales), -1)
    axes[2].loglog(result.scales, ratio, color="0.6", lw=0.5)
    axes[2].loglog(result.scales, np.nanmean(ratio, axis=1), color="k", lw=2, label="mean")
    axes[2].set_xlabel("scale (fine cells)")
    axes[2].set_ylabel("σ_s / σ_1")
    axes[2].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def scaling_of_file(
    path: str | Path, name: str, box_cells: int, scales: tuple[int, ...]
) -> tuple[ScalingResult, np.ndarray, np.ndarray, float]:
    """Diagnostics of variable `name` of a fine file: the result, box centres from its
    coordinates and the box side in degrees."""
    data, lat, lon = read_fine_field(path, name)
    ny, nx = data.shape
    ny, nx = ny - ny % box_cells, nx - nx % box_cells
    if ny == 0 or nx == 0:
        raise FieldError(f"'{name}' ({data.shape}) is smaller than one box of {box_cells} cells")
    result = scaling_diagnostics(data[:ny, :nx], box_cells, scales)
    box_lat = lat[:ny].reshape(-1, box_cells).mean(axis=1)
    box_lon = lon[:nx].reshape(-1, box_cells).mean(axis=1)
    return result, box_lat, box_lon, abs(float(lat[1] - lat[0])) * box_cells


def plot_surfdata(path: str | Path, png: str | Path, month: int = 7) -> list[int]:
    """PCT_NAT_PFT and the month's LAI of every PFT present in a surfdata file (one row
    each); returns the PFTs drawn."""
    import matplotlib
    import netCDF4

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from emulators.surface.pft import PFT_NAMES

    try:
        ds = netCDF4.Dataset(str(path))
    except OSError as exc:
        raise DataFileError(f"cannot open surfdata '{path}': {exc}") from exc
    with ds:
        pct = np.asarray(ds["PCT_NAT_PFT"][:]) * np.asarray(ds["PCT_NATVEG"][:])[None] / 100
        pct[15:] = np.asarray(ds["PCT_CFT"][:]) * np.asarray(ds["PCT_CROP"][:])[None] / 100
        lai = np.asarray(ds["MONTHLY_LAI"][month - 1])
        lat, lon = np.asarray(ds["LATIXY"][:]), np.asarray(ds["LONGXY"][:])
    present = [p for p in range(1, len(PFT_NAMES)) if pct[p].max() > 0]
    ext = map_extent(lat[:, 0], lon[0])
    fig, axes = plt.subplots(2, max(len(present), 1), figsize=(3 * max(len(present), 1), 5.5))
    axes = np.asarray(axes).reshape(2, -1)
    for k, p in enumerate(present):
        for row, (data, label, vmax) in enumerate(
            ((pct[p], "% of land", 100.0), (np.where(pct[p] > 0, lai[p], np.nan), "LAI", None))
        ):
            im = axes[row, k].imshow(data, origin="lower", extent=ext, vmin=0, vmax=vmax)
            axes[row, k].set_title(f"{p} {PFT_NAMES[p][:22]}\n{label}", fontsize=8)
            fig.colorbar(im, ax=axes[row, k], shrink=0.7)
    fig.suptitle(f"{Path(path).name}: PFT cover (top) and month-{month} LAI per PFT (bottom)")
    fig.tight_layout()
    fig.savefig(png, dpi=80)
    plt.close(fig)
    return present
