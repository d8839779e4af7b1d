"""``convviz explain`` on the other explanations of the Step workspace: pooling, batch norm, LRN, an
activation, a residual block, an FC input gradient, the update and the gradient check, each against the
engine's own numbers."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from convviz.cli import main
from convviz.data import synthetic_dataset
from convviz.engine import Network
from convviz.engine.loss import softmax_cross_entropy
from convviz.model import (
    FC,
    LRN,
    AvgPool,
    BatchNorm,
    Conv,
    Flatten,
    LeakyReLU,
    NetworkSpec,
    Residual,
    Softmax,
    Volume,
    save_spec,
)

CHECKPOINT = Path(__file__).resolve().parent.parent / "training" / "data" / "checkpoint-v1"
SPEC = NetworkSpec(Volume(32, 32, 3), [
    Conv(filters=4, size=3, pad=1), BatchNorm(), LeakyReLU(slope=0.1), LRN(size=3), AvgPool(size=2),
    Residual(body=[Conv(filters=4, size=3, pad=1)]), Flatten(), FC(units=10), Softmax(),
], name="mixed")


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    """The network file, and the engine's own float64 trace of synthetic test image 2 with its label."""
    path = tmp_path_factory.mktemp("net") / "mixed.json"
    save_spec(SPEC, path)
    net = Network(SPEC, dtype=np.float64)
    net.set_weights(Network(SPEC, seed=0).get_weights())
    data = synthetic_dataset(train=2000, test=200)
    x = data.normalization.apply(data.split("test").images[2:3]).astype(np.float64)
    trace = net.trace_forward(x)
    _, d = softmax_cross_entropy(trace.scores, np.array([data.label("test", 2)]))
    net.trace_backward(trace, d)
    return str(path), trace


def explain(capsys, *args):
    code = main(["explain", *args, "--image", "synthetic:2", "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err or out.out
    return json.loads(out.out)["explanations"]


def test_batch_norm_lrn_and_an_activation_cell_are_their_formulas_with_the_engines_numbers(capsys, network):
    path, trace = network
    (bn,) = explain(capsys, path, "--layer", "bn1", "--output", "2,5,6")
    assert bn["operation"] == "batch_norm" and bn["engine_value"] == trace["bn1"].output[0, 2, 5, 6]
    assert bn["x"] == trace["bn1"].input[0, 2, 5, 6]
    assert bn["gamma"] * (bn["x"] - bn["mean"]) / math.sqrt(bn["var"] + bn["eps"]) + bn["beta"] == pytest.approx(
        bn["engine_value"], rel=1e-12) and bn["matches"]
    (lrn,) = explain(capsys, path, "--layer", "lrn1", "--output", "0,7,7")
    a = trace["lrn1"].input[0, :, 7, 7]
    assert [n["slice"] for n in lrn["neighbourhood"]] == [0, 1]  # n = 3 around slice 0, inside the 4 slices
    assert lrn["sum_of_squares"] == pytest.approx(a[0] ** 2 + a[1] ** 2, rel=1e-12)
    assert a[0] / (lrn["k"] + lrn["alpha"] / 3 * lrn["sum_of_squares"]) ** lrn["beta"] == pytest.approx(
        lrn["engine_value"], rel=1e-12) and lrn["engine_value"] == trace["lrn1"].output[0, 0, 7, 7]
    cells = np.argwhere(trace["lrelu1"].input[0] < 0)
    c, y, x = (int(i) for i in cells[0])
    (act,) = explain(capsys, path, "--layer", "lrelu1", "--output", f"{c},{y},{x}")
    assert act["changed"] and act["x"] < 0 and act["engine_value"] == pytest.approx(0.1 * act["x"], rel=1e-12)


def test_average_pool_window_and_its_shares_of_the_gradient(capsys, network):
    path, trace = network
    forward, grad = explain(capsys, path, "--layer", "avgpool1", "--output", "1,3,4", "--input-grad", "1,7,9")
    assert forward["operation"] == "avg" and len(forward["window"]) == 4
    assert forward["total"] == pytest.approx(np.mean(trace["avgpool1"].input[0, 1, 6:8, 8:10]), rel=1e-12)
    assert [s["upstream"]["index"] for s in grad["shares"]] == [[1, 3, 4]]  # 2×2 stride 2: one window covers it
    assert grad["shares"][0]["share"] == pytest.approx(trace["avgpool1"].upstream[0, 1, 3, 4] / 4, rel=1e-12)
    assert grad["engine_value"] == trace["avgpool1"].downstream[0, 1, 7, 9] and grad["matches"]


def test_a_residual_cell_is_its_paths_added_and_an_fc_input_gradient_its_ledger(capsys, network):
    path, trace = network
    forward, grad = explain(capsys, path, "--layer", "res1", "--output", "3,2,2", "--input-grad", "3,2,2")
    assert [p["path"] for p in forward["paths"]] == ["body", "shortcut"]
    assert sum(p["value"] for p in forward["paths"]) == pytest.approx(forward["engine_value"], rel=1e-12)
    assert forward["engine_value"] == trace["res1"].output[0, 3, 2, 2]
    assert grad["kind"] == "input_grad" and grad["engine_value"] == trace["res1"].downstream[0, 3, 2, 2]
    assert grad["matches"]
    forward, grad = explain(capsys, path, "--layer", "fc1", "--output", "4,0,0", "--input-grad", "100,0,0")
    assert len(grad["terms"]) == 10 and set(grad["terms"][0]) == {"upstream", "weight", "product"}
    assert sum(t["product"] for t in grad["terms"]) == pytest.approx(trace["fc1"].downstream[0, 100], rel=1e-12)


def test_the_update_of_a_checkpoint_steps_from_its_saved_adam_moments(capsys):
    from convviz.commands.explain import checkpoint_optimizer_state

    (forward, update) = explain(capsys, str(CHECKPOINT), "--layer", "conv2", "--output", "1,1,1", "--update", "1,0,1,1")
    state = checkpoint_optimizer_state(CHECKPOINT)
    assert update["method"] == "Adam" and update["optimizer_step"] == state.steps + 1 == 21
    assert "from step 20" in update["optimizer_state"]
    m0 = float(state.state["m.conv2.weight"][1, 0, 1, 1])
    labels = [s["label"] for s in update["steps"]]
    assert any(f"m was {m0:+.6g}" in label for label in labels)
    assert update["result"] == pytest.approx(update["engine_value"], rel=1e-12) and update["matches"]
    assert update["result"] == pytest.approx(update["weight"] - update["step"], rel=1e-12)


def test_a_network_files_update_is_a_first_step_and_gradients_check_numerically(capsys, network):
    path, trace = network
    _, update, check, pixel = explain(capsys, path, "--layer", "fc1", "--output", "0,0,0", "--update", "2,5",
                                      "--gradcheck", "weight:2,5")[:2] + explain(
        capsys, path, "--layer", "conv1", "--output", "0,0,0", "--gradcheck", "weight:1,2,0,1")[1:] + explain(
        capsys, path, "--layer", "conv1", "--output", "0,0,0", "--gradcheck", "input:2,4,4")[1:]
    assert update["parameter"] == "fc1.weight" and update["optimizer_step"] == 1 and "first step" in update["optimizer_state"]
    assert check["analytic"] == trace["conv1"].param_grads["weight"][1, 2, 0, 1] and check["rel_error"] < 1e-6
    assert pixel["analytic"] == trace.input_grad[0, 2, 4, 4] and pixel["rel_error"] < 1e-6 and pixel["matches"]


def test_text_output_and_what_a_layer_does_not_offer(capsys, network):
    path, _ = network
    assert main(["explain", path, "--layer", "bn1", "--output", "0,0,0", "--gradcheck", "bias:0"]) == 0
    out = capsys.readouterr().out
    assert "= γ·x̂ + β" in out and "relative error" in out and "they agree" in out
    assert main(["explain", path, "--layer", "bn1", "--output", "0,0,0", "--input-grad", "0,0,0"]) == 2
    assert "--input-grad: explain gives the input gradient of Conv, pooling, FC" in capsys.readouterr().err
    assert main(["explain", path, "--layer", "fc1", "--output", "0,0,0", "--input-grad", "3,1,0"]) == 2
    assert "--input-grad: fc1's input is 1×1×1024: give D,0,0, got 3,1,0" in capsys.readouterr().err
