"""No orphans: worker processes die with their parent.

:func:`exit_with_parent`, called first thing in a worker process (the tracking runners' pool initializer, the
training data loader's ``worker_init_fn``), makes the worker exit within moments when its parent dies, by any
signal including SIGKILL (which leaves the parent no chance to clean up):

- on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills the worker as soon as its parent goes.
  The signal is tied to the parent *thread* that created the worker; the pools here are created, used and shut
  down by one thread (``ProcessPoolExecutor`` spawns its workers from ``submit()``, ``DataLoader`` from
  ``iter()``), so it only fires when the whole parent is gone or that thread has ended;
- everywhere, a daemon watchdog thread polls ``os.getppid()`` every ``poll_s`` seconds and calls
  ``os._exit(EXIT_PARENT_DIED)`` once the worker has been re-parented (to PID 1 or a sub-reaper).

A parent that died before the call is caught by the call itself. Nothing here touches a random number
generator: the workers' seeding (and so bitwise reproducibility) is unchanged.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

__all__ = ["exit_with_parent", "dataloader_worker_init", "EXIT_PARENT_DIED"]

EXIT_PARENT_DIED = 86  # exit status of a worker that stopped because its parent died
_PR_SET_PDEATHSIG = 1

_watching: tuple[int, int] | None = None  # (this pid, watched parent pid)


def _set_pdeathsig(signum: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0
    except (OSError, AttributeError):  # pragma: no cover - no prctl
        return False


def _pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie -- dead, not yet reaped -- counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover
        pass
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True


def _expected_parent() -> int:
    import multiprocessing

    parent = multiprocessing.parent_process()  # the process that started us (spawn, fork or forkserver)
    return int(parent.pid) if parent is not None and parent.pid else os.getppid()


def _die(parent_pid: int) -> None:
    try:
        sys.stderr.write(f"[sesiam_lib] worker {os.getpid()}: parent process {parent_pid} is gone; exiting\n")
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - never let the message stop the exit
        pass
    os._exit(EXIT_PARENT_DIED)


def _watchdog(parent_pid: int, direct: bool, poll_s: float) -> None:
    while True:
        time.sleep(poll_s)
        gone = os.getppid() != parent_pid if direct else not _pid_alive(parent_pid)
        if gone:
            _die(parent_pid)


def exit_with_parent(parent_pid: int | None = None, *, poll_s: float = 0.5) -> None:
    """Make this (worker) process exit when ``parent_pid`` (default: the process that started it) dies.

    Idempotent within a process. Safe to call in any process; in a process whose parent is already gone it
    exits at once.
    """
    global _watching
    if parent_pid is None:
        parent_pid = _expected_parent()
    parent_pid = int(parent_pid)
    if _watching == (os.getpid(), parent_pid):
        return
    direct = os.getppid() == parent_pid
    if direct:
        _set_pdeathsig(signal.SIGKILL)
        if os.getppid() != parent_pid:  # the parent died before the signal was armed
            _die(parent_pid)
    elif not _pid_alive(parent_pid):  # re-parented already (or started by a fork server: then watch the PID)
        _die(parent_pid)
    threading.Thread(target=_watchdog, args=(parent_pid, direct, float(poll_s)), name="exit-with-parent",
                     daemon=True).start()
    _watching = (os.getpid(), parent_pid)


def dataloader_worker_init(worker_id: int) -> None:  # noqa: ARG001 - the DataLoader's signature
    """``worker_init_fn`` for ``torch.utils.data.DataLoader``: the worker exits when the training process dies."""
    exit_with_parent()
