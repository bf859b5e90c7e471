"""Logging the way ESM runs expect it: root rank to stdout, other ranks only when asked.

Rank 0 logs at the configured level to stdout (prefixed `landemu:`); other ranks log
warnings and errors to stderr, and everything to `<output_dir>/logs/landemu.rankNNNNN.log`
when `run.per_rank_logs: true`.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

LOGGER_NAME = "landemu"


def setup_logging(
    rank: int, level: str = "info", per_rank_dir: Path | None = None
) -> logging.Logger:
    """Configure and return the `landemu` logger for this rank (idempotent)."""
    log = logging.getLogger(LOGGER_NAME)
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()
    log.propagate = False
    log.setLevel(logging.DEBUG)
    console = logging.StreamHandler(sys.stdout if rank == 0 else sys.stderr)
    console.setLevel(getattr(logging, level.upper()) if rank == 0 else logging.WARNING)
    console.setFormatter(
        logging.Formatter(f"landemu[{rank}]: %(message)s" if rank else "landemu: %(message)s")
    )
    log.addHandler(console)
    if per_rank_dir is not None:
        per_rank_dir.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(per_rank_dir / f"landemu.rank{rank:05d}.log", mode="w")
        file_handler.setLevel(logging.DEBUG)
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(file_handler)
    return log


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)
