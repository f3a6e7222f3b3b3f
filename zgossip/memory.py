"""Handing the heap memory a burst of messages freed back to the system.

glibc's malloc keeps what it frees for reuse, and returns it to the system only from the
top of each heap: after a burst of messages, the buffers libzmq's I/O thread allocated
and the main thread freed stay in the process as free, fragmented space, several MB of
resident memory that nothing uses. ``malloc_trim`` gives the free pages back from
anywhere in the heaps. Elsewhere (another C library, no ctypes) :func:`trim` does nothing.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(None)  # the C library the interpreter runs on
    except OSError:
        return None
    function: Callable[[int], int] | None = getattr(libc, "malloc_trim", None)
    return function


_MALLOC_TRIM = _malloc_trim()


def trim() -> None:
    """Return the free heap memory of this process to the system, where the C library can."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
