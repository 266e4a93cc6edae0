"""inference.memory: freed activations are reused instead of being zero-filled again by the kernel (counted in page
faults, which do not depend on the machine's speed)."""

import os
import subprocess
import sys

import pytest

PROBE = """
import resource, torch
from MedSRLib.inference.memory import keep_freed_memory_for_reuse
applied = keep_freed_memory_for_reuse()
for patch in range(12):  # an activation of 200 MB, allocated, written and freed, as for each patch of a 3-D network
    if patch == 4:  # (the heap settles over the first few)
        start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    activation = torch.ones(50_000_000)
    del activation
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start)
"""


def page_faults(keep: str):
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "MEDSR_KEEP_FREED_MEMORY": keep})
    assert run.returncode == 0, run.stderr
    applied, faults = run.stdout.split()
    return applied == "True", int(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_freed_activations_are_reused_instead_of_faulted_in_again():
    kept, with_reuse = page_faults("1")
    off, without = page_faults("0")
    assert kept and not off
    pages = 200e6 / 4096
    assert without > 7.5 * pages  # each of the last eight allocations faulted in again
    # reused: at most one of the eight faults in again (a late growth of the heap was seen once in a full test run)
    assert with_reuse < 1.5 * pages, (with_reuse, without)
