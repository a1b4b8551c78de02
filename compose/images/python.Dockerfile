# Stand-in for python:3.11-slim (the base of localstack/api.Dockerfile), built by `make test-compose`
# only when that image is absent: no image registry is reachable where the compose test runs.
# Debian bookworm's own Python 3.11 in a venv at /usr/local, so `python`, `pip` and the console
# scripts pip installs live in /usr/local/bin as in the official image, and pip may install there
# (Debian's system Python refuses: PEP 668).
FROM cartwise-stand-in/debian:bookworm
LABEL org.cartwise.stand-in="true"
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /usr/local
# This machine's CA bundle, for the pip install of the app image built on top (HTTPS to PyPI from a
# container fails certificate checks here without it). Only the test's build has it: users pull the
# official image.
COPY build-ca.crt /etc/ssl/certs/cartwise-build-ca.crt
ENV PIP_CERT=/etc/ssl/certs/cartwise-build-ca.crt \
    LANG=C.UTF-8
CMD ["python3"]
