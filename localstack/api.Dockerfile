# The app's image for docker-compose.yml (services `provision` and `api`): Python 3.11, like the
# Lambda runtime, with the runtime requirements plus chalice and boto3. The code is not copied in:
# compose mounts the checkout read-only at /app, so a restart picks up edits.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# The lock of localstack/requirements-compose.txt (`make lock`): every file with its hash, nothing resolved.
COPY localstack/requirements-compose.lock /tmp/requirements-compose.lock
RUN pip install --require-hashes --no-deps -r /tmp/requirements-compose.lock

WORKDIR /app
EXPOSE 8000
