"""``--watch``: read, render, wait, again, until Ctrl-C; the same loop for ``status`` and ``nodes``.

A command hands :func:`watch` two functions: ``read`` (one call to the target: a status report, a node view) and
``render`` (what was read -> a rich renderable). The first read fails the command as it would without --watch
(one line, exit 1/2). After that a read that fails or raises keeps the last good frame on screen, with its age
and the error on one line above it; the next read that works replaces both. While a slow read is in flight, the
line says for how long (rich's Live re-renders it every second on a terminal).

On a terminal the frame is redrawn in place (rich Live); piped, each frame is printed below the last one.
``--output json`` streams one JSON object per read instead (:func:`stream_json`), errors on stderr.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, TypeVar

from rich.console import Group
from rich.text import Text

from inferctl.views.errors import one_line

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], None]
SLOW_AFTER_S = 2.0  # a read in flight longer than this is shown as slow


def wall_clock() -> float:
    """Now, in seconds since the epoch: the default clock of a :class:`LiveFrame`."""
    return time.time()


def pause(seconds: float) -> None:
    """The wait between reads (tests replace it, so no test waits)."""
    time.sleep(seconds)


def _clock_time(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))


class LiveFrame:
    """What a live view shows: one status line, then the last good body. Ages are computed when it is rendered,
    so a frame re-rendered during a slow read shows how old its data is and for how long the read has run."""

    def __init__(self, title: str, interval_s: float, clock: Clock | None = None) -> None:
        self.title = title
        self.interval_s = interval_s
        self.clock = clock or wall_clock
        self.body: RenderableType | None = None
        self.good_at: float | None = None
        self.error: str | None = None
        self.error_at: float | None = None
        self.reading_since: float | None = None

    def show(self, body: RenderableType) -> None:
        """A read that worked: its body replaces the last one; the error line goes."""
        self.body, self.good_at = body, self.clock()
        self.error = self.error_at = self.reading_since = None

    def fail(self, error: str) -> None:
        """A read that failed: the last body stays; the status line says what failed and how old the body is."""
        self.error, self.error_at, self.reading_since = error, self.clock(), None

    def reading(self) -> None:
        self.reading_since = self.clock()

    def status_line(self) -> Text:
        now = self.clock()
        age = "no data yet" if self.good_at is None else f"{_clock_time(self.good_at)} ({now - self.good_at:.0f} s ago)"
        line = Text(overflow="fold")
        line.append(self.title, style="bold")
        line.append(f" · every {self.interval_s:g} s · data from {age}")
        if self.reading_since is not None and now - self.reading_since >= SLOW_AFTER_S:
            line.append(f" · reading for {now - self.reading_since:.0f} s", style="yellow")
        if self.error is not None and self.error_at is not None:
            line.append(f" · refresh at {_clock_time(self.error_at)} failed: {self.error}", style="red")
        return line

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.status_line()
        if self.body is not None:
            yield self.body


def watch(
    read: Callable[[], T],
    render: Callable[[T], RenderableType],
    *,
    frame: LiveFrame,
    console: Console,
    sleep: Sleep | None = None,
) -> None:
    """Show ``render(read())`` in ``frame`` every ``frame.interval_s`` until Ctrl-C (which returns normally)."""
    sleep = sleep or pause
    try:
        frame.show(render(read()))  # the first read fails the command as it would without --watch
        if console.is_terminal:
            from rich.live import Live

            with Live(frame, console=console, refresh_per_second=1, transient=False) as live:
                _loop(frame, read, render, sleep, live.refresh)
        else:
            console.print(frame)
            _loop(frame, read, render, sleep, lambda: console.print(Group(Text(""), frame)))
    except KeyboardInterrupt:
        return


def _loop(
    frame: LiveFrame,
    read: Callable[[], T],
    render: Callable[[T], RenderableType],
    sleep: Sleep,
    shown: Callable[[], None],
) -> None:
    while True:
        sleep(frame.interval_s)
        frame.reading()
        try:
            frame.show(render(read()))
        except Exception as exc:  # any failure of one refresh: keep the last frame, say what failed, go on
            frame.fail(one_line(exc))
        shown()


def stream_json(
    read: Callable[[], T],
    to_dict: Callable[[T], Any],
    *,
    interval_s: float,
    out: IO[str] | None = None,
    errors: Console,
    sleep: Sleep | None = None,
) -> None:
    """One JSON object per line per read until Ctrl-C; a failed read is one ``error:`` line on stderr, and the
    stream goes on (stdout keeps only JSON)."""
    stream = out if out is not None else sys.stdout
    sleep = sleep or pause
    try:
        data = read()  # the first read fails the command as it would without --watch
        while True:
            stream.write(json.dumps(to_dict(data), default=str) + "\n")
            stream.flush()
            while True:
                sleep(interval_s)
                try:
                    data = read()
                    break
                except Exception as exc:  # one failed refresh: say so, keep streaming
                    errors.print(Text(f"error: refresh failed: {one_line(exc)}"), soft_wrap=True)
    except KeyboardInterrupt:
        return


__all__ = ["LiveFrame", "one_line", "pause", "stream_json", "wall_clock", "watch"]
