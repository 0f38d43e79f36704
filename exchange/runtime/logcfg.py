"""structlog set-up: JSON lines when stderr is not a terminal, coloured key=value lines when it is."""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(level: str = "info", stream=None) -> None:
    stream = stream or sys.stderr
    tty = stream.isatty()
    renderer = structlog.dev.ConsoleRenderer() if tty else structlog.processors.JSONRenderer()
    tracebacks = [] if tty else [structlog.processors.format_exc_info]  # exc_info -> an "exception" string
    structlog.configure(
        processors=[structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True),
                    *tracebacks, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str):
    return structlog.get_logger(name)
