"""The exported train.py: ConvViz's schedule and weight decay, a few steps on CPU, the same steps
split over two processes under torchrun (gloo), and its weights back in ConvViz's engine."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from convviz.engine import Network
from convviz.engine.optim import decays
from convviz.export import export_pytorch, load_source
from convviz.export.importing import import_weights
from convviz.model import preset
from convviz.training.config import TrainConfig
from convviz.training.optimization import make_schedule

from export_helpers import import_model

torch = pytest.importorskip("torch", reason="PyTorch is not installed: pip install 'convviz[torch]'")
pytest.importorskip("safetensors", reason="safetensors is not installed: pip install 'convviz[torch]'")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("tinyvgg")
    export_pytorch(load_source("preset:tinyvgg", seed=2), out)
    return out


def run(folder, *args, launcher=(sys.executable,), timeout=240):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    result = subprocess.run([*launcher, "train.py", *args], cwd=folder, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def load_train_module(folder):
    sys.path.insert(0, str(folder))
    try:
        import_model(folder, "for_train")
        sys.modules["model"] = sys.modules["exported_model_for_train"]
        import importlib.util

        spec = importlib.util.spec_from_file_location("exported_train", folder / "train.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("model", None)


@pytest.mark.parametrize("schedule", ["constant", "step", "cosine"])
def test_the_schedule_and_weight_decay_are_convvizs(tmp_path, schedule):
    config = TrainConfig(schedule=schedule, lr=0.1, step_epochs=0.5, gamma=0.5, min_lr=0.01, optimizer="nesterov",
                         weight_decay=1e-3, epochs=3)
    source = load_source("preset:resnet20")
    export_pytorch(source.__class__(source.spec, source.weights, config, "test"), tmp_path)
    train = load_train_module(tmp_path)
    assert train.CONFIG["schedule"] == schedule and train.CONFIG["optimizer"] == "nesterov"
    steps_per_epoch, total = 7, 21
    convviz_lr = make_schedule(config, steps_per_epoch, total)
    for step in range(0, total + 3):
        assert train.lr_at(step, train.CONFIG, steps_per_epoch, total) == pytest.approx(convviz_lr(step), rel=1e-12)
    model = train.Network()
    optimizer = train.make_optimizer(model, train.CONFIG)
    decayed = {id(p) for p in optimizer.param_groups[0]["params"]}
    assert optimizer.param_groups[0]["weight_decay"] == 1e-3 and optimizer.param_groups[1]["weight_decay"] == 0
    assert optimizer.defaults["nesterov"] and optimizer.defaults["momentum"] == 0.9
    for name, p in model.named_parameters():
        assert (id(p) in decayed) == decays(name, p.detach().numpy()), name


def test_three_steps_on_cpu_write_weights_that_give_the_same_scores_in_convviz(exported, tmp_path):
    out = run(exported, "--data", "synthetic", "--max-steps", "3", "--out", str(tmp_path / "run"), "--no-eval")
    assert "after 3 steps" in out
    state = (tmp_path / "run" / "state.json").read_text()
    assert '"step": 3' in state
    from safetensors.numpy import load_file

    trained = load_file(str(tmp_path / "run" / "weights.safetensors"))
    spec = preset("tinyvgg")
    net = Network(spec, seed=2)
    fresh = net.get_weights()
    assert set(trained) == set(fresh)
    assert not np.array_equal(trained["conv1.weight"], fresh["conv1.weight"])  # it trained
    net.set_weights(import_weights(spec, tmp_path / "run" / "weights.safetensors").weights)
    model = import_model(exported, "after_training").load_model(tmp_path / "run" / "weights.safetensors")
    x = np.random.default_rng(0).standard_normal((3,) + spec.input.chw()).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    assert np.abs(net.forward(x, train=False) - expected).max() < 1e-4


def test_torchrun_on_two_cpu_processes_takes_the_same_steps_as_one(exported, tmp_path):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not on the PATH")
    args = ["--data", "synthetic", "--max-steps", "3", "--no-eval", "--no-augment", "--batch", "32"]
    run(exported, *args, "--out", str(tmp_path / "one"))
    out = run(exported, *args, "--out", str(tmp_path / "two"),
              launcher=(torchrun, "--standalone", "--nproc_per_node=2"))
    assert "cpu × 2" in out
    from safetensors.numpy import load_file

    one, two = load_file(str(tmp_path / "one" / "weights.safetensors")), load_file(str(tmp_path / "two" / "weights.safetensors"))
    for name in one:  # each process takes half of every batch; DDP averages the gradients (tinyvgg has no batch norm)
        np.testing.assert_allclose(two[name], one[name], rtol=1e-4, atol=1e-6, err_msg=name)


def test_a_cifar10_archive_path_trains(exported, tmp_path):
    archive = ROOT.parent / "shared" / "cifar10" / "cifar-10-python.tar.gz"
    if not archive.is_file():
        pytest.skip(f"no CIFAR-10 archive at {archive}")
    out = run(exported, "--data", str(archive), "--max-steps", "2", "--out", str(tmp_path / "run"), "--no-eval")
    assert "45,000 images" in out and "after 2 steps" in out


def test_no_steps_leave_every_weight_and_batch_norm_statistic_as_exported(tmp_path):
    export_pytorch(load_source("preset:smallvgg", seed=1), tmp_path / "export")
    run(tmp_path / "export", "--data", "synthetic", "--max-steps", "0", "--out", str(tmp_path / "run"), "--no-eval")
    from safetensors.numpy import load_file

    before = load_file(str(tmp_path / "export" / "weights.safetensors"))
    after = load_file(str(tmp_path / "run" / "weights.safetensors"))
    for name in before:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
def test_train_pys_steps_are_convvizs_steps(tmp_path, optimizer):
    """Three steps on the same batches from the same weights: train.py's optimizer, weight decay,
    schedule and loss move every weight as ConvViz's trainer does. Both in float64: in float32 a
    ReLU input within rounding of 0 can take the other side in one of the two and move a whole
    filter's gradient (seen on conv1 of this batch), which says nothing about the steps."""
    from convviz.engine import softmax_cross_entropy
    from convviz.training.optimization import make_optimizer

    config = TrainConfig(optimizer=optimizer, lr=0.05 if optimizer != "adam" else 0.003, weight_decay=1e-2,
                         schedule="cosine", epochs=1)
    spec = preset("tinyvgg")
    source = load_source("preset:tinyvgg", seed=3)
    export_pytorch(source.__class__(spec, source.weights, config, "test"), tmp_path)
    train = load_train_module(tmp_path)
    model = train.Network().double()
    model.load_state_dict({k: torch.from_numpy(v.astype(np.float64)) for k, v in source.weights.items()}, strict=False)
    torch_opt = train.make_optimizer(model, train.CONFIG)
    net = Network(spec, seed=3, dtype=np.float64, weights=source.weights)
    opt = make_optimizer(config, net.params())
    schedule = make_schedule(config, 3, 3)
    rng = np.random.default_rng(0)
    for step in range(3):
        x = rng.standard_normal((8, 3, 32, 32))
        y = rng.integers(0, 10, 8)
        _, dscores = softmax_cross_entropy(net.forward(x, train=True), y)
        net.backward(dscores, input_grad=False)
        opt.lr = schedule(step)
        opt.step(net.grads())
        for group in torch_opt.param_groups:
            group["lr"] = train.lr_at(step, train.CONFIG, 3, 3)
        torch_opt.zero_grad()
        torch.nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        torch_opt.step()
    state = model.state_dict()
    for name, value in net.params().items():
        np.testing.assert_allclose(state[name].numpy(), value, rtol=1e-9, atol=1e-12, err_msg=name)
    assert not np.allclose(net.params()["conv1.weight"], source.weights["conv1.weight"])  # they did move
