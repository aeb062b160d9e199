"""How the C allocator hands out large CPU buffers (glibc ``mallopt``).

A training step allocates the same large tensors again and again: at the
paper's size (B = 64, C = 256) one feature map of the 1723-vertex mesh is
113 MB. glibc serves every request above its mmap threshold (which never
grows past 32 MiB) with a fresh mapping and unmaps it on ``free``, so each
of those tensors is faulted in and zero-filled by the kernel, 4 KiB page by
page, every time it is created. On this project's 2-core CPU that costs more
than the product that fills it: the mesh propagation's forward + backward
at that size takes 84 ms with each buffer mapped anew (as glibc's defaults
do) and 30 ms when the buffers are reused
(``benchmarks/results/issue26_mesh_paper_size_{release,reuse}.md``).
Tensors under 32 MiB are reused by glibc's defaults already, so a training
step at small batches gains little (1–3 % for the ``cpu`` preset at B=16
and the ``paper`` preset at B=4).

:func:`set_cpu_allocator` switches between two policies at run time:

- ``"reuse"``: large buffers come from the heap and freed memory stays in
  the process for the next tensor (``M_MMAP_MAX = 0``, trim threshold
  2 GiB). PyTorch's CPU launcher (``torch.backends.xeon.run_cpu``) has the
  same aim when it preloads tcmalloc or jemalloc; on this machine neither
  (Debian's builds, default settings) removed the faults, glibc's own
  switch needs no library. **The price is memory**: the process keeps its
  peak instead of returning it, and the heap can fragment — torch asks for
  64-byte-aligned blocks, so a freed block is reused only once it merges
  with free space beside it. A loop of paper-size propagations held
  1.6–1.7 GB against 1.0 GB under ``"release"``; 160 training steps of the
  ``cpu`` preset held a steady 1.33 GB (glibc's defaults: 1.25–1.30 GB);
  and in about half of fresh processes a 64 MiB tensor made again right
  after its free got new pages. No training or demo script sets it (the
  benchmarks time under it by default): call it where large batches on
  the CPU dominate.
- ``"release"``: every buffer of 1 MiB or more gets its own mapping,
  returned on ``free``, and the memory the heap holds free is given back
  now (``malloc_trim``), so the resident set tracks what is alive; the
  benchmarks measure peak memory this way.

Only the numbers' home changes, never their values: a short training run
gave bit-identical weights and metrics under both. Off glibc (macOS,
musl) the call does nothing and returns ``False``.
"""

from __future__ import annotations

import ctypes
import platform

__all__ = ["CPU_ALLOCATOR_POLICIES", "set_cpu_allocator"]

#: The policies :func:`set_cpu_allocator` knows.
CPU_ALLOCATOR_POLICIES = ("reuse", "release")

# mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4
_MMAP_MAX_DEFAULT = 65536  # glibc's DEFAULT_MMAP_MAX
_MIB = 1 << 20
_REUSE_TRIM = (1 << 31) - 1  # mallopt takes an int: 2 GiB is its ceiling


def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") else None


def set_cpu_allocator(policy: str) -> bool:
    """Set how large CPU buffers are allocated and freed in this process.

    Args:
        policy: ``"reuse"`` (freed memory kept for the next tensor: no
            page faults on a training step's recurring buffers) or
            ``"release"`` (each buffer of 1 MiB or more mapped on its own
            and returned on free, and the heap's free memory given back
            at once: the resident set is what is alive).

    Returns:
        ``True`` if glibc took the policy, ``False`` where the C library
        is not glibc (nothing is changed there).

    Raises:
        ValueError: ``policy`` is not one of :data:`CPU_ALLOCATOR_POLICIES`.
        RuntimeError: glibc refused a parameter.

    The policy holds for allocations made after the call; memory already
    handed out stays where it is. Numbers computed are the same under
    either policy.
    """
    if policy not in CPU_ALLOCATOR_POLICIES:
        raise ValueError(
            f"Expected policy to be one of {CPU_ALLOCATOR_POLICIES} "
            f"(got {policy!r})"
        )
    libc = _glibc()
    if libc is None:
        return False
    if policy == "reuse":
        settings = ((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, _REUSE_TRIM))
    else:
        settings = (
            (_M_MMAP_MAX, _MMAP_MAX_DEFAULT),
            (_M_MMAP_THRESHOLD, _MIB),
            (_M_TRIM_THRESHOLD, _MIB),
        )
    for param, value in settings:
        if libc.mallopt(ctypes.c_int(param), ctypes.c_int(value)) != 1:
            raise RuntimeError(
                f"glibc's mallopt refused parameter {param} = {value} "
                f"for policy {policy!r}"
            )
    if policy == "release":
        libc.malloc_trim(ctypes.c_size_t(0))
    return True
