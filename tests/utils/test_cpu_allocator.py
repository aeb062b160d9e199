"""The CPU allocator's policies: "reuse" keeps a freed large buffer in the
process for the next one, "release" maps each anew and returns it.

Each case runs in its own interpreter: a policy holds for the whole process.
"""

import platform
import subprocess
import sys

import pytest

from bigraph_pyg.utils import set_cpu_allocator

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# Each script runs after this prelude and prints a resident-memory change.
_PRELUDE = """
import sys
import torch
from bigraph_pyg.utils import set_cpu_allocator

def rss_kb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
"""


def _printed_kb(script: str, *args: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", _PRELUDE + script, *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.split()[-1])


# Allocate, touch and free a 64 MiB buffer, then read how much of it stayed
# resident. (Whether the next such buffer reuses those pages depends on the
# heap's layout, which varies between processes; the benchmarks measure it.)
_KEPT = """
assert set_cpu_allocator(sys.argv[1])
torch.ones(1)  # torch's own first allocations
before = rss_kb()
torch.ones(1 << 24)  # 64 MiB, touched, freed
print(rss_kb() - before)
"""


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")
def test_reuse_keeps_the_freed_buffer_release_returns_it():
    assert _printed_kb(_KEPT, "reuse") >= 60 * 1024  # KiB of the 64 MiB
    assert _printed_kb(_KEPT, "release") < 4 * 1024


_TRIM = """
set_cpu_allocator("reuse")
torch.ones(1 << 24)  # 64 MiB, freed into the heap
kept = rss_kb()
set_cpu_allocator("release")
print(kept - rss_kb())
"""


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")
def test_release_gives_back_what_reuse_kept():
    assert _printed_kb(_TRIM) >= 60 * 1024  # KiB of the 64 MiB


def test_unknown_policy_names_the_argument():
    with pytest.raises(ValueError, match=r"policy .*'reuse'.*\(got 'fast'\)"):
        set_cpu_allocator("fast")


def test_off_glibc_nothing_changes(monkeypatch):
    """Where the C library is not glibc the call is a no-op that says so."""
    from bigraph_pyg.utils import cpu_allocator

    monkeypatch.setattr(cpu_allocator.platform, "libc_ver", lambda: ("", ""))
    assert set_cpu_allocator("reuse") is False
    assert set_cpu_allocator("release") is False
