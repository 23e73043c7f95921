"""vLLM's compile cache in the S3 model cache: the key, the renders (init container, compile Job) and the script.

The script's S3 side runs against moto's S3 server on loopback (AWS cannot be reached here); its server side
against a real HTTP server process. The real vLLM round trip is tests/e2e/test_compile_cache_e2e.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from inferctl.cache.compile_cache import (
    compile_cache_prefix,
    fetch_main,
    fetch_tree,
    publish_tree,
    run_until_ready,
)
from inferctl.cache.location import compile_cache_key, compile_cache_location
from inferctl.cache.mirror import MANIFEST_NAME, object_sizes, read_manifest
from inferctl.engine import API_KEY_ENV
from inferctl.kube_names import ANNOTATION_CACHE_URI, APP_COMPONENT
from inferctl.render import render_platform
from inferctl.render.compile_cache import GPU_NAME_LABEL
from inferctl.render.meta import selector_labels
from inferctl.render.model_cache import (
    COMPILE_COMPONENT,
    COMPILE_SCRIPT_KEY,
    COMPILE_SERVICE_ACCOUNT,
    MIRROR_SCRIPT_KEY,
    MODEL_SERVICE_ACCOUNT,
)
from tests.support.render import LLAMA3_8B, LLAMA3_8B_REVISION, by_kind, g5_xlarge_placement, one, workshop_config
from tests.support.s3 import FAKE_CREDENTIALS, REGION, LoopbackS3, loopback_s3, needs_moto
from tests.support.scripts import run_script, write_scripts

__all__ = ["loopback_s3"]

MODEL = {"name": "llama-3-8b-instruct", "source": LLAMA3_8B, "revision": LLAMA3_8B_REVISION}


def _config(**changes: Any) -> Any:
    data: dict[str, Any] = {"models": [dict(MODEL)], "cache": {"enabled": True, "bucket": "team-cache"}}
    data.update(changes)
    return workshop_config(**data)


def _objects(config: Any) -> list[dict[str, Any]]:
    return render_platform(config, {m.name: g5_xlarge_placement(m.name) for m in config.models})


def _env(container: dict[str, Any]) -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in container["env"]}


# --- the key and the location ---------------------------------------------------------------------------------


def test_the_prefix_sits_beside_the_weights_one_folder_per_configuration() -> None:
    config = _config()
    placement = g5_xlarge_placement(MODEL["name"])
    location = compile_cache_location(config, config.models[0], placement)
    assert location is not None
    key = compile_cache_key(config, config.models[0], placement)
    assert location.uri == f"s3://team-cache/compile-cache/{LLAMA3_8B}/{LLAMA3_8B_REVISION}/{key}/"
    assert compile_cache_key(config, config.models[0], placement) == key  # stable
    # Another image, engine setting or GPU model is another folder.
    other_image = _config(kubernetes={"image": "vllm/vllm-openai:v0.31.0"})
    assert compile_cache_key(other_image, other_image.models[0], placement) != key
    longer = _config(models=[{**MODEL, "engine": {"max_model_len": 4096}}])
    assert compile_cache_key(longer, longer.models[0], placement) != key
    l4 = g5_xlarge_placement(MODEL["name"], gpu_name="L4")
    assert compile_cache_key(config, config.models[0], l4) != key
    with pytest.raises(ValueError):
        compile_cache_prefix("org/../x", "r", "k")


@pytest.mark.parametrize(
    "changes",
    [
        {"models": [{**MODEL, "engine": {"enforce_eager": True}}]},  # nothing compiled
        {"cache": {"enabled": True, "bucket": "team-cache", "compile_cache": False}},  # switched off
        {"target": "kubernetes"},  # no Karpenter pool: no GPU-model label to hold the pods to
        {"cache": {"enabled": False}},  # weights not in S3
    ],
)
def test_no_compile_cache_where_it_cannot_or_should_not_apply(changes: dict[str, Any]) -> None:
    config = _config(**changes)
    objects = _objects(config)
    assert compile_cache_location(config, config.models[0], g5_xlarge_placement(MODEL["name"])) is None
    assert not [j for j in by_kind(objects, "Job") if "-compile-" in j["metadata"]["name"]]
    pod = one(objects, "Deployment", MODEL["name"])["spec"]["template"]["spec"]
    assert "initContainers" not in pod and "VLLM_CACHE_ROOT" not in _env(pod["containers"][0])


# --- the renders -------------------------------------------------------------------------------------------------


def test_model_pods_fetch_the_cache_read_only_and_stay_on_its_gpu_model() -> None:
    objects = _objects(_config())
    pod = one(objects, "Deployment", MODEL["name"])["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    assert init["command"][-1] == "fetch" and init["command"][1].endswith("/" + COMPILE_SCRIPT_KEY)
    assert init["image"] == pod["containers"][0]["image"]
    assert init["resources"]["requests"] == init["resources"]["limits"]  # the pod stays Guaranteed
    assert init["securityContext"]["readOnlyRootFilesystem"] is True
    init_env, server_env = _env(init), _env(pod["containers"][0])
    assert init_env["VLLM_CACHE_ROOT"] == server_env["VLLM_CACHE_ROOT"] == "/home/vllm/.cache/vllm"
    assert server_env["TRITON_CACHE_DIR"].startswith(server_env["VLLM_CACHE_ROOT"] + "/")
    assert init_env["COMPILE_CACHE_PREFIX"].startswith(f"compile-cache/{LLAMA3_8B}/")
    assert {m["mountPath"] for m in init["volumeMounts"]} >= {"/home/vllm", "/opt/inferctl"}
    assert pod["serviceAccountName"] == MODEL_SERVICE_ACCOUNT  # the read-only role
    (term,) = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert {"key": GPU_NAME_LABEL, "operator": "In", "values": ["a10g"]} in term["matchExpressions"]
    script = one(objects, "ConfigMap", "inferctl-model-mirror")["data"]
    assert set(script) == {MIRROR_SCRIPT_KEY, COMPILE_SCRIPT_KEY}  # the compile script imports mirror.py
    assert "def fetch_main" in script[COMPILE_SCRIPT_KEY]


def test_the_compile_job_is_the_deployments_pod_serving_no_one() -> None:
    config = _config()
    objects = _objects(config)
    deployment = one(objects, "Deployment", MODEL["name"])
    (job,) = [j for j in by_kind(objects, "Job") if "-compile-" in j["metadata"]["name"]]
    served = deployment["spec"]["template"]["spec"]
    pod = job["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == COMPILE_SERVICE_ACCOUNT and pod["restartPolicy"] == "Never"
    assert "initContainers" not in pod
    assert pod["affinity"] == served["affinity"] and pod["tolerations"] == served["tolerations"]
    server, original = pod["containers"][0], served["containers"][0]
    assert server["command"][-4:] == ["publish", "--", "vllm", "serve"]
    assert server["image"] == original["image"] and server["resources"] == original["resources"]
    host = server["args"].index("--host")
    assert server["args"][host + 1] == "127.0.0.1"  # loopback only
    assert server["args"][:host] + server["args"][host + 2 :] == original["args"][:host] + original["args"][host + 2 :]
    assert not {"startupProbe", "readinessProbe", "livenessProbe", "lifecycle", "ports"} & set(server)
    # No hub token: the weights come from S3.
    assert "hf-token" in {v["name"] for v in served["volumes"]}
    assert "hf-token" not in {v["name"] for v in pod["volumes"]} | {m["name"] for m in server["volumeMounts"]}
    job_env, served_env = _env(server), _env(original)
    assert API_KEY_ENV not in job_env and API_KEY_ENV in served_env
    # The same environment as the server (vLLM hashes its variables into the cache key), plus the script's.
    assert all(job_env[k] == v for k, v in served_env.items() if k != API_KEY_ENV)
    assert job_env["HEALTH_URL"] == "http://127.0.0.1:8000/health"
    # Its pod is no model server: the Deployment's selector does not match it.
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert not set(selector_labels(config, config.models[0]).items()) <= set(labels.items())
    assert labels[APP_COMPONENT] == COMPILE_COMPONENT
    prefix = _env(served["initContainers"][0])["COMPILE_CACHE_PREFIX"]
    assert job["metadata"]["annotations"][ANNOTATION_CACHE_URI] == f"s3://team-cache/{prefix}"
    assert job_env["COMPILE_CACHE_PREFIX"] == prefix  # the Job writes where the pods read
    policies = [p for p in by_kind(objects, "NetworkPolicy") if p["metadata"]["name"] == COMPILE_SERVICE_ACCOUNT]
    (policy,) = policies
    assert policy["spec"]["podSelector"]["matchLabels"][APP_COMPONENT] == COMPILE_COMPONENT
    assert policy["spec"]["policyTypes"] == ["Ingress"] and "ingress" not in policy["spec"]
    accounts = {sa["metadata"]["name"] for sa in by_kind(objects, "ServiceAccount")}
    assert COMPILE_SERVICE_ACCOUNT in accounts


# --- the script against S3 (moto) ----------------------------------------------------------------------------------


def _cache_tree(root: Path) -> dict[str, bytes]:
    files = {
        "torch_compile_cache/torch_aot_compile/abc/rank_0_0/model": b"\x00compiled" * 100,
        "torch_compile_cache/torch_aot_compile/abc/inductor_cache/xy/kernel.py": b"def kernel(): pass\n",
        "torch_compile_cache/abc/rank_0_0/backbone/cache_key_factors.json": b"{}",
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "torch_compile_cache/abc/rank_0_0/backbone/.write.lock").write_bytes(b"")
    (root / "torch_compile_cache/x.lock").write_bytes(b"")
    return files


@needs_moto
def test_publish_then_fetch_round_trip(loopback_s3: LoopbackS3, tmp_path: Path) -> None:
    s3 = loopback_s3.client()
    files = _cache_tree(tmp_path / "vllm")
    prefix = compile_cache_prefix("org/model", "rev1", "k1")
    result = publish_tree(s3, tmp_path / "vllm", bucket=loopback_s3.bucket, prefix=prefix)
    assert sorted(result.uploaded) == sorted(files)  # lock files stay behind
    manifest = read_manifest(s3, loopback_s3.bucket, prefix)
    assert manifest is not None and (manifest["model"], manifest["revision"]) == ("org/model", "rev1")
    dest = tmp_path / "fresh" / ".cache" / "vllm"
    assert fetch_tree(s3, bucket=loopback_s3.bucket, prefix=prefix, dest=dest) == sum(map(len, files.values()))
    assert {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()} == files
    assert not dest.with_name("vllm.fetching").exists()
    assert fetch_tree(s3, bucket=loopback_s3.bucket, prefix="compile-cache/none/", dest=tmp_path / "x") is None


@needs_moto
def test_a_tampered_file_is_refused_and_nothing_lands(loopback_s3: LoopbackS3, tmp_path: Path) -> None:
    s3 = loopback_s3.client()
    _cache_tree(tmp_path / "vllm")
    prefix = compile_cache_prefix("org/model", "rev1", "k2")
    publish_tree(s3, tmp_path / "vllm", bucket=loopback_s3.bucket, prefix=prefix)
    key = prefix + "torch_compile_cache/torch_aot_compile/abc/inductor_cache/xy/kernel.py"
    s3.put_object(Bucket=loopback_s3.bucket, Key=key, Body=b"import os; os.system('evil')\n")
    dest = tmp_path / "fresh"
    with pytest.raises(ValueError, match="does not match"):
        fetch_tree(s3, bucket=loopback_s3.bucket, prefix=prefix, dest=dest)
    assert not dest.exists()


@needs_moto
def test_an_unsafe_manifest_path_is_refused(loopback_s3: LoopbackS3, tmp_path: Path) -> None:
    s3 = loopback_s3.client()
    prefix = compile_cache_prefix("org/model", "rev1", "k3")
    entry = {"path": "../../evil", "size": 1, "sha256": "x"}
    body = json.dumps({"format": 1, "model": "m", "revision": "r", "total_bytes": 1, "files": [entry]}).encode()
    s3.put_object(Bucket=loopback_s3.bucket, Key=prefix + MANIFEST_NAME, Body=body)
    with pytest.raises(ValueError, match="unsafe path"):
        fetch_tree(s3, bucket=loopback_s3.bucket, prefix=prefix, dest=tmp_path / "d")


@needs_moto
def test_fetch_never_fails_the_pod(
    loopback_s3: LoopbackS3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in {
        **FAKE_CREDENTIALS,
        "AWS_ENDPOINT_URL": loopback_s3.endpoint,
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("VLLM_CACHE_ROOT", str(tmp_path / "vllm"))
    monkeypatch.setenv("COMPILE_CACHE_PREFIX", "compile-cache/org/model/r/k/")
    monkeypatch.setenv("CACHE_BUCKET", loopback_s3.bucket)
    assert fetch_main() == 0
    assert "none at s3://" in capsys.readouterr().out
    monkeypatch.setenv("CACHE_BUCKET", "no-such-bucket")
    assert fetch_main() == 0
    assert "not used (" in capsys.readouterr().out
    assert object_sizes(loopback_s3.client(), loopback_s3.bucket, "compile-cache/") == {}


@needs_moto
def test_the_rendered_script_fetches_without_inferctl_installed(loopback_s3: LoopbackS3, tmp_path: Path) -> None:
    """In the vLLM image there is no inferctl: compile_cache.py must work beside mirror.py alone."""
    files = _cache_tree(tmp_path / "built")
    prefix = compile_cache_prefix("org/model", "rev1", "k4")
    publish_tree(loopback_s3.client(), tmp_path / "built", bucket=loopback_s3.bucket, prefix=prefix)
    scripts = write_scripts(tmp_path / "opt-inferctl")
    root = tmp_path / "pod-home" / ".cache" / "vllm"
    env = {**os.environ, **loopback_s3.env(), "CACHE_BUCKET": loopback_s3.bucket, "COMPILE_CACHE_PREFIX": prefix,
           "VLLM_CACHE_ROOT": str(root)}  # fmt: skip
    done = run_script(scripts, COMPILE_SCRIPT_KEY, "fetch", env=env, log=tmp_path / "fetch.log")
    assert done.returncode == 0 and "compile cache: fetched" in (tmp_path / "fetch.log").read_text()
    assert {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()} == files
    usage = run_script(scripts, COMPILE_SCRIPT_KEY, "nonsense", env=env, log=tmp_path / "usage.log")
    assert usage.returncode == 2 and "usage:" in (tmp_path / "usage.log").read_text()


# --- the script against a real server process --------------------------------------------------------------------

_SERVER = """
import http.server, sys, time
time.sleep(float(sys.argv[2]))
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def _port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_run_until_ready_waits_for_health_then_stops_the_server() -> None:
    port = _port()
    argv = [sys.executable, "-c", _SERVER, str(port), "0.5"]
    seconds = run_until_ready(argv, f"http://127.0.0.1:{port}/health", timeout_s=60, poll_s=0.2)
    assert seconds >= 0.5
    import urllib.request

    with pytest.raises(OSError):  # stopped: nothing answers any more
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)


def test_a_server_that_dies_before_ready_fails_the_job() -> None:
    with pytest.raises(RuntimeError, match="exited with code 3"):
        run_until_ready([sys.executable, "-c", "raise SystemExit(3)"], "http://127.0.0.1:9/health", timeout_s=30,
                        poll_s=0.1)  # fmt: skip


def test_the_key_is_a_short_hex_digest() -> None:
    config = _config()
    key = compile_cache_key(config, config.models[0], g5_xlarge_placement(MODEL["name"]))
    assert len(key) == 16 and int(key, 16) >= 0
    assert hashlib.sha256(b"").hexdigest()[:16] != key
