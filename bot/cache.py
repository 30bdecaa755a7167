"""A best-effort file cache for compiled prefilter databases.

Compiling the catalog's ~1,000 patterns takes about a second; loading the serialised
database takes milliseconds, which is what keeps a small log under 0.5 s including start-up.
The key is a hash of the prepared patterns and the Hyperscan version, so a changed catalog
or library never loads a stale database. Any error (read-only home, full disk) only costs
the compile.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path


class FileCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> FileCache:
        if env.get("CI_TRIAGE_CACHE_DIR"):
            return cls(Path(env["CI_TRIAGE_CACHE_DIR"]))
        base = env.get("XDG_CACHE_HOME") or (str(Path(env["HOME"]) / ".cache") if env.get("HOME") else "")
        return cls(Path(base) / "ci-triage" if base else Path(tempfile.gettempdir()) / f"ci-triage-{os.getuid()}")

    def _path(self, key: str) -> Path:
        return self.folder / key

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except OSError:
            return None

    def put(self, key: str, data: bytes) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, self._path(key))  # atomic: concurrent runs never read half a file
        except OSError:
            return
