"""Powertools Logger and Metrics shared by every layer."""

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="cartwise")
metrics = Metrics(namespace="Cartwise", service="cartwise")
