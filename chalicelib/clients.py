"""AWS clients created on first use, so tests can patch AWS before anything connects.

Every client, boto3's and PynamoDB's, is built from ONE botocore session per process: a
session loads and parses botocore's endpoint and service JSON once (0.15-0.25 s), and before
this each model table, the transaction connection and every boto3 client made its own, so
the first request of a cold Lambda paid that five times. DynamoDB goes through one PynamoDB
connection (one botocore client, one HTTP pool) for every table and every transaction.
"""

from __future__ import annotations

import threading
from functools import cache, lru_cache
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from pynamodb.connection import Connection

from chalicelib import config

# Parameter Store reads sit on the request path of the up-sell step: short timeouts and
# one retry, so an SSM outage costs two to three seconds at worst, never a failed request.
# (botocore's `max_attempts` counts retries only; `total_max_attempts` counts every attempt.)
PARAMETERS_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 2},
    connect_timeout=1,
    read_timeout=1,
)

# Standard mode retries throttling and 5xx with jittered backoff; three attempts keep
# a request within API Gateway's time limit.
BOTO_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
)


# Readiness probes must answer fast: one attempt, one-second timeouts.
PROBE_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=1, read_timeout=1)


# DynamoDB: the same three attempts (PynamoDB's LEGACY default is 1 + max_retry_attempts).
DYNAMODB_RETRIES = {"mode": "standard", "total_max_attempts": 3}
# One pool serves every table; `chalice local` runs requests on threads, Lambda one at a time.
DYNAMODB_POOL_CONNECTIONS = 50

# botocore sessions are not thread-safe while they build clients (chalice local serves on threads).
_building = threading.RLock()


@cache
def _botocore_session() -> botocore.session.Session:
    return botocore.session.get_session()


def botocore_session() -> botocore.session.Session:
    """The process's one botocore session (handlers registered on it reach every client built later)."""
    with _building:
        return _botocore_session()


@cache
def _boto3_session() -> boto3.session.Session:
    return boto3.session.Session(botocore_session=_botocore_session())


def _build(service: str, client_config: Config) -> Any:
    with _building:
        return _boto3_session().client(service, config=client_config)


class SharedSessionConnection(Connection):
    """A PynamoDB Connection whose botocore client comes from the process's one session.

    PynamoDB makes a botocore session per Connection and per thread (`Connection.session`); this
    subclass only replaces where the session comes from, and builds the client under the lock.
    """

    @property
    def session(self) -> botocore.session.Session:
        return botocore_session()

    @property
    def client(self) -> Any:
        with _building:
            return super().client


@cache
def client(service: str) -> Any:
    return _build(service, BOTO_CONFIG)


@lru_cache(maxsize=1)
def dynamodb() -> Connection:
    """The PynamoDB connection of every model (see models.CartwiseModel) and every transaction."""
    return SharedSessionConnection(
        connect_timeout_seconds=2,
        read_timeout_seconds=5,
        retry_configuration=DYNAMODB_RETRIES,
        max_pool_connections=DYNAMODB_POOL_CONNECTIONS,
    )


@cache
def probe(service: str) -> Any:
    """A client for health checks (short timeouts, no retries)."""
    return _build(service, PROBE_CONFIG)


def ssm() -> Any:
    return client("ssm")


def s3() -> Any:
    return client("s3")


def events() -> Any:
    return client("events")


def ses() -> Any:
    """Amazon SES: the shopper e-mails' transport in the cloud (chalicelib/mail/transport.py)."""
    return client("ses")


@cache
def flag_ssm() -> Any:
    """The SSM client of the up-sell flag's per-request read (and of `parameters()`)."""
    return _build("ssm", PARAMETERS_CONFIG)


@lru_cache(maxsize=1)
def parameters() -> Any:
    """Powertools SSMProvider for SecureStrings (the LLM key, tenants' Stripe secrets), decrypted and cached;
    one per process so its max_age cache works."""
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    return SSMProvider(boto3_client=flag_ssm())


@lru_cache(maxsize=4)
def llm(base_url: str | None, api_key: str, timeout: float) -> Any:
    """OpenAI client for any OpenAI-compatible server, built (and `openai` imported) on first LLM call.

    No retries: the up-sell step has a hard time budget and falls back instead of waiting.
    """
    from openai import OpenAI

    return OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0)


def reset() -> None:
    """Drop every cached client and setting (tests switch between moto and DynamoDB Local).

    The models notice the new DynamoDB connection on their next use (models.CartwiseModel).
    """
    client.cache_clear()
    probe.cache_clear()
    dynamodb.cache_clear()
    parameters.cache_clear()
    flag_ssm.cache_clear()
    llm.cache_clear()
    _boto3_session.cache_clear()
    _botocore_session.cache_clear()
    config.reset()
