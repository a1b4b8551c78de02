"""AWS clients created on first use, so tests can patch AWS before anything connects."""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

import boto3
from botocore.config import Config
from pynamodb.connection import Connection

from chalicelib import config
from chalicelib.models import ALL_MODELS

# Parameter Store reads sit on the request path of the up-sell step: short timeouts and
# one retry, so an SSM outage costs two to three seconds at worst, never a failed request.
PARAMETERS_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 2},
    connect_timeout=1,
    read_timeout=1,
)

# Standard mode retries throttling and 5xx with jittered backoff; three attempts keep
# a request within API Gateway's time limit.
BOTO_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
)


# Readiness probes must answer fast: one attempt, one-second timeouts.
PROBE_CONFIG = Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=1, read_timeout=1)


@cache
def client(service: str) -> Any:
    return boto3.session.Session().client(service, config=BOTO_CONFIG)


@lru_cache(maxsize=1)
def dynamodb() -> Connection:
    """PynamoDB connection for transactions (models keep their own per table)."""
    return Connection(connect_timeout_seconds=2, read_timeout_seconds=5, max_retry_attempts=3)


@cache
def probe(service: str) -> Any:
    """A client for health checks (short timeouts, no retries)."""
    return boto3.session.Session().client(service, config=PROBE_CONFIG)


def ssm() -> Any:
    return client("ssm")


def s3() -> Any:
    return client("s3")


def events() -> Any:
    return client("events")


@lru_cache(maxsize=1)
def parameters() -> Any:
    """Powertools SSMProvider (flags, the LLM key); one per process so its max_age cache works."""
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    return SSMProvider(boto3_client=boto3.session.Session().client("ssm", config=PARAMETERS_CONFIG))


@lru_cache(maxsize=4)
def llm(base_url: str | None, api_key: str, timeout: float) -> Any:
    """OpenAI client for any OpenAI-compatible server, built (and `openai` imported) on first LLM call.

    No retries: the up-sell step has a hard time budget and falls back instead of waiting.
    """
    from openai import OpenAI

    return OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0)


def reset() -> None:
    """Drop every cached client and setting (tests switch between moto and DynamoDB Local)."""
    client.cache_clear()
    probe.cache_clear()
    dynamodb.cache_clear()
    parameters.cache_clear()
    llm.cache_clear()
    config.reset()
    for model in ALL_MODELS:
        model._connection = None
