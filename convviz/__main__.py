"""``python -m convviz`` is the ``convviz`` command."""

import sys

from convviz.cli import main

sys.exit(main())
