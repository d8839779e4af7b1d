"""Shape inference and costs through whole stacks, blocks included."""

import pytest

from convviz.model import (
    FC, BatchNorm, Branch, Conv, Flatten, LocallyConnected, MaxPool, NetworkSpec, ReLU, Residual, Softmax, Volume,
    analyze,
)
from convviz.model.summary import parse_bytes


def test_invalid_layer_leaves_downstream_unresolved_and_is_named_first():
    spec = NetworkSpec(Volume(10, 10, 3), [Conv(filters=4, size=3), Conv(filters=4, size=3, stride=2), ReLU(), Flatten()])
    report = analyze(spec)
    statuses = [r.status for r in report.layers]
    assert statuses == ["ok", "invalid", "unresolved", "unresolved"]
    assert report.problems[0].name == "conv2"
    assert "(8 − 3 + 2·0)/2 + 1 = 3.5" in report.problems[0].error.message
    assert not report.valid and report.output is None


def test_fc_on_a_volume_asks_for_flatten_and_offers_it():
    report = analyze(NetworkSpec(Volume(8, 8, 20), [FC(units=10)]))
    error = report.problems[0].error
    assert "FC needs a flat 1×1×D input but gets 8×8×20" in error.message
    assert isinstance(error.fixes[0].insert_before, Flatten)
    fixed = analyze(NetworkSpec(Volume(8, 8, 20), [error.fixes[0].insert_before, FC(units=10)]))
    assert fixed.valid and fixed.total_params == 1280 * 10 + 10


def test_zero_filters_is_reported_not_raised():
    report = analyze(NetworkSpec(Volume(8, 8, 3), [Conv(filters=0, size=3)]))
    assert report.problems[0].error.message == "filters must be a positive whole number, got filters=0"


def test_softmax_must_be_last():
    report = analyze(NetworkSpec(Volume(1, 1, 10), [Softmax(), FC(units=3)]))
    assert "Softmax must be the last layer" in report.problems[0].error.message


def test_duplicate_names_are_flagged():
    report = analyze(NetworkSpec(Volume(4, 4, 1), [ReLU(name="a"), ReLU(name="a")]))
    assert "already used by layer 1" in report.problems[0].error.message


def test_locally_connected_has_no_parameter_sharing():
    v = Volume(227, 227, 3)
    report = analyze(NetworkSpec(v, [LocallyConnected(filters=96, size=11, stride=4)]))
    assert report.total_params == 105_705_600
    assert report.layers[0].param_formula() == "55×55×96×(11×11×3 + 1) = 105,705,600"


def test_residual_identity_and_mismatch_with_projection_fix():
    body = [Conv(filters=8, size=3, pad=1), ReLU()]
    ok = analyze(NetworkSpec(Volume(16, 16, 8), [Residual(body=body)]))
    assert ok.valid and str(ok.output) == "16×16×8"
    assert [r.name for r in ok.walk()] == ["res1", "res1.body.conv1", "res1.body.relu1"]

    shrinking = Residual(body=[Conv(filters=16, size=3, stride=2, pad=1, policy="crop")])
    bad = analyze(NetworkSpec(Volume(16, 16, 8), [shrinking]))
    error = bad.problems[0].error
    assert "the body gives 8×8×16 but the identity shortcut gives 16×16×8" in error.message
    shrinking.shortcut = error.fixes[0].changes["shortcut"]
    fixed = analyze(NetworkSpec(Volume(16, 16, 8), [shrinking]))
    assert fixed.valid and str(fixed.output) == "8×8×16"


def test_branch_concatenates_in_depth_and_checks_sizes():
    block = Branch(branches=[[Conv(filters=4, size=1)], [Conv(filters=6, size=3, pad=1)], []])
    report = analyze(NetworkSpec(Volume(7, 7, 5), [block]))
    assert str(report.output) == "7×7×15"  # 4 + 6 + the untouched 5
    assert report.total_params == (4 * 5 + 4) + (6 * 9 * 5 + 6)

    bad = analyze(NetworkSpec(Volume(7, 7, 5), [Branch(branches=[[Conv(filters=4, size=1)], [MaxPool(size=3, stride=2)]])]))
    assert "branches must keep the same width and height" in bad.problems[0].error.message


def test_errors_inside_blocks_propagate_as_unresolved():
    block = Residual(body=[Conv(filters=4, size=3, stride=2)])  # 10: 4.5
    report = analyze(NetworkSpec(Volume(10, 10, 4), [block, ReLU()]))
    assert [r.status for r in report.walk()] == ["invalid", "invalid", "unresolved"]
    assert report.problems[0].name == "res1.body.conv1"


def test_memory_categories_and_largest_batch():
    spec = NetworkSpec(
        Volume(32, 32, 3),
        [Conv(filters=16, size=5, pad=2), BatchNorm(), ReLU(), MaxPool(size=2), Flatten(), FC(units=10)],
    )
    report = analyze(spec)
    params = 16 * 75 + 16 + 32 + 16 * 16 * 16 * 10 + 10
    assert report.total_params == params
    memory = report.memory(batch=10, optimizer="adam")
    assert memory.input == 10 * 32 * 32 * 3 * 4
    per_image_outputs = 3 * (32 * 32 * 16) + 16 * 16 * 16 + 4096 + 10
    assert memory.activations == 10 * per_image_outputs * 4
    # kept for backward besides the outputs: batch-norm's x̂ and max-pool's switches
    assert memory.saved == 10 * (32 * 32 * 16 + 16 * 16 * 16) * 4
    assert memory.gradients == memory.params == params * 4
    assert memory.optimizer_state == 2 * params * 4
    assert memory.buffers == 32 * 4

    budget = memory.training
    assert report.max_batch(budget, "adam") == 10
    assert report.max_batch(budget - 1, "adam") == 9
    assert report.max_batch(100, "adam") == 0


def test_parse_memory_sizes():
    assert parse_bytes("4GB") == 4 * 10**9
    assert parse_bytes("512 MiB") == 512 * 2**20
    with pytest.raises(ValueError, match="looks like 4GB"):
        parse_bytes("lots")
