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
    assert lines[-1]["kind"] == "finished" and lines[-1]["message"].startswith("finished 1 epochs")
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
