"""ci-triage: tells a maintainer whether a failed CI job is their change or the machine."""

__version__ = "0.1.0"
