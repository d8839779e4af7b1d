"""Whatever ``analyze()`` calls valid exports to a model.py (and, without locally connected layers, an
ONNX graph) that gives the engine's scores: random conv / local / max / average pool layers (H ≠ W,
strides, padding, dilation, every policy), alone and inside residual and branch blocks."""

import copy

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convviz.engine import Network
from convviz.export.pytorch import model_source
from convviz.model import AvgPool, Branch, Conv, LocallyConnected, MaxPool, NetworkSpec, Residual, Volume, analyze

small = st.integers(1, 4)
pairs = st.one_of(small, st.tuples(small, small))
pads = st.one_of(st.integers(0, 3), st.tuples(st.integers(0, 3), st.integers(0, 3)))
policies = st.sampled_from(["error", "pad", "crop"])


@st.composite
def windowed_layers(draw, local=True):
    kind = draw(st.sampled_from([Conv, LocallyConnected, MaxPool, AvgPool] if local else [Conv, MaxPool, AvgPool]))
    fields = dict(size=draw(pairs), stride=draw(pairs), pad=draw(pads), policy=draw(policies))
    if kind in (Conv, LocallyConnected):
        fields.update(filters=draw(st.integers(1, 3)),
                      dilation=draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))))
    return kind(**fields)


@st.composite
def networks(draw, local=True):
    layer = draw(windowed_layers(local))
    place = draw(st.sampled_from(["top", "residual", "branch"]))
    if place == "residual":
        layer = Residual(body=[layer], shortcut=[copy.deepcopy(layer)])
    elif place == "branch":
        layer = Branch(branches=[[layer], [copy.deepcopy(layer)]])
    volume = Volume(draw(st.integers(1, 11)), draw(st.integers(1, 11)), draw(st.integers(1, 3)))
    return NetworkSpec(input=volume, layers=[layer])


def engine_scores(spec):
    net = Network(spec, seed=0)
    x = np.random.default_rng(0).standard_normal((2, *spec.input.chw())).astype(np.float32)
    return net, x, net.forward(x, train=False)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_model_py_agrees_with_the_engine(spec):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: pip install 'convviz[torch]'")
    if not analyze(spec).valid:
        return
    net, x, expected = engine_scores(spec)
    namespace = {"__file__": "model.py", "__name__": "exported_model"}
    exec(compile(model_source(spec), "model.py", "exec"), namespace)
    model = namespace["Network"]().eval()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in net.get_weights().items()}, strict=False)
    with torch.no_grad():
        got = model(torch.from_numpy(x)).numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(local=False))
def test_the_onnx_graph_agrees_with_the_engine(spec):
    pytest.importorskip("onnx", reason="onnx is not installed: pip install 'convviz[export]'")
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    from convviz.export.onnx_graph import onnx_model

    if not analyze(spec).valid:
        return
    net, x, expected = engine_scores(spec)
    model = onnx_model(spec, net.get_weights())
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x})[0]
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)
