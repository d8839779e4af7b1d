"""``convviz data fetch`` and ``convviz data info`` as a user runs them."""

import io

import pytest
from cifar_samples import md5_hex

from convviz.cli import main
from convviz.commands.data import describe_progress
from convviz.commands.progress_bar import ProgressBar
from convviz.data import Progress


def test_fetch_from_a_mirror_shows_progress_then_info_shows_the_data(tmp_path, server, cifar_archive, capsys):
    data = cifar_archive.read_bytes()
    url = server.serve("/mirror/cifar-10-python.tar.gz", data)
    cache = str(tmp_path / "cache")

    assert main(["data", "fetch", "--url", url, "--md5", md5_hex(data), "--cache-dir", cache]) == 0
    out, err = capsys.readouterr()
    assert f"Downloading {url}" in out
    assert f"CIFAR-10 downloaded from {url}, md5 checked, contents checked: 100 training and 20 test images." in out
    assert "100%" in err and f"{len(data) / 1e6:.1f}/{len(data) / 1e6:.1f} MB" in err

    assert main(["data", "info", "--cache-dir", cache]) == 0
    out = capsys.readouterr().out
    assert f"Cache folder: {cache} (given by --cache-dir" in out
    assert f"Checksum: md5 {md5_hex(data)}: matches the checksum given for {url}" in out
    assert "Images: 100 training, 20 test, 10 classes" in out
    assert "  airplane         10        2" in out and "  truck            10        2" in out


def test_info_on_an_empty_cache_says_how_to_get_the_data(tmp_path, capsys):
    assert main(["data", "info", "--cache-dir", str(tmp_path)]) == 1
    assert "CIFAR-10: not in the cache. `convviz data fetch` downloads it" in capsys.readouterr().out


def test_info_mentions_an_interrupted_download(tmp_path, capsys):
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / "cifar-10-python.tar.gz.download.part").write_bytes(b"x" * 2_500_000)

    main(["data", "info", "--cache-dir", str(tmp_path)])
    assert "Interrupted download: 2.5 MB in" in capsys.readouterr().out


def test_info_on_a_given_archive(cifar_archive, capsys):
    assert main(["data", "info", str(cifar_archive)]) == 0
    out = capsys.readouterr().out
    assert f"CIFAR-10: {cifar_archive}" in out
    assert "not the official archive (md5 c58f30108f718f92721af3b95e74349a)" in out


def test_fetch_copies_an_archive_the_user_has(tmp_path, cifar_archive, capsys):
    assert main(["data", "fetch", "--archive", str(cifar_archive), "--cache-dir", str(tmp_path / "cache")]) == 0
    assert f"CIFAR-10 copied from {cifar_archive}" in capsys.readouterr().out
    assert (tmp_path / "cache" / "cifar10" / "cifar-10-python.tar.gz").read_bytes() == cifar_archive.read_bytes()


@pytest.mark.parametrize("args, message", [
    (["--url", "http://127.0.0.1:9/x.tar.gz"], "convviz data: error: --url needs --md5: the checksum of the archive"),
    (["--archive", "nowhere.tar.gz"], "convviz data: error: no archive or folder at nowhere.tar.gz"),
])
def test_fetch_mistakes_are_one_line_errors(tmp_path, capsys, args, message):
    assert main(["data", "fetch", *args, "--cache-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_progress_text_says_size_rate_and_time_left():
    assert describe_progress(Progress(88_600_000, 170_500_000, 5_300_000)) == "88.6/170.5 MB  5.3 MB/s  0:00:15 left"
    assert describe_progress(Progress(1_000_000, None, 0.0)) == "1.0 MB"


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_redraws_one_line_on_a_terminal():
    screen = Terminal()
    bar = ProgressBar(screen)
    for done in range(0, 101, 25):
        bar.update(done / 100, f"{done} MB")
    bar.finish()

    lines = screen.getvalue().split("\r")[1:]
    assert len(lines) == 5 and screen.getvalue().endswith("\n")
    assert lines[2].startswith("[" + "#" * 15 + "-" * 15 + "]  50%  50 MB")


def test_progress_bar_writes_a_line_per_tenth_to_a_log():
    log = io.StringIO()
    bar = ProgressBar(log)
    for done in range(0, 1001):
        bar.update(done / 1000, "")
    bar.finish()

    assert [line.split("]")[1].strip() for line in log.getvalue().splitlines()] == [f"{p}%" for p in range(0, 101, 10)]
