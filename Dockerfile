# Production image: gunicorn behind TLS, configuration from environment variables only.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_ENV=production
WORKDIR /app
COPY . .
# Static files are collected with production settings (manifest storage writes staticfiles.json);
# the script passes placeholder secrets to that one command only. scripts/prod_smoke.py runs the
# same script, then serves the result with gunicorn on PostgreSQL (.ci/run).
RUN pip install --no-cache-dir . \
 && sh scripts/build_static.sh \
 && rm -f .dev-secrets.json
RUN useradd --create-home app && chown -R app /app
USER app
EXPOSE 8000
# The web process; run the worker from the same image with: python manage.py worker
CMD ["gunicorn", "hintpartner.wsgi:application", "--config", "deploy/gunicorn.conf.py"]
