"""A session holding a tiny network trained on a small synthetic set, and the Analyze page over it."""

import pytest
from analyze_helpers import two_conv_spec


@pytest.fixture(scope="session")
def analyze_data():
    from convviz.data import synthetic_dataset

    return synthetic_dataset(train=2000, test=300, validation=100, seed=11)


@pytest.fixture(scope="session")
def trained_weights(analyze_data):
    from convviz.training.config import TrainConfig
    from convviz.training.trainer import Trainer

    trainer = Trainer(two_conv_spec(), analyze_data, TrainConfig(epochs=5, batch_size=32, augment=False, threads=1))
    for _ in trainer.run():
        pass
    return trainer.net.get_weights()


@pytest.fixture
def make_view(qtbot, monkeypatch, analyze_data, trained_weights):
    """``make_view(spec=None, weights=None)``: the page at 1280×800 over a session holding ``weights``
    (the trained ones by default) of ``spec``; its synthetic test set is ``analyze_data``."""
    from convviz.ui.analysis import AnalyzeWorkspaceView, workspace
    from convviz.ui.session import RunSession

    monkeypatch.setattr(workspace, "synthetic_test_set", lambda: analyze_data)
    sessions, views = [], []

    def make(spec=None, weights=None, show=True):
        spec = spec or two_conv_spec()
        session = RunSession(lambda: spec)
        if weights is not False:
            session.use_weights(spec, trained_weights if weights is None else weights, origin="trained")
        sessions.append(session)
        view = AnalyzeWorkspaceView(session)
        views.append(view)
        qtbot.addWidget(view)
        view.resize(1280, 800)
        if show:
            with qtbot.waitSignal(view.evaluated, timeout=20_000):
                view.show()
            qtbot.waitUntil(lambda: not view.explaining, timeout=20_000)
        return view

    yield make
    for view in views:
        view.shutdown()
    for session in sessions:
        assert session.shutdown(10_000)
