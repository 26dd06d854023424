"""The small shared core: boxes, crops, atomic file writes, run-folder locks, worker lifetimes."""

from .runlock import HOLDER_FILE, LOCK_FILE, LOCK_FILES, RunLockedError, read_lock_holder, run_folder_lock
from .workers import EXIT_PARENT_DIED, dataloader_worker_init, exit_with_parent

__all__ = [
    "RunLockedError",
    "run_folder_lock",
    "read_lock_holder",
    "LOCK_FILE",
    "HOLDER_FILE",
    "LOCK_FILES",
    "exit_with_parent",
    "dataloader_worker_init",
    "EXIT_PARENT_DIED",
]
