"""Package a service as a reproducible zipapp with the platform stamped in.

Usage: ``python3 pack.py SRC_DIR OUT.pyz PLATFORM``. Files are added in sorted
order with a fixed timestamp, so the same inputs give the same bytes.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

EPOCH = (1980, 1, 1, 0, 0, 0)


def pack(src: Path, out: Path, platform: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    entries = {
        p.relative_to(src).as_posix(): p.read_bytes()
        for p in sorted(src.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }
    entries["PLATFORM"] = (platform + "\n").encode()
    with out.open("wb") as raw:
        raw.write(b"#!/usr/bin/env python3\n")
        with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in sorted(entries):
                info = zipfile.ZipInfo(name, EPOCH)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, entries[name])
    out.chmod(0o755)


if __name__ == "__main__":
    pack(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
