"""``python -m ferryman.temporal.worker``: the same as ``ferryman worker``."""

from ferryman.temporal.worker.main import main

if __name__ == "__main__":
    main()
