"""Why a mirror failed, in one sentence naming the cause and the fix: pure rules over the texts the libraries print.

Shared by the mirror Job's wait (:mod:`inferctl.kube.mirror_jobs`, over its logs and termination message) and a
mirror from this machine (:mod:`inferctl.aws.cache_bucket`). The texts: huggingface_hub 2.4 (``utils/_http.py``:
"Cannot access gated repo", "Repository Not Found", "Revision Not Found"), botocore 1.44 (``exceptions.py``:
"Unable to locate credentials"), S3 error codes (AccessDenied, NoSuchBucket), the kernel's ENOSPC ("No space
left on device") and the mirror's own refusal of a snapshot without safetensors weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from inferctl.cache.mirror import NO_SAFETENSORS


@dataclass(frozen=True)
class MirrorFailure:
    cause: str
    hint: str


# (text in the log or the pod's termination message, cause, what to do). First match wins.
_FAILURES: tuple[tuple[str, str, str], ...] = (
    (
        NO_SAFETENSORS,  # the mirror's own refusal (cache/mirror.py, choose_weights)
        "the model has no safetensors weights, and the cache's Run:ai streamer loads nothing else",
        "set models[].cache: false for it (vLLM's default loader reads .bin), or serve a revision with safetensors",
    ),
    (
        "Cannot access gated repo",
        "the model is gated and the token in the HF secret has no access",
        "accept the licence on the model's HuggingFace page with the token's account, export HF_TOKEN and re-run",
    ),
    (
        "Invalid credentials in Authorization header",
        "the HuggingFace token is invalid",
        "export a valid HF_TOKEN (a read token) and re-run",
    ),
    (
        "Revision Not Found",
        "the revision does not exist in the model's repository",
        "set models[].revision to a commit sha or tag listed under the model's 'Files and versions'",
    ),
    (
        "Repository Not Found",
        "the model id does not exist (or is private)",
        "check models[].source (org/name as on huggingface.co)",
    ),
    (
        "No space left on device",
        "the mirror's scratch volume is full",
        "the Job sizes its scratch from the model's weights; report the model to inferctl, or mirror from your "
        "machine with 'inferctl cache warm --here'",
    ),
    (
        "AccessDenied",
        "S3 refused the upload (AccessDenied)",
        "the mirror's service account needs write access to the bucket: on aws 'inferctl up' creates its Pod "
        "Identity association; elsewhere grant it yourself",
    ),
    (
        "NoSuchBucket",
        "the cache bucket does not exist",
        "check cache.bucket (aws: 'inferctl up' creates the bucket)",
    ),
    (
        "Unable to locate credentials",
        "the mirror pod got no AWS credentials",
        "on EKS the eks-pod-identity-agent add-on must run; elsewhere give the service account credentials",
    ),
)


def diagnose_mirror(lines: Sequence[str]) -> MirrorFailure | None:
    text = "\n".join(lines)
    for needle, cause, hint in _FAILURES:
        if needle in text:
            return MirrorFailure(cause, hint)
    return None
