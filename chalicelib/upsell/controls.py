"""The operator's up-sell settings for a tenant: its SSM parameters, written and read back.

`enabled` true/false is the tenant's UPSELL_ENABLED override; None deletes it, so the tenant
follows the global flag. `holdout_percent` (0-50) is its HOLDOUT_PERCENT. Both are the very
parameters the per-request read resolves (flags.py), so the next answer follows a change (with
UPSELL_FLAG_MAX_AGE_SECONDS > 0, within that many seconds).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from chalicelib import clients
from chalicelib.upsell import flags


@dataclass(frozen=True)
class Controls:
    enabled: bool | None  # None: the tenant follows the global flag
    holdout_percent: int


def read_controls(tenant_id: str) -> Controls:
    """The tenant's own parameters as stored (an invalid holdout value reads as 0, as requests read it)."""
    flag_name = flags.parameter_names(tenant_id)[0]
    holdout_name = flags.holdout_parameter_name(tenant_id)
    answer = clients.ssm().get_parameters(Names=[flag_name, holdout_name])
    values = {parameter["Name"]: parameter["Value"] for parameter in answer["Parameters"]}
    enabled = flags.parse_flag(flag_name, values[flag_name]) if flag_name in values else None
    holdout = flags.parse_holdout(holdout_name, values[holdout_name]) if holdout_name in values else 0
    return Controls(enabled=enabled, holdout_percent=holdout)


def write_controls(tenant_id: str, controls: Controls) -> Controls:
    ssm = clients.ssm()
    flag_name = flags.parameter_names(tenant_id)[0]
    # The share first: a tenant switched on with a new share never serves a request with the old one.
    ssm.put_parameter(
        Name=flags.holdout_parameter_name(tenant_id),
        Value=str(controls.holdout_percent),
        Type="String",
        Overwrite=True,
    )
    if controls.enabled is None:
        with contextlib.suppress(ssm.exceptions.ParameterNotFound):
            ssm.delete_parameter(Name=flag_name)
    else:
        ssm.put_parameter(Name=flag_name, Value=str(controls.enabled).lower(), Type="String", Overwrite=True)
    flags.forget(tenant_id)  # this process's cached value, if UPSELL_FLAG_MAX_AGE_SECONDS keeps one
    return read_controls(tenant_id)
