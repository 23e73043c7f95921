"""Prices: the snapshot (us-east-1, estimated spot) and live AWS prices through boto3.

The AWS seam is faked with botocore's Stubber on real boto3 clients (no AWS account is reachable here): the
stubs answer DescribeSpotPriceHistory and pricing GetProducts with documents shaped like AWS's, and the tests check
what inferctl makes of them, and of missing credentials and refusals.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from inferctl.catalog import PriceBook, fetch_price_book, get_instance, instances_in_families
from inferctl.config.models import ModelDeployment, PlatformConfig
from inferctl.errors import UserError
from inferctl.sizing import place_model
from tests.support.sizing import LLAMA_3_8B_INSTRUCT, fixture_profile

REGION = "eu-west-1"


def _client(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing")


def _spot(name: str, zone: str, price: str, minutes_ago: int) -> dict[str, Any]:
    stamp = dt.datetime(2026, 7, 20, 12, 0, tzinfo=dt.UTC) - dt.timedelta(minutes=minutes_ago)
    return {
        "InstanceType": name,
        "AvailabilityZone": zone,
        "ProductDescription": "Linux/UNIX",
        "SpotPrice": price,
        "Timestamp": stamp,
    }


def _product(usd: str) -> str:
    return json.dumps(
        {
            "product": {"attributes": {"instanceType": "g5.xlarge", "regionCode": REGION}},
            "terms": {
                "OnDemand": {
                    "ABC.JRTCKXETXF": {
                        "priceDimensions": {"ABC.JRTCKXETXF.6YS6EN2CT7": {"unit": "Hrs", "pricePerUnit": {"USD": usd}}}
                    }
                }
            },
        }
    )


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Any, Stubber, Stubber]]:
    ec2, pricing = _client("ec2", REGION), _client("pricing", "us-east-1")
    with Stubber(ec2) as ec2_stub, Stubber(pricing) as pricing_stub:
        yield ec2, pricing, ec2_stub, pricing_stub


def test_live_prices_take_the_median_zone_and_the_region_price(
    stubbed: tuple[Any, Any, Stubber, Stubber],
) -> None:
    ec2, pricing, ec2_stub, pricing_stub = stubbed
    expected = {"InstanceTypes": ["g5.xlarge"], "ProductDescriptions": ["Linux/UNIX"], "StartTime": ANY}
    # Two pages; zone a has an older and a newer price: the newer (0.50) counts. Zones: 0.50, 0.40, 0.45 -> 0.45.
    ec2_stub.add_response(
        "describe_spot_price_history",
        {
            "SpotPriceHistory": [
                _spot("g5.xlarge", "eu-west-1a", "0.90", 30),
                _spot("g5.xlarge", "eu-west-1a", "0.50", 1),
            ],
            "NextToken": "page-2",
        },
        expected,
    )
    ec2_stub.add_response(
        "describe_spot_price_history",
        {
            "SpotPriceHistory": [
                _spot("g5.xlarge", "eu-west-1b", "0.40", 2),
                _spot("g5.xlarge", "eu-west-1c", "0.45", 2),
            ]
        },
        {**expected, "NextToken": "page-2"},
    )
    pricing_stub.add_response(
        "get_products",
        {"PriceList": [_product("1.2070000000")], "FormatVersion": "aws_v1"},
        {"ServiceCode": "AmazonEC2", "Filters": ANY, "MaxResults": 10},
    )
    book = fetch_price_book(["g5.xlarge"], REGION, ec2_client=ec2, pricing_client=pricing)
    price = book.price(get_instance("g5.xlarge"))
    assert price is not None
    assert (price.on_demand_usd_per_hour, price.spot_usd_per_hour) == (1.207, 0.45)
    assert not price.spot_is_estimate and price.region == REGION
    assert "live" in book.describe() and REGION in book.describe()
    ec2_stub.assert_no_pending_responses()
    pricing_stub.assert_no_pending_responses()


def test_placement_carries_live_prices(stubbed: tuple[Any, Any, Stubber, Stubber]) -> None:
    ec2, pricing, ec2_stub, pricing_stub = stubbed
    ec2_stub.add_response(
        "describe_spot_price_history", {"SpotPriceHistory": [_spot("g5.xlarge", "eu-west-1a", "0.41", 1)]}, None
    )
    for _ in range(8):  # one GetProducts per g5 size; only g5.xlarge is priced in this region
        pricing_stub.add_response("get_products", {"PriceList": [], "FormatVersion": "aws_v1"}, None)
    names = sorted(inst.name for inst in instances_in_families(["g5"]))
    book = fetch_price_book(names, REGION, ec2_client=ec2, pricing_client=pricing)
    config = PlatformConfig(target="aws", aws={"region": REGION})
    placement = place_model(
        config, ModelDeployment(name="llama"), profile=fixture_profile(LLAMA_3_8B_INSTRUCT), prices=book
    )
    assert placement.instance_type == "g5.xlarge"
    # Live spot, but the pricing API had no eu-west-1 on-demand price: the snapshot's, marked us-east-1.
    assert placement.spot_usd_per_hour == 0.41 and not placement.spot_is_estimate
    assert placement.on_demand_usd_per_hour == pytest.approx(1.006) and placement.price_region == "us-east-1"


def test_without_a_live_spot_price_the_estimate_follows_the_regions_on_demand_price(
    stubbed: tuple[Any, Any, Stubber, Stubber],
) -> None:
    # eu-west-1 on-demand 1.207 (live), no spot history: spot is estimated from 1.207 (60% off: 0.4828), not from
    # the us-east-1 snapshot's 1.006 (0.4024), so the two columns describe the same region.
    ec2, pricing, ec2_stub, pricing_stub = stubbed
    ec2_stub.add_response("describe_spot_price_history", {"SpotPriceHistory": []}, None)
    pricing_stub.add_response("get_products", {"PriceList": [_product("1.2070000000")], "FormatVersion": "aws_v1"})
    book = fetch_price_book(["g5.xlarge"], REGION, ec2_client=ec2, pricing_client=pricing)
    price = book.price(get_instance("g5.xlarge"))
    assert price is not None and price.region == REGION and price.spot_is_estimate
    assert (price.on_demand_usd_per_hour, price.spot_usd_per_hour) == (1.207, pytest.approx(0.4828))


def test_refused_permission_is_one_line_user_error(stubbed: tuple[Any, Any, Stubber, Stubber]) -> None:
    ec2, pricing, ec2_stub, _ = stubbed
    ec2_stub.add_client_error(
        "describe_spot_price_history", service_error_code="UnauthorizedOperation", http_status_code=403
    )
    with pytest.raises(UserError) as caught:
        fetch_price_book(["g5.xlarge"], REGION, ec2_client=ec2, pricing_client=pricing)
    assert caught.value.exit_code == 2
    assert "ec2:DescribeSpotPriceHistory" in caught.value.message and "\n" not in caught.value.message


def test_no_credentials_is_one_line_exit_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(UserError) as caught:
        fetch_price_book(["g5.xlarge"], REGION)
    assert caught.value.exit_code == 2
    assert "credentials" in caught.value.message and "--live-prices" in caught.value.message


def test_snapshot_outside_us_east_1_says_so() -> None:
    book = PriceBook.snapshot("eu-west-1")
    price = book.price(get_instance("g5.xlarge"))
    assert price is not None and price.region == "us-east-1" and price.spot_is_estimate
    assert "us-east-1" in book.describe() and "eu-west-1" in book.describe()
    assert PriceBook.snapshot().price(get_instance("p5e.48xlarge")) is None  # the table has no price
