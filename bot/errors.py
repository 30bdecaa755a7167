"""Errors raised by the bot, as one documented tree.

* TriageError            base of everything the bot raises on purpose
  * ConfigError          user-fixable settings or `.ci-triage.toml` problem; names file, line, key
  * CatalogError         a defect in a rule file (ours or a repository's); raised at load time
  * InputError           a log or corpus that cannot be read at all (missing file, bad labels)
  * ForgeError           the platform failed us; the bot reports it and finishes
    * LogUnavailable     the job log is expired, missing or could not be downloaded
    * RateLimited        primary or secondary rate limit that outlasted our retry budget
    * PermissionDenied   the token lacks a permission (e.g. CI_JOB_TOKEN on GitLab)
"""

from __future__ import annotations


class TriageError(Exception):
    """Base class of every error the bot raises deliberately."""


class ConfigError(TriageError):
    """A settings or repository-configuration problem the user can fix."""


class CatalogError(TriageError):
    """A rule file does not validate; the message names the file and the problem."""


class InputError(TriageError):
    """An input (log file, corpus directory) cannot be read."""


class ForgeError(TriageError):
    """GitHub or GitLab failed a request the bot needed."""


class LogUnavailable(ForgeError):
    """The job log could not be obtained (expired, 404/410, truncated beyond use)."""


class RateLimited(ForgeError):
    """A rate limit outlasted the retry budget."""


class PermissionDenied(ForgeError):
    """The token is not allowed to do what the bot needed."""
