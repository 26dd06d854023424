"""Checkpoint loading for the released files and this project's own checkpoints.

Accepted layouts (``torch.save`` files):

- a bare ``state_dict`` (SiamDW's ``CIResNet22*.pth``, ``SESiamFCResNet22_pretrained.pth``);
- a release training snapshot ``{'epoch', 'arch', 'state_dict', 'optimizer'}`` (SE-SiamFC ``checkpoint_*.pth``);
- this project's checkpoints: a dict with a ``'model'`` key holding the state dict (plus ``'config'``,
  ``'optimizer'`` ...).

Keys may carry the ``module.`` prefix of ``nn.DataParallel``. A state dict of the backbone alone (keys
``conv1.*`` / ``layer1.*`` or ``features.conv1.*``) is re-prefixed to the model's ``features.features.*``.
Missing ``num_batches_tracked`` buffers (files from old PyTorch versions) are filled with 0.

Loading is all or nothing: any missing or unexpected key or shape mismatch raises :class:`CheckpointError`
naming the file, listing the differences and saying which registered architecture the file looks like; the
model is not modified. A file with the learnable score layer (``adjust.weight`` / ``adjust.bias``, build option
``score_adjust=True``) and a model without it, or the reverse, fail with a message naming that option (and, for
this project's training checkpoints, the ``model_kwargs`` the file was trained with: see
:func:`recorded_model_kwargs`). The SE basis buffers stored in the file are loaded (the weights were trained with
them) after checking that they equal the model's :func:`~sesiam_lib.sesn.hermite_basis` to 1e-5 relative
(a difference means the file was made with other scales / kernel sizes).

Safety (``torch.load(weights_only=...)``): by default files are read with ``weights_only=True``, which cannot
execute code. The released snapshots (tensors, the SGD optimizer state: dicts, lists, numbers, strings) and
checkpoints holding NumPy arrays (e.g. RNG states) load this way. Files that pickle other Python objects (a
whole ``nn.Module``, custom classes) need ``trusted=True`` (``weights_only=False``): only for files from a
source you trust.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = [
    "CheckpointError",
    "CheckpointInfo",
    "load_checkpoint",
    "read_checkpoint",
    "normalize_state_dict",
    "identify_architecture",
    "check_state_dict",
    "recorded_model_kwargs",
    "checkpoint_model_options",
    "RUNTIME_MODEL_OPTIONS",
    "ADJUST_KEYS",
]

#: state-dict keys of the learnable score layer of a ``score_adjust=True`` model
ADJUST_KEYS = ("adjust.weight", "adjust.bias")

ARCH_DESCRIPTIONS = {
    "siamfc_resnet22": "SiamFC+ (CIResNet-22, SiamDW's SiamFCRes22)",
    "se_siamfc_resnet22": "SE-SiamFC (SE-ResNet-22, SESiamFCResNet22)",
    "siamfc_tiny": "the tiny SiamFC+ twin",
    "se_siamfc_tiny": "the tiny SE-SiamFC twin",
    "se_siamfc_tiny_sesn": "the tiny SE-SiamFC twin with the SESN from-scratch scale convs",
}


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be read, or does not fit the model."""


@dataclass
class CheckpointInfo:
    """What :func:`load_checkpoint` / :func:`read_checkpoint` found in a file.

    Attributes:
        path: the file.
        format: ``'state_dict'`` (bare), ``'snapshot'`` (release training snapshot), ``'project'`` (``'model'``
            key) or ``'module'`` (a pickled ``nn.Module``, trusted files only).
        epoch: the snapshot's ``'epoch'`` (or the project's ``'epoch'``), if any.
        arch: the snapshot's ``'arch'`` string, if any.
        architecture: the registered model name whose keys and shapes the file matches, if any.
        had_module_prefix: keys carried ``module.`` prefixes.
        metadata: the file's other top-level entries except optimizer states and the weights (e.g. ``config``).
    """

    path: str
    format: str
    epoch: int | None = None
    arch: str | None = None
    architecture: str | None = None
    had_module_prefix: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)


def _numpy_safe_globals() -> list:
    import numpy as np

    names = []
    try:
        from numpy._core import multiarray as ma  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray as ma
    names += [np.ndarray, np.dtype, ma._reconstruct, ma.scalar]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        names += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith("DType")]
    return names


def _not_a_torch_file(path: Path) -> str | None:
    """What ``path`` is, when its first bytes show it is not a ``torch.save`` file (else ``None``)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:
        return None
    if head.startswith(b"PK\x03\x04"):  # a zip: torch.save's format, unless it lacks torch's records
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError):
            return None  # a cut-off torch.save zip: "truncated or corrupt" is right
        if not any(n.endswith("data.pkl") for n in names):
            return f"a zip archive that torch.save did not write (holds {names[:5]}; a NumPy .npz?)"
        return None
    if head[:1] == b"\x80" and 2 <= head[1] <= 5 and not head.startswith(b"\x80\x02\x8a\n\x6c\xfc\x9c\x46"):
        return (f"a plain Python pickle (protocol {head[1]}, written with pickle.dump, not torch.save); if you "
                f"trust its source, re-save it with torch.save(pickle.load(open(path, 'rb')), 'weights.pth')")
    if head.startswith(b"\x89HDF"):
        return "an HDF5 file (Keras / h5py weights), not a PyTorch checkpoint"
    if head.startswith(b"\x93NUMPY"):
        return "a NumPy .npy array file, not a PyTorch checkpoint"
    if len(head) >= 10 and head[8:10] == b'{"':
        return "a safetensors file; read it with safetensors.torch.load_file and save the dict with torch.save"
    if head.lstrip()[:1] in (b"{", b"[", b"#", b"<") or (head and all(32 <= c < 127 or c in (9, 10, 13)
                                                                    for c in head)):
        return f"a text file (starts {head[:16]!r}), not a PyTorch checkpoint"
    return None


def _torch_load(path: Path, trusted: bool, map_location: Any) -> Any:
    if not trusted:
        ctx = torch.serialization.safe_globals(_numpy_safe_globals())
    else:
        ctx = contextlib.nullcontext()
    try:
        with ctx:
            return torch.load(path, map_location=map_location, weights_only=not trusted)
    except pickle.UnpicklingError as exc:
        message = str(exc)
        if "Unsupported global" in message or "Weights only load failed" in message and "GLOBAL" in message:
            offending = message.split("Unsupported global:", 1)[-1].split("was not", 1)[0].strip()
            raise CheckpointError(
                f"checkpoint '{path}' pickles Python objects that weights-only loading refuses ({offending}); "
                f"load it with trusted=True (torch.load(weights_only=False)) only if you trust where the file "
                f"came from") from exc
        what = _not_a_torch_file(path)
        if what is not None:
            raise CheckpointError(f"could not read checkpoint '{path}': it is {what}") from exc
        raise CheckpointError(f"could not read checkpoint '{path}': the file is truncated or corrupt "
                              f"({message.splitlines()[-1] if message else type(exc).__name__})") from exc
    except (RuntimeError, EOFError, KeyError, ValueError, OSError, zipfile.BadZipFile, IndexError,
            AttributeError, TypeError, UnicodeDecodeError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        first = first.split(". ")[0][:160]  # the first sentence of torch's message
        what = _not_a_torch_file(path)
        if what is not None:
            raise CheckpointError(f"could not read checkpoint '{path}': it is {what}") from exc
        raise CheckpointError(f"could not read checkpoint '{path}': the file is truncated or corrupt "
                              f"({type(exc).__name__}: {first})") from exc


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def normalize_state_dict(state_dict: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], bool]:
    """Strip ``module.`` prefixes and re-prefix backbone-only dicts to ``features.features.*``.

    Returns ``(state_dict, had_module_prefix)``.
    """
    sd = dict(state_dict)
    had_prefix = False
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
        had_prefix = True
    if "conv1.weight" in sd and "features.features.conv1.weight" not in sd:
        # the trunk alone (conv1, bn1, layer1, layer2; SE: no mean/std there)
        sd = {("features." + k if k in ("mean", "std") else "features.features." + k): v for k, v in sd.items()}
    elif "features.conv1.weight" in sd and "features.features.conv1.weight" not in sd:
        sd = {"features." + k: v for k, v in sd.items()}
    return sd, had_prefix


def read_checkpoint(path: str | os.PathLike, *, trusted: bool = False,
                    map_location: Any = "cpu") -> tuple[dict[str, torch.Tensor], CheckpointInfo]:
    """Read a checkpoint file in any accepted layout -> ``(state_dict, info)`` (keys normalised).

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: unreadable (truncated, corrupt, refused by weights-only loading) or no state dict.
    """
    path = Path(path)
    if path.is_dir():
        found = sorted(p.relative_to(path).as_posix() for p in path.rglob("*.pth"))[:8]
        raise CheckpointError(f"checkpoint '{path}' is a folder, not a file"
                              + (f"; .pth files in it: {found}" if found else ""))
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: '{path}'")
    if path.stat().st_size == 0:
        raise CheckpointError(f"could not read checkpoint '{path}': the file is empty")
    obj = _torch_load(path, trusted, map_location)
    epoch = arch = None
    metadata: dict[str, Any] = {}
    if isinstance(obj, nn.Module):
        fmt, state = "module", obj.state_dict()
    elif isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        fmt, state = "snapshot", obj["state_dict"]
    elif isinstance(obj, Mapping) and isinstance(obj.get("model"), (Mapping, nn.Module)):
        fmt, state = "project", obj["model"]
        if isinstance(state, nn.Module):
            state = state.state_dict()
    elif _is_state_dict(obj):
        fmt, state = "state_dict", obj
    else:
        top = list(obj.keys())[:20] if isinstance(obj, Mapping) else type(obj).__name__
        raise CheckpointError(f"checkpoint '{path}' holds no state dict: expected a state dict, a dict with "
                              f"'state_dict' (release snapshot) or 'model' (this project); found {top}")
    if isinstance(obj, Mapping) and fmt != "state_dict":
        epoch = obj.get("epoch")
        arch = obj.get("arch")
        metadata = {k: v for k, v in obj.items()
                    if k not in ("state_dict", "model", "optimizer", "optimizer_state", "scheduler")}
    if not _is_state_dict(state):
        bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)][:5]
        raise CheckpointError(f"checkpoint '{path}': the {fmt} state dict is empty or holds non-tensors {bad}")
    sd, had_prefix = normalize_state_dict(state)
    info = CheckpointInfo(path=str(path), format=fmt, epoch=epoch if isinstance(epoch, int) else None,
                          arch=arch if isinstance(arch, str) else None, had_module_prefix=had_prefix,
                          metadata=metadata)
    info.architecture = identify_architecture(sd)
    return sd, info


@functools.lru_cache(maxsize=None)
def _signature(name: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
    from .builder import build_model

    model = build_model(name)
    return tuple((k, tuple(v.shape)) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked"))


def identify_architecture(state_dict: Mapping[str, torch.Tensor]) -> str | None:
    """The registered model name whose state-dict keys and shapes equal ``state_dict``'s, else None.

    ``num_batches_tracked`` entries are ignored.
    """
    from .builder import list_models

    mine = {(k, tuple(v.shape)) for k, v in state_dict.items() if not k.endswith("num_batches_tracked")}
    for name in list_models():
        if set(_signature(name)) == mine:
            return name
    return None


def _describe(state_dict: Mapping[str, torch.Tensor], name: str | None) -> str:
    if name is not None:
        return f"'{name}' ({ARCH_DESCRIPTIONS.get(name, name)})"
    if any(k in state_dict for k in ADJUST_KEYS):
        base = identify_architecture({k: v for k, v in state_dict.items() if k not in ADJUST_KEYS})
        if base is not None:
            return f"'{base}' ({ARCH_DESCRIPTIONS.get(base, base)}) built with score_adjust=True"
    if any(k.endswith(".basis") for k in state_dict):
        return "an unregistered scale-equivariant (SE-ResNet) model"
    w = state_dict.get("features.features.conv1.weight")
    if w is not None and w.dim() == 4:
        return f"an unregistered plain CIResNet (SiamFC+-like) model with a {tuple(w.shape)} stem"
    return "no known architecture"


def check_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str = "state dict",
                     check_basis: bool = True) -> dict[str, torch.Tensor]:
    """Validate ``state_dict`` against ``model``; returns it completed with missing ``num_batches_tracked``.

    Raises :class:`CheckpointError` describing every missing / unexpected key and the first shape mismatch.
    """
    expected = model.state_dict()
    sd = dict(state_dict)
    for k, v in expected.items():
        if k.endswith("num_batches_tracked") and k not in sd:
            sd[k] = torch.zeros_like(v)
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    mismatch = next(((k, tuple(sd[k].shape), tuple(v.shape)) for k, v in expected.items()
                     if k in sd and tuple(sd[k].shape) != tuple(v.shape)), None)
    if missing or unexpected or mismatch:
        model_name = getattr(model, "arch", "") or type(model).__name__
        looks = identify_architecture(sd)
        lines = []
        file_adjust, model_adjust = any(k in sd for k in ADJUST_KEYS), any(k in expected for k in ADJUST_KEYS)
        if file_adjust and not model_adjust:
            lines.append(f"{source} has a learnable score layer ({', '.join(k for k in ADJUST_KEYS if k in sd)}): "
                         f"it was trained with the build option score_adjust=True, but model '{model_name}' was "
                         f"built without it; build it with build_model('{model_name}', score_adjust=True, ...).")
        elif model_adjust and not file_adjust:
            lines.append(f"{source} has no learnable score layer ({', '.join(ADJUST_KEYS)}), but model "
                         f"'{model_name}' was built with score_adjust=True; build it without that option "
                         f"(the default score_adjust=False: 0.1 * xcorr).")
        lines.append(f"{source} does not fit model '{model_name}' "
                     f"({ARCH_DESCRIPTIONS.get(model_name, type(model).__name__)}): "
                     f"the file looks like {_describe(sd, looks)}.")
        if missing:
            lines.append(f"missing keys ({len(missing)}): {missing[:12]}{' ...' if len(missing) > 12 else ''}")
        if unexpected:
            lines.append(f"unexpected keys ({len(unexpected)}): {unexpected[:12]}"
                         f"{' ...' if len(unexpected) > 12 else ''}")
        if mismatch:
            lines.append(f"first shape mismatch: '{mismatch[0]}' is {list(mismatch[1])} in the file, "
                         f"{list(mismatch[2])} in the model")
        raise CheckpointError("\n  ".join(lines))
    if check_basis:
        for k, v in expected.items():
            if k.endswith(".basis"):
                diff = (sd[k].double() - v.double()).abs().max().item()
                scale = v.double().abs().max().item()
                if diff > 1e-5 * max(scale, 1e-12):
                    raise CheckpointError(
                        f"{source}: the stored basis '{k}' differs from the model's Hermite basis "
                        f"(max abs diff {diff:.3g}); the file was made with other scales, kernel or effective "
                        f"sizes. Pass check_basis=False to load it anyway.")
    return sd


def _recorded_kwargs(info: CheckpointInfo) -> dict[str, Any] | None:
    config = info.metadata.get("config")
    if isinstance(config, Mapping) and isinstance(config.get("model_kwargs"), Mapping):
        return dict(config["model_kwargs"])
    return None


def recorded_model_kwargs(path: str | os.PathLike, *, trusted: bool = False) -> dict[str, Any]:
    """The ``build_model`` options a checkpoint of :mod:`sesiam_lib.training` records (its
    ``config['model_kwargs']``, e.g. ``{'score_adjust': True, 'sesn_impl': 'fast'}``); ``{}`` for files that
    record none (released weights, bare state dicts).

    Raises:
        FileNotFoundError, CheckpointError: as :func:`read_checkpoint`.
    """
    _, info = read_checkpoint(path, trusted=trusted)
    return _recorded_kwargs(info) or {}


def load_checkpoint(model: nn.Module, path: str | os.PathLike, *, trusted: bool = False, check_basis: bool = True,
                    map_location: Any = "cpu") -> CheckpointInfo:
    """Load a released or project checkpoint into ``model`` (all keys, strictly); returns what was found.

    Args:
        model: a model from :func:`~sesiam_lib.models.build_model` (any ``nn.Module`` works).
        path: the file (bare state dict, release snapshot, or project checkpoint with a ``'model'`` key).
        trusted: read with ``weights_only=False`` (can execute code from the file; trusted files only).
        check_basis: verify stored SE basis buffers against the model's (see module doc).
        map_location: passed to ``torch.load``; tensors are then copied into the model's own device/dtype.

    Raises:
        FileNotFoundError, CheckpointError (unreadable file, wrong architecture, key/shape mismatch).
    """
    sd, info = read_checkpoint(path, trusted=trusted, map_location=map_location)
    try:
        sd = check_state_dict(model, sd, source=f"checkpoint '{path}'", check_basis=check_basis)
    except CheckpointError as exc:
        recorded = _recorded_kwargs(info)
        if recorded is None:
            raise
        raise CheckpointError(f"{exc}\n  the file's training config records model "
                              f"{info.metadata.get('model_name')!r} with model_kwargs {recorded}") from None
    model.load_state_dict(sd, strict=True)
    if hasattr(model, "zf"):
        model.zf = None  # a cached template belongs to the old weights
    return info


#: build options a training checkpoint records that trackers do not adopt from it: they say how to run the
#: layers, not what was trained (sesn_impl: same function either way; padding_mode: the release trains with
#: circular padding and evaluates with the default constant one). ``model_options`` can still set them.
RUNTIME_MODEL_OPTIONS = ("sesn_impl", "padding_mode")


def checkpoint_model_options(model_options, checkpoint) -> dict[str, Any]:
    """``model_options`` completed with the ``model_kwargs`` a training checkpoint records (e.g.
    ``score_adjust=True``), except :data:`RUNTIME_MODEL_OPTIONS`; ``ValueError`` when both set an option to
    different values. Files that record nothing (released weights, bare state dicts) add nothing."""
    options = dict(model_options or {})
    if checkpoint is None:
        return options
    try:
        recorded = recorded_model_kwargs(checkpoint)
    except (CheckpointError, OSError):
        return options  # unreadable / missing: loading the weights reports it
    recorded = {k: v for k, v in recorded.items() if k not in RUNTIME_MODEL_OPTIONS}
    conflicts = {k: (options[k], v) for k, v in recorded.items() if k in options and options[k] != v}
    if conflicts:
        detail = ", ".join(f"{k}: model_options {a!r} vs checkpoint {b!r}" for k, (a, b) in conflicts.items())
        raise ValueError(f"model_options {options} conflict with the model_kwargs {recorded} "
                         f"recorded in checkpoint '{checkpoint}' ({detail})")
    return {**recorded, **options}
