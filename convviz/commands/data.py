"""``convviz data fetch`` and ``convviz data info``: get CIFAR-10 into the cache and look at it."""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

from convviz.cli import UserError
from convviz.commands.progress_bar import ProgressBar
from convviz.data.cache import CACHE_ENV_VAR, cache_dir_and_reason
from convviz.data.cifar10 import ARCHIVE_NAME, CIFAR10_URL, read_cifar10
from convviz.data.download import Progress
from convviz.data.errors import DataError
from convviz.data.store import checksum_state, cifar10_dir, fetch_cifar10, find_cifar10, read_record


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "data", help="fetch CIFAR-10 into the cache, or show what data is there",
        description="Get CIFAR-10 into ConvViz's cache folder, or show where it is and what it holds.",
    )
    commands = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    fetch = commands.add_parser(
        "fetch", help="download CIFAR-10 (or copy an archive you have) into the cache",
        description=f"Download the official CIFAR-10 archive ({CIFAR10_URL}, 170 MB), resuming an "
                    "interrupted download, or copy an archive or extracted folder you already have. "
                    "Either way the checksum and every batch are checked before it is kept.",
    )
    source = fetch.add_mutually_exclusive_group()
    source.add_argument("--archive", metavar="PATH", type=Path,
                        help="use this cifar-10-python.tar.gz or extracted cifar-10-batches-py folder")
    source.add_argument("--url", help="download from this mirror instead (needs --md5)")
    fetch.add_argument("--md5", metavar="SUM", help="the md5 checksum the archive must have")
    fetch.add_argument("--force", action="store_true", help="download again even if the cache holds the archive")
    _add_cache_option(fetch)
    fetch.set_defaults(func=run_fetch)

    info = commands.add_parser(
        "info", help="where the data is, its checksum state and images per class",
        description="Show the cache folder, the CIFAR-10 data in it (or at PATH), whether its checksums "
                    "are right, and how many images of each class it holds.",
    )
    info.add_argument("path", nargs="?", type=Path, metavar="PATH",
                      help="an archive or folder to inspect instead of the cache")
    _add_cache_option(info)
    info.set_defaults(func=run_info)


def _add_cache_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache-dir", metavar="DIR", type=Path,
                        help=f"the cache folder (default: ${CACHE_ENV_VAR}, else the per-user cache folder)")


def run_fetch(args: argparse.Namespace) -> int:
    folder = cifar10_dir(args.cache_dir)
    if args.url and not args.md5:
        raise UserError(f"--url needs --md5: the checksum of the archive that {args.url} serves")
    if args.archive is None:
        print(f"Downloading {args.url or CIFAR10_URL}\n  into {folder}")
    else:
        print(f"Checking {args.archive} and copying it into {folder}")
    bar = ProgressBar()
    try:
        result = fetch_cifar10(args.cache_dir, archive=args.archive, url=args.url, md5=args.md5,
                               progress=lambda p: bar.update(p.fraction, describe_progress(p)),
                               force=args.force)
    except DataError as exc:
        bar.finish()
        raise UserError(str(exc)) from None
    except KeyboardInterrupt:
        bar.finish()
        print("Stopped: what was downloaded is kept, and `convviz data fetch` resumes from there.")
        raise
    bar.finish()
    print(f"CIFAR-10 {result.note}.\nIt is in {result.path}")
    return 0


def describe_progress(progress: Progress) -> str:
    """``88.6/170.5 MB  5.3 MB/s  0:15 left`` (parts the server did not tell are left out)."""
    done = f"{progress.done / 1e6:.1f}"
    text = f"{done}/{progress.total / 1e6:.1f} MB" if progress.total else f"{done} MB"
    if progress.rate > 0:
        text += f"  {progress.rate / 1e6:.1f} MB/s"
    if progress.seconds_left is not None:
        text += f"  {datetime.timedelta(seconds=round(progress.seconds_left))} left"
    return text


def run_info(args: argparse.Namespace) -> int:
    folder, reason = cache_dir_and_reason(args.cache_dir)
    if args.path is None:
        print(f"Cache folder: {folder} ({reason})")
        path = find_cifar10(args.cache_dir)
        _report_interrupted_download(cifar10_dir(args.cache_dir))
        if path is None:
            print("CIFAR-10: not in the cache. `convviz data fetch` downloads it (170 MB); "
                  "`convviz data fetch --archive PATH` uses a copy you have.")
            return 1
    else:
        path = args.path.expanduser()
    try:
        _report(path)
    except DataError as exc:
        raise UserError(str(exc)) from None
    return 0


def _report(path: Path) -> None:
    size = path.stat().st_size if path.is_file() else sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    print(f"CIFAR-10: {path} ({size / 1e6:.1f} MB)")
    record = read_record(path)
    if record is not None:
        print(f"Added from: {record.get('origin')} on {record.get('added', 'an unknown date')}")
    print(f"Checksum: {checksum_state(path)}")
    arrays = read_cifar10(path)
    train, test = arrays.train.class_counts(len(arrays.class_names)), arrays.test.class_counts(len(arrays.class_names))
    width = max(len(name) for name in arrays.class_names)
    print(f"Images: {len(arrays.train):,} training, {len(arrays.test):,} test, {len(arrays.class_names)} classes")
    print(f"  {'class':<{width}}  {'train':>7}  {'test':>7}")
    for name, n_train, n_test in zip(arrays.class_names, train, test):
        print(f"  {name:<{width}}  {n_train:>7,}  {n_test:>7,}")


def _report_interrupted_download(folder: Path) -> None:
    for part in folder.glob(f"{ARCHIVE_NAME}*.part"):
        print(f"Interrupted download: {part.stat().st_size / 1e6:.1f} MB in {part}; "
              "`convviz data fetch` resumes it.")
