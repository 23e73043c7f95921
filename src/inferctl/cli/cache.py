"""``inferctl cache status|warm|drop``: the S3 model cache by hand (``up`` mirrors what is missing by itself)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from inferctl.cli.common import (
    ConfigOpt,
    OutputFormat,
    OutputOpt,
    TargetOpt,
    YesOpt,
    console,
    emit_json,
    err_console,
    load,
    progress,
    table,
)
from inferctl.errors import ConfigError

if TYPE_CHECKING:
    from inferctl.config.models import PlatformConfig
    from inferctl.home import Home

CacheModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="One configured model (default: all cached).")]


def cluster_config(config: PlatformConfig, home: Home) -> PlatformConfig:
    """The config as the cluster sees it: on aws, with the bucket name ``up`` saved."""
    if not config.traits.cluster:
        raise ConfigError("the S3 model cache serves cluster targets; use --target kubernetes or --target aws")
    if config.traits.owns_infrastructure:
        from inferctl.targets.aws import AwsTarget

        return AwsTarget(config, home).kubernetes(include_karpenter=False).config
    return config


def _gib(value: int) -> str:
    return f"{value / 2**30:.2f} GiB"


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The S3 model cache: status, warm (mirror now), drop.", no_args_is_help=True)
    app.add_typer(group, name="cache", rich_help_panel="Lifecycle")

    @group.command("status")
    def status(config: ConfigOpt = None, target: TargetOpt = None, output: OutputOpt = OutputFormat.table) -> None:
        """Per cached model: its snapshot (empty/partial/mirrored) and compile cache (written/empty/off; stale ones).

        The compile cache shown is the one the current configuration's pods fetch; stale ones are other
        configurations' (another image, engine arguments or GPU), which 'inferctl cache drop' deletes too."""
        from inferctl.aws.cache_bucket import cache_status
        from inferctl.home import Home

        cfg = cluster_config(load(config, target=target), Home.from_env())
        rows = cache_status(cfg)
        if output == OutputFormat.json:
            emit_json({"platform": cfg.name, "models": rows})
            return
        shown = [
            {**r, "size": _gib(r["bytes"]), "compile": r["compile_cache"]["state"],
             "stale": len(r["stale_compile_caches"])}
            for r in rows
        ]  # fmt: skip
        console.print(table("model cache", shown, ["model", "state", "files", "size", "compile", "stale", "uri"]))

    @group.command("warm")
    def warm(
        config: ConfigOpt = None,
        target: TargetOpt = None,
        model: CacheModelOpt = None,
        here: Annotated[
            bool,
            typer.Option("--here", help="Mirror from this machine (HF_TOKEN and AWS credentials from your shell)."),
        ] = False,
        output: OutputOpt = OutputFormat.table,
    ) -> None:
        """Mirror the snapshot into the bucket now: by the cluster's mirror Job (default) or from this machine."""
        from inferctl.aws.cache_bucket import cached_models
        from inferctl.home import Home

        home = Home.from_env()
        cfg = cluster_config(load(config, target=target), home)
        chosen = cached_models(cfg, model)
        results: list[dict[str, Any]] = []
        with progress() as reporter:
            if here:
                from inferctl.aws.cache_bucket import warm_here

                for index, item in chosen:

                    def report(message: str, done: int, total: int, name: str = item.name) -> None:
                        reporter.phase("mirroring", f"{name}: {done / 2**30:.2f}/{total / 2**30:.2f} GiB {message}")

                    reporter.phase("mirroring", f"{item.name}: downloading {item.source}@{item.revision}")
                    result = warm_here(cfg, item, index, progress=report)
                    results.append(
                        {
                            "model": item.name,
                            "uploaded": len(result.uploaded),
                            "skipped": len(result.skipped),
                            "uploaded_bytes": result.uploaded_bytes,
                        }
                    )
            else:
                _warm_in_cluster(cfg, home, [m.name for _, m in chosen], reporter)
                results = [{"model": m.name, "mirrored": True} for _, m in chosen]
        if output == OutputFormat.json:
            emit_json({"platform": cfg.name, "models": results})
        else:
            for row in results:
                err_console.print(f"[green]✓[/green] {row['model']}: in the cache")

    @group.command("drop")
    def drop(
        config: ConfigOpt = None,
        target: TargetOpt = None,
        model: CacheModelOpt = None,
        yes: YesOpt = False,
        output: OutputOpt = OutputFormat.table,
    ) -> None:
        """Delete mirrored snapshots and their compile caches from the bucket (the next cold start mirrors and
        compiles again)."""
        from inferctl.aws.cache_bucket import cached_models, compile_caches_uri, drop, drop_compile_caches, location_of
        from inferctl.home import Home

        cfg = cluster_config(load(config, target=target), Home.from_env())
        chosen = cached_models(cfg, model)
        locations = [(i, m, location_of(cfg, m, i)) for i, m in chosen]
        uris = [uri for _, m, loc in locations for uri in (loc.uri, compile_caches_uri(loc, m))]
        if not yes and not typer.confirm(f"delete {', '.join(uris)}?", default=False, err=True):
            raise typer.Exit(1)
        removed = [
            {
                "model": m.name,
                "uri": loc.uri,
                "objects": drop(cfg, m, i),
                "compile_cache_uri": compile_caches_uri(loc, m),
                "compile_cache_objects": drop_compile_caches(cfg, m, i),
            }
            for i, m, loc in locations
        ]
        if output == OutputFormat.json:
            emit_json({"platform": cfg.name, "dropped": removed})
        else:
            for row in removed:
                err_console.print(
                    f"dropped {row['uri']} ({row['objects']} objects) and its compile caches "
                    f"{row['compile_cache_uri']} ({row['compile_cache_objects']} objects)"
                )


def _warm_in_cluster(config: PlatformConfig, home: Home, names: list[str], reporter: Any) -> None:
    from inferctl.kube.mirror_jobs import MirrorRunner
    from inferctl.render.model_cache import mirror_job_name
    from inferctl.targets.kubernetes import KubernetesTarget

    target = KubernetesTarget(config, home)
    placements = target.placements()
    values = target.secret_values()
    jobs = {mirror_job_name(config.model(name)) for name in names}
    needed_kinds = {"Namespace", "Secret", "ServiceAccount"}
    objects = [
        o
        for o in target.render(placements, values)
        if o["kind"] in needed_kinds
        or (o["kind"] in ("ConfigMap", "NetworkPolicy") and o["metadata"]["name"] == "inferctl-model-mirror")
        or (o["kind"] == "Job" and o["metadata"]["name"] in jobs)
    ]
    reporter.phase("connecting", config.kubernetes.context or "current context")
    MirrorRunner(target.client(), reporter, timeout_s=config.cache.mirror_timeout_s).run(objects)
