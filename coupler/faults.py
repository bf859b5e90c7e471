"""Fault injection for tests: make one rank fail in one phase, to prove nothing hangs.

Set `LANDEMU_FAULT=PHASE@RANK` (optionally `PHASE@RANK#N`: at the N-th time that rank
reaches the phase; default the first) before landemu_init. PHASE is one of

    put            a put on that rank is rejected (as bad input would be; state unchanged)
    advance        the input checks of an advance fail on that rank
    remap          the host → fine remap of a fine step fails before it communicates
    step:NAME      the step NAME fails on that rank (as an emulator giving NaN would)
    history        writing a history record fails (on that rank, after the gather)
    restart        writing that rank's part of a restart file fails
    finalize       finalize fails on that rank

The fault fires once. Unset (the default), every check is one attribute test.
"""

from __future__ import annotations

import os

from coupler.errors import ConfigError, FieldError, LandemuRuntimeError

ENV = "LANDEMU_FAULT"
PHASES = ("put", "advance", "remap", "history", "restart", "finalize")


class Faults:
    """The fault planned for this rank, if any."""

    def __init__(self, spec: str | None, rank: int) -> None:
        self.spec = spec
        self.phase: str | None = None
        self._countdown = 0
        if not spec:
            return
        phase, at, n = _parse(spec)
        if at == rank:
            self.phase, self._countdown = phase, n

    @classmethod
    def from_environment(cls, rank: int) -> Faults:
        return cls(os.environ.get(ENV), rank)

    def hit(self, phase: str) -> None:
        """Raise the planned fault if this is its phase and its turn (else nothing)."""
        if self.phase != phase:
            return
        self._countdown -= 1
        if self._countdown:
            return
        self.phase = None  # once
        error = FieldError if phase == "put" else LandemuRuntimeError
        raise error(f"fault injected by {ENV}={self.spec} ({phase})")


def _parse(spec: str) -> tuple[str, int, int]:
    """'step:phenology@1#3' → ('step:phenology', 1, 3); ConfigError naming the variable."""
    usage = f"{ENV}={spec!r}: expected PHASE@RANK or PHASE@RANK#N, PHASE one of " + ", ".join(
        (*PHASES, "step:NAME")
    )
    phase, sep, rest = spec.strip().partition("@")
    rank_text, _, count_text = rest.partition("#")
    if not sep or not (phase in PHASES or (phase.startswith("step:") and len(phase) > 5)):
        raise ConfigError(usage)
    try:
        rank, count = int(rank_text), int(count_text or 1)
    except ValueError:
        raise ConfigError(usage) from None
    if rank < 0 or count < 1:
        raise ConfigError(usage)
    return phase, rank, count
