"""The parts of a split batch in helper processes: both cores without the GIL in between.

A batch split across Python threads (``convviz.engine.parallel.Runner``) ran 1.2–1.45× the one-thread
speed here: the parts queue for the GIL around every small kernel call. Two processes training half
batches side by side ran 1.9–2.1× (``bench/bench_train.py``). So a :class:`~convviz.engine.Network`
with ``threads=T`` runs part 0 on the calling thread and parts 1 … T − 1 in helper processes
(``convviz.engine.part_process``), started on the first split pass and ended with the network:

- the parameters and buffers live in shared memory (``convviz.engine.shared``), so an optimizer step
  or ``set_weights`` in this process is what the helpers read on the next pass; each helper writes its
  gradients into its own shared block, which the network adds into its own after a backward pass;
- a pass sends each helper its rows of x (or of dscores) and gets back its rows of the scores (or dx);
- the layers' exchanges (batch norm's sums, dropout's whole-batch mask: see ``parallel.Part``) go
  through part 0, which gathers every part's value and sends the list back to each helper.

Messages on one socket pair per helper (``multiprocessing.connection``): to the helper ``("pass",
kind, rows, options, (start, stop, total), errstate)``, ``("x", values)``, ``("abort",)``, ``("stop",)``;
from it ``("ready",)``, ``("x", value)``, ``("done", result)``, ``("error", exception, traceback)``.
A failing part makes every other part stop at its next exchange; the caller gets the failing
part's own error (a helper's with its traceback as a note). A helper that dies is started again on
the next pass.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import threading
import time
import warnings
import weakref
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from convviz.engine.blas import configured_threads
from convviz.engine.shared import SharedBlock, share_arrays
from convviz.engine.shared import supported as processes_supported

START_TIMEOUT_S = 60.0
# An exchange waits for the other process's message spinning this long before it blocks: a blocked
# process is woken by the kernel 50–100 µs after the message arrives (two wake-ups per exchange,
# 63 exchanges in a ResNet-20 step: part 0 waited 18 ms of a 141 ms step). Spinning costs a core
# only while the other part is about to arrive.
SPIN_S = 0.002
PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the directory that holds ``convviz``


BACKENDS = ("process", "thread")


def choose_backend(backend: str) -> str:
    """"process" or "thread" for ``backend`` ("auto": processes where they can share memory)."""
    if backend == "auto":
        return "process" if processes_supported() else "thread"
    if backend not in BACKENDS:
        raise ValueError(f"backend must be 'auto', 'process' or 'thread', got {backend!r}")
    if backend == "process" and not processes_supported():
        raise ValueError("helper processes need a POSIX system here: use backend='thread'")
    return backend


class PassAborted(Exception):
    """Raised in a part waiting at an exchange when another part failed."""


class HelperStopped(RuntimeError):
    """A helper process ended (killed, out of memory …) while a pass needed it."""


class Helper:
    """One helper process and its end of the socket pair."""

    def __init__(self, rank: int, setup: dict, fds: list[int]):
        self.rank = rank
        parent_end, child_end = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        threads = configured_threads()
        if threads is not None:  # the helper's BLAS runs as the engine's does here
            for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                env[name] = str(threads)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "convviz.engine.part_process", str(child_end.fileno())],
                pass_fds=(child_end.fileno(), *fds), env=env, stdin=subprocess.DEVNULL, close_fds=True,
            )
        finally:
            child_end.close()
        self.conn = Connection(parent_end.detach())
        self._poller = readable_poller(self.conn)
        self.busy = False
        self.send(("setup", setup))
        self.expect_ready()

    def send(self, message) -> None:
        try:
            self.conn.send(message)
        except (OSError, EOFError) as exc:
            raise self._stopped() from exc

    def recv(self, spin: float = 0.0):
        try:
            if spin:
                spin_until_readable(self._poller, spin)
            return self.conn.recv()
        except (OSError, EOFError) as exc:
            raise self._stopped() from exc

    def expect_ready(self) -> None:
        if not self.conn.poll(START_TIMEOUT_S):
            self.kill()
            raise HelperStopped(f"the engine's helper process for part {self.rank} did not start "
                                f"within {START_TIMEOUT_S:.0f} s")
        message = self.recv()
        if message[0] == "error":
            self.kill()
            raise _with_note(message[1], message[2], self.rank)
        if message[0] != "ready":
            raise HelperStopped(f"the engine's helper process for part {self.rank} sent {message[0]!r}")

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def _stopped(self) -> HelperStopped:
        code = self.process.poll()
        how = "is not answering" if code is None else f"ended (exit code {code})"
        return HelperStopped(f"the engine's helper process for part {self.rank} {how}; "
                             "it is started again on the next pass")

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(("stop",))
            self.process.wait(timeout=2)
        except (OSError, EOFError, subprocess.TimeoutExpired):
            pass
        self.kill()


def readable_poller(conn: Connection):
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    return poller


def spin_until_readable(poller, seconds: float) -> None:
    """Poll without blocking for up to ``seconds`` (then the caller's read blocks as usual)."""
    if poller.poll(0):
        return
    deadline = time.perf_counter() + seconds
    while not poller.poll(0) and time.perf_counter() < deadline:
        pass


def _with_note(exc: BaseException, trace: str, rank: int) -> BaseException:
    exc.add_note(f"(raised in the engine's helper process for part {rank}:)\n{trace.rstrip()}")
    return exc


class ProcessRunner:
    """Runs a split pass: part 0 here, parts 1 … T − 1 in helper processes.

    ``part``: part 0's :class:`~convviz.engine.parallel.Part` (its collective must be a
    :class:`HubCollective` over this runner). ``blocks``: the network's shared "params" and
    "buffers" blocks. ``grads[r − 1]``: helper r's gradient block (created here).
    """

    def __init__(self, spec, dtype, parts: int, part, blocks: dict, grad_specs: dict):
        self.spec, self.dtype, self.parts, self.part = spec, np.dtype(dtype), parts, part
        self.blocks = blocks
        self.grads = [SharedBlock.create(grad_specs) for _ in range(parts - 1)]
        self.helpers: list[Helper] = []
        self.unavailable: str | None = None  # why helpers could not be started (then passes stay whole)
        self._lock = threading.Lock()  # one split pass at a time

    @classmethod
    def sharing(cls, network, spec, part) -> "ProcessRunner":
        """The runner of ``network`` (built for part 0 on ``part``): its layers' parameters and buffers
        moved into shared memory, a gradient block per helper; the helpers end with the network."""
        layers = list(network.layers.values())
        blocks = {kind: share_arrays(layers, kind) for kind in ("params", "buffers")}
        grad_specs = {f"{l.name}.{k}": (g.shape, g.dtype) for l in layers for k, g in l.grads.items()}
        runner = cls(spec, network.dtype, network.threads, part, blocks, grad_specs)
        weakref.finalize(network, runner.close)
        return runner

    def grad_shares(self, layers) -> list[tuple]:
        """(a layer's gradient array, the same gradient in every helper's block), for summing."""
        return [(g, *(block.arrays[f"{l.name}.{k}"] for block in self.grads))
                for l in layers for k, g in l.grads.items()]

    def pids(self) -> list[int]:
        return [helper.process.pid for helper in self.helpers if helper.alive]

    # -- helpers ------------------------------------------------------------------------------------------
    def ready(self) -> bool:
        """The helpers run (started now if need be). If they cannot be started at all (no Python
        executable to run, no processes allowed …), say so once as a RuntimeWarning and answer False
        from then on: the network then runs whole batches here, on one core."""
        if self.unavailable is not None:
            return False
        if len(self.helpers) == self.parts - 1 and all(helper.alive for helper in self.helpers):
            return True
        try:
            with self._lock:
                self._start()
            return True
        except (OSError, HelperStopped) as exc:
            self.unavailable = str(exc)
            warnings.warn(RuntimeWarning(f"the engine could not start its helper process ({exc}): "
                                         "each batch runs on one core"), stacklevel=3)
            return False

    def _start(self) -> None:
        self.helpers = [helper for helper in self.helpers if helper.alive]
        if len(self.helpers) == self.parts - 1:
            return
        for helper in self.helpers:
            helper.stop()
        self.helpers = []
        for rank in range(1, self.parts):
            grads = self.grads[rank - 1]
            setup = {
                "rank": rank, "parties": self.parts, "spec": self.spec, "dtype": self.dtype.str,
                "blocks": {kind: (block.fd, block.layout) for kind, block in {**self.blocks, "grads": grads}.items()},
            }
            fds = [block.fd for block in (*self.blocks.values(), grads)]
            self.helpers.append(Helper(rank, setup, fds))

    def close(self) -> None:
        for helper in self.helpers:
            helper.stop()
        self.helpers = []
        for block in (*self.grads, *self.blocks.values()):
            block.close()

    # -- passes ---------------------------------------------------------------------------------------------
    def run(self, bounds: list[tuple[int, int]], total: int, local, kind: str, rows: np.ndarray, options: dict) -> list:
        """``local(0, start, stop)`` here and ``kind`` ("forward"/"backward") on ``rows[start:stop]``
        with ``options`` in every helper; the results in part order. The helpers run (``ready``)."""
        with self._lock:  # (ready() started the helpers; one that died since fails this pass clearly)
            part = self.part
            part.split, (part.start, part.stop), part.total = True, bounds[0], total
            errstate = np.geterr()
            try:
                for helper, (start, stop) in zip(self.helpers, bounds[1:]):
                    helper.send(("pass", kind, rows[start:stop], options, (start, stop, total), errstate))
                    helper.busy = True
                results = [local(0, *bounds[0])]
                results += [self._result(helper) for helper in self.helpers]
                return results
            except BaseException:
                self._abort()
                raise
            finally:
                part.split = False

    def _result(self, helper: Helper):
        message = helper.recv()
        if message[0] == "done":
            helper.busy = False
            return message[1]
        if message[0] == "error":
            helper.busy = False
            raise _with_note(message[1], message[2], helper.rank)
        raise HelperStopped(f"the engine's helper process for part {helper.rank} sent {message[0]!r} "
                            "at the end of a pass")

    def exchange(self, value) -> list:
        """Part 0's side of an exchange: every part's value, in part order (sent to every helper)."""
        values = [value]
        for helper in self.helpers:
            message = helper.recv(SPIN_S)
            if message[0] == "x":
                values.append(message[1])
            elif message[0] == "error":
                helper.busy = False
                raise _with_note(message[1], message[2], helper.rank)
            else:
                helper.busy = False
                raise HelperStopped(f"the engine's helper process for part {helper.rank} ended its pass "
                                    "without reaching an exchange the others reached")
        for helper in self.helpers:
            helper.send(("x", values))
        return values

    def _abort(self) -> None:
        """After a failure: every helper still in the pass stops at its next exchange; wait for each
        one's end (a helper that does not answer is killed and started again next time)."""
        for helper in self.helpers:
            if not helper.busy:
                continue
            try:
                helper.send(("abort",))
                while helper.busy:
                    message = helper.recv()
                    if message[0] in ("done", "error"):
                        helper.busy = False  # (an "x" sent before the abort: it reads the abort next)
            except (HelperStopped, KeyboardInterrupt):
                helper.kill()
                helper.busy = False


class HubCollective:
    """The :class:`~convviz.engine.parallel.Collective` of part 0 when the other parts are helper
    processes: a gather goes through :meth:`ProcessRunner.exchange`."""

    def __init__(self, parties: int):
        self.parties = parties
        self.runner: ProcessRunner | None = None

    def gather(self, rank: int, value) -> list:
        return self.runner.exchange(value)

    def abort(self) -> None:  # the runner aborts the helpers itself
        pass

    def reset(self) -> None:
        pass

    broken = False


class HelperCollective:
    """A helper's collective: send its value to part 0, wait for everyone's."""

    def __init__(self, parties: int, conn: Connection):
        self.parties, self.conn = parties, conn
        self._poller = readable_poller(conn)

    def gather(self, rank: int, value) -> list:
        self.conn.send(("x", value))
        spin_until_readable(self._poller, SPIN_S)
        message = self.conn.recv()
        if message[0] != "x":
            raise PassAborted("another part of the batch failed")
        return message[1]

    def abort(self) -> None:
        pass

    def reset(self) -> None:
        pass

    broken = False
