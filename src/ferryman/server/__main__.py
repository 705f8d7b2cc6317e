"""``python -m ferryman.server``."""

from ferryman.server.main import main

main()
