"""``convviz train``: headless training with a progress bar, JSON log, checkpoints and resume."""

import json

from convviz.cli import main


def test_train_synthetic_with_json_log_and_resume(tmp_path, capsys, monkeypatch, spec):
    import convviz.data.sources as sources
    from convviz.data import synthetic_dataset

    monkeypatch.setattr(sources, "synthetic_dataset", lambda validation, seed: synthetic_dataset(
        train=300, test=100, validation=validation, seed=seed))
    from convviz.model import save_spec

    save_spec(spec, tmp_path / "net.json")
    log = tmp_path / "log.jsonl"
    args = ["train", str(tmp_path / "net.json"), "--data", "synthetic", "--epochs", "1", "--batch", "32", "--lr", "0.05",
            "--checkpoint", str(tmp_path / "ckpt"), "--json-log", str(log)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "epoch 1 of 1 done: validation accuracy" in out and "final test accuracy:" in out
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert {line["record"] for line in lines} == {"metrics", "evaluation", "event"}
    assert lines[-1]["kind"] == "finished" and lines[-1]["message"].startswith("finished 1 epoch (")
    metrics = [line for line in lines if line["record"] == "metrics"]  # 270 images: 9 steps of 32
    assert metrics[0]["step"] == 9 and metrics[0]["loss"] > 0

    assert main(["train", "--resume", str(tmp_path / "ckpt"), "--data", "synthetic", "--epochs", "2"]) == 0
    assert "epoch 2 of 2 done" in capsys.readouterr().out


def test_train_errors_are_one_line(tmp_path, capsys):
    assert main(["train", "preset:lenet5", "--data", "synthetic", "--epochs", "1"]) == 2
    assert "takes 32×32×1 images but synthetic has 32×32×3" in capsys.readouterr().err
    assert main(["train", "preset:convnetjs", "--lr", "100"]) == 2
    assert "lr must be > 0 and at most 10" in capsys.readouterr().err
    assert main(["train", "preset:convnetjs", "--data", str(tmp_path / "nothing")]) == 2
    assert "neither cifar10 nor synthetic" in capsys.readouterr().err


def saved_run(tmp_path, spec):
    """A checkpoint of the tiny network after two steps on a small synthetic set."""
    from convviz.data import synthetic_dataset
    from convviz.training.checkpoint import save_checkpoint
    from convviz.training.config import TrainConfig
    from convviz.training.records import Metrics
    from convviz.training.trainer import Trainer

    trainer = Trainer(spec, synthetic_dataset(train=600, test=200, validation=60, seed=0),
                      TrainConfig(epochs=1, batch_size=32, validation=0.1, metrics_every=1))
    for record in trainer.run():
        if isinstance(record, Metrics) and record.step == 2:
            break
    return save_checkpoint(trainer, tmp_path / "run")


def one_line_error(capsys, expected):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("convviz train: error:")]
    assert len(lines) == 1 and expected in lines[0], err
    assert "Traceback" not in err
    return lines[0]


def test_a_hostile_checkpoint_is_one_line_not_a_traceback(tmp_path, capsys, spec):
    import hashlib
    import io
    import zipfile

    import numpy as np

    folder = saved_run(tmp_path, spec)
    index = json.loads((folder / "checkpoint.json").read_text())
    path = folder / index["arrays"]
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    npy = io.BytesIO()
    np.lib.format.write_array_header_1_0(npy, {"descr": "<f4", "fortran_order": False, "shape": (10**10,)})
    members["weights/conv1.weight.npy"] = npy.getvalue() + bytes(64)
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    index["arrays_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (folder / "checkpoint.json").write_text(json.dumps(index))
    assert main(["summary", "preset:convnetjs"]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(folder), "--data", "synthetic"]) == 2
    one_line_error(capsys, "weights/conv1.weight declares shape (10000000000,) of float32")


def test_any_setup_failure_is_one_line(tmp_path, capsys, monkeypatch, spec):
    from convviz.model import save_spec
    from convviz.training import trainer as trainer_module

    save_spec(spec, tmp_path / "net.json")
    assert main(["summary", str(tmp_path / "net.json")]) == 0  # a network summary accepts
    capsys.readouterr()

    def no_memory(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(trainer_module, "make_optimizer", no_memory)
    assert main(["train", str(tmp_path / "net.json"), "--epochs", "1"]) == 2
    one_line_error(capsys, "there is not enough memory to set up the run: try a smaller batch")

    def engine_refuses(*args, **kwargs):
        raise ValueError("the engine cannot run this")

    monkeypatch.setattr(trainer_module, "make_optimizer", engine_refuses)
    assert main(["train", str(tmp_path / "net.json"), "--epochs", "1"]) == 2
    one_line_error(capsys, "cannot set up the run: ValueError: the engine cannot run this")
    monkeypatch.undo()

    log = tmp_path / "no such folder" / "log.jsonl"
    assert main(["train", str(tmp_path / "net.json"), "--epochs", "1", "--json-log", str(log)]) == 2
    one_line_error(capsys, f"cannot write the JSON log {log}: No such file or directory")
    assert main(["train", "preset:nonesuch"]) == 2
    one_line_error(capsys, "nonesuch")


def test_threads_option(tmp_path, capsys, monkeypatch, spec):
    import convviz.data.sources as sources
    from convviz.data import synthetic_dataset
    from convviz.training import trainer as trainer_module

    monkeypatch.setattr(sources, "synthetic_dataset", lambda validation, seed: synthetic_dataset(
        train=100, test=20, validation=validation, seed=seed))
    built = []
    monkeypatch.setattr(trainer_module.Trainer, "__init__", _recording(trainer_module.Trainer.__init__, built))
    from convviz.model import save_spec

    save_spec(spec, tmp_path / "net.json")
    assert main(["train", str(tmp_path / "net.json"), "--epochs", "1", "--threads", "1"]) == 0
    assert main(["train", str(tmp_path / "net.json"), "--epochs", "1"]) == 0
    assert [trainer.net.threads for trainer in built] == [1, 2]  # two threads unless told otherwise
    assert main(["train", str(tmp_path / "net.json"), "--threads", "0"]) == 2
    one_line_error(capsys, "threads must be between 1 and 64, got 0")
    folder = saved_run(tmp_path, spec)  # a two-thread run, resumed on one thread
    monkeypatch.setattr(sources, "synthetic_dataset", lambda validation, seed: synthetic_dataset(
        train=600, test=200, validation=validation, seed=seed))
    assert main(["train", "--resume", str(folder), "--data", "synthetic", "--threads", "1"]) == 0
    assert built[-1].net.threads == 1 and built[-1].step == built[-1].steps_per_epoch * built[-1].config.epochs


def _recording(init, built):
    def wrapped(self, *args, **kwargs):
        init(self, *args, **kwargs)
        built.append(self)

    return wrapped
