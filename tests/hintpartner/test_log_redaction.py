"""Request logs never carry session keys, install codes or bearer tokens."""

import io
import logging

import pytest

from hintpartner.logfilters import RedactSecretsFilter, redact


def test_it_redacts_the_session_key_in_a_request_line() -> None:
    line = '"GET /hint/core_page?session_key=abcDEF123_-x&page=2 HTTP/1.1" 401 512'
    assert redact(line) == '"GET /hint/core_page?session_key=[redacted]&page=2 HTTP/1.1" 401 512'


def test_it_redacts_the_install_code_in_the_connect_path() -> None:
    assert redact("POST /hint/connect/one-time-code-9 HTTP/1.1") == (
        "POST /hint/connect/[redacted] HTTP/1.1"
    )


def test_it_redacts_bearer_tokens() -> None:
    assert "tok-123" not in redact("Authorization: Bearer tok-123")


def test_the_filter_rewrites_formatted_arguments() -> None:
    record = logging.LogRecord(
        "django.server", logging.INFO, __file__, 1, '"%s" %s', ("GET /x?session_key=k1", 200), None
    )
    RedactSecretsFilter().filter(record)
    assert record.getMessage() == '"GET /x?session_key=[redacted]" 200'


@pytest.mark.parametrize("logger_name", ["django.server", "django.request"])
def test_request_loggers_write_through_the_redacting_handler(logger_name: str) -> None:
    logger = logging.getLogger(logger_name)
    handler = logger.handlers[0]
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        logger.warning('"%s" %s', "GET /hint/core_page?session_key=leaky-key-42 HTTP/1.1", 401)
    finally:
        handler.setStream(previous)
    assert "session_key=[redacted]" in stream.getvalue()
    assert "leaky-key-42" not in stream.getvalue()


def test_gunicorns_access_lines_are_redacted_and_carry_no_query(tmp_path) -> None:
    import logging.config
    import runpy

    config = runpy.run_path("deploy/gunicorn.conf.py")
    assert "%(q)s" not in config["access_log_format"] and "%(r)s" not in config["access_log_format"]
    logging.config.dictConfig(config["logconfig_dict"])
    logger = logging.getLogger("gunicorn.access")
    stream = io.StringIO()
    previous = logger.handlers[0].setStream(stream)
    try:
        logger.info('127.0.0.1 "POST /hint/connect/one-time-code HTTP/1.1" 200')
    finally:
        logger.handlers[0].setStream(previous)
    assert "/hint/connect/[redacted]" in stream.getvalue()
    assert "one-time-code" not in stream.getvalue()
