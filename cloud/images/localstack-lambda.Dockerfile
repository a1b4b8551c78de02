# LocalStack 4.14.0 as docker-compose.yml runs it (the official image, or compose/images' stand-in
# when it is absent), with the stand-in for its Lambda init (rapid_init.py) where LocalStack looks for
# the init before downloading it from GitHub: the marker of its package
# (localstack/services/lambda_/packages.py, LAMBDA_RUNTIME_DEFAULT_VERSION v0.1.41-pre, x86_64).
# LocalStack copies that folder into every Lambda container, whose entrypoint the init becomes.
# Built by `make test-cloud` (cloud/run.py); docs/decisions/0023-cloud-rehearsal-stand-ins.md.
FROM localstack/localstack:4.14.0
LABEL org.cartwise.stand-in="true"
COPY rapid_init.py /usr/lib/localstack/lambda-runtime/v0.1.41-pre/x86_64/var/rapid/init
RUN chmod 755 /usr/lib/localstack/lambda-runtime/v0.1.41-pre/x86_64/var/rapid/init
