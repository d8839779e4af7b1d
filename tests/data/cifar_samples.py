"""Helpers for the data tests: small CIFAR-10 look-alikes written byte for byte as the official files are
(Python-2 pickles: py2 strings, ``numpy.core.multiarray._reconstruct``), and a local HTTP server with
failure modes. (A module of its own, not conftest.py, so that test files can import it by a unique name.)"""

from __future__ import annotations

import hashlib
import http.server
import io
import struct
import tarfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
TRAIN_NAMES = [f"data_batch_{i}" for i in range(1, 6)]
PER_BATCH = 20


# ---------------------------------------------------------------- Python-2 pickles, as CIFAR-10 has them

def py2_pickle(obj) -> bytes:
    """Protocol 2 with the opcodes of the official batches: SHORT_BINSTRING/BINSTRING strings, BININT*
    ints, EMPTY_LIST/APPENDS, EMPTY_DICT/SETITEMS, and numpy arrays as numpy 1.x under Python 2 wrote them."""
    out = bytearray(b"\x80\x02")
    _emit(out, obj)
    out += b"."
    return bytes(out)


def _emit(out: bytearray, obj) -> None:
    if isinstance(obj, dict):
        out += b"}("
        for key, value in obj.items():
            _emit(out, key)
            _emit(out, value)
        out += b"u"
    elif isinstance(obj, list):
        out += b"]("
        for item in obj:
            _emit(out, item)
        out += b"e"
    elif isinstance(obj, (str, bytes)):
        raw = obj.encode("latin-1") if isinstance(obj, str) else obj
        out += (b"U" + bytes([len(raw)]) if len(raw) < 256 else b"T" + struct.pack("<I", len(raw))) + raw
    elif isinstance(obj, bool) or obj is None:
        out += {True: b"\x88", False: b"\x89", None: b"N"}[obj]
    elif isinstance(obj, int):
        if 0 <= obj < 256:
            out += b"K" + bytes([obj])
        elif 0 <= obj < 65536:
            out += b"M" + struct.pack("<H", obj)
        else:
            out += b"J" + struct.pack("<i", obj)
    elif isinstance(obj, np.ndarray):
        assert obj.dtype == np.uint8
        out += b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R("
        _emit(out, 1)
        out += b"("
        for dim in obj.shape:
            _emit(out, dim)
        out += b"tcnumpy\ndtype\nU\x02u1K\x00K\x01\x87R(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89"
        _emit(out, obj.tobytes())
        out += b"tb"
    else:
        raise TypeError(type(obj))


# ---------------------------------------------------------------- a small data set in the official layout

def make_images(count: int, first_index: int) -> np.ndarray:
    """(count, 3072) uint8: image i has red = i % 256, green = i // 256, blue = 200 in every pixel,
    except pixel (row 0, column 1), which is 255 in all planes (to show the left/right order)."""
    index = np.arange(first_index, first_index + count)
    planes = np.empty((count, 3, 32, 32), np.uint8)
    planes[:, 0], planes[:, 1], planes[:, 2] = (index % 256)[:, None, None], (index // 256)[:, None, None], 200
    planes[:, :, 0, 1] = 255
    return planes.reshape(count, 3072)


def make_members(per_batch: int = PER_BATCH) -> dict[str, object]:
    """The unpickled contents of each member: labels cycle 0–9, so each class is 1/10 of every batch."""
    members: dict[str, object] = {}
    for number, name in enumerate([*TRAIN_NAMES, "test_batch"]):
        first = number * per_batch
        label = "testing batch 1 of 1" if name == "test_batch" else f"training batch {number + 1} of 5"
        members[name] = {
            "batch_label": label,
            "labels": [(first + i) % 10 for i in range(per_batch)],
            "data": make_images(per_batch, first),
            "filenames": [f"image_{first + i:05d}.png" for i in range(per_batch)],
        }
    members["batches.meta"] = {"num_cases_per_batch": per_batch, "label_names": CLASS_NAMES, "num_vis": 3072}
    return members


#: an incompressible readme, so the archive is big enough (≈ 260 kB) for downloads in several chunks
README = b"<html>" + np.random.default_rng(0).bytes(256 * 1024) + b"</html>"


def write_archive(path: Path, members: dict[str, object], top: str = "cifar-10-batches-py") -> Path:
    """A .tar.gz of ``members`` (objects are py2-pickled; bytes are written as they are)."""
    with tarfile.open(path, "w:gz") as archive:
        for name, content in {**members, "readme.html": README}.items():
            data = content if isinstance(content, bytes) else py2_pickle(content)
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def write_folder(folder: Path, members: dict[str, object]) -> Path:
    folder.mkdir(parents=True)
    for name, content in members.items():
        (folder / name).write_bytes(content if isinstance(content, bytes) else py2_pickle(content))
    return folder


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# ---------------------------------------------------------------- a local HTTP server with failure modes

@dataclass
class ServerState:
    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)
    drop_after: list[int] = field(default_factory=list)  # per request: close after this many body bytes
    ignore_range: bool = False


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        state: ServerState = self.server.state
        state.requests.append((self.path, self.headers.get("Range")))
        data = state.files.get(self.path)
        if data is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        wanted = self.headers.get("Range")
        if wanted and not state.ignore_range:
            start = int(wanted.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if state.drop_after:
            body = body[:state.drop_after.pop(0)]
            self.close_connection = True
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class LocalServer:
    def __init__(self):
        self.state = ServerState()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.state = self.state
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"

    def serve(self, path: str, data: bytes) -> str:
        self.state.files[path] = data
        return self.url(path)
