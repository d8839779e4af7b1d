"""The Step workspace, driven with the keys a learner uses, checked against the engine's own numbers."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from run_helpers import tiny_spec
from stepper_helpers import engine_trace, press

from convviz.engine import Network
from convviz.model import FC, Conv, Flatten, MaxPool, NetworkSpec, ReLU, Softmax, Volume
from convviz.ui.stepper.stepping import Stop


def padded_spec() -> NetworkSpec:
    """A small network with zero padding, dilation, an overlapping max pool and a second conv."""
    return NetworkSpec(Volume(32, 32, 3), [
        Conv(filters=4, size=4, stride=2, pad=1), ReLU(), MaxPool(size=3, stride=2, policy="crop"),
        Conv(filters=5, size=3, pad=2, dilation=2), ReLU(), Flatten(), FC(units=10), Softmax(),
    ], name="padded")


def test_stepping_to_a_conv_layer_shows_a_ledger_that_adds_up_to_the_engines_output(qtbot, make_view):
    view = make_view(padded_spec())
    layers = []
    view.current_layer_changed.connect(layers.append)
    assert view.current_stop.kind == "input"
    press(qtbot, view, Qt.Key.Key_Right)
    assert view.current_stop.layer == "conv1" and layers == ["conv1"]
    _, trace = engine_trace(view)
    out = trace["conv1"].output
    assert view.position == (0, 0, 0)
    e = view.explanation
    terms = [row for row in view.ledger.rows if row.term is not None]
    assert len(terms) == 3 * 4 * 4
    assert sum(1 for row in terms if row.style == "pad") == 3 * 7  # the top row and left column of each slice
    products = sum(float(row.cells[5]) for row in terms)
    bias = float(next(row for row in view.ledger.rows if row.cells[1] == "+ bias b[d]").cells[5])
    assert products + bias == pytest.approx(out[0, 0, 0, 0], rel=1e-5)
    assert float(view.ledger.row_text("= output")) == pytest.approx(out[0, 0, 0, 0], rel=1e-5)
    assert e.result == pytest.approx(out[0, 0, 0, 0], rel=1e-12) and e.matches
    assert float(view.ledger.row_text("after relu1")) == max(0.0, float(view.ledger.row_text("engine")))
    # Shift+→ three times: along the row, one output column at a time
    press(qtbot, view, Qt.Key.Key_Right, 3, shift=True)
    assert view.position == (0, 0, 3)
    assert view.explanation.result == pytest.approx(out[0, 0, 0, 3], rel=1e-12)
    press(qtbot, view, Qt.Key.Key_Left, shift=True)
    assert view.position == (0, 0, 2) and view.explanation.cols.tolist() == [3, 4, 5, 6]
    assert "(32 − 4 + 2·1)/2 + 1 = 16" in view.caption.text()
    assert "row 2 of the 256×48 matrix of input windows times column 0 of the 48×4 matrix" in view.caption.text()


def test_a_dilated_conv_forward_reads_every_other_cell(qtbot, make_view):
    view = make_view(padded_spec())
    view.go_to_layer("conv2")
    view.set_position((4, 6, 6))
    _, trace = engine_trace(view)
    e = view.explanation
    assert e.rows.tolist() == [4, 6, 8] and e.cols.tolist() == [4, 6, 8]  # y − P + d·i, d = 2
    assert e.result == pytest.approx(trace["conv2"].output[0, 4, 6, 6], rel=1e-12)
    assert view.ledger.row_text("engine") == view.ledger.row_text("= output")


def test_a_max_pool_backward_routes_each_gradient_to_the_forward_argmax(qtbot, make_view):
    view = make_view(tiny_spec())
    press(qtbot, view, Qt.Key.Key_End)
    for _ in range(len(view.stops)):
        if view.current_stop.layer == "maxpool1":
            break
        press(qtbot, view, Qt.Key.Key_Left)
    assert view.current_stop.kind == "backward"
    _, trace = engine_trace(view)
    x = trace["maxpool1"].input[0]  # (6, 16, 16) after the ReLU
    for position in ((0, 0, 0), (2, 3, 5), (5, 7, 7)):
        view.set_position(position)
        c, y, xx = position
        window = x[c, 2 * y:2 * y + 2, 2 * xx:2 * xx + 2]
        p, q = divmod(int(np.argmax(window)), 2)  # the first maximum in row-major order
        e = view.explanation
        assert e.window.winner_cell == (2 * y + p, 2 * xx + q)
        winner_rows = [row for row in view.ledger.rows if row.style == "winner"]
        assert len(winner_rows) == 1 and winner_rows[0].cells[1] == f"[{c},{2 * y + p},{2 * xx + q}]"
        assert e.routing.matches and view.ledger.row_text("routing = engine dX") == "yes"
        dx = view.run.trace["maxpool1"].downstream[0]
        assert dx[c, 2 * y + p, 2 * xx + q] == e.upstream
        assert np.count_nonzero(dx[c, 2 * y:2 * y + 2, 2 * xx:2 * xx + 2]) <= 1


def test_a_conv_backward_shows_scatter_equal_to_gather_and_the_engines_dx(qtbot, make_view):
    view = make_view(padded_spec())
    view.go_to_layer("conv2", "backward")
    view.set_position((3, 2, 5))
    e = view.explanation
    assert e.scatter.matches and e.gather.matches and e.whole.matches
    assert float(view.ledger.row_text("= scatter Σ")) == pytest.approx(float(view.ledger.row_text("engine dX")), abs=1e-12)
    assert e.gather.total == pytest.approx(e.scatter.total, rel=1e-12, abs=1e-15)


def test_the_timeline_reaches_the_update_and_back(qtbot, make_view):
    view = make_view(tiny_spec())
    stops = view.stops
    kinds = [s.kind for s in stops]
    assert kinds[0] == "input" and kinds[-1] == "update" and kinds.count("loss") == 1
    assert [s.layer for s in stops if s.kind == "backward" and not s.part] == [s.layer for s in stops if s.kind == "forward"][::-1]
    assert [s.title for s in stops if s.part == "weights"] == ["← conv1 dW"]
    assert stops.index(Stop("backward", "conv1", "conv", "weights")) + 1 == stops.index(Stop("backward", "conv1", "conv"))
    press(qtbot, view, Qt.Key.Key_Right, len(stops) + 2)  # past the end stays at the end
    assert view.current_stop.kind == "update" and view.timeline.currentRow() == len(stops) - 1
    assert "SGD with momentum 0.9, lr = 0.01" in view.heading.text()  # the session's optimizer, the default lr
    names = view.run.update_names()
    assert view.explanation.name == names[0] == "conv1.weight"
    press(qtbot, view, Qt.Key.Key_Right, shift=True)
    assert view.explanation.name == "conv1.bias"
    loss_index = kinds.index("loss")
    press(qtbot, view, Qt.Key.Key_Left, len(stops) - 1 - loss_index)
    assert view.current_stop.kind == "loss"
    e = view.explanation
    assert e.probabilities.sum() == pytest.approx(1.0) and e.matches
    assert float(view.ledger.row_text("loss −log p_label")) == pytest.approx(view.run.loss, rel=1e-5)
    press(qtbot, view, Qt.Key.Key_Home)
    assert view.current_stop.kind == "input"
    assert view.session.weights_origin == "fresh" and "untrained" in view.origin_note.text()


def test_another_image_is_traced_again(qtbot, make_view):
    view = make_view(tiny_spec())
    view.go_to_layer("conv1")
    first = view.explanation.result
    view.set_image("synthetic", 2, class_index=4)  # the third disc of the test set
    assert view.current_stop.layer == "conv1"  # the timeline stays where it was
    assert view.run.label == 4 and "disc" in view.image_text
    assert view.explanation.result != first


def test_a_big_network_is_traced_on_a_thread_and_the_newest_trace_wins(qtbot, make_view):
    view = make_view(tiny_spec())
    view.go_to_layer("conv1")
    with qtbot.waitSignal(view.traced, timeout=20_000):
        view.image_number.blockSignals(True)
        view.image_number.setValue(1)
        view.reload(wait=False)  # soon stale: the next one asks for another image
        view.image_number.setValue(5)
        view.image_number.blockSignals(False)
        view.reload(wait=False)
        assert view.tracing
    qtbot.waitUntil(lambda: not view.tracing, timeout=20_000)
    qtbot.wait(200)  # the stale trace, if it arrives late, is dropped
    assert "test image 5 " in view.image_text and view.current_stop.layer == "conv1"
    assert view.explanation.matches


def test_the_ledger_sorts_by_the_size_of_the_products_and_a_click_finds_the_terms_input(qtbot, make_view):
    view = make_view(padded_spec())
    view.go_to_layer("conv1")
    view.set_position((2, 3, 4))
    original = list(view.ledger.rows)
    view.ledger.sort_by(5)  # x·w = p, largest |p| first
    terms = [row for row in view.ledger.rows if row.term is not None]
    sizes = [abs(float(row.cells[5])) for row in terms]
    assert len(terms) == 48 and sizes == sorted(sizes, reverse=True)
    assert [row.cells[1] for row in view.ledger.rows[len(terms):]] == ["+ bias b[d]", "= output", "engine", "after relu1"]
    view.ledger.sort_by(0)
    assert view.ledger.rows == original
    # a click on the largest term of channel 2: its input cell is outlined, in the zoom of slice 2
    row = max((i for i, r in enumerate(original) if r.term is not None and r.cells[1].startswith("[2,")),
              key=lambda i: abs(float(original[i].cells[5])))
    view.ledger.selectRow(row)
    c, y, x = (int(v) for v in original[row].cells[1].strip("[]").split(" ")[0].split(","))
    assert c == 2 and view.canvas.left.zoom.channel == 2
    zoom = view.canvas.left.zoom
    blue = [item for item in zoom.items if hasattr(item, "pen") and item.pen().color().name() == "#1a73e8"]
    assert len(blue) == 1 and blue[0].rect().topLeft().toTuple() == (x - zoom.origin[1], y - zoom.origin[0])


def test_the_zoom_writes_the_receptive_fields_numbers_with_the_padding_hatched(qtbot, make_view):
    view = make_view(padded_spec())
    view.go_to_layer("conv1")  # output (0, 0, 0): the window starts one row and column into the padding
    zoom = view.canvas.left.zoom
    # the 4×4 window from row and column −1 (padding), and one more row and column after it
    assert zoom.channel == 0 and zoom.origin == (-1, -1) and zoom.size == (5, 5)
    assert "hatched: zero padding" in zoom.caption.text() and not zoom.hatch.path().isEmpty()
    texts = [item.toPlainText() for item in zoom.items if hasattr(item, "toPlainText")]
    assert len(texts) == 25 and texts[:5] == ["0"] * 5  # the padding row holds zeros
    x = view.run.trace["conv1"].input[0, 0]
    assert texts[6] == f"{x[0, 0]:.2g}"  # input (0, 0), numbers as they are (the largest is 1 to 99)


def test_an_fc_unit_forward_is_its_dot_product_named_by_class(qtbot, make_view):
    view = make_view(tiny_spec())
    view.go_to_layer("fc1")
    press(qtbot, view, Qt.Key.Key_Right, 4, shift=True)  # the fifth class
    _, trace = engine_trace(view)
    e = view.explanation
    assert e.o == 4 and e.result == pytest.approx(trace["fc1"].output[0, 4], rel=1e-12)
    assert "disc" in view.heading.text()  # the synthetic set's fifth class
    terms = [row for row in view.ledger.rows if row.term is not None]
    assert len(terms) == 6 * 8 * 8
    assert float(view.ledger.row_text("= output")) == pytest.approx(trace["fc1"].output[0, 4], rel=1e-5)


def test_a_conv_weight_gradient_sums_x_times_dy_over_every_position(qtbot, make_view):
    view = make_view(padded_spec())
    view.go_to_layer("conv1", "backward", "weights")
    assert view.current_stop.title == "← conv1 dW" and view.position == (0, 0, 0, 0)
    press(qtbot, view, Qt.Key.Key_Right, 5, shift=True)  # w[0, 0, 1, 1]
    e = view.explanation
    assert (e.k, e.c, e.p, e.q) == (0, 0, 1, 1)
    net = Network(view.session.network(), dtype=np.float64)
    net.set_weights(view.session.current_weights())
    scores = net.forward(view.run.x, train=False)
    from convviz.engine.loss import softmax_cross_entropy

    _, d = softmax_cross_entropy(scores, np.array([view.run.label]))
    net.backward(d)
    dw = net.grads()["conv1.weight"][0, 0, 1, 1]
    terms = [row for row in view.ledger.rows if row.term is not None]
    assert len(terms) == 16 * 16  # one term per output position
    assert sum(float(row.cells[5]) for row in terms) == pytest.approx(dw, rel=1e-5, abs=1e-9)
    assert e.total == pytest.approx(dw, rel=1e-12, abs=1e-15) and view.ledger.row_text("engine dW") == view.ledger.row_text("= Σ over positions")
    db = float(next(row for row in view.ledger.rows if row.cells[1].startswith("bias: db[0]")).cells[-1])
    assert db == pytest.approx(net.grads()["conv1.bias"][0], rel=1e-5, abs=1e-9)


def test_a_click_on_an_output_cell_selects_it(qtbot, make_view):
    view = make_view(padded_spec())
    view.go_to_layer("conv1")
    panel = view.canvas.right
    centre = panel.box.mapViewToScene(panel.cell_rect(2, 5, 7).center())
    where = view.canvas.plots.mapFromScene(centre)
    qtbot.mouseClick(view.canvas.plots.viewport(), Qt.MouseButton.LeftButton, pos=where)
    assert view.position == (2, 5, 7) and (view.explanation.d, view.explanation.y, view.explanation.x) == (2, 5, 7)


def test_space_plays_through_the_cells_and_on_to_the_next_stop(qtbot, make_view):
    view = make_view(tiny_spec())
    loss = [s.kind for s in view.stops].index("loss")
    view.go_to(loss)
    view.speed.setCurrentIndex(view.speed.findData(60))
    seen = []
    view.position_changed.connect(seen.append)
    press(qtbot, view, Qt.Key.Key_Space)
    assert view.play_button.isChecked()
    qtbot.waitUntil(lambda: view.stop_index == loss + 1, timeout=5_000)
    assert [p for p in seen[:9]] == [(k,) for k in range(1, 10)]  # every class in turn, then the next stop
    press(qtbot, view, Qt.Key.Key_Space)
    assert not view.play_button.isChecked()


def test_a_relu_backward_is_a_gate_on_the_forward_input(qtbot, make_view):
    view = make_view(tiny_spec())
    view.go_to_layer("relu1", "backward")
    record = view.run.trace["relu1"]
    shut = tuple(int(i) for i in np.argwhere((record.input[0] <= 0) & (record.upstream[0] != 0))[0])
    view.set_position(shut)
    assert view.ledger.row_text("x > 0: the gate") == "shut: 0" and float(view.ledger.row_text(f"dL/d input [{','.join(map(str, shut))}]")) == 0
    open_ = tuple(int(i) for i in np.argwhere((record.input[0] > 0) & (record.upstream[0] != 0))[0])
    view.set_position(open_)
    assert view.ledger.row_text("x > 0: the gate") == "open: dY passes"
    cell = ",".join(map(str, open_))
    assert view.ledger.row_text(f"dL/d input [{cell}]") == view.ledger.row_text(f"dL/d output [{cell}]")


def test_a_weight_gradient_checked_by_centred_differences(qtbot, make_view):
    view = make_view(padded_spec())
    view.go_to_layer("conv1")
    assert not view.check_button.isVisible()  # nothing to check on a forward stop
    view.go_to_layer("conv1", "backward", "weights")
    view.set_position((1, 2, 1, 1))
    assert view.check_button.isVisible() and view.check_target() == ("conv1.weight", (1, 2, 1, 1))
    with qtbot.waitSignal(view.gradient_checked, timeout=20_000) as signal:
        qtbot.mouseClick(view.check_button, Qt.MouseButton.LeftButton)
    check = signal.args[0]
    assert check.analytic == view.explanation.engine and check.rel_error < 1e-6
    assert "they agree" in view.check_label.text() and "relative error" in view.check_label.text()
    view.first_stop()
    assert view.check_target() == ("input", (0, 0, 0, 0))


def test_batch_norm_forward_and_average_pool_backward(qtbot, make_view):
    from convviz.model import AvgPool, BatchNorm

    spec = NetworkSpec(Volume(32, 32, 3), [Conv(filters=4, size=3, pad=1), BatchNorm(), ReLU(),
                                           AvgPool(size=3, stride=2, pad=1, policy="crop"), Flatten(), FC(units=10),
                                           Softmax()], name="bn")
    view = make_view(spec)
    view.go_to_layer("bn1")
    view.set_position((2, 4, 5))
    _, trace = engine_trace(view)
    assert float(view.ledger.row_text("= output γ·x̂ + β")) == pytest.approx(trace["bn1"].output[0, 2, 4, 5], rel=1e-5)
    assert view.explanation.matches and view.ledger.row_text("engine") == view.ledger.row_text("= output γ·x̂ + β")
    view.go_to_layer("avgpool1", "backward")
    view.set_position((1, 0, 3))
    e = view.explanation
    assert e.sharing.matches and view.ledger.row_text("sharing = engine dX") == "yes"
    assert e.share == pytest.approx(view.run.trace["avgpool1"].upstream[0, 1, 0, 3] / 9)
    padded = [row for row in view.ledger.rows if row.style == "pad"]
    assert len(padded) == 3 and all("(dropped)" in row.cells[2] for row in padded)  # the top row is padding


def test_the_input_stop_shows_how_a_pixel_became_the_networks_number(qtbot, make_view):
    view = make_view(tiny_spec())
    view.set_position((1, 4, 9))
    pixels, mean, std = view.pixels
    p = int(pixels[4, 9, 1])
    assert view.ledger.row_text("pixel p[4, 9] of channel 1") == str(p)
    x = float(view.ledger.row_text("x[1,4,9] = (p/255 − mean)/std"))
    assert x == pytest.approx((p / 255 - mean[1]) / std[1], rel=1e-5) and x == pytest.approx(view.run.x[0, 1, 4, 9], rel=1e-5)


def test_cifar10_is_offered_only_when_it_is_there(qtbot, make_view, tmp_path):
    view = make_view(tiny_spec())
    view.session.data_folder = str(tmp_path)  # an empty data folder
    assert not view.cifar10_available()
    assert not view.source.model().item(view.source.findData("cifar10")).isEnabled()
    view.set_image("cifar10", 0)  # asked for anyway (by a script): a synthetic image, and why
    assert view.source.currentData() == "synthetic" and view.image_text.startswith("synthetic test image 0")
    assert "CIFAR-10 is not in the data folder (File → Get CIFAR-10)" in view.image_text
