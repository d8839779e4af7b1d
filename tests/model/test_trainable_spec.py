"""The per-layer train switch in network files: written only when off, read back, checked, and
absent from older files (every layer trains)."""

import pytest

from convviz.model import SpecFormatError, dumps, loads, preset
from convviz.model.fine_tune import freeze_up_to, frozen_layer_names, same_but_switches


def test_a_frozen_layer_round_trips_and_older_files_train_everything():
    spec = freeze_up_to(preset("resnet20"), "res1.body.bn2")
    text = dumps(spec)
    assert '{"type": "conv", "filters": 16, "size": 3, "pad": 1, "bias": false, "trainable": false}' in text
    back = loads(text)
    assert back == spec
    assert frozen_layer_names(back) == ["conv1", "bn1", "res1.body.conv1", "res1.body.bn1", "res1.body.conv2", "res1.body.bn2"]
    assert '"trainable"' not in dumps(preset("resnet20"))  # the default is not written: older files read as before
    assert frozen_layer_names(preset("resnet20")) == []
    assert same_but_switches(spec, preset("resnet20")) and spec != preset("resnet20")


def test_the_switch_is_checked_on_load():
    text = dumps(freeze_up_to(preset("convnetjs"), "conv1"))
    with pytest.raises(SpecFormatError, match=r"layers\[0\]\.trainable: must be true or false, got \"no\""):
        loads(text.replace('"trainable": false', '"trainable": "no"'))
    with pytest.raises(SpecFormatError, match=r"layers\[1\]\.trainable: unknown field for a relu layer"):
        loads(text.replace('{"type": "relu"}', '{"type": "relu", "trainable": false}', 1))


def test_the_summary_counts_trainable_and_frozen_parameters(tmp_path, capsys):
    import json

    from convviz.cli import main
    from convviz.model import analyze, save_spec
    from convviz.model.summary import summary_dict, summary_text

    spec = freeze_up_to(preset("convnetjs"), "conv2")  # conv1 1,216 + conv2 8,020
    text = summary_text(analyze(spec))
    assert "Trainable params: 13,230\nFrozen params: 9,236 (2 frozen layers)" in text
    assert "Frozen" not in summary_text(analyze(preset("convnetjs")))
    data = summary_dict(analyze(spec))
    assert (data["trainable_params"], data["frozen_params"]) == (13_230, 9_236)
    save_spec(spec, tmp_path / "net.json")
    assert main(["summary", str(tmp_path / "net.json"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["frozen_params"] == 9_236
