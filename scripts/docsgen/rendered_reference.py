"""docs/reference/rendered.md: what ``inferctl render`` makes of the sample config docs/examples/aws.yaml.

Run through the CLI's own entry point (in-process), so the page is exactly the command's output.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import yaml
from scripts.docsgen.markdown import code, fenced, header, table, text

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = "docs/examples/aws.yaml"


def render_example() -> str:
    from inferctl.cli.app import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code_ = main(["render", "--config", str(REPO / EXAMPLE)])
    if code_ != 0:
        raise AssertionError(f"inferctl render --config {EXAMPLE} failed ({code_}): {err.getvalue()}")
    return out.getvalue()


def generate() -> str:
    stream = render_example()
    # The stream is a comment line, then "---" and one object per document: each is shown as render wrote it.
    documents = [doc for doc in stream.split("---\n")[1:] if doc.strip()]
    objects = [yaml.safe_load(doc) for doc in documents]
    config = (REPO / EXAMPLE).read_text(encoding="utf-8")
    rows = []
    for obj in objects:
        meta = obj.get("metadata", {})
        purpose = (meta.get("annotations") or {}).get("inferctl.io/purpose", "")
        rows.append((code(obj["kind"]), code(meta.get("name", "")), code(meta.get("namespace", "")), text(purpose)))
    out = [
        header(f"`inferctl render --config {EXAMPLE}`"),
        "# Rendered objects\n",
        f"Every Kubernetes object `inferctl render` makes for the sample platform `{EXAMPLE}` (Llama-3-8B-Instruct "
        "on EKS + Karpenter, scaling to zero when idle), in the order `up` applies them. Secrets are shapes only: "
        "no value is ever rendered. `inferctl render --out DIR` writes the same objects one file each, plus a "
        "`kustomization.yaml`.\n",
        "The sample config:\n",
        fenced(config, "yaml"),
        "## The objects\n",
        table(("kind", "name", "namespace", "purpose"), rows),
    ]
    for obj, doc in zip(objects, documents, strict=True):
        out.append(f"### {obj['kind']} `{obj.get('metadata', {}).get('name', '')}`\n")
        out.append(fenced(doc, "yaml"))
    return "\n".join(out)
