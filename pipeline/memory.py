"""Give freed memory back to the system between models and files (glibc's malloc; a no-op elsewhere).

glibc serves a block of 128 KB or more with its own mapping, returned to the system when freed, but each
time such a block is freed it raises that threshold to the block's size (up to 32 MB). After the first
few tensors are freed, tensors of those sizes come from the heap instead, and the heap keeps what was freed
resident: podscribe's floor rose from about 750 MB after the first dev-set file to 1190-1330 MB by the sixth.
:func:`keep_large_blocks_mapped` fixes the threshold at 128 KB (so it no longer moves) and :func:`trim`
hands the heap's free pages back; ``pipeline.run.Transcriber`` calls the first once and the second after it
frees a model (README "Peak memory of a batch").
"""
from __future__ import annotations

import ctypes
import functools
import sys

M_MMAP_THRESHOLD = -3  # mallopt's parameter number, glibc's malloc.h
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's starting value


@functools.cache
def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:  # musl and other C libraries
        return None


def keep_large_blocks_mapped() -> bool:
    """Blocks of 128 KB or more always get their own mapping, freed at once; False where not glibc."""
    libc = _libc()
    return bool(libc and libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


def trim() -> bool:
    """Give the heap's free pages back to the system; True when glibc released some."""
    libc = _libc()
    return bool(libc and libc.malloc_trim(0))
