"""gunicorn settings for production: request lines never carry session keys or install codes."""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
# Threads, not sync workers: a page that waits on Hint (reads up to HINT_READ_TIMEOUT) would hold
# a whole sync worker, so three slow calls stopped the site; threads overlap those waits. Each
# thread keeps its own database connection (CONN_MAX_AGE): workers x threads connections per
# web process (README, "Scale-out").
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# Sync workers close every connection after one request; Hint's webhook deliveries, the
# handshake posts and the htmx panels of one page reuse theirs (bench/: keep-alive connections).
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "10"))
# A worker stuck past this is replaced; above HINT_READ_TIMEOUT (20 s) with its retries' room.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
accesslog = "-"
# %(U)s is the path without the query string (which carries ?session_key=…).
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'
# The connect route's path holds a one-time code: the access handler redacts it. gunicorn merges
# this dict into its defaults key by key, so the handlers its defaults name are repeated here.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "hintpartner.logfilters.RedactSecretsFilter"}},
    "formatters": {
        "generic": {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "generic",
            "stream": "ext://sys.stdout",
        },
        "error_console": {
            "class": "logging.StreamHandler",
            "formatter": "generic",
            "stream": "ext://sys.stderr",
            "filters": ["redact"],
        },
        "access": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "filters": ["redact"],
        },
    },
    "root": {"level": "INFO", "handlers": ["console"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
    },
}
