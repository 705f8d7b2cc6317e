"""``python -m ferryman.demo [EXAMPLES]``: the demo, leaving through ``os._exit``.

The Temporal SDK's native runtime can crash during interpreter teardown (see
``ferryman.cli.app.main``), so the exit code is handed straight to the OS.
"""

from __future__ import annotations

import os
import sys

from ferryman.demo.main import main

if __name__ == "__main__":
    exit_code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)
