"""AWS list prices, us-east-1 on-demand, for what the platform runs besides EC2 instances: the always-on parts
``plan`` adds to the idle cost, and the VPC egress trade-off docs/guides/aws.md weighs. Facts copied from AWS's
pricing pages (US East, N. Virginia; other regions differ: ``plan`` says so):

* EKS: $0.10 per cluster-hour on standard support (https://aws.amazon.com/eks/pricing/).
* NAT gateway: $0.045 per NAT gateway-hour and $0.045 per GB processed (https://aws.amazon.com/vpc/pricing/, its
  US East pricing example); its Elastic IP is a public IPv4 address at $0.005 per hour (same page, "Public IPv4
  Address": every public IPv4 address, in use or not, since 2024-02-01).
* Network Load Balancer: $0.0225 per hour and $0.006 per NLCU-hour
  (https://aws.amazon.com/elasticloadbalancing/pricing/). An internal NLB has no public IPv4 address.
* EBS gp3: $0.08 per GB-month, $0.005 per provisioned IOPS-month over 3,000, $0.04 per provisioned MB/s-month
  over 125 (https://aws.amazon.com/ebs/pricing/).
* Interface VPC endpoints (PrivateLink): $0.01 per endpoint per Availability Zone-hour, $0.01 per GB processed for
  the first PB a month (https://aws.amazon.com/privatelink/pricing/). Gateway endpoints (S3, DynamoDB) "come at no
  additional charge" (AWS Prescriptive Guidance, startup security baseline WKLD.12,
  https://docs.aws.amazon.com/prescriptive-guidance/latest/aws-startup-security-baseline/wkld-12.html).

The stored copies of these pages render their rate tables dynamically; the figures are AWS's published us-east-1
rates as of the catalog snapshot. ``HOURS_PER_MONTH`` is AWS's own 730-hour month.
"""

from __future__ import annotations

HOURS_PER_MONTH = 730
PRICES_REGION = "us-east-1"

EKS_CONTROL_PLANE_USD_PER_HOUR = 0.10
NAT_GATEWAY_USD_PER_HOUR = 0.045
NAT_GATEWAY_USD_PER_GB = 0.045
PUBLIC_IPV4_USD_PER_HOUR = 0.005
NLB_USD_PER_HOUR = 0.0225
NLCU_USD_PER_HOUR = 0.006
GP3_USD_PER_GB_MONTH = 0.08
GP3_USD_PER_IOPS_MONTH = 0.005
GP3_USD_PER_MIBS_MONTH = 0.04
GP3_FREE_IOPS = 3000
GP3_FREE_MIBS = 125
INTERFACE_ENDPOINT_USD_PER_AZ_HOUR = 0.01
INTERFACE_ENDPOINT_USD_PER_GB = 0.01
GATEWAY_ENDPOINT_USD_PER_HOUR = 0.0


def gp3_usd_per_hour(size_gib: int, *, iops: int = GP3_FREE_IOPS, throughput_mibs: int = GP3_FREE_MIBS) -> float:
    """One gp3 volume's hourly cost: storage plus the IOPS and throughput provisioned above the free baseline."""
    month = (
        size_gib * GP3_USD_PER_GB_MONTH
        + max(0, iops - GP3_FREE_IOPS) * GP3_USD_PER_IOPS_MONTH
        + max(0, throughput_mibs - GP3_FREE_MIBS) * GP3_USD_PER_MIBS_MONTH
    )
    return month / HOURS_PER_MONTH


def nat_gateway_usd_per_hour() -> float:
    """One NAT gateway with its Elastic IP, idle (no GB processed)."""
    return NAT_GATEWAY_USD_PER_HOUR + PUBLIC_IPV4_USD_PER_HOUR


def interface_endpoints_usd_per_hour(endpoints: int, zones: int) -> float:
    return endpoints * zones * INTERFACE_ENDPOINT_USD_PER_AZ_HOUR
