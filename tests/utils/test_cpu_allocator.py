"""The CPU allocator's policies: "reuse" keeps a freed large buffer for the
next one (no page faults), "release" maps each anew (one fault per page).

Each case runs in its own interpreter: a policy holds for the whole process.
"""

import platform
import subprocess
import sys

import pytest

from bigraph_pyg.utils import set_cpu_allocator

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# Allocate, touch and free a 64 MiB buffer once, then count the minor page
# faults of doing it a second time.
_SCRIPT = """
import resource, sys
import torch
from bigraph_pyg.utils import set_cpu_allocator
assert set_cpu_allocator(sys.argv[1])
torch.ones(1 << 24)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
torch.ones(1 << 24)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _second_buffer_faults(policy: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, policy],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")
def test_reuse_keeps_the_freed_buffer_release_maps_it_anew():
    reuse = _second_buffer_faults("reuse")
    release = _second_buffer_faults("release")
    # 64 MiB is 16384 pages of 4 KiB (32 if the kernel gives huge pages).
    assert release >= 32
    assert reuse * 10 < release, (reuse, release)


_TRIM = """
import torch
from bigraph_pyg.utils import set_cpu_allocator

def rss_kb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))

set_cpu_allocator("reuse")
torch.ones(1 << 24)  # 64 MiB, freed into the heap
kept = rss_kb()
set_cpu_allocator("release")
print(kept - rss_kb())
"""


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")
def test_release_gives_back_what_reuse_kept():
    out = subprocess.run(
        [sys.executable, "-c", _TRIM],
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(out.stdout.split()[-1]) >= 60 * 1024  # KiB of the 64 MiB


def test_unknown_policy_names_the_argument():
    with pytest.raises(ValueError, match=r"policy .*'reuse'.*\(got 'fast'\)"):
        set_cpu_allocator("fast")


def test_off_glibc_nothing_changes(monkeypatch):
    """Where the C library is not glibc the call is a no-op that says so."""
    from bigraph_pyg.utils import cpu_allocator

    monkeypatch.setattr(cpu_allocator.platform, "libc_ver", lambda: ("", ""))
    assert set_cpu_allocator("reuse") is False
    assert set_cpu_allocator("release") is False
