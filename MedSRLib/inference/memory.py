"""Keep the memory that torch frees on the CPU for its next tensor, instead of handing it back to the kernel.

A 3-D network on the CPU allocates and frees activations of tens to hundreds of MB for every patch. glibc's
malloc serves any block over its mmap threshold (at most 32 MB by default) with a fresh mmap and returns it with
munmap, so the kernel zero-fills every page of every activation again: measured on 2 cores, the pretrained `cnn`
spent 27.7 s of system time for 44 s of user time on the bundled sample. Raising the mmap and trim thresholds
(mallopt) lets freed blocks be reused: system time 1.9 s, at the cost of a higher peak resident memory (the freed
activations stay in the process; see the benchmark reports).

Only on Linux with glibc; elsewhere, or with ``MEDSR_KEEP_FREED_MEMORY=0``, nothing changes. It applies to the
whole process, from the first call on.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 1 << 30  # blocks up to 1 GiB come from the heap, and are reused
TRIM_THRESHOLD_BYTES = 1 << 30  # up to 1 GiB of free heap is kept for reuse

_state = {"applied": None}


def keep_freed_memory_for_reuse() -> bool:
    """Tune glibc's malloc once per process as the module docstring says; True when it is in effect."""
    if _state["applied"] is not None:
        return _state["applied"]
    applied = False
    if sys.platform.startswith("linux") and os.environ.get("MEDSR_KEEP_FREED_MEMORY", "1") != "0":
        try:
            libc = ctypes.CDLL("libc.so.6")
            applied = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
                libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
        except (OSError, AttributeError):  # not glibc (musl, ...)
            applied = False
    _state["applied"] = applied
    return applied
