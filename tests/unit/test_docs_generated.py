"""The generated documentation pages match their sources (scripts/docs --check does the same in scripts/test).

The generators read the real code: the typer app, the config schema, ``inferctl render`` of docs/examples/aws.yaml,
the diagnosis rules run on upstream signals, and benchmarks/results/.
"""

from __future__ import annotations

import pytest
from scripts import docsgen
from scripts.docsgen import troubleshooting


@pytest.mark.parametrize("page", sorted(docsgen.pages()))
def test_committed_page_matches_its_generator(page: str) -> None:
    generated = docsgen._normalise(docsgen.pages()[page]())
    assert docsgen._read(page) == generated, f"{page} is stale: run scripts/docs --write and commit it"


def test_every_diagnosis_code_has_a_troubleshooting_entry() -> None:
    codes = troubleshooting.codes_in_source()
    assert {"gated-model", "nodepool-limits", "nodeclass-amis", "node-not-joined", "nodeclass-subnets"} <= codes
    with pytest.raises(AssertionError, match=r"no case shows .*gated-model"):
        troubleshooting.check_complete([])
    stale = troubleshooting.Case("no-such-code", "t", "s", lambda: None)
    every = [troubleshooting.Case(code, "t", "s", lambda: None) for code in codes]
    with pytest.raises(AssertionError, match="no longer has: no-such-code"):
        troubleshooting.check_complete([*every, stale])


def test_the_cli_page_names_every_command() -> None:
    import typer

    from inferctl.cli.app import app

    page = docsgen._read("docs/reference/cli.md") or ""
    for name in typer.main.get_command(app).commands:  # type: ignore[attr-defined]
        assert f"### `inferctl {name}`" in page
