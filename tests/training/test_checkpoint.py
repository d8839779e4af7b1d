"""Checkpoints: exact resume, atomic writes, and damaged or hostile files refused."""

import json
from pathlib import Path

import numpy as np
import pytest

from convviz.training.checkpoint import CheckpointError, load_checkpoint, resume_trainer, save_checkpoint
from convviz.training.config import TrainConfig
from convviz.training.records import Event, Metrics
from convviz.training.trainer import Trainer

# one thread, as the version 1 fixture below was trained (two threads round differently)
CONFIG = TrainConfig(epochs=2, batch_size=32, lr=0.05, optimizer="adam", metrics_every=1, augment=True, threads=1)


def run_steps(trainer, steps):
    """Advance ``trainer`` by exactly ``steps`` training steps (then the generator is dropped)."""
    target = trainer.step + steps
    for record in trainer.run():
        if isinstance(record, Metrics) and record.step == target:
            return
    raise AssertionError("the run ended early")


def test_resume_continues_exactly(tmp_path, spec, small_data):
    straight = Trainer(spec, small_data, CONFIG)
    run_steps(straight, 20 + 13)  # crosses the epoch boundary at step 17

    first = Trainer(spec, small_data, CONFIG)
    run_steps(first, 20)
    save_checkpoint(first, tmp_path / "run")
    resumed = resume_trainer(tmp_path / "run", small_data)
    assert (resumed.step, resumed.epoch, resumed.batch_index) == (20, 1, 3)
    run_steps(resumed, 13)

    for name, value in straight.net.params().items():
        np.testing.assert_array_equal(resumed.net.params()[name], value, err_msg=name)
    assert resumed.history[:20] == first.history[:20]


def test_resume_mid_epoch_with_batch_norm_and_dropout(tmp_path, small_data):
    from convviz.model import preset

    spec = preset("smallvgg")
    config = TrainConfig(epochs=1, batch_size=16, metrics_every=1, augment=False)
    small = small_data
    straight = Trainer(spec, small, config)
    run_steps(straight, 5)
    first = Trainer(spec, small, config)
    run_steps(first, 3)
    save_checkpoint(first, tmp_path / "bn")
    resumed = resume_trainer(tmp_path / "bn", small)
    run_steps(resumed, 2)
    for name, value in {**straight.net.params(), **straight.net.buffers()}.items():
        mine = {**resumed.net.params(), **resumed.net.buffers()}[name]
        np.testing.assert_array_equal(mine, value, err_msg=name)


def test_saving_twice_keeps_one_arrays_file(tmp_path, spec, small_data):
    trainer = Trainer(spec, small_data, CONFIG)
    run_steps(trainer, 2)
    save_checkpoint(trainer, tmp_path)
    run_steps(trainer, 2)
    save_checkpoint(trainer, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arrays-000000004.npz", "checkpoint.json"]


@pytest.fixture
def saved(tmp_path, spec, small_data):
    trainer = Trainer(spec, small_data, CONFIG)
    run_steps(trainer, 3)
    save_checkpoint(trainer, tmp_path)
    return tmp_path


def arrays_file(folder):
    return folder / json.loads((folder / "checkpoint.json").read_text())["arrays"]


def test_truncated_arrays_are_refused(saved):
    path = arrays_file(saved)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="does not match its checksum"):
        load_checkpoint(saved)


def test_pickle_carrying_arrays_are_refused_without_running_them(saved, small_data):
    class Boom:
        def __reduce__(self):
            return (open, (str(saved / "pwned"), "w"))

    path = arrays_file(saved)
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    arrays["weights/conv1.weight"] = np.array([Boom()], dtype=object)
    np.savez(path, **arrays)  # np.savez pickles object arrays
    index = json.loads((saved / "checkpoint.json").read_text())
    import hashlib

    index["arrays_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()  # a forger fixes the checksum too
    (saved / "checkpoint.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match="holds pickled Python objects"):
        load_checkpoint(saved)
    assert not (saved / "pwned").exists()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda i: i.update(format="something-else"), "is not a ConvViz checkpoint"),
        (lambda i: i.update(version=99), "version 99, written by a newer ConvViz"),
        (lambda i: i.pop("step"), "step is missing"),
        (lambda i: i.update(arrays="../../etc/passwd"), "arrays must name an arrays-NNN.npz file"),
        (lambda i: i["spec"]["layers"][0].update(filters=10**9), "filters: must be at most 65,536"),
        (lambda i: i["config"].update(lr=-1.0), "lr must be > 0"),
    ],
)
def test_damaged_index_is_refused(saved, change, message):
    index = json.loads((saved / "checkpoint.json").read_text())
    change(index)
    (saved / "checkpoint.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(saved)


def test_not_json_and_missing(tmp_path, saved):
    with pytest.raises(CheckpointError, match="has no checkpoint.json"):
        load_checkpoint(tmp_path / "nowhere")
    (saved / "checkpoint.json").write_text('{"format": "convviz-checkpoint", ')
    with pytest.raises(CheckpointError, match="checkpoint.json is damaged"):
        load_checkpoint(saved)


def test_weights_that_do_not_fit_the_network_are_refused(saved, small_data):
    path = arrays_file(saved)
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    arrays["weights/conv1.weight"] = np.zeros((2, 2), np.float32)
    np.savez(path, **arrays)
    index = json.loads((saved / "checkpoint.json").read_text())
    import hashlib

    index["arrays_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (saved / "checkpoint.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match="does not fit its network: .*conv1.weight"):
        resume_trainer(saved, small_data)


def test_resume_on_other_data_is_refused(saved):
    from convviz.data import synthetic_dataset

    other = synthetic_dataset(train=300, test=100, validation=30, seed=1)
    with pytest.raises(CheckpointError, match="resume with the same data set"):
        resume_trainer(saved, other)


def test_failed_write_keeps_the_previous_checkpoint(saved, spec, small_data, monkeypatch):
    before = (saved / "checkpoint.json").read_text()
    trainer = Trainer(spec, small_data, CONFIG)
    run_steps(trainer, 5)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError):
        save_checkpoint(trainer, saved)
    assert (saved / "checkpoint.json").read_text() == before
    load_checkpoint(saved)  # still whole


FIXTURE = Path(__file__).parent / "data" / "checkpoint-v1"  # written before Trainer.state_dict existed


@pytest.fixture
def openblas_numbers():
    """The fixture's arrays were trained with OpenBLAS's products: its run is repeated on OpenBLAS
    (MKL, where installed, rounds float32 sums in another order)."""
    from convviz.engine.kernels import gemm

    gemm.use("openblas")
    yield
    gemm.use(None)


def test_a_version_1_checkpoint_from_before_still_resumes_exactly(spec, small_data, openblas_numbers):
    straight = Trainer(spec, small_data, CONFIG)
    run_steps(straight, 20 + 13)
    resumed = resume_trainer(FIXTURE, small_data)  # saved at step 20 of the same run
    assert (resumed.step, resumed.epoch, resumed.batch_index) == (20, 1, 3)
    run_steps(resumed, 13)
    for name, value in straight.net.params().items():
        np.testing.assert_array_equal(resumed.net.params()[name], value, err_msg=name)


def test_saving_keeps_the_version_1_files(tmp_path, spec, small_data, openblas_numbers):
    trainer = Trainer(spec, small_data, CONFIG)
    run_steps(trainer, 20)
    save_checkpoint(trainer, tmp_path)
    index, old = (json.loads((folder / "checkpoint.json").read_text()) for folder in (tmp_path, FIXTURE))
    assert list(index) == list(old) and index["version"] == 1 and index["lr_scale"] == 1.0
    assert index["optimizer"] == old["optimizer"] and index["rng"] == old["rng"]
    with np.load(arrays_file(tmp_path)) as new_arrays, np.load(arrays_file(FIXTURE)) as old_arrays:
        assert new_arrays.files == old_arrays.files
        for name in old_arrays.files:
            np.testing.assert_array_equal(new_arrays[name], old_arrays[name], err_msg=name)


def test_a_checkpoint_from_before_the_thread_setting_resumes_on_one_thread(small_data):
    assert "threads" not in json.loads((FIXTURE / "checkpoint.json").read_text())["config"]
    assert load_checkpoint(FIXTURE).config.threads == 1
    assert resume_trainer(FIXTURE, small_data).net.threads == 1


def test_the_thread_count_changes_nothing_in_a_checkpoint_but_its_own_setting(tmp_path, spec, small_data):
    folders = {}
    for threads in (1, 2):
        trainer = Trainer(spec, small_data, CONFIG.replace(threads=threads))
        run_steps(trainer, 5)
        folders[threads] = tmp_path / f"{threads} threads"
        save_checkpoint(trainer, folders[threads])
    one, two = (json.loads((folders[t] / "checkpoint.json").read_text()) for t in (1, 2))
    assert list(one) == list(two) and one["version"] == two["version"] == 1
    assert (one["config"].pop("threads"), two["config"].pop("threads")) == (1, 2)
    assert one["config"] == two["config"] and one["rng"] == two["rng"]
    with np.load(arrays_file(folders[1])) as a, np.load(arrays_file(folders[2])) as b:
        assert a.files == b.files
        for name in a.files:
            assert a[name].shape == b[name].shape and a[name].dtype == b[name].dtype, name
            np.testing.assert_allclose(b[name], a[name], rtol=1e-4, atol=1e-6, err_msg=name)
    resumed = resume_trainer(folders[2], small_data)
    assert resumed.net.threads == 2


def test_an_lr_scale_other_than_1_is_refused(saved):
    index = json.loads((saved / "checkpoint.json").read_text())
    index["lr_scale"] = 0.1
    (saved / "checkpoint.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match="lr_scale is 0.1, but learning-rate scaling is gone"):
        load_checkpoint(saved)


def forge_member(folder, name, header, data):
    """Replace array ``name`` of the checkpoint in ``folder`` by an .npy with ``header`` and ``data``,
    and fix the checksum, as a forger would."""
    import hashlib
    import io
    import zipfile

    path = arrays_file(folder)
    npy = io.BytesIO()
    np.lib.format.write_array_header_1_0(npy, header)
    npy.write(data)
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    members[f"{name}.npy"] = npy.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for member, content in members.items():
            archive.writestr(member, content)
    index = json.loads((folder / "checkpoint.json").read_text())
    index["arrays_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (folder / "checkpoint.json").write_text(json.dumps(index))


def test_an_array_declaring_a_huge_shape_is_refused_before_allocating(saved):
    header = {"descr": "<f4", "fortran_order": False, "shape": (10**10,)}  # 40 GB said, 64 bytes held
    forge_member(saved, "weights/conv1.weight", header, bytes(64))
    with pytest.raises(CheckpointError, match=r"weights/conv1.weight declares shape \(10000000000,\) of float32 "
                                              r"\(40\.00 GB\) but holds 64 B: refused"):
        load_checkpoint(saved)


def test_an_array_of_the_wrong_shape_or_kind_is_refused_before_reading(saved, small_data):
    header = {"descr": "<f4", "fortran_order": False, "shape": (1000, 1000)}  # honest size, wrong shape
    forge_member(saved, "optimizer/m.conv1.weight", header, bytes(4 * 10**6))
    header = {"descr": "<i8", "fortran_order": False, "shape": (8,)}
    forge_member(saved, "weights/conv1.bias", header, bytes(64))
    load_checkpoint(saved)  # the file is what it says it is …
    with pytest.raises(CheckpointError, match=r"does not fit its network: weights/conv1.bias holds int64 values, "
                                              r"expected floating-point numbers; optimizer/m.conv1.weight has shape "
                                              r"\(1000, 1000\), expected \(8, 3, 4, 4\)"):
        resume_trainer(saved, small_data)  # … but not what the network needs


def test_a_checkpoint_asked_for_before_a_stop_is_written_even_while_paused(tmp_path, spec, small_data):
    """The window's close asks for a checkpoint and then stops: both can arrive while the trainer
    waits paused, and the checkpoint must still be written before the run ends."""
    trainer = Trainer(spec, small_data, TrainConfig(epochs=5, batch_size=32))
    control = trainer.control
    control.step(2)  # two steps, then paused
    wait = control.wait_while_paused

    def both_arrive_during_the_wait(timeout=0.25):
        if trainer.step == 2 and not control.stopped:
            control.request_checkpoint(str(tmp_path / "run"))
            control.stop()
        return wait(timeout)

    control.wait_while_paused = both_arrive_during_the_wait
    kinds = [r.kind for r in trainer.run() if isinstance(r, Event)]
    assert kinds[-2:] == ["checkpoint", "stopped"]
    assert resume_trainer(tmp_path / "run", small_data).step == 2


def test_a_checkpoint_asked_for_during_the_last_step_is_written_before_the_end(tmp_path, spec, small_data):
    trainer = Trainer(spec, small_data, TrainConfig(epochs=1, batch_size=64, metrics_every=1))
    events = []
    for record in trainer.run():
        if isinstance(record, Metrics) and record.step == trainer.steps_per_epoch:
            trainer.control.request_checkpoint(str(tmp_path / "run"))
        if isinstance(record, Event):
            events.append(record.kind)
    assert events[-2:] == ["checkpoint", "finished"]
    assert resume_trainer(tmp_path / "run", small_data).step == trainer.steps_per_epoch


def test_a_checkpoint_that_cannot_be_written_at_a_stop_does_not_promise_training_goes_on(tmp_path, spec, small_data):
    blocked = tmp_path / "file"
    blocked.write_text("a file, not a folder")
    trainer = Trainer(spec, small_data, TrainConfig(epochs=5, batch_size=32))
    trainer.control.request_checkpoint(str(blocked / "run"))
    trainer.control.stop()
    events = [r for r in trainer.run() if isinstance(r, Event)]
    assert events[-2].kind == "error" and "could not write the checkpoint to" in events[-2].message
    assert "training goes on" not in events[-2].message and events[-1].kind == "stopped"
