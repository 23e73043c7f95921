"""Strict validation of the KEDA and HTTP add-on objects inferctl renders, against the upstream CRDs.

The CRDs are KEDA v2.20.2's and the HTTP add-on v0.15.0's ``config/crd/bases`` (``kedacore/keda`` and
``kedacore/http-add-on`` at those tags), copied to ``<repo>/../shared/schemas``; tests skip with the reason when
that folder is absent. Strict as for Karpenter (:func:`tests.support.render._strict`): unknown fields are errors.
The CRDs' CEL rules that apply to what inferctl renders are checked by hand in :func:`keda_cel`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema
import pytest
import yaml

from tests.support.render import SHARED, _strict

KEDA_CRDS = SHARED / "schemas" / "keda-v2.20.2"
HTTP_ADDON_CRDS = SHARED / "schemas" / "keda-http-add-on-v0.15.0"
CRD_FILES = {
    "ScaledObject": (KEDA_CRDS / "keda.sh_scaledobjects.yaml", "keda.sh/v1alpha1"),
    "TriggerAuthentication": (KEDA_CRDS / "keda.sh_triggerauthentications.yaml", "keda.sh/v1alpha1"),
    "InterceptorRoute": (HTTP_ADDON_CRDS / "http.keda.sh_interceptorroutes.yaml", "http.keda.sh/v1beta1"),
    "HTTPScaledObject": (HTTP_ADDON_CRDS / "http.keda.sh_httpscaledobjects.yaml", "http.keda.sh/v1alpha1"),
}
KEDA_KINDS = frozenset(CRD_FILES)


@cache
def keda_schema(kind: str) -> dict[str, Any]:
    path, api_version = CRD_FILES[kind]
    if not path.is_file():
        pytest.skip(f"KEDA CRD not found at {path.resolve()} (the shared/ folder beside the repo)")
    crd = yaml.safe_load(path.read_text(encoding="utf-8"))
    group, version = api_version.split("/")
    assert crd["spec"]["group"] == group
    served = next(v for v in crd["spec"]["versions"] if v["name"] == version)
    assert served["served"], f"{api_version} {kind} is not served by this CRD"
    return dict(_strict(served["schema"]["openAPIV3Schema"]))


def keda_cel(obj: dict[str, Any]) -> list[str]:
    """The x-kubernetes-validations of these CRDs that concern fields inferctl sets."""
    spec, out = obj["spec"], []
    if obj["kind"] == "ScaledObject":
        low, high = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
        if low > high:
            out.append("minReplicaCount must be less than or equal to maxReplicaCount")
    if obj["kind"] == "InterceptorRoute":
        if ("port" in spec["target"]) == ("portName" in spec["target"]):
            out.append("exactly one of 'port' or 'portName' must be set")
        if not ({"concurrency", "requestRate"} & set(spec["scalingMetric"])):
            out.append("at least one of 'concurrency' or 'requestRate' must be set")
    return out


def validate_keda(obj: dict[str, Any]) -> None:
    """jsonschema (strict) against the served version's openAPIV3Schema, then the CEL rules by hand."""
    assert obj["apiVersion"] == CRD_FILES[obj["kind"]][1]
    jsonschema.Draft7Validator(keda_schema(obj["kind"])).validate(obj)
    problems = keda_cel(obj)
    assert not problems, problems
