"""The console's web application: pages, the fragments they refresh, and the JSON routes of the chat and the bench.

Pages are HTML drawn on the server from Jinja2 templates (autoescaped) and the charts of :mod:`.charts`; a small
script of our own (static/console.js) refreshes the live parts and drives the chat and the bench form. Everything
the page loads comes from this server (the guard's Content-Security-Policy says so to the browser as well).

Routes (all behind :class:`~inferctl.console.guard.Guard`):

    GET  /  /load  /nodes  /diagram  /chat  /bench     pages
    GET  /fragment/overview|load|nodes                 the live part of a page, redrawn every interval
    GET  /diagram.svg                                  the architecture picture
    GET  /api/models                                   models the endpoint serves (for the pickers)
    POST /api/chat                                     a chat completion, streamed (server-sent events)
    POST /api/bench  GET /api/bench/{job}              start a short bench run; its progress
    GET  /static/...                                   the stylesheet and the script
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inferctl.bench.saved import list_runs, load_run
from inferctl.config.models import PlatformConfig
from inferctl.console import pages
from inferctl.console.benchjobs import BenchForm, BenchJobs, run_charts
from inferctl.console.chat import chat_request, open_chat, served_models
from inferctl.console.figures import Diagram, PlannedCosts, architecture, planned_costs
from inferctl.console.guard import Guard, Keys
from inferctl.console.watch import HISTORY_S, PlatformWatch
from inferctl.errors import ConflictError, InferctlError, NotFoundError, UserError
from inferctl.home import Home
from inferctl.targets.base import Endpoint, Target

if TYPE_CHECKING:
    from jinja2 import Environment
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

HERE = Path(__file__).parent
PAGES = {
    "overview": ("/", "Overview"),
    "load": ("/load", "Load"),
    "nodes": ("/nodes", "Nodes"),
    "diagram": ("/diagram", "Architecture"),
    "chat": ("/chat", "Chat"),
    "bench": ("/bench", "Bench"),
}
BenchRunner = Callable[[BenchForm, Callable[[Any], None]], str]


class Console:
    """The platform behind the pages: its config, its target, the watch that reads it, the bench jobs."""

    def __init__(
        self,
        config: PlatformConfig,
        target: Target,
        home: Home,
        *,
        interval_s: float = 2.0,
        watch: PlatformWatch | None = None,
        bench_runner: BenchRunner | None = None,
    ) -> None:
        self.config = config
        self.target = target
        self.home = home
        self.interval_s = interval_s
        self.watch = watch or PlatformWatch(target)
        self.jobs = BenchJobs(bench_runner or self.run_bench)
        self._diagram: Diagram | None = None
        self._planned: PlannedCosts | str | None = None
        self._planned_done = False

    # --- what the pages need that is computed once ------------------------------------------------------------

    def diagram(self) -> Diagram:
        if self._diagram is None:
            self._diagram = architecture(self.config)
        return self._diagram

    def planned(self) -> PlannedCosts | str | None:
        if not self._planned_done:
            self._planned, self._planned_done = planned_costs(self.config), True
        return self._planned

    # --- the endpoint, with its key: server side only -------------------------------------------------------

    def endpoints(self) -> list[Endpoint]:
        return self.target.endpoints()

    def endpoint_for(self, model: str) -> Endpoint:
        endpoints = self.endpoints()
        served, problem = served_models(endpoints)
        chosen = next((m for m in served if m.id == model), None)
        if chosen is None:
            names = ", ".join(m.id for m in served) or "none"
            raise NotFoundError(f"model {model!r} is not served (served: {names}){'; ' + problem if problem else ''}")
        found = endpoints[chosen.endpoint]
        return Endpoint(model, found.base_url, found.api_key, found.note)

    def run_bench(self, form: BenchForm, progress: Callable[[Any], None]) -> str:
        """One short run against the served ``form.model``, saved like ``bench``'s; returns the saved run's id."""
        from inferctl import bench as lib
        from inferctl.bench.saved import save_run
        from inferctl.sizing.request_timeouts import client_timeouts

        endpoint = self.endpoint_for(form.model)
        deployment = next((m for m in self.config.models if form.model in {m.model_name, m.name}), None)
        codec = None
        location = lib.tokenizer_for(deployment, self.home)
        if location is not None:
            with contextlib.suppress(InferctlError):  # approximate prompt lengths instead, as bench does
                codec = lib.load_codec(location)
        source = lib.RandomPrompts(
            lib.LengthRange(form.input_len, form.input_len), lib.LengthRange(form.output_len, form.output_len), codec
        )
        timeout = float(client_timeouts(self.config, deployment or self.config.models[0]).client_s)
        spec = lib.BenchSpec(
            base_url=endpoint.base_url,
            model=form.model,
            api="completions",
            levels=tuple(lib.Level(concurrency=c) for c in form.concurrency),
            api_key=endpoint.api_key,
            requests=form.requests,
            warmup=1,
            timeout_s=timeout,
        )
        run = lib.run_bench(spec, source, progress)
        report = lib.report_dict(run, lib.target_price(self.config, deployment), notes=["started from the console"])
        if not any(level["completed"] for level in report["levels"]):
            raise UserError("no request succeeded; see 'inferctl status' and 'inferctl logs'")
        return save_run(self.home, self.config.name, report).stem


def templates() -> Environment:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("inferctl.console", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["pages"] = PAGES
    return env


def create_app(console: Console, keys: Keys, port: int) -> Guard:
    """The application behind its guard; reads the platform every ``console.interval_s`` while it serves."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    env = templates()
    base = {
        "platform": console.config.name,
        "target": console.config.target,
        "interval_ms": int(console.interval_s * 1000),
    }

    def page(name: str, **context: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(f"{name}.html").render(**base, page=name, **context))

    def fragment(name: str, **context: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(f"_{name}.html").render(**base, **context))

    async def overview_context() -> dict[str, Any]:
        picture = console.watch.picture()
        planned = await run_in_threadpool(console.planned)
        return {"o": pages.overview(picture, planned, console.config.target), **pages.freshness(picture)}

    def load_context() -> dict[str, Any]:
        picture = console.watch.picture()
        note = picture.metrics_note
        return {"models": pages.load_charts(picture, HISTORY_S), "metrics_note": note, **pages.freshness(picture)}

    def nodes_context() -> dict[str, Any]:
        picture = console.watch.picture()
        return {"board": pages.nodes_board(picture), "has_nodes": console.watch.has_nodes, **pages.freshness(picture)}

    async def overview(request: Request) -> Response:
        return page("overview", **await overview_context())

    async def load(request: Request) -> Response:
        return page("load", **load_context())

    async def nodes(request: Request) -> Response:
        return page("nodes", **nodes_context())

    async def live(request: Request) -> Response:
        name = request.path_params["name"]
        if name == "overview":
            return fragment("overview", **await overview_context())
        if name == "load":
            return fragment("load", **load_context())
        if name == "nodes":
            return fragment("nodes", **nodes_context())
        return Response("no such fragment", status_code=404, media_type="text/plain")

    async def diagram(request: Request) -> Response:
        drawn = await run_in_threadpool(console.diagram)
        return page("diagram", diagram=drawn)

    async def diagram_svg(request: Request) -> Response:
        drawn = await run_in_threadpool(console.diagram)
        if drawn.kind != "svg":
            return Response("no drawing: graphviz is not installed here", status_code=404, media_type="text/plain")
        return Response(drawn.text, media_type="image/svg+xml")

    async def chat(request: Request) -> Response:
        return page("chat")

    async def bench(request: Request) -> Response:
        runs = await run_in_threadpool(list_runs, console.home, console.config.name)
        wanted = request.query_params.get("run")
        chosen = next((r for r in runs if r.id == wanted), runs[0] if runs else None)
        shown = None
        if chosen is not None:
            try:
                shown = {**pages.bench_run(chosen), "charts": run_charts(chosen)}
            except (KeyError, TypeError, ValueError):
                shown = {"id": chosen.id, "unreadable": True}
        return page("bench", runs=[pages.run_summary(r) for r in runs], shown=shown)

    async def models(request: Request) -> Response:
        try:
            endpoints = await run_in_threadpool(console.endpoints)
        except InferctlError as exc:
            return JSONResponse({"models": [], "problem": exc.message})
        served, problem = await run_in_threadpool(served_models, endpoints)
        return JSONResponse({"models": [m.id for m in served], "problem": problem or None})

    async def chat_api(request: Request) -> Response:
        import httpx

        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "send JSON"}, status_code=400)
        try:
            endpoints = await run_in_threadpool(console.endpoints)
        except InferctlError as exc:  # the platform does not serve (not running, starting)
            return JSONResponse({"error": exc.message}, status_code=503)
        served, _ = await run_in_threadpool(served_models, endpoints)
        try:
            chosen, upstream_request = chat_request(body, served)
        except UserError as exc:  # the page's request is wrong
            return JSONResponse({"error": exc.message}, status_code=400)
        timeout_s = await run_in_threadpool(_chat_timeout, console.config, chosen.id)  # may read a model profile
        client = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=10.0))
        upstream = await open_chat(client, endpoints[chosen.endpoint], upstream_request, endpoints)
        if upstream.events is None:
            await client.aclose()
            status = upstream.status if 400 <= upstream.status < 500 else 502
            return JSONResponse({"error": upstream.error}, status_code=status)

        async def relay(events: AsyncIterator[bytes] = upstream.events) -> AsyncIterator[bytes]:
            try:
                async for chunk in events:
                    yield chunk
            except httpx.HTTPError as exc:
                broke = json.dumps({"error": f"the stream broke: {type(exc).__name__}"})
                yield f"event: error\ndata: {broke}\n\n".encode()
            finally:
                await upstream.close()
                await client.aclose()

        return StreamingResponse(relay(), media_type="text/event-stream", headers={"x-accel-buffering": "no"})

    async def bench_start(request: Request) -> Response:
        try:
            form = BenchForm.parse(await request.json())
            job = console.jobs.start(form)
        except ValueError:
            return JSONResponse({"error": "send JSON"}, status_code=400)
        except ConflictError as exc:
            return JSONResponse({"error": exc.message}, status_code=409)
        except InferctlError as exc:
            return JSONResponse({"error": exc.message}, status_code=400)
        return JSONResponse(job.to_dict(), status_code=202)

    async def bench_job(request: Request) -> Response:
        job = console.jobs.get(request.path_params["job"])
        if job is None:
            return JSONResponse({"error": "no such run"}, status_code=404)
        return JSONResponse(job.to_dict())

    async def bench_run_json(request: Request) -> Response:
        try:
            run = await run_in_threadpool(load_run, console.home, console.config.name, request.path_params["run"])
        except NotFoundError as exc:
            return JSONResponse({"error": exc.message}, status_code=404)
        return JSONResponse(run.report)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(_keep_reading(console))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    routes = [
        Route("/", overview),
        Route("/load", load),
        Route("/nodes", nodes),
        Route("/diagram", diagram),
        Route("/diagram.svg", diagram_svg),
        Route("/chat", chat),
        Route("/bench", bench),
        Route("/fragment/{name}", live),
        Route("/api/models", models),
        Route("/api/chat", chat_api, methods=["POST"]),
        Route("/api/bench", bench_start, methods=["POST"]),
        Route("/api/bench/{job}", bench_job),
        Route("/api/runs/{run}", bench_run_json),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Guard(Starlette(routes=routes, lifespan=lifespan), keys, port)


async def _keep_reading(console: Console) -> None:
    """The watch's reads, one at a time, every interval (a slow read delays the next, it does not pile up)."""
    from starlette.concurrency import run_in_threadpool

    while True:
        await run_in_threadpool(console.watch.read_once)  # never raises: a failed read is kept as its error
        await asyncio.sleep(console.interval_s)


def _chat_timeout(config: PlatformConfig, served: str) -> float:
    """Longer than any hop of the request path waits for the chosen model (a wake from zero, a long first token):
    its chain's."""
    from inferctl.sizing.request_timeouts import client_timeouts

    model = next((m for m in config.models if served in (m.name, m.model_name)), config.models[0])
    return float(client_timeouts(config, model).client_s)


__all__ = ["PAGES", "Console", "create_app", "templates"]
