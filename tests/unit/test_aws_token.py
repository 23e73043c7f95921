"""The EKS token, minted offline with fixed fake credentials and checked the way STS would check it.

The signature is recomputed here from the SigV4 rules, so the test proves the ``x-k8s-aws-id`` header (the
cluster name) is part of what was signed, not just that the URL looks right.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from inferctl.aws.kubeconfig import EXEC_API_VERSION, context_name, exec_kubeconfig
from inferctl.aws.token import TOKEN_PREFIX, eks_token, exec_credential
from inferctl.cli import aws_cmd
from inferctl.errors import ConfigError
from tests.support.aws import fake_session, isolated_aws

__all__ = ["isolated_aws"]

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # the fake secret of tests.support.aws.fake_session


def decode(token: str) -> urllib.parse.SplitResult:
    assert token.startswith(TOKEN_PREFIX)
    body = token[len(TOKEN_PREFIX) :]
    assert "=" not in body and "+" not in body and "/" not in body  # base64url, no padding
    return urllib.parse.urlsplit(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode())


def sigv4_signature(url: urllib.parse.SplitResult, cluster: str, region: str) -> str:
    """SigV4 query signing of a GET to STS, with the headers the URL says were signed."""
    query = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
    unsigned = sorted((k, v) for k, v in query if k != "X-Amz-Signature")
    canonical_query = "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}" for k, v in unsigned
    )
    headers = {"host": url.netloc, "x-k8s-aws-id": cluster}
    params = dict(query)
    signed = params["X-Amz-SignedHeaders"].split(";")
    canonical_headers = "".join(f"{h}:{headers[h]}\n" for h in signed)
    payload = hashlib.sha256(b"").hexdigest()
    canonical = "\n".join(["GET", url.path or "/", canonical_query, canonical_headers, ";".join(signed), payload])
    date = params["X-Amz-Date"]
    scope = f"{date[:8]}/{region}/sts/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + SECRET).encode()
    for part in (date[:8], region, "sts", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def test_the_token_is_a_presigned_sts_url_that_signs_the_cluster_name() -> None:
    token = eks_token("workshop", "eu-west-1", session=fake_session())
    url = decode(token)
    params = dict(urllib.parse.parse_qsl(url.query))
    assert url.scheme == "https" and url.netloc == "sts.eu-west-1.amazonaws.com"
    assert params["Action"] == "GetCallerIdentity" and params["Version"] == "2011-06-15"
    assert params["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert params["X-Amz-Credential"].startswith("AKIDEXAMPLE/")
    assert params["X-Amz-Expires"] == "60"
    assert params["X-Amz-SignedHeaders"] == "host;x-k8s-aws-id"
    assert params["X-Amz-Signature"] == sigv4_signature(url, "workshop", "eu-west-1")
    assert params["X-Amz-Signature"] != sigv4_signature(url, "another-cluster", "eu-west-1")


def test_the_exec_credential_expires_before_eks_stops_honouring_the_token() -> None:
    now = dt.datetime(2026, 7, 20, 12, 0, tzinfo=dt.UTC)
    credential = exec_credential("workshop", "us-east-1", session=fake_session(), now=now)
    assert credential["kind"] == "ExecCredential"
    assert credential["apiVersion"] == EXEC_API_VERSION == "client.authentication.k8s.io/v1beta1"
    assert credential["status"]["expirationTimestamp"] == "2026-07-20T12:14:00Z"
    decode(credential["status"]["token"])


def test_no_credentials_is_a_one_line_config_error(isolated_aws: None) -> None:
    with pytest.raises(ConfigError, match="no AWS credentials found; run 'aws configure'"):
        eks_token("workshop", "us-east-1", session=fake_session(credentials=False))


def test_the_kubeconfig_calls_inferctl_for_its_token_so_no_aws_cli_is_needed() -> None:
    config = exec_kubeconfig("workshop", "us-east-1", "https://ABC.gr7.us-east-1.eks.amazonaws.com", "Q0E=")
    name = context_name("workshop", "us-east-1")
    assert config["current-context"] == name
    assert config["clusters"][0]["cluster"] == {
        "server": "https://ABC.gr7.us-east-1.eks.amazonaws.com",
        "certificate-authority-data": "Q0E=",
    }
    plugin = config["users"][0]["user"]["exec"]
    assert plugin["apiVersion"] == EXEC_API_VERSION
    assert plugin["command"] == sys.executable
    assert plugin["args"] == [
        "-P",
        "-m",
        "inferctl",
        "aws",
        "token",
        "--cluster",
        "workshop",
        "--region",
        "us-east-1",
    ]


def test_the_token_command_prints_only_the_exec_credential(isolated_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    app = typer.Typer()
    aws_cmd.register(app)
    result = CliRunner().invoke(app, ["aws", "token", "--cluster", "workshop", "--region", "us-east-1"])
    assert result.exit_code == 0, result.output
    credential = json.loads(result.stdout)
    url = decode(credential["status"]["token"])
    assert url.netloc == "sts.us-east-1.amazonaws.com"


def test_the_kubeconfigs_command_runs_inferctl_from_any_directory(
    isolated_aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What kubectl does: run the exec command, from wherever it is, and read an ExecCredential on stdout."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    (tmp_path / "inferctl.py").write_text("raise SystemExit('a stray module ran')\n", encoding="utf-8")
    plugin = exec_kubeconfig("workshop", "eu-west-1", "https://x", "Q0E=")["users"][0]["user"]["exec"]
    done = subprocess.run(
        [plugin["command"], *plugin["args"]], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    credential = json.loads(done.stdout)
    assert credential["kind"] == "ExecCredential"
    assert decode(credential["status"]["token"]).netloc == "sts.eu-west-1.amazonaws.com"
