"""gunicorn settings for production: access lines without query strings (they carry keys)."""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
accesslog = "-"
# %(U)s is the path without the query string; the connect route's code is redacted by the
# logging filter configured in settings (gunicorn's loggers go through it).
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'
