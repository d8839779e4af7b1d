"""``convviz evaluate``: the figures of a checkpoint's weights, as text and JSON, and one-line errors."""

import json

import numpy as np
import pytest

from convviz.cli import main


@pytest.fixture
def checkpoint(tmp_path, trained, analysis_data, monkeypatch):
    """The trained tiny network saved as a checkpoint; every data set the command loads is the small one."""
    import convviz.data
    from convviz.training.checkpoint import save_checkpoint

    folder = tmp_path / "run"
    save_checkpoint(trained, folder)
    monkeypatch.setattr(convviz.data, "load_dataset", lambda source, validation=0.1, seed=0, cache=None: analysis_data)
    return folder


def test_json_gives_the_accuracy_the_trainer_reports_and_the_confusion_matrix(checkpoint, trained, analysis_data, capsys):
    from convviz.analysis import evaluate

    assert main(["evaluate", str(checkpoint), "--data", "synthetic", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    reported = trained.evaluate("test")
    assert data["accuracy"] == pytest.approx(reported.accuracy, abs=1e-12)
    assert data["classes"] == list(analysis_data.class_names)
    confusion = np.array(data["confusion"])
    assert confusion.sum() == 300 and np.trace(confusion) == round(reported.accuracy * 300)
    expected = evaluate(trained.net, analysis_data)  # what the app's Analyze workspace shows
    assert data["confusion"] == expected.confusion.tolist()
    assert data["precision"] == [None if np.isnan(v) else pytest.approx(v) for v in expected.precision]
    assert data["recall"] == pytest.approx(list(expected.recall))
    assert data["source"].startswith("checkpoint")


def test_text_has_the_accuracy_per_class_figures_and_the_matrix(checkpoint, trained, analysis_data, capsys):
    from convviz.analysis import evaluate

    assert main(["evaluate", str(checkpoint), "--data", "synthetic"]) == 0
    out = capsys.readouterr().out
    expected = evaluate(trained.net, analysis_data)
    assert f"accuracy {expected.accuracy:.2%} ({expected.correct} of 300)" in out
    assert "confusion matrix: rows true class, columns predicted class" in out
    lines = out.splitlines()
    for k, name in enumerate(analysis_data.class_names):
        row = next(line for line in lines if line.startswith(f"{k:>3}  {name}"))
        assert [int(v) for v in row[len(f"{k:>3}  ") + len(max(analysis_data.class_names, key=len)):].split()] == \
            expected.confusion[k].tolist()
        figures = next(line for line in lines if line.startswith(name + " ") and "%" in line)
        assert f"{expected.recall[k]:.1%}" in figures


def test_a_network_file_is_evaluated_with_its_seeded_weights(tmp_path, analysis_data, monkeypatch, capsys):
    from analysis_helpers import tiny_spec

    import convviz.data
    from convviz.analysis import evaluate
    from convviz.engine import Network
    from convviz.model import save_spec

    monkeypatch.setattr(convviz.data, "load_dataset", lambda source, validation=0.1, seed=0, cache=None: analysis_data)
    save_spec(tiny_spec(), tmp_path / "net.json")
    assert main(["evaluate", str(tmp_path / "net.json"), "--seed", "4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["confusion"] == evaluate(Network(tiny_spec(), seed=4), analysis_data).confusion.tolist()


def test_errors_are_one_line_with_exit_2(tmp_path, capsys):
    assert main(["evaluate", "preset:lenet5", "--data", "synthetic"]) == 2
    err = capsys.readouterr().err
    assert "convviz evaluate: error: the network takes 32×32×1 images but synthetic has 32×32×3" in err
    assert len(err.strip().splitlines()) <= 2  # the progress line of nothing at most, then the error
    assert main(["evaluate", str(tmp_path / "missing"), "--data", "synthetic"]) == 2
    assert "convviz evaluate: error:" in capsys.readouterr().err
    assert main(["evaluate", "preset:convnetjs", "--data", str(tmp_path / "nothing")]) == 2
    assert "neither cifar10 nor synthetic" in capsys.readouterr().err
    assert main(["evaluate", "preset:convnetjs", "--batch", "0"]) == 2
    assert "--batch must be a positive whole number, got 0" in capsys.readouterr().err
