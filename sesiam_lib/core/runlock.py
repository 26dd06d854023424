"""One run per folder: an exclusive, non-blocking lock on a run folder.

Training (``run_dir``), the tracking runners (``<out_dir>/<tracker>/``) and the pipeline
(``<results_root>/<run>/``) hold :func:`run_folder_lock` on their folder while they run. A second run on the
same folder fails **at once** with :class:`RunLockedError`, whose message names the folder and the holder's
PID, host, start time and command.

How it works:

- the lock is an ``flock(LOCK_EX | LOCK_NB)`` on ``<folder>/.lock`` (:data:`LOCK_FILE`). The kernel drops an
  flock when its holder dies, by any signal including SIGKILL, so the lock of a dead run is free: the next run
  takes it over, with no stale-lock heuristics;
- the holder writes its PID, host, start time, command and kind of run into ``<folder>/.lock.json``
  (:data:`HOLDER_FILE`, written atomically). That file is only read to word the error: a leftover one of a dead
  holder never blocks anything (it is overwritten by the next holder);
- on release both files are removed (the holder re-checks after locking that ``.lock`` is still the file it
  opened, so removing it cannot let two runs in);
- within one process the lock is re-entrant for the thread holding it (nested code locking the same folder
  again passes through); another thread of the same process, like another process, gets the error;
- a process forked while the lock is held (e.g. a DataLoader worker) does not keep the lock alive: its copy
  of the file descriptor is closed right after the fork.

The lock is advisory: it protects runs of this library from each other, not the folder from other programs.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
import shlex
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: fall back to the filelock package
    fcntl = None  # type: ignore[assignment]

__all__ = ["RunLockedError", "run_folder_lock", "read_lock_holder", "LOCK_FILE", "HOLDER_FILE", "LOCK_FILES"]

LOCK_FILE = ".lock"
HOLDER_FILE = ".lock.json"
LOCK_FILES = (LOCK_FILE, HOLDER_FILE)

# how long a contender waits for a freshly started holder to write its .lock.json before wording the error
_HOLDER_INFO_WAIT_S = 1.0


class RunLockedError(RuntimeError):
    """The run folder is locked by another run (another process, or another thread of this one).

    Attributes: ``folder``, ``what`` (the run that could not start), ``holder`` (dict: ``pid``, ``host``,
    ``started``, ``command``, ``what``; empty when unknown), ``pid`` and ``host`` (``None`` when unknown).
    """

    def __init__(self, folder: str | os.PathLike, what: str = "run", holder: dict | None = None) -> None:
        self.folder = Path(folder)
        self.what = what
        self.holder = dict(holder or {})
        self.pid = self.holder.get("pid")
        self.host = self.holder.get("host")
        super().__init__(self._message())

    def __reduce__(self):  # picklable (e.g. raised in a worker process)
        return (type(self), (str(self.folder), self.what, self.holder))

    def _message(self) -> str:
        h = self.holder
        if h.get("pid") is not None:
            who = f"{h.get('what') or 'a run'} (PID {h['pid']} on host {h.get('host') or 'unknown'}"
            if h.get("started"):
                who += f", started {h['started']}"
            if h.get("command"):
                who += f", command: {h['command']}"
            who += ")"
            if h.get("stale"):
                who += " -- that process seems to have exited, yet the lock is still held"
        else:
            who = "another process (PID and host unknown)"
        return (f"cannot start {self.what} in {self.folder}: the folder is locked by {who}. "
                f"Only one run at a time may use a run folder: wait for that run to finish or stop it, or choose "
                f"another folder (lock file {self.folder / LOCK_FILE})")


@dataclass
class _Held:
    fd: Any  # an int (fcntl) or a filelock.FileLock
    pid: int
    thread: int
    count: int
    folder: Path
    info: dict


_REGISTRY_LOCK = threading.Lock()
_HELD: dict[str, _Held] = {}


def _after_fork_in_child() -> None:
    """A forked child must not keep its parent's locks alive: close its copies of the descriptors.

    ``flock`` locks belong to the open file description; closing one duplicate (without ``LOCK_UN``) leaves the
    parent's lock in place.
    """
    global _REGISTRY_LOCK
    _REGISTRY_LOCK = threading.Lock()  # may have been held by another thread at fork time
    for held in list(_HELD.values()):
        if isinstance(held.fd, int):
            with contextlib.suppress(OSError):
                os.close(held.fd)
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _command() -> str:
    argv = [a for a in (sys.argv or []) if a is not None]
    text = shlex.join([sys.executable, *argv]) if argv else sys.executable
    return text if len(text) <= 400 else text[:397] + "..."


def _holder_record(folder: Path, what: str) -> dict:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": _command(),
        "what": what,
        "folder": str(folder),
    }


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{int(pid)}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False


def read_lock_holder(folder: str | os.PathLike) -> dict:
    """The holder record of ``<folder>/.lock.json`` (``{}`` if none or unreadable). Says nothing of whether the
    lock is held: only :func:`run_folder_lock` can tell."""
    try:
        info = json.loads((Path(folder) / HOLDER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _proc_locks_pid(path: Path) -> int | None:
    """Linux: the PID of the process holding an flock on ``path`` (from ``/proc/locks``), if any."""
    try:
        st = os.stat(path)
        with open("/proc/locks") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    inode = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in lines:
        parts = line.split()
        if "->" in parts:  # a waiter, not a holder
            continue
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5] == inode:
            with contextlib.suppress(ValueError):
                pid = int(parts[4])
                return pid if pid > 0 else None
    return None


def _describe_holder(folder: Path) -> dict:
    """Who holds the lock: the ``.lock.json`` record, waiting a moment for a holder that has just started."""
    deadline = time.monotonic() + _HOLDER_INFO_WAIT_S
    host = socket.gethostname()
    while True:
        info = read_lock_holder(folder)
        pid = info.get("pid")
        fresh = isinstance(pid, int) and (info.get("host") != host or (_pid_alive(pid) and not _zombie(pid)))
        if fresh or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    if fresh:
        return info
    # the record is missing or names a dead process (a leftover): ask the kernel who holds the lock
    pid = _proc_locks_pid(folder / LOCK_FILE)
    if pid is not None:
        return {"pid": pid, "host": host}
    if info:
        return {**info, "stale": True}
    return {}


def _is_contention(exc: OSError) -> bool:
    return exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES)


def _acquire_flock(folder: Path) -> int | None:
    """An fd holding ``LOCK_EX`` on ``<folder>/.lock``, or ``None`` when another open file description holds it."""
    path = folder / LOCK_FILE
    for _ in range(100):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if _is_contention(exc):
                return None
            raise
        except BaseException:
            os.close(fd)
            raise
        # the holder we raced with may have removed (released) the file we opened: lock the current one
        try:
            st = os.stat(path)
        except FileNotFoundError:
            os.close(fd)
            continue
        fst = os.fstat(fd)
        if (st.st_dev, st.st_ino) == (fst.st_dev, fst.st_ino):
            return fd
        os.close(fd)
    raise OSError(f"could not lock {path}: the lock file keeps being replaced")


def _acquire_filelock(folder: Path):  # pragma: no cover - platforms without fcntl
    import filelock

    lock = filelock.FileLock(str(folder / LOCK_FILE), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        return None
    return lock


def _release(held: _Held) -> None:
    if held.pid != os.getpid():  # a forked child unwinding a with-block of its parent: not its lock
        return
    try:
        with contextlib.suppress(OSError):
            os.unlink(held.folder / HOLDER_FILE)
        if isinstance(held.fd, int):
            with contextlib.suppress(OSError):
                os.unlink(held.folder / LOCK_FILE)  # still ours: contenders re-check the file they locked
    finally:
        if isinstance(held.fd, int):
            os.close(held.fd)
        else:  # pragma: no cover
            held.fd.release()


@contextlib.contextmanager
def run_folder_lock(folder: str | os.PathLike, what: str = "run", *, enabled: bool = True) -> Iterator[dict]:
    """Hold the lock of run folder ``folder`` (created if missing) for the ``with`` block.

    Args:
        folder: the run folder.
        what: the kind of run, for messages (``"training"``, ``"tracking"``, ``"pipeline"``).
        enabled: ``False`` makes this a no-op (e.g. on the non-main ranks of a DDP training).

    Yields:
        the holder record written to ``.lock.json`` (``{}`` when disabled).

    Raises:
        RunLockedError: another process (or another thread of this process) holds the folder; raised at once,
            naming the holder's PID, host, start time and command.
    """
    if not enabled:
        yield {}
        return
    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    key = os.path.realpath(folder)
    me = (os.getpid(), threading.get_ident())
    with _REGISTRY_LOCK:
        held = _HELD.get(key)
        if held is not None and (held.pid, held.thread) == me:
            held.count += 1  # nested in the holding thread: re-entrant
        elif held is not None and held.pid == me[0]:
            raise RunLockedError(folder, what, held.info)
        else:
            held = None
    if held is not None:
        try:
            yield held.info
        finally:
            with _REGISTRY_LOCK:
                held.count -= 1
        return

    fd = _acquire_flock(folder) if fcntl is not None else _acquire_filelock(folder)
    if fd is None:
        raise RunLockedError(folder, what, _describe_holder(folder))
    info = _holder_record(folder, what)
    held = _Held(fd=fd, pid=me[0], thread=me[1], count=1, folder=folder, info=info)
    try:
        from .io import atomic_write_json

        atomic_write_json(folder / HOLDER_FILE, info)
        with _REGISTRY_LOCK:
            _HELD[key] = held
    except BaseException:
        _release(held)
        raise
    try:
        yield info
    finally:
        with _REGISTRY_LOCK:
            if _HELD.get(key) is held:
                del _HELD[key]
        _release(held)
