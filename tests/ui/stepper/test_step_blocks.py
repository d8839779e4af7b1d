"""The Step workspace's softmax bars, activation cells and residual/branch blocks, against the engine."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from run_helpers import tiny_spec
from stepper_helpers import engine_trace, press

from convviz.model import (
    FC,
    Branch,
    Conv,
    Flatten,
    LeakyReLU,
    MaxPool,
    NetworkSpec,
    ReLU,
    Residual,
    Softmax,
    Tanh,
    Volume,
)


def block_spec() -> NetworkSpec:
    return NetworkSpec(Volume(12, 12, 3), [
        Conv(filters=4, size=3, pad=1), LeakyReLU(slope=0.1),
        Residual(body=[Conv(filters=4, size=3, pad=1), Tanh()]),
        Branch(branches=[[Conv(filters=2, size=1)], [], [Conv(filters=3, size=3, pad=1), ReLU()]]),
        Flatten(), FC(units=10), Softmax(),
    ], name="blocks")


def test_the_softmax_is_labelled_bars_of_the_probabilities(qtbot, make_view):
    view = make_view(tiny_spec())
    view.go_to(next(i for i, s in enumerate(view.stops) if s.kind == "loss"))
    assert view.bars.isVisible()
    e = view.explanation
    bars = view.bars.rows
    assert len(bars) == 10 and [b.p for b in bars] == sorted(e.probabilities.tolist(), reverse=True)
    assert sum(b.p for b in bars) == pytest.approx(1.0)
    label = next(b for b in bars if b.label)
    assert label.k == view.run.label and label.name == view.run.class_name(view.run.label)
    assert label.p == pytest.approx(np.exp(-e.loss))
    press(qtbot, view, Qt.Key.Key_Right, 3, shift=True)
    assert next(b for b in view.bars.rows if b.selected).k == 3
    press(qtbot, view, Qt.Key.Key_Right)
    assert not view.bars.isVisible()


def test_an_activation_cell_shows_f_of_x_with_its_numbers(qtbot, make_view):
    view = make_view(block_spec())
    view.go_to_layer("lrelu1")
    _, trace = engine_trace(view)
    x = trace["lrelu1"].input[0]
    negative = tuple(int(i) for i in np.argwhere(x < 0)[0])
    view.set_position(negative)
    assert view.ledger.row_text(f"f({x[negative]:+.6g}) = 0.1 · {x[negative]:+.6g}") == f"{0.1 * x[negative]:+.6g}"
    assert float(view.ledger.row_text("engine")) == pytest.approx(trace["lrelu1"].output[(0, *negative)], rel=1e-5)
    assert view.explanation.changed and "changed it" in view.heading.text()
    name = next(n for n, r in trace.layers.items() if r.type == "tanh")
    view.go_to_layer(name)
    view.set_position((1, 2, 3))
    value = trace[name].input[0, 1, 2, 3]
    assert view.ledger.row_text(f"f({value:+.6g}) = tanh({value:+.6g})") == f"{np.tanh(value):+.6g}"


def test_a_residual_block_adds_its_paths_and_copies_the_gradient_into_both(qtbot, make_view):
    view = make_view(block_spec())
    _, trace = engine_trace(view)
    res = next(n for n, r in trace.layers.items() if r.type == "residual")
    view.go_to_layer(res)
    view.set_position((2, 5, 6))
    rows = {row.cells[0]: row for row in view.ledger.rows}
    body, shortcut = float(rows["body"].cells[2]), float(rows["shortcut"].cells[2])
    assert shortcut == pytest.approx(trace[res].input[0, 2, 5, 6], rel=1e-5)  # the identity: x itself
    assert body + shortcut == pytest.approx(trace[res].output[0, 2, 5, 6], rel=1e-5, abs=1e-6)
    assert view.explanation.matches and view.ledger.rows[-1].style == "check"
    view.go_to_layer(res, "backward")
    view.set_position((2, 5, 6))
    run = view.run.trace
    e = view.explanation
    assert e.upstream == run[res].upstream[0, 2, 5, 6] and e.paths[1].value == e.upstream
    assert e.matches and e.result == pytest.approx(run[res].downstream[0, 2, 5, 6], abs=1e-12)
    assert "copied unchanged into both paths" in view.caption.text()


def test_a_branch_block_concatenates_in_depth_and_slices_the_gradient_back(qtbot, make_view):
    view = make_view(block_spec())
    _, trace = engine_trace(view)
    branch = next(n for n, r in trace.layers.items() if r.type == "branch")
    view.go_to_layer(branch)
    view.set_position((7, 3, 4))  # depths 2 + 4 + 3: depth 7 is branch 3's depth 1
    winner = next(row for row in view.ledger.rows if row.style == "winner")
    assert winner.cells[0] == "branch 3" and winner.cells[1].startswith("depths 6–8")
    assert float(winner.cells[2]) == pytest.approx(trace[branch].output[0, 7, 3, 4], rel=1e-5, abs=1e-7)
    view.set_position((3, 0, 0))  # the empty branch: the block's input, depth 1
    assert view.explanation.paths[0].layer == "" and view.explanation.result == view.run.trace[branch].input[0, 1, 0, 0]
    view.go_to_layer(branch, "backward")
    view.set_position((1, 2, 2))
    e, run = view.explanation, view.run.trace
    assert [p.name for p in e.paths] == ["branch 1", "branch 2", "branch 3"]
    assert e.paths[1].value == run[branch].upstream[0, 2 + 1, 2, 2]
    assert e.matches and float(view.ledger.row_text("engine")) == pytest.approx(run[branch].downstream[0, 1, 2, 2], abs=1e-6)


def test_an_fc_backward_sends_every_units_gradient_back_through_its_weight(qtbot, make_view):
    view = make_view(tiny_spec())
    fc = next(s.layer for s in view.stops if s.type == "fc")
    view.go_to_layer(fc, "backward")
    press(qtbot, view, Qt.Key.Key_Right, 5, shift=True)
    record = view.run.trace[fc]
    i = view.explanation.i
    assert i == int(np.ravel_multi_index(view.position, record.downstream.shape[1:]))
    terms = [row for row in view.ledger.rows if row.term is not None]
    assert len(terms) == record.upstream.shape[1]
    total = sum(float(row.cells[5]) for row in terms)
    assert total == pytest.approx(record.downstream.reshape(1, -1)[0, i], rel=1e-5, abs=1e-9)
    assert view.ledger.row_text("engine dX") == view.ledger.row_text("= dX Σ_o dY·W")
    o = int(np.argmax(np.abs(record.upstream[0])))
    dw = next(row for row in view.ledger.rows if row.cells[1].startswith(f"dW[{o},{i}]"))
    assert float(dw.cells[-1]) == pytest.approx(record.param_grads["weight"][o, i], rel=1e-5)
    assert view.ledger.row_text(f"engine dW[{o},{i}]") == dw.cells[-1]
    assert f"shown for {view.run.class_name(o)}" in view.caption.text()  # the last FC's units are the classes


def test_the_update_steps_with_the_sessions_optimizer_and_learning_rate(qtbot, make_view):
    from convviz.engine.optim import SGD, Adam

    view = make_view(tiny_spec())
    view.last_stop()
    e = view.explanation
    record = view.run.trace["conv1"]
    w, dw = record.params["weight"], record.param_grads["weight"]
    g = dw[0, 0, 0, 0] + 5e-4 * w[0, 0, 0, 0]  # momentum 0.9 from a zero velocity: v = g, w − lr·v
    assert e.method == "SGD with momentum 0.9" and e.result == pytest.approx(w[0, 0, 0, 0] - 0.01 * g, rel=1e-12)
    shown = {row.cells[1]: row.cells[2] for row in view.ledger.rows}
    assert float(shown["w − step"]) == pytest.approx(e.result, rel=1e-5)
    assert shown["the engine optimizer's step"] == shown["w − step"]
    opt = SGD({"w": w.copy()}, lr=0.01, momentum=0.9, weight_decay=5e-4)
    opt.step({"w": dw})
    ratio = np.linalg.norm(opt.params["w"] - w) / np.linalg.norm(w)
    assert next(r for r in view.ledger.rows if r.cells[1].startswith("conv1.weight:")).cells[3].startswith(f"{ratio:.2e}")
    assert "first step: no momentum yet" in view.caption.text()
    view.session.set_choices(optimizer="adam")  # the session's choice for the next run
    view.set_learning_rate(0.002)
    e = view.explanation
    opt = Adam({"w": w.copy()}, lr=0.002, weight_decay=5e-4)
    opt.step({"w": dw})
    assert e.method == "Adam" and "Adam, lr = 0.002" in view.heading.text()
    assert e.result == pytest.approx(opt.params["w"][0, 0, 0, 0], rel=1e-12) and e.matches
    assert any(r.cells[1].startswith("m ← β₁·m") for r in view.ledger.rows)


def test_the_receptive_field_of_a_cell_is_outlined_on_every_earlier_layer_with_its_gradient(qtbot, make_view):
    from convviz.model import analyze
    from convviz.model.receptive import receptive_fields

    view = make_view(block_spec())
    res = next(s.layer for s in view.stops if s.type == "residual")
    view.go_to_layer(res)
    view.set_position((1, 6, 5))
    qtbot.mouseClick(view.field_button, Qt.MouseButton.LeftButton)
    f = view.explanation
    field = receptive_fields(analyze(block_spec()))[res]
    rows = [row for row in view.ledger.rows if row.term is not None]
    assert [row.cells[1] for row in rows] == ["input", "conv1", "lrelu1"]
    assert rows[0].cells[2] == f"{field.size_w}×{field.size_h}" and rows[0].style == "winner"
    assert view.ledger.row_text("gradient inside every box") == "yes"
    # the gradient drawn on the left is one backward pass from the cell: the cell's dependence on the input
    net, trace = engine_trace(view)
    x, h = trace.input.copy(), 1e-6
    x[0, 2, 6, 5] += h
    moved = net.trace_forward(x)[res].output[0, 1, 6, 5]
    assert f.boxes[0].gradient[2, 6, 5] == pytest.approx((moved - trace[res].output[0, 1, 6, 5]) / h, rel=1e-4, abs=1e-8)
    assert np.array_equal(view.canvas.left.values, f.boxes[0].gradient)
    view.ledger.selectRow(view.ledger.rows.index(rows[2]))  # a click on lrelu1's row: the field on its output
    assert view.field_volume == 2 and "output of lrelu1" in view.heading.text()
    assert view.explanation.boxes[2].rows == (6 - 1, 6 + 1)  # the residual's 3×3
    press(qtbot, view, Qt.Key.Key_Right, shift=True)
    assert view.explanation.cell == (1, 6, 6)
    qtbot.mouseClick(view.field_button, Qt.MouseButton.LeftButton)
    assert "residual" in view.heading.text() and not view.in_field_view()


def test_the_field_view_opens_on_any_earlier_volume(qtbot, make_view):
    view = make_view(block_spec())
    view.go_to_layer("conv1")
    view.set_position((0, 0, 0))
    view.show_field(True, 0)
    assert view.explanation.boxes[0].rows == (0, 1) and view.ledger.rows[0].cells[1] == "input (padding)"
    res = next(s.layer for s in view.stops if s.type == "residual")
    view.go_to_layer(res)
    view.show_field(True, 1)
    assert view.field_volume == 1 and "output of conv1" in view.heading.text()


def test_a_picture_of_ones_own_is_fitted_to_the_input_and_stepped(qtbot, make_view, tmp_path):
    from PySide6.QtGui import QColor, QImage

    from convviz.data import fit_image
    from convviz.ui.widgets.image_file import read_image_file

    image = QImage(64, 40, QImage.Format.Format_RGB888)  # wider than the 32×32 input: centre-cropped
    for y in range(40):
        for x in range(64):
            image.setPixelColor(x, y, QColor((4 * x) % 256, (6 * y) % 256, 128))
    path = tmp_path / "mine.png"
    assert image.save(str(path))
    view = make_view(tiny_spec())
    view.class_choice.setCurrentIndex(5)  # the class it shows: the fifth (index 4)
    view.set_image_file(str(path))
    assert view.source.currentData() == "file" and "mine.png (64×40)" in view.image_text
    assert view.run.label == 4 and "as chosen" in view.image_text
    pixels = fit_image(read_image_file(path), 32, 32, 3)
    np.testing.assert_array_equal(view.pixels[0], pixels)
    mean, std = np.array(view.pixels[1]), np.array(view.pixels[2])
    np.testing.assert_allclose(view.run.x[0], (pixels.transpose(2, 0, 1) / 255 - mean[:, None, None]) / std[:, None, None])
    assert "your picture mine.png" in view.heading.text()
    view.go_to_layer("conv1")
    assert view.explanation.matches  # the ledger of its first conv adds up as for a test image
    np.save(tmp_path / "bad.npy", np.zeros((3, 4)))
    view.set_image_file(str(tmp_path / "bad.npy"))  # (3, 4) is a grey picture: fitted too
    assert view.run is not None
    np.save(tmp_path / "worse.npy", np.zeros((3, 4, 5)))
    view.set_image_file(str(tmp_path / "worse.npy"))
    assert view.run is None and "expected pixels (H, W, C) with C 1, 3 or 4" in view.caption.text()


def test_fc_to_conv_slides_the_network_over_a_mosaic_and_says_whether_it_is_exact(qtbot, make_view):
    from convviz.engine import Network
    from convviz.engine.fc_to_conv import fc_to_conv

    view = make_view(tiny_spec())
    qtbot.mouseClick(view.slide_button, Qt.MouseButton.LeftButton)
    assert view.in_slide_view()
    m = view.slide[1]
    assert m.image.shape == (3, 64, 64) and m.scores.shape == (10, 9, 9) and "2×2 mosaic" in view.canvas.left.title.text()
    np.testing.assert_array_equal(m.image[:, :32, :32], view.run.x[0])  # the stepped image is the first tile
    net = Network(view.session.network(), dtype=np.float64)
    net.set_weights(view.session.current_weights())
    big = fc_to_conv(net, (64, 64)).network.forward(m.image[None], train=False)
    np.testing.assert_allclose(m.scores, big[0], rtol=1e-12)  # the engine's converted network, one pass
    view.set_position((3, 4, 4))
    e = view.explanation
    assert e.offset == (16, 16) and not e.matches  # conv1 pads: away from the corner the crop's border differs
    assert view.ledger.row_text("the conversion is exact") == "no" and "Not exact" in view.caption.text()
    assert float(view.ledger.row_text("original net on crop (16, 16)")) == pytest.approx(
        net.forward(m.image[None, :, 16:48, 16:48], train=False)[0, 3], rel=1e-5)
    press(qtbot, view, Qt.Key.Key_Right, shift=True)
    assert view.position == (3, 4, 5)
    press(qtbot, view, Qt.Key.Key_Right)  # a stop of the timeline leaves the view
    assert not view.in_slide_view() and view.current_stop.layer == "conv1"


def test_fc_to_conv_is_exact_without_padding(qtbot, make_view):
    view = make_view(NetworkSpec(Volume(32, 32, 3), [Conv(filters=4, size=2, stride=2), ReLU(), MaxPool(size=2, stride=2),
                                                     Flatten(), FC(units=10), Softmax()]))
    view.show_slide(True)
    assert view.slide[1].scores.shape == (10, 9, 9)  # (64 − 32)/4 + 1 positions, 2·2 = 4 pixels apart
    for position in ((0, 0, 0), (7, 2, 3), (9, 8, 8)):
        view.set_position(position)
        assert view.explanation.matches and view.ledger.row_text("the conversion is exact") == "yes"
    assert "Exact: no layer pads" in view.caption.text()


def test_lrn_shows_its_neighbourhood_and_dropout_its_mask(qtbot, make_view):
    from convviz.model import LRN, Dropout

    spec = NetworkSpec(Volume(8, 8, 3), [Conv(filters=6, size=3, pad=1), ReLU(), LRN(size=5, alpha=0.5, k=1.0),
                                         Dropout(p=0.5), Flatten(), FC(units=10), Softmax()])
    view = make_view(spec)
    view.go_to_layer("lrn1")
    view.set_position((1, 2, 3))
    e = view.explanation
    a = view.run.trace["lrn1"].input[0]
    assert e.slices == [0, 1, 2, 3]  # 1 − 2 … 1 + 2 inside the 6 slices
    s = 1.0 + 0.5 / 5 * float(np.sum(a[0:4, 2, 3] ** 2))  # k = 1
    assert e.s == pytest.approx(s, rel=1e-12) and e.matches
    assert float(view.ledger.row_text(f"= output a / s^β  (β = {e.beta:g})")) == pytest.approx(a[1, 2, 3] / s**e.beta, rel=1e-5)
    view.go_to_layer("dropout1")
    view.set_position((2, 4, 4))
    e = view.explanation
    assert e.eval_output == e.x  # the step runs in evaluation mode
    x = view.run.trace["dropout1"].input[0]
    positive = [tuple(int(i) for i in p) for p in np.argwhere(x > 0)]
    drawn = [e.mask[p] for p in positive]
    assert 0 < sum(drawn) < len(drawn)  # p = 0.5: some kept, some dropped
    dropped = next(p for p in positive if e.mask[p] == 0)
    view.set_position(dropped)
    assert view.explanation.train_output == 0 and "dropped: × 0" in view.ledger.rows[2].cells[1]
    kept = next(p for p in positive if e.mask[p] == 1)
    view.set_position(kept)
    assert view.explanation.train_output == pytest.approx(2 * x[kept], rel=1e-12)
    assert "kept: × 1/(1 − p)" in view.ledger.rows[2].cells[1]


def test_the_crop_policy_marks_the_rows_no_window_reads(qtbot, make_view):
    from test_step_workspace import padded_spec

    view = make_view(padded_spec())  # maxpool1: F = 3, S = 2 on 16 rows crops the 16th
    view.go_to_layer("maxpool1")
    assert "the crop policy leaves row 15 and column 15 unread (grey)" in view.caption.text()
    view.go_to_layer("conv1")  # F = 4, S = 2, P = 1 on 32: every row is read
    assert "crop policy" not in view.caption.text()


def test_a_click_on_a_ledger_term_shows_its_weight_in_the_filter(qtbot, make_view):
    from test_step_workspace import padded_spec

    view = make_view(padded_spec())
    view.go_to_layer("conv2")
    view.set_position((3, 2, 1))
    terms = [row for row in view.ledger.rows if row.term is not None]
    row = terms[17]
    view.ledger.selectRow(view.ledger.rows.index(row))
    d, c, i, j = (int(v) for v in row.cells[3].strip("[]").split(","))
    zoom = view.canvas.right.zoom
    w = view.run.trace["conv2"].params["weight"][d]
    assert d == 3 and zoom.channel == c and zoom.size == w.shape[1:]
    assert f"the term's weight w[{d},{c},{i},{j}] = {row.cells[4]}" in zoom.caption.text()


def test_a_click_on_an_fc_term_shows_its_weight_in_the_row_of_w(qtbot, make_view):
    view = make_view(tiny_spec())
    fc = next(s.layer for s in view.stops if s.type == "fc")
    view.go_to_layer(fc)
    view.set_position((4,))
    terms = [row for row in view.ledger.rows if row.term is not None]
    view.ledger.selectRow(view.ledger.rows.index(terms[100]))
    weight = view.run.trace[fc].params["weight"][4, 100]
    assert f"blue: the term's weight W[4,100] = {weight + 0.0:+.6g}" in view.canvas.right.zoom.caption.text()


def test_a_cell_inside_a_resnet20_block_shows_its_field_on_every_earlier_layer_of_its_path(qtbot, make_view):
    from convviz.model import analyze, preset
    from convviz.model.receptive import receptive_fields

    spec = preset("resnet20")
    view = make_view(spec)
    view.go_to_layer("res2.body.conv2")  # inside the second residual block
    assert view.field_button.isVisible()
    view.set_position((3, 10, 12))
    qtbot.mouseClick(view.field_button, Qt.MouseButton.LeftButton)
    f = view.explanation
    names = [row.cells[1] for row in view.ledger.rows if row.term is not None]
    assert names == ["input", "conv1", "bn1", "relu1", "res1", "relu2", "res2.body.conv1", "res2.body.bn1",
                     "res2.body.relu1"]
    model = receptive_fields(analyze(spec))["res2.body.conv2"]
    assert view.ledger.rows[0].cells[2] == f"{model.size_w}×{model.size_h}" == "11×11"
    assert view.ledger.row_text("the model's field (size, jump)") == model.short()
    assert view.ledger.row_text("gradient inside every box") == "yes"
    net, trace = engine_trace(view)
    x, h = trace.input.copy(), 1e-5
    x[0, 0, 10, 12] += h
    moved = net.trace_forward(x)["res2.body.conv2"].output[0, 3, 10, 12]
    assert f.boxes[0].gradient[0, 10, 12] == pytest.approx((moved - trace["res2.body.conv2"].output[0, 3, 10, 12]) / h,
                                                           rel=1e-4, abs=1e-8)
    assert np.array_equal(view.canvas.left.values, f.boxes[0].gradient)
    view.ledger.selectRow(5)  # relu2's output, the block's input: the 5×5 the block's two 3×3 convs see
    assert "output of relu2" in view.heading.text() and view.explanation.boxes[5].size == (5, 5)
    assert view.explanation.boxes[6].size == (3, 3)  # res2.body.conv1's output: conv2's own 3×3


def test_the_field_and_fc_to_conv_of_a_big_network_are_made_on_a_thread_the_newest_winning(qtbot, make_view):
    from convviz.engine.explain_field import ReceptiveFieldExplanation

    view = make_view(tiny_spec())
    view.sync_macs = 0  # as for VGG-16: every slow view on a thread
    view.go_to_layer("conv1")
    view.set_position((0, 3, 3))
    view.show_field(True, 0)
    assert view.jobs.busy("field") and view.busy.isVisible()  # the call returned at once
    assert "Receptive field of conv1[0, 3, 3]" in view.caption.text()
    view.set_position((1, 4, 4))  # a newer cell replaces the one asked for
    qtbot.waitUntil(lambda: not view.jobs.busy(), timeout=20_000)
    assert isinstance(view.explanation, ReceptiveFieldExplanation) and view.explanation.cell == (1, 4, 4)
    assert not view.busy.isVisible() and "<b>conv1</b> receptive field of cell [1, 4, 4]" in view.heading.text()

    view.go_to_layer("conv1", "backward")  # the check of dX over the whole image comes later
    assert view.explanation.whole is None and view.explanation.scatter.matches
    assert "Checking conv1's scatter and gather" in view.caption.text()
    view.set_position((1, 2, 2))  # another cell meanwhile: the same check goes on
    qtbot.waitUntil(lambda: not view.jobs.busy(), timeout=20_000)
    assert view.explanation.whole.matches and view.explanation.scatter.c == 1
    assert "both equal to the engine's dX" in view.caption.text()

    view.show_slide(True)
    assert view.jobs.busy("slide") and not view.in_slide_view()
    qtbot.waitUntil(view.in_slide_view, timeout=20_000)
    assert view.slide[1].scores.shape == (10, 9, 9) and "class-score map" in view.canvas.right.title.text()
    qtbot.waitUntil(lambda: not view.jobs.busy(), timeout=20_000)  # the first position's crop
    view.set_position((3, 4, 5))  # the original network on this crop: on a thread too
    assert view.explanation is None and view.ledger.row_text("original net on crop (16, 20)") == "computing …"
    qtbot.waitUntil(lambda: view.explanation is not None, timeout=20_000)
    assert view.explanation.offset == (16, 20) and view.ledger.row_text("difference") is not None

    view.show_slide(False)
    view.reload(wait=True)  # new run: the map is made again
    view.show_slide(True)
    assert view.busy.isVisible()
    qtbot.mouseClick(view.busy.cancel_button, Qt.MouseButton.LeftButton)  # the user stops waiting
    assert not view.slide_button.isChecked() and not view.jobs.busy("slide")
    qtbot.wait(300)  # the dropped result, arriving late, changes nothing
    assert not view.in_slide_view() and view.current_stop.layer == "conv1"
    qtbot.waitUntil(lambda: not view.jobs.busy(), timeout=20_000)  # the stop's own dX check
