# Stand-in for public.ecr.aws/lambda/python:3.11, the image LocalStack runs python3.11 functions in,
# built by `make test-cloud` (cloud/run.py): no image registry is reachable where it runs. Debian
# bookworm's Python 3.11 in a venv at /var/lang (where the official image keeps its Python), with the
# Runtime Interface Client and boto3 of lambda-runtime.txt (hashes required), and the bootstrap the
# init starts. No CMD: LocalStack's init takes image arguments for the bootstrap command. How it
# differs from the official image: docs/decisions/0023-cloud-rehearsal-stand-ins.md.
FROM cartwise-stand-in/debian:bookworm
LABEL org.cartwise.stand-in="true"
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# This machine's CA bundle for pip (see compose/images/python.Dockerfile), used by this step only.
COPY lambda-runtime.txt build-ca.crt /tmp/runtime/
RUN python3 -m venv /var/lang \
    && PIP_CERT=/tmp/runtime/build-ca.crt /var/lang/bin/pip install --no-cache-dir --only-binary :all: \
        --require-hashes --no-deps -r /tmp/runtime/lambda-runtime.txt \
    && rm -rf /tmp/runtime \
    && mkdir -p /var/task /var/runtime /opt

COPY bootstrap /var/runtime/bootstrap
RUN chmod 755 /var/runtime/bootstrap
WORKDIR /var/task
ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin:/bin \
    LANG=C.UTF-8 \
    LAMBDA_TASK_ROOT=/var/task \
    LAMBDA_RUNTIME_DIR=/var/runtime
