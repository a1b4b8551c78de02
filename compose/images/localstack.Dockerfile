# Stand-in for localstack/localstack:4.14.0, built by `make test-compose` only when that image is
# absent: no image registry is reachable where the compose test runs. LocalStack 4.14.0 itself
# (`localstack-core[runtime]` from PyPI, with the dependencies of localstack-requirements.txt) on
# Debian trixie (localstack-core needs Python >= 3.12), with DynamoDB Local and Java 21 where
# LocalStack looks for them, so it never tries to download them. How it differs from the official
# image: docs/decisions/0012-compose-test-stand-in-images.md.
FROM cartwise-stand-in/debian:trixie
LABEL org.cartwise.stand-in="true"
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv openjdk-21-jdk-headless nodejs \
    && rm -rf /var/lib/apt/lists/*

# This machine's CA bundle for pip (see python.Dockerfile), used by this step only.
COPY localstack-requirements.txt build-ca.crt /tmp/localstack/
RUN python3 -m venv /opt/code/localstack/.venv \
    && PIP_CERT=/tmp/localstack/build-ca.crt /opt/code/localstack/.venv/bin/pip install --no-cache-dir \
        --require-hashes --no-deps -r /tmp/localstack/localstack-requirements.txt \
    && rm -rf /tmp/localstack

# LocalStack's static libraries, where it looks before downloading anything: Java 21 (the version
# its DynamoDB Local package asks for), DynamoDB Local 2 (AWS's jar, from the npm package
# amplify-dynamodb-simulator) with the -javaagent jar LocalStack passes to it, and kinesis-local
# (the npm package behind DynamoDB Streams; the orders table has a stream). The npm packages are
# installed on the build machine by compose/run.py, pinned there.
ARG KINESIS_LOCAL_VERSION
COPY npm/dynamodb/node_modules/amplify-dynamodb-simulator/emulator /usr/lib/localstack/dynamodb-local/2
COPY npm/kinesis-local /usr/lib/localstack/kinesis-local/${KINESIS_LOCAL_VERSION}
COPY DdbLocalLoader.java /tmp/agent/
RUN mkdir -p /usr/lib/localstack/java \
    && ln -s "$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")" /usr/lib/localstack/java/21 \
    && cd /tmp/agent \
    && javac DdbLocalLoader.java \
    && printf 'Premain-Class: DdbLocalLoader\n' > manifest.txt \
    && jar --create --file /usr/lib/localstack/dynamodb-local/2/ddb-local-loader-0.1.jar \
        --manifest manifest.txt DdbLocalLoader.class \
    && rm -rf /tmp/agent

ENV PATH=/opt/code/localstack/.venv/bin:$PATH \
    LANG=C.UTF-8
EXPOSE 4566
HEALTHCHECK --interval=2s --timeout=5s --start-period=5s --retries=30 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:4566/_localstack/health')"]
CMD ["python", "-m", "localstack.runtime.main"]
