"""Short bench runs started from the console, one at a time, and the charts of saved runs.

A run is what ``inferctl bench`` does against the platform, at the sizes a look needs (a few levels, few requests,
short prompts): the library's load generator (:func:`inferctl.bench.run_bench`) in a worker thread, its progress
kept for the page to poll, its report saved where ``bench`` saves (:mod:`inferctl.bench.saved`), so it joins the
list of runs. The endpoint and its key come from the target when the run starts; the key goes into the request
headers and nowhere else (the report never holds it).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from inferctl.bench.report import short_label
from inferctl.bench.saved import SavedRun
from inferctl.console.charts import Series, line_chart
from inferctl.errors import ConflictError, InferctlError, UserError
from inferctl.views.errors import one_line

MAX_LEVELS = 4
MAX_CONCURRENCY = 64
MAX_REQUESTS = 200
MAX_INPUT = 4096
MAX_OUTPUT = 1024


@dataclass(frozen=True)
class BenchForm:
    """The page's form, checked: which model, the concurrency levels, requests per level, prompt and reply sizes."""

    model: str
    concurrency: tuple[int, ...]
    requests: int
    input_len: int
    output_len: int

    @classmethod
    def parse(cls, body: Any) -> BenchForm:
        if not isinstance(body, dict) or not isinstance(body.get("model"), str) or not body["model"]:
            raise UserError("choose a model")
        levels = str(body.get("concurrency", "1")).replace(" ", "").split(",")
        try:
            concurrency = tuple(int(c) for c in levels if c)
        except ValueError:
            concurrency = ()
        if not concurrency or len(concurrency) > MAX_LEVELS or not all(1 <= c <= MAX_CONCURRENCY for c in concurrency):
            raise UserError(
                f"concurrency: 1 to {MAX_LEVELS} numbers from 1 to {MAX_CONCURRENCY} separated by commas, e.g. 1,4"
            )
        return cls(
            model=body["model"],
            concurrency=concurrency,
            requests=_whole(body, "requests", 8, MAX_REQUESTS),
            input_len=_whole(body, "input_len", 64, MAX_INPUT),
            output_len=_whole(body, "output_len", 32, MAX_OUTPUT),
        )


def _whole(body: dict[str, Any], key: str, default: int, most: int) -> int:
    value = body.get(key, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if isinstance(value, bool) or not 1 <= number <= most or str(number) != str(value).strip():
        raise UserError(f"{key.replace('_', ' ')}: a whole number from 1 to {most}")
    return number


@dataclass
class LevelProgress:
    label: str
    done: int = 0
    failed: int = 0
    total: int | None = None


@dataclass
class BenchJob:
    """A run in progress or finished: ``state`` running / done / failed; ``run_id`` the saved run when done."""

    id: str
    form: BenchForm
    state: str = "running"
    phase: str = "starting"
    levels: list[LevelProgress] = field(default_factory=list)
    error: str | None = None
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": self.form.model,
            "state": self.state,
            "phase": self.phase,
            "levels": [vars(level) for level in self.levels],
            "fraction": self.fraction,
            "error": self.error,
            "run_id": self.run_id,
        }

    @property
    def fraction(self) -> float:
        """How far the run is, 0 to 1: the levels' requests done (each level an equal share)."""
        if self.state == "done":
            return 1.0
        count = len(self.form.concurrency)
        done = sum(min(1.0, lvl.done / lvl.total) if lvl.total else 0.0 for lvl in self.levels)
        return min(done / count, 1.0) if count else 0.0


# What runs a job: given the form and a progress callback, the saved run's id (the console wires the platform in).
Runner = Callable[[BenchForm, Callable[[Any], None]], str]


class BenchJobs:
    """At most one run at a time (a second would measure the first); finished jobs stay readable."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self._jobs: dict[str, BenchJob] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def start(self, form: BenchForm) -> BenchJob:
        with self._lock:
            if any(job.state == "running" for job in self._jobs.values()):
                raise ConflictError("a bench run is in progress; wait for it to finish")
            job = BenchJob(str(next(self._ids)), form)
            self._jobs[job.id] = job
        threading.Thread(target=self._run, args=(job,), name=f"bench-{job.id}", daemon=True).start()
        return job

    def get(self, job_id: str) -> BenchJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def _run(self, job: BenchJob) -> None:
        def progress(event: Any) -> None:
            with self._lock:
                if event.phase == "warmup":
                    job.phase = "warming up"
                    return
                job.phase = event.label
                while len(job.levels) <= event.index:
                    job.levels.append(LevelProgress(label=""))
                level = job.levels[event.index]
                level.label, level.done, level.failed, level.total = event.label, event.done, event.failed, event.total

        try:
            run_id = self.runner(job.form, progress)
        except InferctlError as exc:
            with self._lock:
                job.state, job.error = "failed", exc.message
            return
        except Exception as exc:  # a bug or an unexpected failure: the page says it, the console keeps running
            with self._lock:
                job.state, job.error = "failed", one_line(exc)
            return
        with self._lock:
            job.state, job.phase, job.run_id = "done", "done", run_id


def run_charts(run: SavedRun) -> list[str]:
    """A saved run as the two pictures ``bench --plot`` draws: TTFT and TPOT (p50, p99) against output tok/s, one
    point per level, each labelled with its level; for a sweep of concurrencies, output tok/s against it too."""
    levels = [lvl for lvl in run.levels if lvl.get("completed")]
    xs = [float(lvl.get("output_throughput") or 0.0) for lvl in levels]
    labels = [short_label(str(lvl.get("label", ""))) for lvl in levels]
    charts = []
    for key, title in (("ttft_ms", "time to first token"), ("tpot_ms", "time per output token")):
        series = [
            Series(
                pct,
                [(x, _get(lvl, key, pct)) for x, lvl in zip(xs, levels, strict=True)],
                dashed=pct == "p99",
                markers=True,
                labels=labels if pct == "p50" else (),
            )
            for pct in ("p50", "p99")
        ]
        charts.append(line_chart(series, title=title, unit="ms", x_title="output tok/s"))
    if levels and all(lvl.get("concurrency") and lvl.get("rate") is None for lvl in levels):
        # A sweep of fixed concurrencies: how throughput grows with the requests in flight.
        points = [(float(lvl["concurrency"]), x) for lvl, x in zip(levels, xs, strict=True)]
        series = [Series("tok/s", points, markers=True, labels=labels)]
        charts.append(line_chart(series, title="output tokens/s", x_title="concurrency"))
    return charts


def _get(level: dict[str, Any], key: str, pct: str) -> float | None:
    value = (level.get(key) or {}).get(pct)
    return float(value) if isinstance(value, int | float) else None


__all__ = ["BenchForm", "BenchJob", "BenchJobs", "LevelProgress", "run_charts"]
