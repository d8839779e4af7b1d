"""A batch file is data, never code: the loader refuses every pickle that would call anything but
numpy's array reconstruction, before calling it."""

import builtins
import importlib
import os
import pickle
import subprocess

import numpy as np
import pytest
from cifar_samples import make_members, py2_pickle, write_archive

from convviz.data import DataError, UnsafePickleError, read_cifar10
from convviz.data.safe_pickle import safe_loads


class RunsCommand:
    """Unpickling this with plain ``pickle.load`` runs ``os.system(command)``."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class Calls:
    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return (self.function, self.args)


def test_official_batch_layout_loads(members):
    batch = safe_loads(py2_pickle(members["data_batch_1"]), "data_batch_1")

    assert batch[b"data"].shape == (20, 3072) and batch[b"data"].dtype == np.uint8
    assert batch[b"labels"] == list(range(10)) * 2
    np.testing.assert_array_equal(batch[b"data"], members["data_batch_1"]["data"])


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_pickle_calling_os_system_is_refused_without_running(tmp_path, protocol):
    marker = tmp_path / "ran"
    hostile = pickle.dumps({"data": RunsCommand(f"touch {marker}")}, protocol=protocol)

    with pytest.raises(UnsafePickleError, match=r"data_batch_1: the pickle asks for (posix|os|nt)\.system, "
                                                r"which a CIFAR-10 batch never contains; refused without running"):
        safe_loads(hostile, "data_batch_1")
    assert not marker.exists()


@pytest.mark.parametrize("call, named", [
    (Calls(builtins.eval, "__import__('os').getcwd()"), "builtins.eval"),
    (Calls(subprocess.check_output, ["true"]), "subprocess.check_output"),
    (Calls(np.load, "x.npy"), "load"),
    (Calls(importlib.import_module, "os"), "importlib.import_module"),
])
def test_any_other_callable_is_refused(call, named):
    with pytest.raises(UnsafePickleError, match=rf"asks for \S*{named}.*refused without running anything"):
        safe_loads(pickle.dumps([1, call], protocol=4), "test_batch")


def test_numpy_reconstruct_may_not_build_other_types():
    # _reconstruct(numpy.dtype, (0,), 'b'): the reconstructor pointed at a class other than ndarray
    hostile = b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\ndtype\nK\x00\x85U\x01b\x87R."
    with pytest.raises(UnsafePickleError, match=r"numpy writes \(numpy.ndarray, \(0,\), 'b'\)"):
        safe_loads(hostile, "data_batch_2")


def test_ndarray_may_not_be_called_directly():
    hostile = b"\x80\x02cnumpy\nndarray\nJ\x00\xe1\xf5\x05\x85R."  # numpy.ndarray((100000000,))
    with pytest.raises(UnsafePickleError, match="calls numpy.ndarray directly"):
        safe_loads(hostile, "data_batch_2")


def test_object_arrays_are_refused():
    hostile = b"\x80\x02cnumpy\ndtype\nU\x02O8K\x00K\x01\x87R."
    with pytest.raises(UnsafePickleError, match=r"numpy.dtype\(b'O8'\) is not a plain numeric type"):
        safe_loads(hostile, "data_batch_2")


def test_damaged_pickle_is_a_clear_error(members):
    truncated = py2_pickle(members["data_batch_1"])[:5000]
    with pytest.raises(DataError, match="data_batch_1 is not a readable CIFAR-10 batch"):
        safe_loads(truncated, "data_batch_1")


def test_archive_with_a_hostile_batch_is_refused_without_running(tmp_path):
    marker = tmp_path / "ran"
    members = make_members()
    members["data_batch_3"] = pickle.dumps({"data": RunsCommand(f"touch {marker}")}, protocol=2)
    archive = write_archive(tmp_path / "cifar-10-python.tar.gz", members)

    with pytest.raises(UnsafePickleError, match=r"cifar-10-python.tar.gz:data_batch_3: the pickle asks for \w+\.system"):
        read_cifar10(archive)
    assert not marker.exists()
