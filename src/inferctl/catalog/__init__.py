"""The catalog: EC2 instance types with prices (packaged snapshot, live refresh) and model profiles.

Instance data: Karpenter's generated price table (2026-07-20, us-east-1 on-demand), packaged as
``data/instances.csv``. Model profiles come from a model's ``config.json`` (local, hub, or a packaged snapshot).
"""

from inferctl.catalog.instances import (
    SNAPSHOT_DATE,
    SNAPSHOT_REGION,
    SNAPSHOT_SOURCE,
    SPOT_ASSUMPTION,
    InstanceType,
    all_instances,
    get_instance,
    gpu_families,
    instances_in_families,
    spot_estimate_usd_per_hour,
)
from inferctl.catalog.prices import Price, PriceBook, fetch_price_book
from inferctl.catalog.profile import ModelProfile, WeightsMetadata, profile_from_config
from inferctl.catalog.sources import load_profile

__all__ = [
    "SNAPSHOT_DATE",
    "SNAPSHOT_REGION",
    "SNAPSHOT_SOURCE",
    "SPOT_ASSUMPTION",
    "InstanceType",
    "ModelProfile",
    "Price",
    "PriceBook",
    "WeightsMetadata",
    "all_instances",
    "fetch_price_book",
    "get_instance",
    "gpu_families",
    "instances_in_families",
    "load_profile",
    "profile_from_config",
    "spot_estimate_usd_per_hour",
]
