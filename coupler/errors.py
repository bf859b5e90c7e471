"""The errors landemu reports: each names its culprit so a host developer can act on it.

Every failure that can reach a host is a `LandemuError`; the C boundary turns it into a
non-zero status plus the message. Anything else reaching the boundary is a bug in landemu,
reported as such (with a traceback in the log) rather than crashing the host.
"""


def shorten(text: str, limit: int = 200) -> str:
    """`text` cut to `limit` characters for a message (a path may be kilobytes long)."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 40]}… [{len(text)} characters in all]"


class LandemuError(Exception):
    """Base class: a problem the host (or its user) can understand and fix."""

    status = 1


class ConfigError(LandemuError):
    """The YAML configuration has a missing, unknown or invalid key."""

    status = 2


class CallOrderError(LandemuError):
    """An API call came in the wrong phase (e.g. put before set_decomposition)."""

    status = 3


class FieldError(LandemuError):
    """A field is unknown, has the wrong shape/units, or holds invalid values."""

    status = 4


class GridError(LandemuError):
    """A grid or domain file is missing, malformed, or inconsistent with the decomposition."""

    status = 5


class RegridError(LandemuError):
    """A weight/map file is malformed or does not match its grids."""

    status = 6


class ModelError(LandemuError):
    """An ONNX model file is missing, corrupt, or does not match its configuration."""

    status = 7


class DataFileError(LandemuError):
    """A data file (static fields, forcing, restart) is missing or malformed."""

    status = 8


class LandemuRuntimeError(LandemuError):
    """A failure while stepping (e.g. an emulator produced NaN)."""

    status = 9


class InternalError(LandemuError):
    """An unexpected exception on some rank (a bug in landemu), agreed over the ranks."""

    status = 99
