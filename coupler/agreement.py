"""Agreement at the phase boundaries of collective calls: one rank's failure is every rank's.

A collective call (advance, write_restart, finalize) is cut into phases whose local work
may fail on some ranks only (a missing put, an emulator giving NaN on one tile, a file the
root cannot write). Each phase ends with `agreed(...)`: one cheap status reduction (an
`Allreduce` of one integer); only when some rank failed do the ranks exchange their
messages, and then every rank raises the same error class with the same message naming
the failing rank(s). No rank ever goes on into the next collective while another has
stopped, so nothing hangs.

Pure bookkeeping here; which phases exist is the caller's business. Faults for tests are
injected at the same boundaries (coupler.faults), so every failure path is exercised.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from mpi4py import MPI

from coupler import errors
from coupler.errors import InternalError, LandemuError, shorten

MAX_MESSAGE = 600  # characters of one rank's message quoted in the agreed one
MAX_RANKS_QUOTED = 3  # failing ranks whose messages are quoted (the rest are counted)


def _as_landemu_error(exc: BaseException) -> LandemuError:
    """A LandemuError for any exception (others are bugs: traceback on stderr)."""
    if isinstance(exc, LandemuError):
        return exc
    sys.stderr.write(f"landemu: internal error:\n{''.join(traceback.format_exception(exc))}")
    sys.stderr.flush()
    return InternalError(
        f"internal error: {type(exc).__name__}: {exc} (a bug in landemu; traceback on stderr)"
    )


class Agreement:
    """The status reduction of one communicator, with its buffers made once."""

    def __init__(self, comm) -> None:
        self.comm = comm
        self._send = np.zeros(1, np.int32)
        self._recv = np.zeros(1, np.int32)

    def any_failed(self, failed: bool) -> bool:
        """Collective: True on every rank if `failed` is True on any rank."""
        if self.comm.size == 1:
            return failed
        self._send[0] = 1 if failed else 0
        self.comm.Allreduce(self._send, self._recv, op=MPI.MAX)
        return bool(self._recv[0])

    def check(self, call: str, error: BaseException | None) -> None:
        """Collective: raise the same error on every rank if `error` is set on any rank.

        On one rank the error is raised as it came (nothing to agree on)."""
        if not self.any_failed(error is not None):
            return
        if self.comm.size == 1:
            raise error
        mine = None
        if error is not None:
            exc = _as_landemu_error(error)
            mine = (type(exc).__name__, shorten(str(exc), MAX_MESSAGE))
        raise agreed_error(call, self.comm.allgather(mine))

    @contextmanager
    def phase(self, call: str) -> Iterator[None]:
        """Run a block of local work, then agree on its outcome (collective)."""
        error: BaseException | None = None
        try:
            yield
        except Exception as exc:  # any failure must reach the agreement, or others hang
            error = exc
        self.check(call, error)


def agreed_error(call: str, reports: list[tuple[str, str] | None]) -> LandemuError:
    """The error every rank raises, from each rank's (class name, message) or None.

    Its class is the first failing rank's; its message names the failing ranks and quotes
    their messages (once, when they all say the same)."""
    failed = [(rank, r) for rank, r in enumerate(reports) if r is not None]
    cls = getattr(errors, failed[0][1][0], None)
    if not (isinstance(cls, type) and issubclass(cls, LandemuError)):
        cls = InternalError
    ranks = ", ".join(str(rank) for rank, _ in failed)
    where = f"{'rank' if len(failed) == 1 else 'ranks'} {ranks} of {len(reports)}"
    messages = [msg for _, (_, msg) in failed]
    if len(set(messages)) == 1:
        return cls(f"{call} failed on {where}: {messages[0]}")
    quoted = "; ".join(f"rank {rank}: {msg}" for rank, (_, msg) in failed[:MAX_RANKS_QUOTED])
    more = len(failed) - MAX_RANKS_QUOTED
    tail = f"; and {more} more rank(s)" if more > 0 else ""
    return cls(f"{call} failed on {where}: {quoted}{tail}")
