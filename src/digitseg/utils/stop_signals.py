"""SIGINT, SIGTERM and SIGHUP as one exception, so that a stopped run can still say what it did.

A batch system stops a job with SIGTERM (``timeout``, ``docker stop``, SLURM at its time
limit), a closed terminal sends SIGHUP and Ctrl-C SIGINT. Inside ``with StopSignals()`` each
raises :class:`Stopped` (a ``KeyboardInterrupt``, which ``except Exception`` lets through),
at once, or at the end of a ``deferred()`` block that must not be cut short. Signals
that the process ignores (``nohup``) or that another handler already takes are left as they
are; outside the main thread nothing changes.
"""

import contextlib
import signal
import threading
from collections.abc import Iterator

SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
_DEFAULTS = (signal.SIG_DFL, signal.default_int_handler)


class Stopped(KeyboardInterrupt):
    """The run was stopped by the signal ``signum``."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def stop_signal(stop: KeyboardInterrupt) -> signal.Signals:
    """The signal behind ``stop``: its own, or SIGINT for a plain ``KeyboardInterrupt``."""
    return signal.Signals(getattr(stop, "signum", signal.SIGINT))


class StopSignals:
    """While entered, the stop signals raise :class:`Stopped` (see the module)."""

    def __init__(self):
        self._pending: int | None = None
        self._deferring = False
        self._previous = {}

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                if signal.getsignal(signum) in _DEFAULTS:
                    self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """A block that stop signals do not interrupt: the first that comes is raised at its
        end."""
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
            if self._pending is not None:
                signum, self._pending = self._pending, None
                raise Stopped(signum)

    def _handle(self, signum: int, frame) -> None:
        if not self._deferring:
            raise Stopped(signum)
        if self._pending is None:
            self._pending = signum
