"""Start the desktop app: ``run_app(["network.json", "--workspace", "train", "--screenshot", "out.png"])``.

Checks the Qt build and that there is a display to open a window on first
(:mod:`convviz.ui.widgets.qt_check`: exit 2 with what to do, before Qt can abort), then opens the window with the
user's settings, or, for ``--screenshot``, renders it off-screen with throw-away settings (a first
start) in the workspace ``--workspace`` names, at ``--size``, writes the PNG and exits.
"""

from __future__ import annotations

import argparse
import os
import sys

from convviz.ui.window.workspaces import WORKSPACES


def parse_app_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="convviz", description="ConvViz desktop app")
    parser.add_argument("network", nargs="?", help="a network file (.json) or a training run (its checkpoint folder) to open")
    parser.add_argument(
        "--screenshot",
        metavar="PATH",
        help="render the window off-screen to a PNG at PATH and exit",
    )
    parser.add_argument("--size", default="1400x900", help="window size for --screenshot (WxH)")
    parser.add_argument(
        "--workspace",
        choices=[w.key for w in WORKSPACES if w.ready],
        help="open in this workspace (default: the one last used; build for --screenshot)",
    )
    return parser.parse_args(argv)


def run_app(argv: list[str]) -> int:
    args = parse_app_args(argv)
    from convviz.engine.blas import settle_process_threads

    settle_process_threads()  # the engine's BLAS threads for the whole app (see there)
    if args.screenshot and "QT_QPA_PLATFORM" not in os.environ:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"

    from PySide6.QtWidgets import QApplication

    from convviz.ui.widgets.qt_check import broken_qt_message, display_problem

    problem = broken_qt_message()
    if problem:
        print(f"convviz: error: {problem}", file=sys.stderr)
        return 1
    problem = None if QApplication.instance() else display_problem()
    if problem:
        print(f"convviz: error: {problem}", file=sys.stderr)
        return 2

    from convviz.ui.window.main_window import MainWindow

    if os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        quiet_offscreen_warnings()
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("ConvViz")
    app.setOrganizationName("ConvViz")
    if args.screenshot:
        # A screenshot is a first start with fresh settings: it never reads or writes the user's.
        import tempfile

        from PySide6.QtCore import QSettings

        from convviz.ui.widgets.dialogs import ConsoleDialogs

        with tempfile.TemporaryDirectory() as tmp:
            settings = QSettings(os.path.join(tmp, "settings.ini"), QSettings.Format.IniFormat)
            window = MainWindow(settings=settings, dialogs=ConsoleDialogs())
            if args.network and not window.open_any_path(args.network):
                print("convviz: showing the default network instead", file=sys.stderr)
            code = save_screenshot(window, args.screenshot, args.size, args.workspace or "build")
            window.document.undo_stack.setClean()
            window.close()
            return code
    window = MainWindow()
    if args.workspace:
        window.workspaces.switch(args.workspace)
    window.show()
    if args.network:
        window.open_any_path(args.network)  # a bad file is reported over the window, which keeps its network
    return app.exec()


def quiet_offscreen_warnings() -> None:
    """Drop the off-screen platform's "does not support propagateSizeHints()" notes; keep the rest."""
    from PySide6.QtCore import qInstallMessageHandler

    def handler(mode, context, message: str) -> None:
        if "propagateSizeHints" not in message:
            print(message, file=sys.stderr)

    qInstallMessageHandler(handler)


def save_screenshot(window, path: str, size: str = "1400x900", workspace: str = "build") -> int:
    """Lay ``workspace`` out as it starts at ``size``, render the window to ``path`` (PNG) and return
    an exit code."""
    from PySide6.QtWidgets import QApplication

    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        print(f"convviz: error: --size must look like 1400x900, got {size!r}", file=sys.stderr)
        return 2
    window.resize(width, height)
    window.workspaces.switch(workspace)
    window.workspaces.reset()  # its default arrangement at this size
    window.show()
    for _ in range(5):
        QApplication.processEvents()
    if not window.grab().save(path, "PNG"):
        print(f"convviz: error: could not write the screenshot to {path}", file=sys.stderr)
        return 1
    print(f"screenshot saved to {path}")
    return 0
