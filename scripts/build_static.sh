#!/bin/sh
# Collect static files with production settings: the image's build step (Dockerfile), run as is by
# scripts/prod_smoke.py. Production's manifest storage needs staticfiles.json, without which every
# page answers 500 ("Missing staticfiles manifest entry").
#
# Production settings refuse to load without their secrets. The placeholders below exist only for
# this one command: collectstatic reads no secret, opens no database and calls no one, and none of
# them reaches the image's environment (they are not ENV lines).
set -eu
cd "$(dirname "$0")/.."
env DJANGO_ENV=production DEBUG=false \
  SECRET_KEY=build-only-placeholder \
  FIELD_ENCRYPTION_KEYS=build-only-placeholder \
  HINT_API_KEY=build-only-placeholder \
  HINT_WEBHOOK_SECRET=build-only-placeholder \
  HINT_PRODUCT_ID=build-only-placeholder \
  DATABASE_URL=sqlite:////nonexistent/build-only.sqlite3 \
  ALLOWED_HOSTS=build.invalid \
  "${PYTHON:-python}" manage.py collectstatic --no-input --clear --verbosity 0
test -s staticfiles/staticfiles.json
echo "static files collected with production settings: staticfiles/staticfiles.json written"
