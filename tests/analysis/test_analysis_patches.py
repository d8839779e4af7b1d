"""Top patches: the argmax positions of a filter's map, and the receptive-field crops they see."""

import numpy as np
import pytest

from convviz.analysis import layer_activations, top_patches


def maps_of(net, data, layer, f):
    x, _ = data.batch("test", np.arange(len(data.split("test"))))
    return layer_activations(net, x, layer)[:, f]


@pytest.mark.parametrize(("layer", "f"), [("conv1", 3), ("relu2", 5)])
def test_top_patches_are_the_argmax_positions_of_the_filters_map(trained, analysis_data, layer, f):
    net = trained.net
    patches = top_patches(net, analysis_data, layer, f, k=9, batch=70)
    maps = maps_of(net, analysis_data, layer, f)
    best = maps.reshape(len(maps), -1).max(axis=1)
    assert len(patches) == 9 and len({p.image for p in patches}) == 9  # one patch per image
    assert [p.image for p in patches] == list(np.argsort(-best, kind="stable")[:9])
    assert [p.value for p in patches] == pytest.approx(sorted(best, reverse=True)[:9])
    for p in patches:
        row, col = np.unravel_index(np.argmax(maps[p.image]), maps[p.image].shape)
        assert (p.row, p.col) == (row, col)
        assert maps[p.image, p.row, p.col] == pytest.approx(p.value)


def test_a_patch_is_the_receptive_field_the_filter_sums_over(trained, analysis_data):
    """conv1 is 4×4, stride 2, pad 1: cell (i, j) sees input rows 2i − 1 … 2i + 2; the weights times
    those pixels (normalized, zero outside the image: the padding) plus the bias is the patch's value."""
    net, norm = trained.net, analysis_data.normalization
    w, b = net.params()["conv1.weight"], net.params()["conv1.bias"]
    patches = top_patches(net, analysis_data, "conv1", 2, k=9)
    for p in patches:
        top, left, bottom, right = p.box
        assert (top, left) == (2 * p.row - 1, 2 * p.col - 1) and (bottom - top, right - left) == (4, 4)
        assert p.crop.shape == (4, 4, 3) and p.crop.dtype == np.uint8
        pixels = analysis_data.raw_image("test", p.image)
        x = norm.apply(pixels.transpose(2, 0, 1)[None])[0]  # (3, 32, 32)
        window = np.zeros((3, 4, 4), dtype=np.float64)
        for u in range(4):
            for v in range(4):
                r, c = top + u, left + v
                if 0 <= r < 32 and 0 <= c < 32:
                    window[:, u, v] = x[:, r, c]
                    assert (p.crop[u, v] == pixels[r, c]).all()
                else:
                    assert (p.crop[u, v] == 0).all()
        assert float(np.sum(window * w[2]) + b[2]) == pytest.approx(p.value, rel=1e-4, abs=1e-5)


def test_progress_and_what_is_refused(trained, analysis_data):
    seen = []
    top_patches(trained.net, analysis_data, "conv1", 0, k=3, batch=128, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(0, 300), (128, 300), (256, 300), (300, 300)]
    with pytest.raises(ValueError, match=r"filter_index must be from 0 to 7 for conv1 \(8 filters\), got filter_index=8"):
        top_patches(trained.net, analysis_data, "conv1", 8)
    with pytest.raises(ValueError, match="fc1 gives a flat output"):
        top_patches(trained.net, analysis_data, "fc1", 0)
    with pytest.raises(KeyError, match="no layer named 'conv7'"):
        top_patches(trained.net, analysis_data, "conv7", 0)


def test_the_analysis_package_never_imports_qt():
    import subprocess
    import sys

    code = ("import sys, convviz.analysis, convviz.analysis.evaluation, convviz.analysis.attribution, "
            "convviz.analysis.patches\n"
            "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph'))))")
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_every_filters_patches_from_one_pass_are_each_filters_own(trained, analysis_data):
    from convviz.analysis import layer_top_patches

    every = layer_top_patches(trained.net, analysis_data, "conv2", k=4)
    assert len(every) == 8
    for f in (0, 5, 7):
        own = top_patches(trained.net, analysis_data, "conv2", f, k=4)
        assert [(p.image, p.row, p.col) for p in every[f]] == [(p.image, p.row, p.col) for p in own]
        assert [p.value for p in every[f]] == pytest.approx([p.value for p in own])
