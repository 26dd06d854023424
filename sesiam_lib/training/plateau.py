"""Stopping at a validation plateau (``validation.patience``): the rule as one pure function.

See :class:`~sesiam_lib.training.config.ValidationConfig` for the rule in words. The trainer evaluates it after
every epoch on the run's validation history (``(epoch, AUC)`` of the validated epochs, read back from
``log_epochs.csv`` on resume), so the decision depends only on that history and the three settings -- which is
what lets a stopped run be resumed with another ``patience`` (see :func:`plateau_stop_epoch`).
"""

from __future__ import annotations

from typing import Iterable

__all__ = ["plateau_stop_epoch", "last_improving_epoch"]


def last_improving_epoch(history: Iterable[tuple[int, float]], min_delta: float = 0.0, upto: int | None = None) -> int:
    """The last epoch (1-based, ``<= upto``) whose AUC exceeded the best earlier AUC by more than ``min_delta``.

    ``history`` holds ``(epoch, auc)`` of the validated epochs in increasing epoch order. 0 when none improved
    (training start counts as an improvement at epoch 0).
    """
    best = None
    last = 0
    for epoch, auc in history:
        if upto is not None and epoch > upto:
            break
        if best is None or auc > best + min_delta:
            last = int(epoch)
        best = auc if best is None else max(best, auc)
    return last


def plateau_stop_epoch(history: Iterable[tuple[int, float]], patience: int | None, min_delta: float = 0.0,
                       min_epochs: int = 0, upto: int = 0) -> int | None:
    """The first epoch ``E <= upto`` after which the plateau rule stops training, or None (not by ``upto``).

    Args:
        history: ``(epoch, auc)`` of the validated epochs, increasing epochs (the epochs without validation
            are simply absent).
        patience, min_delta, min_epochs: ``validation.patience`` / ``min_delta`` / ``min_epochs``;
            ``patience=None`` never stops.
        upto: the number of epochs run so far.
    """
    if patience is None:
        return None
    history = sorted((int(e), float(a)) for e, a in history)
    for epoch in range(1, int(upto) + 1):
        if epoch < min_epochs:
            continue
        if epoch - last_improving_epoch(history, min_delta, upto=epoch) >= patience:
            return epoch
    return None
