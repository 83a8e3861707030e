"""A study's progress: replicates done per method, with the rate and the time left.

The driver runs each block of replicates once per method (one job per condition, block and
method), so a method's count moves when its own blocks finish, and a slow method (profile
intervals, NUTS) shows its own, longer, ETA beside the fast ones. Replicates found in a
store count as done from the start but not in the rate, which measures this run only.

A progress display is one of:

* :class:`Silent` (no display);
* :class:`RichProgress`, a rich bar per method and one for all (done / total, elapsed, ETA);
* :class:`CallbackProgress`, calling ``callback(done, total)`` with two mappings of method name
  to replicates after every finished block (for programs that draw their own).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ModelError

ProgressCallback = Callable[[Mapping[str, int], Mapping[str, int]], None]


class Silent:
    """Counts replicates done per method and shows nothing."""

    def __init__(self, total: Mapping[str, int], done: Mapping[str, int] | None = None) -> None:
        self.total = dict(total)
        self.done = {m: int((done or {}).get(m, 0)) for m in self.total}

    def __enter__(self) -> Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def advance(self, method: str, n: int) -> None:
        """``n`` more replicates of ``method`` finished."""
        self.done[method] += n


class CallbackProgress(Silent):
    """Calls ``callback(done, total)`` (copies; method name -> replicates) at the start and
    after every finished block."""

    def __init__(self, callback: ProgressCallback, total: Mapping[str, int],
                 done: Mapping[str, int] | None = None) -> None:
        super().__init__(total, done)
        self.callback = callback

    def __enter__(self) -> CallbackProgress:
        self.callback(dict(self.done), dict(self.total))
        return self

    def advance(self, method: str, n: int) -> None:
        super().advance(method, n)
        self.callback(dict(self.done), dict(self.total))


class RichProgress(Silent):
    """One rich bar per method, and one for all methods when there are several."""

    def __init__(self, total: Mapping[str, int], done: Mapping[str, int] | None = None) -> None:
        super().__init__(total, done)
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        width = max(len(m) for m in [*self.total, "all methods"])
        self.bar: Any = Progress(
            TextColumn(f"{{task.description:<{width}}}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("replicates"), TimeElapsedColumn(), TextColumn("ETA"),
            TimeRemainingColumn(), console=Console(stderr=True), transient=False)
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> RichProgress:
        self.bar.__enter__()
        for m, t in self.total.items():
            self.tasks[m] = self.bar.add_task(m, total=t, completed=self.done[m])
        if len(self.total) > 1:
            self.all = self.bar.add_task("all methods", total=sum(self.total.values()),
                                         completed=sum(self.done.values()))
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)

    def advance(self, method: str, n: int) -> None:
        super().advance(method, n)
        self.bar.advance(self.tasks[method], n)
        if len(self.total) > 1:
            self.bar.advance(self.all, n)


def make_progress(progressbar: bool | ProgressCallback | None, total: Mapping[str, int],
                  done: Mapping[str, int], is_terminal: bool) -> Silent:
    """The display ``progressbar`` asks for.

    Parameters
    ----------
    progressbar : bool, callable or None
        True: rich bars; False: none; None: rich bars when ``is_terminal``; a callable:
        :class:`CallbackProgress`.
    total, done : mapping of str to int
        Replicates per method in the whole study, and those already stored.
    is_terminal : bool
        Whether stderr is a terminal.

    Raises
    ------
    ModelError
        ``progressbar`` is none of these.
    """
    if callable(progressbar):
        return CallbackProgress(progressbar, total, done)
    if progressbar is not None and not isinstance(progressbar, bool):
        raise ModelError(f"progressbar must be True, False, None or a callable; "
                         f"got {progressbar!r}")
    show = is_terminal if progressbar is None else progressbar
    remaining = sum(total.values()) - sum(done.values())
    if show and remaining > 0:
        return RichProgress(total, done)
    return Silent(total, done)
