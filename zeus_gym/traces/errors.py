"""Errors raised when traces cannot be found, fetched or trusted."""

from __future__ import annotations


class TracesNotFoundError(FileNotFoundError):
    """No usable trace folder: a given folder is missing files, or nothing local and no download."""


class TraceValidationError(ValueError):
    """A trace file's content is malformed; the message names the file, column and line."""


class TraceHashError(TraceValidationError):
    """A downloaded trace file does not hash to its pinned SHA-256."""
