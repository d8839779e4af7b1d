"""A helper process of a split batch: ``python -m convviz.engine.part_process FD``.

It builds the network's layers once for its part, points their parameters and buffers at the
network's shared memory and their gradients at its own shared block, then runs one pass at a time
as part 0 asks (the protocol: ``convviz.engine.processes``). It ends when asked, or when the
network's process goes away (its socket closes). Ctrl+C is left to the network's process, which
aborts the pass.
"""

from __future__ import annotations

import pickle
import signal
import sys
import traceback
from multiprocessing.connection import Connection

import numpy as np


def _error_message(exc: BaseException):
    trace = traceback.format_exc()
    try:
        pickle.dumps(exc)
    except Exception:  # noqa: BLE001 (an exception that does not pickle: its text instead)
        exc = RuntimeError(f"{type(exc).__name__}: {exc}")
    return ("error", exc, trace)


def build(setup: dict, conn: Connection):
    """The helper's stack, its Part, and the shared blocks it keeps mapped."""
    from convviz.engine.parallel import Part
    from convviz.engine.processes import HelperCollective
    from convviz.engine.shared import SharedBlock, rebind
    from convviz.engine.stack import build_stack, walk_layers
    from convviz.model.analysis import analyze

    report = analyze(setup["spec"])
    part = Part(None, setup["rank"], HelperCollective(setup.get("parties", 2), conn))
    stack = build_stack(report.layers, np.dtype(setup["dtype"]), part)
    layers = list(walk_layers(stack))
    blocks = {}
    for kind, (fd, layout) in setup["blocks"].items():
        blocks[kind] = SharedBlock.attach(fd, layout)
        rebind(layers, kind, blocks[kind])
    return stack, part, blocks


def serve(conn: Connection) -> None:
    message = conn.recv()
    try:
        stack, part, blocks = build(message[1], conn)
    except Exception as exc:  # noqa: BLE001 (told to the network, which raises it)
        conn.send(_error_message(exc))
        return
    conn.send(("ready",))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "stop":
            return
        if message[0] != "pass":
            continue  # an abort that arrived after this part had ended its pass
        _, kind, rows, options, (start, stop, total), errstate = message
        part.split, part.start, part.stop, part.total = True, start, stop, total
        try:
            with np.errstate(**errstate):
                if kind == "forward":
                    result = stack.forward(rows, options["train"])
                else:
                    result = stack.backward(rows, input_grad=options["input_grad"])
            reply = ("done", result)
        except BaseException as exc:  # noqa: BLE001 (every failure is the network's to raise)
            reply = _error_message(exc)
        finally:
            part.split = False
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = Connection(int(argv[1]))
    try:
        serve(conn)
    except (EOFError, OSError):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
