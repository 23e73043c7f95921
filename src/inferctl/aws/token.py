"""The EKS bearer token: a presigned STS GetCallerIdentity URL that names the cluster.

The API server's authenticator replays the URL to STS and maps the returned identity through the cluster's
access entries. The ``x-k8s-aws-id`` header is part of the signature, so a token minted for one cluster is
refused by another. Format: ``k8s-aws-v1.`` + base64url(URL) without padding. Only botocore is imported (this
runs before every kubectl session, so it starts fast).
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from inferctl.aws.kubeconfig import EXEC_API_VERSION
from inferctl.aws_sdk import NO_CREDENTIALS, setup_error
from inferctl.errors import ConfigError

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_ID_HEADER = "x-k8s-aws-id"
PRESIGN_EXPIRES_S = 60  # the URL's own lifetime as the authenticator expects it
TOKEN_LIFETIME_S = 14 * 60  # EKS honours a token for 15 minutes; clients refresh one minute early


def sts_endpoint(region: str) -> str:
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://sts.{region}.{suffix}"


def eks_token(cluster_name: str, region: str, *, session: Any = None) -> str:
    """Mint a token for ``cluster_name``. ``session``: a botocore Session (default: the standard chain)."""
    import botocore.session
    from botocore.exceptions import BotoCoreError, NoCredentialsError, PartialCredentialsError

    def add_cluster_header(request: Any, **_: Any) -> None:
        request.headers[CLUSTER_ID_HEADER] = cluster_name

    try:
        session = session or botocore.session.get_session()
        sts = session.create_client("sts", region_name=region, endpoint_url=sts_endpoint(region))
        sts.meta.events.register("before-sign.sts.GetCallerIdentity", add_cluster_header)
        url = sts.generate_presigned_url(
            "get_caller_identity", Params={}, ExpiresIn=PRESIGN_EXPIRES_S, HttpMethod="GET"
        )
    except (NoCredentialsError, PartialCredentialsError):
        raise ConfigError(NO_CREDENTIALS) from None
    except BotoCoreError as exc:  # AWS_PROFILE names no profile, an expired SSO session, ...
        raise setup_error(exc) from None
    encoded = base64.urlsafe_b64encode(url.encode("utf-8")).decode("ascii").rstrip("=")
    return TOKEN_PREFIX + encoded


def exec_credential(
    cluster_name: str, region: str, *, session: Any = None, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The ExecCredential a kubeconfig ``exec`` plugin prints on stdout."""
    now = now or dt.datetime.now(dt.UTC)
    expires = (now + dt.timedelta(seconds=TOKEN_LIFETIME_S)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "kind": "ExecCredential",
        "apiVersion": EXEC_API_VERSION,
        "spec": {},
        "status": {"expirationTimestamp": expires, "token": eks_token(cluster_name, region, session=session)},
    }
