"""The first convolution asks glibc to keep freed memory, so later steps reuse it without page faults."""

import resource
import subprocess
import sys

import numpy as np
import pytest

from convviz.engine import kernels
from convviz.engine.kernels import memory

FOUR_MIB = 1 << 20  # float32 values


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def test_after_a_convolution_freed_arrays_are_reused_without_page_faults():
    kernels.conv2d_forward(np.ones((1, 1, 4, 4), np.float32), np.ones((1, 1, 3, 3), np.float32), None)
    if not memory.keep_freed_memory():
        pytest.skip("not glibc, or CONVVIZ_KEEP_FREED_MEMORY=off")
    np.ones(FOUR_MIB, np.float32)
    before = minor_faults()
    for _ in range(5):
        np.ones(FOUR_MIB, np.float32)  # a fresh mapping would fault ~1,000 pages each time
    assert minor_faults() - before < 200


def test_env_var_off_leaves_malloc_alone():
    code = (
        "import numpy as np, resource\n"
        "from convviz.engine.kernels import conv2d_forward, memory\n"
        "conv2d_forward(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), None)\n"
        "print(memory.keep_freed_memory())\n"
    )
    env = {"CONVVIZ_KEEP_FREED_MEMORY": "off", "PATH": ""}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
