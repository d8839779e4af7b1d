"""BLAS thread limiting: kernels run with the engine's count and hand the caller's count back."""

import threading

import numpy as np
import pytest

from convviz.engine import blas, kernels

needs_blas = pytest.mark.skipif(blas.blas_library() is None, reason="numpy's BLAS has no thread-count API here")


@pytest.fixture
def numpy_matmul():
    """im2col's products through numpy's matmul (with MKL installed they go to kernels.gemm)."""
    from convviz.engine.kernels import gemm

    gemm.use("openblas")
    yield
    gemm.use(None)


@pytest.fixture
def two_threads():
    previous = blas.set_threads(2)
    yield
    blas.set_threads(previous)


def test_numpy_wheel_blas_is_found_on_linux():
    lib = blas.blas_library()
    if lib is None:
        pytest.skip("no controllable BLAS (e.g. Apple Accelerate)")
    assert lib.api in ("openblas", "mkl", "blis")
    assert blas.get_threads() >= 1


@needs_blas
def test_the_count_set_is_what_threadpoolctl_reports_for_numpys_blas(two_threads):
    from threadpoolctl import threadpool_info

    numpy_blas = [info for info in threadpool_info() if info["filepath"] == blas.blas_library().path]
    assert numpy_blas and numpy_blas[0]["num_threads"] == 2
    with blas.limit_threads(1):
        assert [info["num_threads"] for info in threadpool_info() if info["filepath"] == blas.blas_library().path] == [1]


@needs_blas
def test_limit_threads_sets_and_restores(two_threads):
    with blas.limit_threads(1):
        assert blas.get_threads() == 1
    assert blas.get_threads() == 2


@needs_blas
def test_a_kernel_runs_with_the_engine_count_and_restores_the_callers(two_threads, monkeypatch, numpy_matmul):
    seen = []
    monkeypatch.setattr(np, "matmul", _spy(np.matmul, seen))
    # stride 2: im2col and numpy's matmul (stride 1 calls BLAS through kernels.gemm)
    kernels.conv2d_forward(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), None, stride=2)
    assert seen and set(seen) == {blas.ENGINE_THREADS}
    assert blas.get_threads() == 2


@needs_blas
def test_the_accumulating_products_run_with_the_engine_count_too(two_threads, monkeypatch):
    from convviz.engine.kernels import gemm

    if not gemm.available(np.float64):
        pytest.skip("numpy's BLAS has no cblas gemm that kernels.gemm reaches")
    seen = []
    routine = gemm.routine
    monkeypatch.setattr(gemm, "routine", lambda dtype, **flags: _spy(routine(dtype, **flags), seen))
    kernels.conv2d_forward(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), None)
    assert seen and set(seen) == {blas.ENGINE_THREADS}
    assert blas.get_threads() == 2


@needs_blas
def test_env_var_overrides_or_turns_off(two_threads, monkeypatch, numpy_matmul):
    seen = []
    monkeypatch.setattr(np, "matmul", _spy(np.matmul, seen))
    monkeypatch.setenv(blas.ENV_VAR, "off")
    kernels.conv2d_forward(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), None, stride=2)
    assert set(seen) == {2}
    monkeypatch.setenv(blas.ENV_VAR, "two")
    with pytest.raises(ValueError, match=r"CONVVIZ_BLAS_THREADS must be a positive integer or 'off', got 'two'"):
        kernels.conv2d_forward(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), None)
    assert blas.get_threads() == 2


@needs_blas
def test_concurrent_kernels_restore_once(two_threads):
    x, w = np.ones((8, 3, 16, 16)), np.ones((4, 3, 3, 3))
    threads = [threading.Thread(target=lambda: [kernels.conv2d_forward(x, w, None) for _ in range(20)]) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert blas.get_threads() == 2


def test_set_threads_refuses_nonsense():
    if blas.blas_library() is None:
        assert blas.set_threads(0) is None
        return
    with pytest.raises(ValueError, match=r"BLAS threads must be a positive integer, got 0"):
        blas.set_threads(0)


def _spy(matmul, seen):
    def spy(*args, **kwargs):
        seen.append(blas.get_threads())
        return matmul(*args, **kwargs)

    return spy


@needs_blas
def test_a_settled_process_runs_the_engine_on_one_blas_thread_from_any_thread(monkeypatch):
    """The app and the command line settle the count from the main thread at start: a training
    thread's kernels then run on one BLAS thread. Unsettled, after an engine call on the main thread
    (2 → 1 → 2) and a product on two BLAS threads, OpenBLAS 0.3.31 kept the count at 2 whatever the
    training thread set, and its kernels ran on two."""
    from convviz.engine import Network
    from convviz.engine.kernels import implicit
    from convviz.model import preset

    previous = blas.set_threads(2)
    try:
        net, x = Network(preset("convnetjs")), np.zeros((4, 3, 32, 32), np.float32)
        net.forward(x)  # on the main thread: 2 → 1 → 2
        a = np.ones((512, 512), np.float32)
        a @ a  # OpenBLAS's second thread has worked
        assert blas.settle_process_threads() == 1
        seen = []
        original = implicit.implicit_correlate
        monkeypatch.setattr(implicit, "implicit_correlate",
                            lambda *args, **kw: seen.append(blas.get_threads()) or original(*args, **kw))
        worker = threading.Thread(target=lambda: net.forward(x))
        worker.start()
        worker.join()
        assert seen and set(seen) == {1} and blas.get_threads() == 1
    finally:
        blas.set_threads(previous)
