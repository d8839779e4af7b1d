"""One geometry: whatever ``analyze()`` calls valid, ``Network`` builds and runs with exactly the
analysed shapes, forward and backward; whatever it refuses is flagged with a message and a fix.

Random conv / local / maxpool / avgpool layers (H ≠ W, strides, padding, dilation, every policy),
alone and inside residual and branch blocks, are checked against a real pass.
"""

import copy

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convviz.engine import Network
from convviz.model import AvgPool, Branch, Conv, LocallyConnected, MaxPool, NetworkSpec, Residual, Volume, analyze

small = st.integers(1, 4)
pairs = st.one_of(small, st.tuples(small, small))
pads = st.one_of(st.integers(0, 3), st.tuples(st.integers(0, 3), st.integers(0, 3)))
policies = st.sampled_from(["error", "pad", "crop"])


@st.composite
def windowed_layers(draw):
    kind = draw(st.sampled_from([Conv, LocallyConnected, MaxPool, AvgPool]))
    fields = dict(size=draw(pairs), stride=draw(pairs), pad=draw(pads), policy=draw(policies))
    if kind in (Conv, LocallyConnected):
        fields.update(filters=draw(st.integers(1, 3)), dilation=draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))))
    return kind(**fields)


@st.composite
def networks(draw):
    layer = draw(windowed_layers())
    place = draw(st.sampled_from(["top", "residual", "branch"]))
    if place == "residual":  # the same layer on both paths, so the shapes always match
        layer = Residual(body=[layer], shortcut=[copy.deepcopy(layer)])
    elif place == "branch":
        layer = Branch(branches=[[layer], [copy.deepcopy(layer)]])
    volume = Volume(draw(st.integers(1, 11)), draw(st.integers(1, 11)), draw(st.integers(1, 3)))
    return NetworkSpec(input=volume, layers=[layer])


def run(spec: NetworkSpec):
    """Forward and backward in float64; returns (scores, dx) for a batch of 2."""
    net = Network(spec, seed=0, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((2, *spec.input.chw()))
    scores = net.forward(x, train=True)
    dx = net.backward(np.ones_like(scores))
    return scores, dx


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_analyze_and_the_engine_agree(spec):
    report = analyze(spec)
    if report.valid:
        scores, dx = run(spec)
        out = report.output
        assert scores.shape[1:] in ((out.depth, out.height, out.width), (out.depth,))
        assert dx.shape == (2, *spec.input.chw())
        assert np.isfinite(scores).all() and np.isfinite(dx).all()  # no window of padding alone (−inf)
        return
    problems = report.problems
    assert problems, "an invalid network names the layer that makes it so"
    for problem in problems:
        assert problem.error.message
        if problem.layer.COMPOSITE:
            continue
        assert problem.error.fixes, f"{problem.name}: {problem.error.message} offers no fix"


@settings(max_examples=400, deadline=None)
@given(windowed_layers(), st.integers(1, 11), st.integers(1, 11))
def test_every_fix_offered_for_a_window_makes_it_valid(layer, width, height):
    volume = Volume(width, height, 2)
    spec = NetworkSpec(input=volume, layers=[layer])
    report = analyze(spec)
    if report.valid:
        return
    for fix in report.layers[0].error.fixes:
        fixed = copy.deepcopy(layer)
        for key, value in fix.changes.items():
            setattr(fixed, key, value)
        assert analyze(NetworkSpec(input=volume, layers=[fixed])).valid, (
            f"{layer.brief()} on {volume}: the fix {fix.label!r} does not make it valid"
        )
        run(NetworkSpec(input=volume, layers=[fixed]))


def test_the_reported_pool_that_the_engine_refused_is_flagged_with_a_fix():
    """maxpool 2, S3, P1, pad-to-fit on 8×8 was a green card that Network() then refused."""
    spec = NetworkSpec(input=Volume(8, 8, 1), layers=[MaxPool(size=2, stride=3, pad=1, policy="pad")])
    report = analyze(spec)
    assert not report.valid
    error = report.layers[0].error
    assert "pooling padding must be smaller than the window: (8 − 2 + 2·1 + 1)/3 + 1 = 4" in error.message
    assert "holds padding alone" in error.message
    assert [f.label for f in error.fixes] == ["crop to fit (→ 3×3)", "P=0 (→ 3×3)"]
