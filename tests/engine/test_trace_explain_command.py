"""``convviz explain``: the ledgers it prints add up to the engine's numbers, and its JSON holds them."""

import json
from pathlib import Path

import numpy as np
import pytest

from convviz.cli import main
from convviz.data import synthetic_dataset
from convviz.engine import Network
from convviz.engine.loss import softmax_cross_entropy
from convviz.model import preset

CHECKPOINT = Path(__file__).resolve().parent.parent / "training" / "data" / "checkpoint-v1"


def explain(capsys, *args):
    code = main(["explain", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def engine_step(image: int = 0, seed: int = 0):
    """What the engine itself gives for ConvNetJS on synthetic test image ``image`` (float64)."""
    spec = preset("convnetjs")
    net = Network(spec, dtype=np.float64)
    net.set_weights(Network(spec, seed=seed).get_weights())
    data = synthetic_dataset(train=2000, test=200)
    x = data.normalization.apply(data.split("test").images[image:image + 1]).astype(np.float64)
    label = data.label("test", image)
    trace = net.trace_forward(x)
    loss, d = softmax_cross_entropy(trace.scores, np.array([label]))
    net.trace_backward(trace, d)
    return trace, label, loss


def test_json_ledgers_equal_the_engines_output_dx_and_dw(capsys):
    code, out, _ = explain(capsys, "preset:convnetjs", "--layer", "conv2", "--output", "5,0,7", "--image", "synthetic:3",
                           "--input-grad", "2,0,1", "--weight-grad", "5,2,0,1", "--json")
    assert code == 0
    report = json.loads(out)
    trace, label, loss = engine_step(3)
    assert report["layer"] == "conv2" and report["type"] == "conv" and report["image"]["label"] == label
    assert report["loss"]["value"] == pytest.approx(loss)
    forward, input_grad, weight_grad = report["explanations"]
    assert [e["kind"] for e in report["explanations"]] == ["forward", "input_grad", "weight_grad"]
    # forward: 16 channels × 5×5 taps; the top two rows of the window are padding (P = 2)
    assert len(forward["terms"]) == 16 * 25 and set(forward["terms"][0]) == {"input", "weight", "product"}
    assert forward["terms"][0]["input"] == {"index": [0, -2, 5], "value": 0.0, "padding": True}
    assert forward["terms"][0]["weight"]["index"] == [5, 0, 0, 0]
    products = sum(t["product"] for t in forward["terms"])
    assert products == pytest.approx(forward["sum"], rel=1e-12)
    assert forward["sum"] + forward["bias"] == pytest.approx(forward["engine_value"], rel=1e-12)
    assert forward["engine_value"] == trace["conv2"].output[0, 5, 0, 7] and forward["matches"]
    # dX: the stamps w·dY that reach the cell, equal to the gather with rotated filters and to the engine's dX
    assert input_grad["engine_value"] == trace["conv2"].downstream[0, 2, 0, 1]
    assert sum(t["product"] for t in input_grad["terms"]) == pytest.approx(input_grad["engine_value"], rel=1e-12, abs=1e-15)
    assert input_grad["gather_sum"] == pytest.approx(input_grad["engine_value"], rel=1e-12, abs=1e-15)
    assert set(input_grad["terms"][0]) == {"upstream", "weight", "product"}
    # dW: Σ over the 16×16 output positions of x · dY, equal to the engine's dW
    assert len(weight_grad["terms"]) == 16 * 16 and set(weight_grad["terms"][0]) == {"input", "upstream", "product"}
    assert weight_grad["engine_value"] == trace["conv2"].param_grads["weight"][5, 2, 0, 1]
    assert sum(t["product"] for t in weight_grad["terms"]) == pytest.approx(weight_grad["engine_value"], rel=1e-10, abs=1e-15)


def test_text_ledger_has_channel_subtotals_bias_and_the_engines_value(capsys):
    code, out, _ = explain(capsys, "preset:convnetjs", "--layer", "conv1", "--output", "0,4,4")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "ConvNetJS CIFAR-10: conv1 (conv), weights untrained (seed 0), float64"
    assert sum("subtotal" in line for line in lines) == 3  # R, G, B
    assert any(line.startswith("sum ") and "+ bias" in line for line in lines)
    assert lines[-1].startswith("engine: ") and lines[-1].endswith("(equal)")
    assert " -0 " not in out and "= -0\n" not in out  # padding holds 0, never −0


def test_max_pool_window_winner_and_routing(capsys):
    code, out, _ = explain(capsys, "preset:convnetjs", "--layer", "maxpool1", "--output", "3,2,2", "--json",
                           "--input-grad", "3,4,5")
    assert code == 0
    forward, routed = json.loads(out)["explanations"]
    trace, _, _ = engine_step(0)
    window = trace["maxpool1"].input[0, 3, 4:6, 4:6]
    assert forward["operation"] == "max" and forward["engine_value"] == window.max()
    row, col = np.unravel_index(np.argmax(window), window.shape)
    assert forward["winner"]["index"] == [3, 4 + row, 4 + col]
    assert routed["engine_value"] == trace["maxpool1"].downstream[0, 3, 4, 5] and routed["matches"]
    assert routed["sum"] == routed["engine_value"]


def test_a_checkpoint_explains_with_its_trained_weights(capsys):
    code, out, _ = explain(capsys, str(CHECKPOINT), "--layer", "conv2", "--output", "1,1,1", "--weight-grad", "1,0,1,1",
                           "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["weights"].endswith("(step 20)") and report["network"] == "tiny"
    assert all(e["matches"] for e in report["explanations"])


def test_problems_are_one_line_and_exit_code_2(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("CONVVIZ_CACHE_DIR", str(tmp_path / "empty"))
    code, _, err = explain(capsys, "preset:convnetjs", "--layer", "conv1", "--output", "0,0,0", "--image", "test:3")
    assert code == 2 and err.count("\n") == 1 and "CIFAR-10 is not available" in err
    code, _, err = explain(capsys, "preset:convnetjs", "--layer", "softmax1", "--output", "0,0,0")
    assert code == 2 and "softmax1 is a softmax output layer: explain works on Conv, FC, pooling, batch norm, LRN" in err
    code, _, err = explain(capsys, "preset:convnetjs", "--layer", "conv1", "--output", "16,0,0")
    assert code == 2 and "d must be an integer in [0, 16), got d=16" in err
    code, _, err = explain(capsys, "preset:nope", "--layer", "conv1", "--output", "0,0,0")
    assert code == 2 and err.count("\n") == 1


def test_a_picture_of_ones_own_as_a_numpy_file(capsys, tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (40, 50, 3)).astype(np.uint8)
    np.save(tmp_path / "mine.npy", pixels)
    code, out, _ = explain(capsys, "preset:convnetjs", "--layer", "conv1", "--output", "2,3,3", "--image",
                           str(tmp_path / "mine.npy"), "--json", "--input-grad", "0,5,5")
    assert code == 0
    report = json.loads(out)
    assert report["image"]["label"] is None and "fitted to 32×32×3" in report["image"]["what"]
    assert report["loss"]["target"] == report["loss"]["predicted"]  # no label: the predicted class


def test_an_fc_unit_explained_from_the_command_line(capsys):
    code, out, _ = explain(capsys, "preset:convnetjs", "--layer", "fc1", "--output", "7,0,0", "--json")
    assert code == 0
    (forward,) = json.loads(out)["explanations"]
    trace, _, _ = engine_step(0)
    assert len(forward["terms"]) == 320 and forward["terms"][5]["weight"]["index"] == [7, 5]
    assert forward["engine_value"] == trace["fc1"].output[0, 7]
    assert sum(t["product"] for t in forward["terms"]) + forward["bias"] == pytest.approx(forward["engine_value"], rel=1e-12)
    code, _, err = explain(capsys, "preset:convnetjs", "--layer", "fc1", "--output", "7,1,0")
    assert code == 2 and "--output: fc1's output is 1×1×10: give D,0,0, got 7,1,0" in err
