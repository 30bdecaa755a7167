"""ci-triage: tells a maintainer whether a failed CI job is their change or the machine."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ci-triage")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"
