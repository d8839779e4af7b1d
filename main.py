#!/usr/bin/env python3
"""Start ConvViz: ``python main.py [network.json] [--workspace build|train] [--screenshot PATH [--size WxH]]``."""

import sys

from convviz.ui.window.app import run_app

if __name__ == "__main__":
    sys.exit(run_app(sys.argv[1:]))
