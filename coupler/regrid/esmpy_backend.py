"""Optional weight backend through ESMF's Python binding (esmpy), for host grids that are not
regular lat-lon (cubed sphere, unstructured). esmpy is not installable on landemu's reference
machines, so this is detected at run time and never faked: without it, a clear RegridError
tells the user to make the map offline (ESMF_RegridWeightGen, ncremap, TempestRemap).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from coupler.errors import RegridError


def esmpy_available() -> bool:
    """True if `import esmpy` would succeed."""
    return importlib.util.find_spec("esmpy") is not None


def esmpy_map(
    src_scrip: str | os.PathLike,
    dst_scrip: str | os.PathLike,
    out: str | os.PathLike,
    method: str = "conservative",
    normalization: str = "fracarea",
) -> Path:
    """Write an ESMF map file between two SCRIP grid files with esmpy (untested here: esmpy is
    not installable on this machine). Unstructured (grid_rank 1) files are read as meshes."""
    if not esmpy_available():
        raise RegridError(
            "esmpy (ESMF's Python binding) is not importable, so weights between non-lat-lon "
            "grids cannot be generated here; make the map file offline (ESMF_RegridWeightGen, "
            "`ncremap -a nco`, TempestRemap) and give its path to landemu"
        )
    import esmpy
    import netCDF4

    def load(path: str | os.PathLike):
        with netCDF4.Dataset(str(path)) as ds:
            rank = len(ds.dimensions["grid_rank"])
        if rank == 2:
            grid = esmpy.Grid(
                filename=str(path), filetype=esmpy.FileFormat.SCRIP, add_corner_stagger=True
            )
            return esmpy.Field(grid, staggerloc=esmpy.StaggerLoc.CENTER)
        mesh = esmpy.Mesh(filename=str(path), filetype=esmpy.FileFormat.SCRIP)
        return esmpy.Field(mesh, meshloc=esmpy.MeshLoc.ELEMENT)

    methods = {
        "conservative": esmpy.RegridMethod.CONSERVE,
        "bilinear": esmpy.RegridMethod.BILINEAR,
        "nearest": esmpy.RegridMethod.NEAREST_STOD,
    }
    norms = {"fracarea": esmpy.NormType.FRACAREA, "dstarea": esmpy.NormType.DSTAREA}
    esmpy.Regrid(
        load(src_scrip),
        load(dst_scrip),
        filename=str(out),
        regrid_method=methods[method],
        norm_type=norms.get(normalization),
        unmapped_action=esmpy.UnmappedAction.IGNORE,
    )
    return Path(out)
