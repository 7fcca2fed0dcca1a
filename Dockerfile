# Production image: gunicorn behind TLS, configuration from environment variables only.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_ENV=production
WORKDIR /app
COPY pyproject.toml ./
COPY . .
RUN pip install --no-cache-dir . \
 && DJANGO_ENV=development python manage.py collectstatic --no-input \
 && rm -f .dev-secrets.json
RUN useradd --create-home app && chown -R app /app
USER app
EXPOSE 8000
# The web process; run the worker from the same image with: python manage.py worker
CMD ["gunicorn", "hintpartner.wsgi:application", "--config", "deploy/gunicorn.conf.py"]
