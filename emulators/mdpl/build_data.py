"""Build the MdPL site caches (forcing, TWIN observations, default run, ensembles) for the 20
sites: `python -m emulators.mdpl.build_data [--members N] [--sites A,B]` (resumable)."""

from __future__ import annotations

import argparse
import time

from emulators.mdpl import twin
from emulators.mdpl.dataset import DATA_DIR, build_site
from emulators.mdpl.sites import SITES


def build_all(
    n_members: int = 64, names: list[str] | None = None, out_dir=DATA_DIR, reverse: bool = False
) -> None:
    """Generate forcing for every site once, then run and cache each missing site (in
    reverse order with `reverse`, so a second process can work from the other end)."""
    forcing = twin.site_forcing(SITES)
    order = list(enumerate(SITES))
    for k, s in reversed(order) if reverse else order:
        if names and s.name not in names:
            continue
        t0 = time.perf_counter()
        f = {v: a[:, k] for v, a in forcing.items()}
        path = build_site(s, f, n_members=n_members, out_dir=out_dir)
        print(
            f"[{k + 1}/{len(SITES)}] {s.name}: {path} ({time.perf_counter() - t0:.1f} s)",
            flush=True,
        )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--members", type=int, default=64)
    ap.add_argument("--sites", default="")
    ap.add_argument("--reverse", action="store_true")
    a = ap.parse_args(argv)
    build_all(a.members, [n for n in a.sites.split(",") if n], reverse=a.reverse)


if __name__ == "__main__":
    main()
