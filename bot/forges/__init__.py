"""Forge adapters: the only modules that talk to GitHub or GitLab."""
