"""Every table inferctl prints, in an 80-column terminal: no cell cut with an ellipsis, no number split across lines.

Each table is printed by the command that prints it (through ``inferctl.cli.app.main`` where the command runs here)
with realistic data, once at 80 columns and once at 400. The oracle for "no number split": every number-like token
of the narrow output is a token of the wide one (a number broken over two lines leaves fragments the wide output
does not have). :func:`test_every_table_printer_is_rendered_here` keeps the list complete: a new place that prints a
table fails it until it is rendered here too.

Seams, as in each command's own tests: the hub unreachable (tests/support/sizing.py), the cluster a FakeCluster at
lightkube's transport, AWS APIs stubbed with botocore's Stubber, S3 moto on loopback, vLLM an HTTP stub.
"""

from __future__ import annotations

import ast
import io
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from inferctl.cli import bench as bench_cli
from inferctl.cli.app import main
from inferctl.cli.common import print_report
from inferctl.cli.tables import WORD_CAP, Col, FittedTable
from inferctl.config import PlatformConfig
from inferctl.home import Home
from inferctl.targets.local import LocalTarget
from tests.support.bench import StubReply, StubServer
from tests.support.kube import FakeCluster, serve
from tests.support.local import server_standin, vllm_metrics, write_running_state
from tests.support.s3 import FAKE_CREDENTIALS, REGION, LoopbackS3, loopback_s3, needs_moto
from tests.support.sizing import FakeHub, fake_hub
from tests.unit.test_autoscaling_plan_cli import CONFIG as AUTOSCALED
from tests.unit.test_kube_cli import NS, workshop_cluster, write_config

__all__ = ["loopback_s3"]  # the fixture, used by name below

WORKSHOP_MODEL = "meta-llama/Meta-Llama-3-8B-Instruct"
SRC = Path(__file__).resolve().parents[2] / "src" / "inferctl"
NARROW, WIDE = 80, 400
_SPLIT = re.compile(r"[\s│┃┏┓┗┛━┡┩╇┳┻─└┘┴┬┼├┤╭╮╰╯/]+")
_NUMBER = re.compile(r"[-+~$<>=]*\d[\d,.]*%?")


def tokens(text: str) -> list[str]:
    return [t.strip("()[],;:") for t in _SPLIT.split(text) if t.strip("()[],;:")]


def numbers(text: str) -> list[str]:
    return [t for t in tokens(text) if _NUMBER.fullmatch(t)]


def printed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, width: int, run: Callable[[], Any]
) -> str:
    monkeypatch.setenv("COLUMNS", str(width))
    capsys.readouterr()
    run()
    return capsys.readouterr().out


def assert_fits(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, run: Callable[[], Any], *shown: str
) -> str:
    """Print with ``run`` at 400 and at 80 columns; check the narrow one and return it."""
    wide = printed(capsys, monkeypatch, WIDE, run)
    narrow = printed(capsys, monkeypatch, NARROW, run)
    assert narrow.strip(), "nothing was printed"
    assert "…" not in narrow and "…" not in wide, narrow
    too_long = [line for line in narrow.splitlines() if cell_len(line.rstrip()) > NARROW]
    assert not too_long, narrow
    whole = set(tokens(wide))
    split = [n for n in numbers(narrow) if n not in whole]
    assert not split, f"numbers split across lines: {split}\n{narrow}"
    for text in shown:
        assert text in narrow, f"{text!r} not in\n{narrow}"
    return narrow


# --- the helper itself ---------------------------------------------------------------------------------------------


def render(table: FittedTable, width: int) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(table)
    return console.export_text()


def test_columns_go_by_priority_and_a_narrower_one_comes_back() -> None:
    columns = [Col("name", 0), Col("ttft ms", 1), Col("comment", 3), Col("e2e ms", 2), Col("n", 4)]
    rows = [["c=32", "1,050.3", "a long comment about this level", "21,540.9", "7"]]
    assert render(FittedTable(columns, rows), 200).count("1,050.3") == 1
    narrow = render(FittedTable(columns, rows), 26)
    # 'n' (4) and 'comment' (3) went first, then 'e2e ms' (2); 'n' is narrow enough to come back.
    assert "1,050.3" in narrow and "21,540.9" not in narrow and "long comment" not in narrow
    assert "not shown at this width: comment, e2e ms" in " ".join(narrow.split())
    assert "│ 7 │" in narrow and "…" not in narrow


def test_long_words_fold_instead_of_being_cut_and_whole_columns_never_fold() -> None:
    url = "s3://inferctl-model-cache-123456789012/models/meta-llama/Meta-Llama-3-8B-Instruct/"
    table = FittedTable([Col("model", 0, whole=True), Col("uri", 0)], [["meta-llama-3-8b-instruct", url]])
    text = render(table, 50)
    assert "…" not in text and "meta-llama-3-8b-instruct" in text
    folded = "".join(line.split("│")[2].strip() for line in text.splitlines() if line.count("│") == 3)
    assert folded == url  # every character, in order
    assert all(cell_len(line.rstrip()) <= 50 for line in text.splitlines())


def test_a_number_wider_than_its_header_keeps_its_column_and_the_header_wraps() -> None:
    table = FittedTable([Col("model", 0), Col("$/h with spot GPUs", 1)], [["llama", "16.288"]])
    text = render(table, 22)
    assert "16.288" in text and "…" not in text
    assert all(cell_len(line.rstrip()) <= 22 for line in text.splitlines())


def test_words_up_to_the_cap_stay_whole() -> None:
    word = "x" * WORD_CAP
    text = render(FittedTable([Col("a", 0), Col("b", 0)], [["first", f"{word} {word}"]]), 40)
    assert text.count(word) == 2


# --- every table, printed by its command ---------------------------------------------------------------------------


@pytest.fixture
def offline_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    with fake_hub(FakeHub(offline=True), tmp_path / "hf-cache"):
        yield


def test_plan_tables_on_aws(
    offline_hub: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model's facts, its ranked options, the cost per hour, autoscaling and the cold-start estimate."""
    (tmp_path / "inferctl.yaml").write_text(AUTOSCALED, encoding="utf-8")  # the workshop model, scaled 0-3
    out = assert_fits(capsys, monkeypatch, lambda: main(["plan"]), "24,640", "1.006", "16.288", ">= 188 s, hub")
    assert "cost per hour" in out and "autoscaling" in out and "estimated cold start" in out


def test_plan_table_on_the_local_target(
    offline_hub: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_fits(capsys, monkeypatch, lambda: main(["plan", "--model", "demo"]), "RAM")


def test_offline_plan_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pulumi_aws")
    from inferctl.aws.offline import offline_plan
    from inferctl.cli.aws_cmd import print_offline_plan
    from tests.support.aws import aws_config, ensure_event_loop

    ensure_event_loop()  # as a fresh 'inferctl plan --offline' process has it
    report = offline_plan(aws_config())
    assert_fits(capsys, monkeypatch, lambda: print_offline_plan(report), "components", "aws:eks/cluster:Cluster")


def test_preflight_table(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A preflight with quotas too low: long details full of numbers and quota codes."""
    from inferctl.aws.preflight import InstanceDemand, run_preflight
    from inferctl.cli.aws_cmd import preflight_table
    from inferctl.cli.common import console
    from tests.support.aws import (
        StubbedAws,
        amis_ok,
        aws_config,
        identity_ok,
        install_fake_pulumi,
        no_log_group,
        offerings,
        quota,
        spot_role_exists,
    )

    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    home = Home(tmp_path / "home")
    install_fake_pulumi(home.root)
    aws = StubbedAws()
    identity_ok(aws)
    amis_ok(aws)
    no_log_group(aws)
    offerings(aws, ["g5.xlarge", "m5.xlarge"], ["g5.xlarge", "m5.xlarge"])
    quota(aws, "L-DB2E81BA", 0)
    quota(aws, "L-3819A6DF", 0)
    quota(aws, "L-1216C47A", 640)
    spot_role_exists(aws)
    demand = [
        InstanceDemand("g5.xlarge", 4, 1, ("spot", "on-demand"), "model llama3"),
        InstanceDemand("m5.xlarge", 4, 2, ("on-demand",), "system nodes"),
    ]
    config = aws_config(public_access_cidrs=["203.0.113.7/32"])
    report = run_preflight(config, demand, clients=aws, home=home)
    assert_fits(capsys, monkeypatch, lambda: console.print(preflight_table(report)), "L-DB2E81BA", "fail")


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeCluster:
    fake = serve(FakeCluster(namespaces=["default", "kube-system", NS]), monkeypatch, tmp_path, hf_token=None)
    workshop_cluster(fake)
    return fake


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        (["status"], ["g5-gpu-karpenter", "http://127.0.0.1:8000/v1"]),
        (["nodes"], ["(3.1/7.84)", "$0.402/h", "~$433.91/month"]),
        (["endpoint"], ["http://127.0.0.1:8000/v1"]),
    ],
    ids=["status", "nodes", "endpoint"],
)
def test_cluster_tables(
    cluster: FakeCluster,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    shown: list[str],
) -> None:
    config = write_config(tmp_path)
    assert_fits(capsys, monkeypatch, lambda: main([*command, "-c", config]), *shown)


def test_status_load_table_on_a_cluster(
    cluster: FakeCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``status``'s load per model on a cluster, from its Prometheus (FakePrometheus through the fake's service
    proxy, as in test_model_metrics)."""
    from tests.unit.test_live_views import PROMETHEUS, with_prometheus
    from tests.unit.test_model_metrics import LOAD, FakePrometheus

    busy = {**LOAD, "vllm:generation_tokens_total": {"llama": 12345.678}, "histogram_quantile(0.99,": {"llama": 2.5}}
    cluster.proxy[("monitoring", "prometheus-server")] = FakePrometheus(busy)
    config = with_prometheus(tmp_path)
    narrow = assert_fits(capsys, monkeypatch, lambda: main(["status", "-c", config]), "12,346", "2,500", "120")
    assert f"load (Prometheus at {PROMETHEUS}, last minute)" in " ".join(narrow.split())


def test_cost_now_table_on_aws(cluster: FakeCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """aws ``status``'s cost table, priced from the nodes the workshop's cluster runs."""
    from inferctl.aws.cost_now import cost_now
    from inferctl.cli.common import console
    from inferctl.cli.lifecycle import cost_now_table
    from inferctl.config.loader import load_config
    from inferctl.targets.kubernetes import KubernetesTarget
    from tests.support.aws import aws_config

    config, _ = load_config(Path(write_config(tmp_path)))
    cost = cost_now(aws_config(), KubernetesTarget(config, Home.from_env()).nodes()).to_dict()
    assert_fits(capsys, monkeypatch, lambda: console.print(cost_now_table(cost)), "a month at this rate", "0.100")


def test_local_status_and_endpoint_tables(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    with server_standin() as pid, StubServer(model="demo") as server:
        server.metrics = vllm_metrics("demo", running=12, waiting=3, kv_cache=0.8731, generation_tokens=1234567)
        write_running_state(Home.from_env(), pid, server.port)
        # One read printed twice, as 'status' prints it (a second read would have another uptime).
        report = LocalTarget(PlatformConfig(), Home.from_env()).status().to_dict()
        assert_fits(capsys, monkeypatch, lambda: print_report(report), "87.31", "1,234,567", "running")
        assert_fits(capsys, monkeypatch, lambda: main(["endpoint"]), f"http://127.0.0.1:{server.port}/v1")


def test_bench_table_keeps_ttft_whole(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's case: TTFT "1,050.3" ms was printed as "1,05…" at 80 columns. A real run against the stub gives
    the report; its latencies are then set to what a CPU server measures here (DESIGN.md: a 3k-token prompt, 13.1 s
    to the first token cold)."""
    with StubServer(lambda body: StubReply(gaps_s=(0.0,) * 3)) as server:
        argv = ["bench", "--url", server.base_url, "--concurrency", "1,32", "-n", "4", "--output-len", "4"]
        assert main([*argv, "--warmup", "0", "--price", "1.006", "--slo", "ttft=2s", "--output", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for level, (ttft, tail) in zip(report["levels"], [(1050.31, 1433.6), (10500.2, 13100.4)], strict=True):
        level["ttft_ms"].update(p50=ttft, p99=tail)
        level["e2el_ms"].update(p99=tail + 21540.9)
        level["output_throughput"] = 1304.2
    out = assert_fits(capsys, monkeypatch, lambda: bench_cli._print_table(report, None), "1,050.3", "13,100.4")
    assert "TTFT" in out and "tok/s" in out


@needs_moto
def test_cache_status_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, loopback_s3: LoopbackS3
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", loopback_s3.endpoint)
    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    config = tmp_path / "inferctl.yaml"
    model = {"name": "llama", "source": WORKSHOP_MODEL, "revision": "5f0b02c75b57c5855da9ae460ce51323ea669d8a"}
    cache = {"enabled": True, "bucket": loopback_s3.bucket, "region": REGION}
    config.write_text(json.dumps({"name": "genai", "target": "kubernetes", "models": [model], "cache": cache}))
    assert_fits(capsys, monkeypatch, lambda: main(["cache", "status", "-c", str(config)]), "empty", "0.00 GiB")


# --- the list of table printers is complete ------------------------------------------------------------------------

# (module, function) of every place in cli/ that builds a table, and the test above (or in test_live_views.py)
# that renders it at 80 columns.
RENDERED = {
    ("aws_cmd", "preflight_table"): "test_preflight_table",
    ("aws_cmd", "print_offline_plan"): "test_offline_plan_tables",
    ("bench", "_print_table"): "test_bench_table_keeps_ttft_whole",
    ("cache", "status"): "test_cache_status_table",
    ("common", "print_report"): "test_cluster_tables[status], test_local_status_and_endpoint_tables",
    ("common", "_fits_as_table"): "(a measurement, no output)",
    ("common", "table"): "(the helper every row above calls)",
    ("lifecycle", "_confirm"): "print_report, as test_cluster_tables[status]",
    ("lifecycle", "status"): "print_report, as test_cluster_tables[status]",
    ("lifecycle", "cost_now_table"): "test_cost_now_table_on_aws",
    ("lifecycle", "print_load"): "test_status_load_table_on_a_cluster",
    ("lifecycle", "endpoint"): "test_cluster_tables[endpoint], test_local_status_and_endpoint_tables",
    ("nodes", "fleet"): "test_cluster_tables[nodes]",
    ("nodes", "nodes"): "test_cluster_tables[nodes]",
    ("plan", "print_cold_start"): "test_plan_tables_on_aws",
    ("plan", "print_local"): "test_plan_table_on_the_local_target",
    ("plan", "_print_model"): "test_plan_tables_on_aws",
    ("plan", "_print_costs"): "test_plan_tables_on_aws",
    ("plan", "print_autoscaling"): "test_plan_tables_on_aws",
    ("status_view", "load_table"): "test_live_views.py (every frame at 80 and 120)",
}
BUILDERS = {"table", "dict_table", "FittedTable", "print_report"}


def _calls(func: ast.FunctionDef) -> Iterator[str]:
    """Names called in ``func``'s own body (not in functions defined inside it)."""
    todo: list[ast.AST] = list(func.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) and node is not func:
            continue
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            yield node.func.id
        todo.extend(ast.iter_child_nodes(node))


def _table_builders() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for path in sorted((SRC / "cli").glob("*.py")):
        if path.name == "tables.py":
            continue
        for func in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(func, ast.FunctionDef) and BUILDERS & set(_calls(func)):
                found.add((path.stem, func.name))
    return found


def test_every_table_printer_is_rendered_here() -> None:
    assert _table_builders() == set(RENDERED)


def test_no_table_is_built_outside_the_helper() -> None:
    """rich's Table (which cuts cells with an ellipsis) is built only by cli/tables.py's FittedTable."""
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if path == SRC / "cli" / "tables.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            called = node.func if isinstance(node, ast.Call) else None
            if isinstance(called, ast.Name | ast.Attribute) and "Table" in ast.unparse(called).split("."):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")  # Table(...), rich.table.Table.grid(...)
    assert offenders == []


def test_a_text_cell_marked_no_wrap_stays_on_one_line() -> None:
    bar = Text("█" * 6 + "░" * 6, no_wrap=True)
    text = render(FittedTable([Col("node", 0), Col("bar", 0)], [["ip-10-0-1-23.ec2.internal", bar]]), 40)
    assert "██████░░░░░░" in text and "ip-10-0-1-23.ec2.int" in text  # the long name folds instead
