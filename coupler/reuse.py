"""Reusing the memory of a last result that nobody holds any more.

Fresh memory for a fine field costs page faults on every coupling step; the last step's
array of the same shape can take the new values instead — but only when nothing refers to
it: no step keeps it as state, no view of it is alive (a numpy view holds its base). That
is read from CPython's reference count, the one place this invariant lives.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

import numpy as np


def unreferenced(holder: Mapping | Sequence, key) -> np.ndarray | None:
    """holder[key] when only `holder` refers to it (its memory may be overwritten), else
    None (also when there is no such entry)."""
    try:
        array = holder[key]
    except (KeyError, IndexError):
        return None
    # references: the holder's, `array` here and getrefcount's argument
    return array if sys.getrefcount(array) <= 3 else None
