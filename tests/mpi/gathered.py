"""Get, gather and save exports by host id (the root writes one .npz), for bit-for-bit checks of
the MPI test scripts."""

import numpy as np


def append_exports(comp, ids: np.ndarray, series: dict[str, list]) -> None:
    """Get every export in `series` for this rank's cells `ids` and append it (nlev, n_local)."""
    for name in series:
        buf = np.empty((comp.registry[name].levels, ids.size))
        comp.get(name, buf)
        series[name].append(buf)


def save_exports(comm, comp, ids: np.ndarray, series: dict[str, list], out: str) -> None:
    """series: {export: [(nlev, n_local) per step]} of this rank's cells `ids` (1-based)."""
    gathered = comm.gather((ids, {k: np.stack(v) for k, v in series.items()}), root=0)
    if comm.rank != 0:
        return
    result = {}
    for name in series:
        full = np.full((len(series[name]), comp.registry[name].levels, comp.host.n), np.nan)
        for rank_ids, values in gathered:
            full[:, :, rank_ids - 1] = values[name]
        result[name] = full
    np.savez(out, **result)
