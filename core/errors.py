"""Errors arrl reports to users as one clear line (``--debug`` shows the traceback)."""


class ArrlError(Exception):
    """Base of every error arrl expects and explains."""

    exit_code = 1


class ConfigError(ArrlError):
    """A bad configuration value, option, plugin name or command-line argument."""

    exit_code = 2


class WorkspaceError(ArrlError):
    """The git repository or the script cannot be used as asked (missing, dirty, unreadable)."""


class EngineError(ArrlError):
    """An execution engine (a container engine, Redis, ...) cannot be reached."""
