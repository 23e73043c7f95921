"""Who can reach the EKS API endpoint: decided before ``up`` creates anything, checked before the Helm releases.

``up`` installs Helm releases and Karpenter objects through the endpoint, so the machine running it must reach it.
Default (``aws.endpoint_access: public-and-private``): nodes use the private endpoint; the public one admits only
``aws.public_access_cidrs``, or when that is empty the deployer's current egress address as a /32, detected at
``up`` (and shown by ``plan``) from AWS's own ``checkip.amazonaws.com``. ``private`` is allowed only with an
existing VPC (``aws.vpc_id``): ``up`` must then run inside it, since nobody can be inside a VPC ``up`` creates.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlparse

from inferctl.config.models import PlatformConfig
from inferctl.errors import OperationError

EGRESS_IP_URL = "https://checkip.amazonaws.com"  # answers with the caller's public IPv4 address and a newline
DETECT_TIMEOUT_S = 5.0
# Shown by the offline plan in place of the address 'up' detects (no network call there).
DEPLOYER_CIDR_PLACEHOLDER = "<deployer's egress IP>/32"
# 'down' runs the program only for its providers and creates nothing: any valid block will do.
DESTROY_CIDR_PLACEHOLDER = "192.0.2.1/32"  # TEST-NET-1 (RFC 5737), never routed
PROBE_TIMEOUT_S = 300  # a new endpoint's DNS name and TLS can take a few minutes to answer everywhere
PROBE_INTERVAL_S = 10

Fetch = Callable[[str], str]
Connect = Callable[[str, int], None]


def _fetch(url: str) -> str:
    import httpx

    response = httpx.get(url, timeout=DETECT_TIMEOUT_S)
    response.raise_for_status()
    return response.text


def detect_egress_ip(fetch: Fetch = _fetch) -> str:
    """This machine's public IPv4 address as AWS sees it; OperationError (one line) when it cannot be told."""
    try:
        text = fetch(EGRESS_IP_URL).strip()
        address = ipaddress.ip_address(text)
    except ValueError:
        raise OperationError(
            f"{EGRESS_IP_URL} did not answer with an IP address; set aws.public_access_cidrs to your IP/32"
        ) from None
    except Exception as exc:  # httpx's transport errors, TLS, timeouts: all mean "cannot tell"
        raise OperationError(
            f"cannot detect this machine's public IP from {EGRESS_IP_URL} ({type(exc).__name__}); "
            "set aws.public_access_cidrs to your IP/32"
        ) from None
    if address.version != 4:
        raise OperationError(f"this machine's egress address {address} is not IPv4; set aws.public_access_cidrs")
    return f"{address}/32"


def is_public(config: PlatformConfig) -> bool:
    return config.aws.endpoint_access == "public-and-private"


def with_public_cidrs(config: PlatformConfig, cidrs: list[str]) -> PlatformConfig:
    """The config with the public endpoint's allowed blocks filled in (unchanged when set or private)."""
    if not is_public(config) or config.aws.public_access_cidrs:
        return config
    aws = config.aws.model_copy(update={"public_access_cidrs": cidrs})
    return config.model_copy(update={"aws": aws})


def resolve_for_up(config: PlatformConfig, fetch: Fetch = _fetch) -> PlatformConfig:
    """The config ``up`` deploys: an empty ``public_access_cidrs`` becomes the deployer's address /32."""
    if not is_public(config) or config.aws.public_access_cidrs:
        return config
    return with_public_cidrs(config, [detect_egress_ip(fetch)])


def access_summary(config: PlatformConfig) -> str:
    """One line for plan and preflight: who reaches the endpoint."""
    if not is_public(config):
        return (
            f"private endpoint only: 'up' must run inside {config.aws.vpc_id} (or a network routed to it), "
            "since it installs Helm releases through the endpoint"
        )
    cidrs = ", ".join(config.aws.public_access_cidrs) or "this machine's egress IP/32 (detected at up)"
    return f"public endpoint limited to {cidrs}; nodes use the private endpoint"


def _connect(host: str, port: int) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False  # the cluster's own CA signs it; reaching TLS is the proof asked for here
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=10) as raw, context.wrap_socket(raw, server_hostname=host):
        return


async def probe_endpoint(
    endpoint: str,
    *,
    connect: Connect = _connect,
    timeout_s: float = PROBE_TIMEOUT_S,
    interval_s: float = PROBE_INTERVAL_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Wait until a TLS connection to the endpoint succeeds; OperationError (one line) after ``timeout_s``.
    Awaited inside the kubeconfig's ``apply`` on Pulumi's event loop (pulumi 3.272.0 ``output.py``, ``Output.apply``
    awaits a func's Awaitable result): the blocking connect goes to a thread and the wait is ``asyncio.sleep``, so
    other resources keep registering meanwhile."""
    parsed = urlparse(endpoint)
    host, port = parsed.hostname or endpoint, parsed.port or 443
    deadline = clock() + timeout_s
    while True:
        try:
            await asyncio.to_thread(connect, host, port)
            return
        except OSError as exc:
            if clock() >= deadline:
                raise OperationError(
                    f"this machine cannot reach the EKS API endpoint {endpoint} ({type(exc).__name__}: {exc}); "
                    "check aws.endpoint_access and aws.public_access_cidrs (your egress IP may have changed), "
                    "then re-run 'inferctl up --target aws'"
                ) from None
        await sleep(interval_s)
