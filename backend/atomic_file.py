"""Writing small state files so that a crash never leaves half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(location: Path, body: bytes) -> None:
    """A crash mid-write leaves the previous file whole: a temporary file in the same
    directory, flushed to disk, then renamed over the old one."""
    location.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{location.name}.", dir=location.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(body)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, location)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
