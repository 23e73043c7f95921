"""Prices for sizing: the packaged us-east-1 snapshot, or live prices from AWS (``--live-prices``).

Live prices come from two AWS APIs through boto3 (imported only here, only when asked):

- EC2 ``DescribeSpotPriceHistory`` in the target region, product ``Linux/UNIX``, at the current time: the latest
  price per availability zone; we take the median across zones, because Karpenter's price-capacity-optimized
  allocation weighs interruption risk and does not always land in the cheapest zone.
- The Price List API (``pricing:GetProducts``, served from us-east-1) for the region's on-demand Linux price.

Types the live APIs do not price keep the snapshot's price, marked as us-east-1.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from inferctl.catalog.instances import (
    SNAPSHOT_DATE,
    SNAPSHOT_REGION,
    SPOT_ASSUMPTION,
    InstanceType,
    spot_discount,
)
from inferctl.errors import OperationError, UserError

PRICING_API_REGION = "us-east-1"
_DENIED_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "AuthFailure",
    "ExpiredToken",
    "InvalidClientTokenId",
    "UnauthorizedOperation",
    "UnrecognizedClientException",
}


@dataclass(frozen=True)
class Price:
    """What one instance costs per hour, and where the numbers come from."""

    on_demand_usd_per_hour: float
    spot_usd_per_hour: float
    spot_is_estimate: bool
    region: str  # the region the on-demand price is for


@dataclass(frozen=True)
class LivePrice:
    on_demand_usd_per_hour: float | None = None
    spot_usd_per_hour: float | None = None


@dataclass(frozen=True)
class PriceBook:
    """Prices per instance type. Empty ``live``: the snapshot (us-east-1 on-demand, estimated spot)."""

    region: str = SNAPSHOT_REGION  # the region the platform runs in
    live: Mapping[str, LivePrice] = field(default_factory=dict)
    is_live: bool = False

    @classmethod
    def snapshot(cls, region: str = SNAPSHOT_REGION) -> PriceBook:
        return cls(region=region)

    def price(self, instance: InstanceType) -> Price | None:
        """The instance's price, or None when nothing prices it."""
        live = self.live.get(instance.name, LivePrice())
        if live.on_demand_usd_per_hour is not None:
            on_demand, region = live.on_demand_usd_per_hour, self.region
        elif instance.on_demand_usd_per_hour is not None:
            on_demand, region = instance.on_demand_usd_per_hour, SNAPSHOT_REGION
        else:
            return None
        if live.spot_usd_per_hour is not None:
            return Price(on_demand, live.spot_usd_per_hour, False, region)
        # Estimated from the on-demand price shown beside it (the region's live one when there is one).
        return Price(on_demand, round(on_demand * (1 - spot_discount(instance.family)), 5), True, region)

    def describe(self) -> str:
        """One line on where the prices come from (shown under ``inferctl plan``)."""
        if self.is_live:
            return f"live AWS prices for {self.region} (spot: median across availability zones)"
        where = f"{SNAPSHOT_REGION} on-demand from the {SNAPSHOT_DATE} snapshot"
        if self.region != SNAPSHOT_REGION:
            where += f" (your region {self.region} may differ: --live-prices)"
        return f"{where}; {SPOT_ASSUMPTION}"


def fetch_price_book(
    instance_types: Iterable[str],
    region: str,
    *,
    ec2_client: Any = None,
    pricing_client: Any = None,
) -> PriceBook:
    """Live prices for ``instance_types`` in ``region``. Clients are created from the default AWS credentials
    unless given (tests pass botocore-stubbed clients)."""
    names = sorted(set(instance_types))
    if ec2_client is None or pricing_client is None:
        session = _session()
        ec2_client = ec2_client or session.client("ec2", region_name=region)
        pricing_client = pricing_client or session.client("pricing", region_name=PRICING_API_REGION)
    spot = _call(lambda: spot_prices(ec2_client, names), "ec2:DescribeSpotPriceHistory", region)
    on_demand = _call(lambda: on_demand_prices(pricing_client, names, region), "pricing:GetProducts", region)
    live = {
        name: LivePrice(on_demand_usd_per_hour=on_demand.get(name), spot_usd_per_hour=spot.get(name)) for name in names
    }
    return PriceBook(region=region, live=live, is_live=True)


def _session() -> Any:
    from inferctl.aws_sdk import boto3_session, setup_error

    session = boto3_session(None, purpose="--live-prices")  # names the install command when boto3 is missing
    from botocore.exceptions import BotoCoreError

    try:
        credentials = session.get_credentials()
    except BotoCoreError as exc:  # e.g. an expired SSO session, a failing credential_process
        raise setup_error(exc) from None
    if credentials is None:
        raise UserError(
            "--live-prices needs AWS credentials: run 'aws configure' or export AWS_PROFILE, "
            "or drop --live-prices to use the us-east-1 price snapshot"
        )
    return session


def _call(fetch: Any, action: str, region: str) -> dict[str, float]:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

    try:
        result: dict[str, float] = fetch()
    except (NoCredentialsError, PartialCredentialsError):
        raise UserError(
            "--live-prices needs AWS credentials: run 'aws configure' or export AWS_PROFILE, "
            "or drop --live-prices to use the us-east-1 price snapshot"
        ) from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "Unknown")
        if code in _DENIED_CODES:
            raise UserError(
                f"AWS refused {action} ({code}): allow it for your identity, or drop --live-prices"
            ) from None
        raise OperationError(f"{action} failed in {region} ({code}); retry, or drop --live-prices") from None
    except BotoCoreError as exc:
        raise OperationError(f"could not reach AWS for {action} ({exc}); retry, or drop --live-prices") from None
    return result


def spot_prices(ec2_client: Any, instance_types: list[str]) -> dict[str, float]:
    """Current Linux spot price per instance type: the median of the latest price in each availability zone."""
    if not instance_types:
        return {}
    latest: dict[tuple[str, str], tuple[dt.datetime, float]] = {}
    paginator = ec2_client.get_paginator("describe_spot_price_history")
    pages = paginator.paginate(
        InstanceTypes=instance_types,
        ProductDescriptions=["Linux/UNIX"],
        StartTime=dt.datetime.now(dt.UTC),
    )
    for page in pages:
        for item in page.get("SpotPriceHistory", []):
            key = (item["InstanceType"], item["AvailabilityZone"])
            stamp = item["Timestamp"]
            if key not in latest or stamp > latest[key][0]:
                latest[key] = (stamp, float(item["SpotPrice"]))
    per_type: dict[str, list[float]] = {}
    for (name, _zone), (_stamp, price) in latest.items():
        per_type.setdefault(name, []).append(price)
    return {name: round(statistics.median(prices), 5) for name, prices in per_type.items()}


def on_demand_prices(pricing_client: Any, instance_types: list[str], region: str) -> dict[str, float]:
    """On-demand Linux, shared-tenancy price per instance type in ``region`` from the Price List API."""
    out: dict[str, float] = {}
    for name in instance_types:
        response = pricing_client.get_products(
            ServiceCode="AmazonEC2",
            Filters=[
                {"Type": "TERM_MATCH", "Field": "instanceType", "Value": name},
                {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
                {"Type": "TERM_MATCH", "Field": "operatingSystem", "Value": "Linux"},
                {"Type": "TERM_MATCH", "Field": "tenancy", "Value": "Shared"},
                {"Type": "TERM_MATCH", "Field": "preInstalledSw", "Value": "NA"},
                {"Type": "TERM_MATCH", "Field": "capacitystatus", "Value": "Used"},
            ],
            MaxResults=10,
        )
        for document in response.get("PriceList", []):
            price = _on_demand_usd(json.loads(document) if isinstance(document, str) else document)
            if price is not None:
                out[name] = price
                break
    return out


def _on_demand_usd(product: Mapping[str, Any]) -> float | None:
    for term in product.get("terms", {}).get("OnDemand", {}).values():
        for dimension in term.get("priceDimensions", {}).values():
            usd = dimension.get("pricePerUnit", {}).get("USD")
            if usd is not None and float(usd) > 0:
                return float(usd)
    return None
