"""evaluate(): the confusion matrix and per-class figures of a trained network, checked against the trainer."""

import json

import numpy as np
import pytest

from convviz.analysis import Cancelled, evaluate


def test_confusion_matrix_sums_to_the_test_set_and_its_diagonal_is_the_trainers_accuracy(trained, analysis_data):
    result = evaluate(trained.net, analysis_data, split="test", batch=64)
    reported = trained.evaluate("test")
    confusion = result.confusion
    assert confusion.shape == (10, 10)
    assert confusion.sum() == len(analysis_data.split("test")) == reported.images == 300
    assert np.trace(confusion) / confusion.sum() == pytest.approx(reported.accuracy, abs=1e-12)
    assert result.accuracy == pytest.approx(reported.accuracy, abs=1e-12)
    assert result.loss == pytest.approx(reported.loss, rel=1e-4)
    assert 0.15 < result.accuracy < 1.0  # trained, not perfect: the matrix has off-diagonal cells
    # rows are the true classes, columns the predicted ones
    assert (confusion.sum(axis=1) == np.bincount(analysis_data.split("test").labels, minlength=10)).all()
    assert (confusion.sum(axis=0) == np.bincount(result.predicted, minlength=10)).all()


def test_per_class_precision_and_recall_follow_the_columns_and_rows(trained, analysis_data):
    result = evaluate(trained.net, analysis_data)
    c = result.confusion
    for k in range(10):
        if c[:, k].sum():
            assert result.precision[k] == pytest.approx(c[k, k] / c[:, k].sum())
        else:
            assert np.isnan(result.precision[k])
        assert result.recall[k] == pytest.approx(c[k, k] / c[k].sum())
        labels, predicted = result.labels, result.predicted
        assert result.class_accuracy[k] == pytest.approx(np.mean(predicted[labels == k] == k))
    assert np.allclose(result.row_normalised().sum(axis=1), 1.0)


def test_each_images_top3_matches_the_networks_probabilities(trained, analysis_data):
    result = evaluate(trained.net, analysis_data, batch=100)
    x, y = analysis_data.batch("test", np.arange(300))
    probs = trained.net.predict_proba(x)
    assert (result.labels == y).all()
    assert (result.predicted == probs.argmax(axis=1)).all()
    assert (result.top_classes[:, 0] == result.predicted).all()
    expected = np.sort(probs, axis=1)[:, ::-1][:, :3]
    assert np.allclose(result.top_probs, expected, atol=1e-6)
    assert (np.diff(result.top_probs, axis=1) <= 0).all()


def test_a_cell_lists_its_images_most_confident_first_and_mistakes_are_the_off_diagonal(trained, analysis_data):
    result = evaluate(trained.net, analysis_data)
    c = result.confusion
    t, p = np.unravel_index(np.argmax(c - np.diag(np.diag(c))), c.shape)  # the most common confusion
    cell = result.cell(int(t), int(p))
    assert len(cell) == c[t, p] > 0
    assert (result.labels[cell] == t).all() and (result.predicted[cell] == p).all()
    assert (np.diff(result.confidence[cell]) <= 0).all()
    mistakes = result.mistakes()
    assert len(mistakes) == c.sum() - np.trace(c)
    assert (np.diff(result.confidence[mistakes]) <= 0).all()
    assert len(result.mistakes(limit=5)) == 5


def test_progress_is_reported_per_batch_and_cancel_stops_between_batches(trained, analysis_data):
    seen = []
    evaluate(trained.net, analysis_data, batch=128, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(0, 300), (128, 300), (256, 300), (300, 300)]
    seen.clear()
    with pytest.raises(Cancelled, match="after 128 of 300"):
        evaluate(trained.net, analysis_data, batch=128, progress=lambda d, t: seen.append(d), cancelled=lambda: True)
    assert seen == [0, 128]


def test_json_has_the_figures_a_script_needs(trained, analysis_data):
    result = evaluate(trained.net, analysis_data)
    data = json.loads(json.dumps(result.to_json(), allow_nan=False))
    assert data["classes"] == list(analysis_data.class_names)
    assert data["confusion"] == result.confusion.tolist()
    assert data["accuracy"] == result.accuracy
    assert len(data["precision"]) == len(data["recall"]) == 10


def test_a_network_that_does_not_fit_the_data_is_refused_saying_why(analysis_data):
    from convviz.engine import Network
    from convviz.model import FC, Flatten, NetworkSpec, Volume

    net = Network(NetworkSpec(Volume(28, 28, 1), [Flatten(), FC(units=10)]))
    with pytest.raises(ValueError, match=r"takes 28×28×1 images but synthetic has 32×32×3"):
        evaluate(net, analysis_data)
    net = Network(NetworkSpec(Volume(32, 32, 3), [Flatten(), FC(units=7)]))
    with pytest.raises(ValueError, match="has 10 classes: end it with FC 10"):
        evaluate(net, analysis_data)
    with pytest.raises(ValueError, match="batch must be a positive integer, got batch=0"):
        evaluate(net, analysis_data, batch=0)
