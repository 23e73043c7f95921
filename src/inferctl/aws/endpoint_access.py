"""Who can reach the EKS API endpoint: decided before ``up`` creates anything, checked before the Helm releases.

``up`` installs Helm releases and Karpenter objects through the endpoint, so the machine running it must reach it.
Default (``aws.endpoint_access: public-and-private``): nodes use the private endpoint; the public one admits only
``aws.public_access_cidrs``, or when that is empty the deployer's current egress address as a /32, detected at
``up`` (and shown by ``plan``) from AWS's own ``checkip.amazonaws.com``. ``private`` is allowed only with an
existing VPC (``aws.vpc_id``): ``up`` must then run inside it, since nobody can be inside a VPC ``up`` creates.

The private endpoint answers from the cluster's network interfaces in the VPC, behind the cluster security group,
which EKS creates admitting only itself (Amazon EKS User Guide, sec-group-reqs, "Default cluster security
group": inbound All/All from Self). From inside the VPC the endpoint's name resolves to those interfaces
(cluster-endpoint, "Kubernetes API requests within your cluster's VPC ... use the private VPC endpoint"), and for
a connected network or a bastion "You must ensure that your Amazon EKS control plane security group contains
rules to allow ingress traffic on port 443" (cluster-endpoint, "Accessing a private only API server";
awsdocs/amazon-eks-user-guide ``latest/ug/clusters/cluster-endpoint.adoc``). So the program admits
``aws.private_access_cidrs`` on 443, or when that is empty the deployer's own address /32 when it runs inside
the VPC or a network the VPC routes to (:class:`VpcReach`, told at preflight).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
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

API_PORT = 443
# Shown by the offline plan in place of the address 'up' detects inside an existing VPC.
DEPLOYER_PRIVATE_PLACEHOLDER = "<deployer's address in the VPC>/32"

Fetch = Callable[[str], str]
Connect = Callable[[str, int], None]
Locate = Callable[[str], "str | None"]  # this machine's source address toward an address; None: no route


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


def with_private_cidrs(config: PlatformConfig, cidrs: list[str]) -> PlatformConfig:
    """The config with the private endpoint's admitted blocks filled in (unchanged when set)."""
    if config.aws.private_access_cidrs or not cidrs:
        return config
    aws = config.aws.model_copy(update={"private_access_cidrs": cidrs})
    return config.model_copy(update={"aws": aws})


def access_summary(config: PlatformConfig) -> str:
    """One line for plan and preflight: who reaches the endpoint."""
    private = _private_summary(config)
    if not is_public(config):
        return (
            f"private endpoint only: 'up' must run inside {config.aws.vpc_id} (or a network routed to it), "
            f"since it installs Helm releases through the endpoint; {private}"
        )
    cidrs = ", ".join(config.aws.public_access_cidrs) or "this machine's egress IP/32 (detected at up)"
    return f"public endpoint limited to {cidrs}; nodes use the private endpoint; {private}"


def _private_summary(config: PlatformConfig) -> str:
    if config.aws.private_access_cidrs:
        return f"the private endpoint admits {', '.join(config.aws.private_access_cidrs)} on {API_PORT}"
    if config.aws.vpc_id:
        return f"the private endpoint admits this machine's address on {API_PORT} when 'up' runs inside the VPC"
    return "the private endpoint admits the nodes only"


def unreachable_fix(config: PlatformConfig) -> str:
    """What to change when this machine cannot reach the endpoint, for the endpoint it uses."""
    settings = config.aws
    private = ", ".join(settings.private_access_cidrs) or "none"
    inside = (
        f"from inside {settings.vpc_id} (or a network routed to it) the endpoint is the private one, which admits "
        f"on {API_PORT} only aws.private_access_cidrs ({private}): add this machine's address there"
    )
    if not is_public(config):
        return f"the endpoint is private: run 'up' inside {settings.vpc_id} or a network routed to it; {inside}"
    public = (
        "from elsewhere the public endpoint admits only aws.public_access_cidrs "
        f"({', '.join(settings.public_access_cidrs)}): your egress IP may have changed (re-run 'up' from it, or set "
        "aws.public_access_cidrs to a block that includes it)"
    )
    return f"{inside}; {public}" if settings.vpc_id else public


# --- where this machine stands relative to an existing VPC -----------------------------------------------------


@dataclass(frozen=True)
class VpcReach:
    """This machine's address toward a VPC, the VPC's blocks, and the networks its route tables send to a VPN,
    a transit gateway, a peering connection or another private path (the "connected networks" that may reach the
    private endpoint). ``address`` None: this machine has no route toward the VPC's addresses at all."""

    vpc_id: str
    address: str | None
    vpc_cidrs: tuple[str, ...]
    connected: tuple[str, ...]

    @property
    def inside(self) -> bool:
        """In the VPC itself: the endpoint's name resolves to its private addresses here."""
        return within(self.address, self.vpc_cidrs)

    @property
    def routed(self) -> bool:
        """In the VPC or a network it routes to privately: the private endpoint can be reached."""
        return self.inside or within(self.address, self.connected)

    def where(self) -> str:
        if self.address is None:
            return f"this machine has no route toward {self.vpc_id} ({', '.join(self.vpc_cidrs)})"
        if self.inside:
            return f"this machine ({self.address}) is inside {self.vpc_id}"
        if self.routed:
            return f"this machine ({self.address}) is in a network {self.vpc_id} routes to"
        connected = ", ".join(self.connected) or "none"
        return (
            f"this machine ({self.address}) is outside {self.vpc_id} ({', '.join(self.vpc_cidrs)}) and every network "
            f"it routes to a VPN, transit gateway or peering ({connected})"
        )


def within(address: str | None, cidrs: Sequence[str]) -> bool:
    """Whether ``address`` lies in one of ``cidrs`` (False for no address)."""
    if address is None:
        return False
    ip = ipaddress.ip_address(address)
    return any(ip in ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def local_address_toward(address: str) -> str | None:
    """The source address this machine would use toward ``address``: a UDP socket's connect only asks the
    kernel for the route (no packet is sent). None when there is no route."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.connect((address, API_PORT))
            local: str = udp.getsockname()[0]
            return local
    except OSError:
        return None


def first_host(cidr: str) -> str:
    """An address inside ``cidr`` to ask the route toward (the network's first host)."""
    return str(next(ipaddress.ip_network(cidr, strict=False).hosts()))


@dataclass(frozen=True)
class PrivateAccess:
    """What preflight decided for the private endpoint: the blocks to admit (the deployer's /32 when the config
    has none), and a one-line failure when this machine will not reach the endpoint it will use."""

    cidrs: list[str]
    detail: str
    failure: str | None = None


def private_access(config: PlatformConfig, reach: VpcReach) -> PrivateAccess:
    """Decide the private endpoint's admitted blocks and whether this machine will reach the endpoint it uses.

    This machine uses the private endpoint when the endpoint is private-only, or when it runs inside the VPC
    (the name resolves to private addresses there). A failure is returned only where that can be told:
    private-only with this machine outside the VPC and every network the VPC routes to (and no blocks
    configured: through a NAT or AWS Client VPN the VPC sees another address, which only the user knows), or
    this machine inside the VPC (seen with its own address) while the configured blocks leave it out.
    """
    settings = config.aws
    configured = list(settings.private_access_cidrs)
    own = f"{reach.address}/32" if reach.address else None
    if not is_public(config) and not reach.routed and not configured:
        return PrivateAccess(
            [],
            reach.where(),
            f"aws.endpoint_access is private but {reach.where()}: 'up' would time out on the endpoint while the "
            f"cluster bills. Run 'up' inside {reach.vpc_id} or a network routed to it (VPN, Direct Connect, transit "
            "gateway, peering), set aws.private_access_cidrs to the block the VPC sees this machine from (AWS "
            "Client VPN, a NAT), or use endpoint_access: public-and-private",
        )
    if configured:
        if reach.inside and not within(reach.address, configured):
            return PrivateAccess(
                configured,
                reach.where(),
                f"{reach.where()} and reaches the private API endpoint, but aws.private_access_cidrs "
                f"({', '.join(configured)}) leaves its address out, so the cluster security group would refuse it "
                f"on {API_PORT}; add {own} to aws.private_access_cidrs (or leave it empty for this machine's address)",
            )
        return PrivateAccess(configured, f"{reach.where()}; {API_PORT} admitted from {', '.join(configured)}")
    if reach.routed and own:
        return PrivateAccess([own], f"{reach.where()}; {API_PORT} admitted from {own} (this machine's address)")
    return PrivateAccess([], f"{reach.where()}; it uses the public endpoint")


def _connect(host: str, port: int) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False  # the cluster's own CA signs it; reaching TLS is the proof asked for here
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=10) as raw, context.wrap_socket(raw, server_hostname=host):
        return


async def probe_endpoint(
    endpoint: str,
    *,
    fix: str = "check aws.endpoint_access and aws.public_access_cidrs (your egress IP may have changed)",
    connect: Connect = _connect,
    timeout_s: float = PROBE_TIMEOUT_S,
    interval_s: float = PROBE_INTERVAL_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Wait until a TLS connection to the endpoint succeeds; OperationError (one line naming ``fix``, see
    :func:`unreachable_fix`) after ``timeout_s``.
    Awaited inside the kubeconfig's ``apply`` on Pulumi's event loop (pulumi 3.272.0 ``output.py``, ``Output.apply``
    awaits a func's Awaitable result): the blocking connect goes to a thread and the wait is ``asyncio.sleep``, so
    other resources keep registering meanwhile."""
    parsed = urlparse(endpoint)
    host, port = parsed.hostname or endpoint, parsed.port or API_PORT
    deadline = clock() + timeout_s
    while True:
        try:
            await asyncio.to_thread(connect, host, port)
            return
        except OSError as exc:
            if clock() >= deadline:
                raise OperationError(
                    f"this machine cannot reach the EKS API endpoint {endpoint} ({type(exc).__name__}: {exc}); "
                    f"{fix}; then re-run 'inferctl up --target aws'"
                ) from None
        await sleep(interval_s)
