"""SiamFC training pairs (FACTS §5): template / search crops and their labels.

Recipe, per sample:

1. Pick a sequence uniformly among those with a valid pair, a template frame uniformly among its valid frames
   that have a partner, and a search frame uniformly among the *other* valid frames within ``frame_range``
   frames of it. A frame is valid when its box is finite with positive width and height, the target is not
   marked absent and its cover (if known) is not 0.
2. Template: the tracker's own exemplar crop: side ``s_z = round(sqrt((w + c(w+h)) (h + c(w+h))))`` (context
   c = 0.5, half-to-even rounding) around the box centre, scaled by ``1 + U(-scale, scale)``, cut with
   :func:`sesiam_lib.core.crop.get_subwindow` (padding = the frame's channel mean) and resized to
   ``exemplar_size``.
3. Search: side ``s_x = s_z + 2 ((I - E) / 2) / (E / s_z)`` of the search frame's box, scaled by
   ``1 + U(-scale, scale)``, centred so that the target lands ``shift`` search-crop pixels from the crop centre,
   with a desired shift ``U(-shift, shift)`` per axis. Crops start on whole pixels, so the returned ``shift`` is
   the *realised* one: ``(target centre - crop centre) * instance_size / crop side``, crop centre =
   ``first_pixel + side / 2`` (continuous coordinates, pixel i spans [i, i + 1)). In the resized crop the
   target centre is at ``instance_size / 2 + shift``.
4. Colour jitter (template and search independently): brightness, contrast, saturation factors
   ``1 + U(-color, color)`` and a hue rotation of ``U(-color, color)`` of the hue circle (the release used
   torchvision's ColorJitter(0.05, 0.05, 0.05, 0.05)).
5. Label: :func:`sesiam_lib.core.labels.siamfc_label` (score_size, shift, stride).

Differences from the release, on purpose: the release also shifts the template (a shift its label ignores) and
scales x and y independently; here the template stays centred and scaling is isotropic (a square crop).

Determinism: sample ``index`` of epoch ``e`` uses only ``np.random.default_rng([seed, e, index])``, so the same
pairs come out whatever the number of DataLoader workers. Call :meth:`PairDataset.set_epoch` before building the
epoch's iterator (with ``persistent_workers=False``, the default, workers receive the updated epoch).

Images come out RGB (``Sequence.image``); a model that wants BGR (SiamFC+) flips channels itself.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..core.boxes import box_is_valid
from ..core.crop import context_side, crop_window, get_subwindow, search_side
from ..core.labels import scale_shift_index, scale_shift_label, siamfc_label
from ..core.sequence import Sequence

__all__ = ["PairDataset", "context_side", "search_side", "valid_frames", "color_jitter"]


def valid_frames(seq: Sequence) -> np.ndarray:
    """Boolean mask of frames usable in a pair: valid box, not absent, cover not 0."""
    ok = box_is_valid(seq.boxes)
    if seq.absent is not None:
        ok &= ~np.asarray(seq.absent, dtype=bool)
    if seq.cover is not None:
        ok &= np.asarray(seq.cover) != 0
    return ok


def _mean_colour(image: np.ndarray) -> np.ndarray:
    """Per-channel mean (the crop padding colour); ``cv2.mean`` equals ``core.crop.channel_mean``, ~10x faster."""
    return np.asarray(cv2.mean(image)[:3], dtype=np.float64)


def color_jitter(image: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Brightness, contrast, saturation (factors 1 + U(-a, a)) and hue (U(-a, a) turns) of an RGB uint8 image."""
    if amount <= 0:
        return image
    b, c, s = 1.0 + rng.uniform(-amount, amount, 3)
    hue = rng.uniform(-amount, amount)
    # brightness, contrast (around the mean grey level) and saturation are one affine colour map:
    # out = c b S p + (1 - c) b m, S = s I + (1 - s) 1 w^T (w = luma weights, S 1 = 1), m = mean grey
    luma = np.array([0.299, 0.587, 0.114])
    grey_mean = float(luma @ np.asarray(cv2.mean(image)[:3]))
    sat = s * np.eye(3) + (1.0 - s) * np.outer(np.ones(3), luma)
    affine = np.concatenate([c * b * sat, np.full((3, 1), (1.0 - c) * b * grey_mean)], axis=1)
    out = cv2.transform(image, affine)  # rounds and saturates to uint8
    hue_shift = int(round(hue * 180.0))  # OpenCV's 8-bit hue runs over 0..179
    if hue_shift:
        hsv = cv2.cvtColor(out, cv2.COLOR_RGB2HSV)
        hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + hue_shift) % 180).astype(np.uint8)
        out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return out


def _as_sequences(sequences) -> list[Sequence]:
    if isinstance(sequences, (str, os.PathLike)):
        from .got10k import load_got10k

        path = Path(sequences)
        return load_got10k(path, None) if (path / "list.txt").is_file() else load_got10k(path, "train")
    return list(sequences)


class PairDataset(Dataset):
    """Template/search training pairs from tracking sequences (GOT-10k layout, synthetic, any ``Sequence`` list).

    Args:
        sequences: a list of :class:`Sequence`, or a GOT-10k-layout folder (a split folder with ``list.txt``,
            or a dataset root whose ``train/`` is used).
        exemplar_size, instance_size: template / search crop sides E, I (127 / 255 for the full models).
        score_size, stride: label map side and network stride (17 / 8).
        context: context amount of the exemplar crop (0.5).
        frame_range: template and search frames at most this many frames apart (100).
        shift: search-crop shift augmentation, pixels of the resized search crop, per axis (4).
        scale: crop-side scale augmentation, relative (0.05).
        color: colour-jitter amount (0.05; 0 disables).
        pairs_per_epoch: ``len(dataset)``; default: the number of usable template frames.
        seed: base seed; sample ``index`` of epoch ``e`` draws from ``default_rng([seed, e, index])``.
        radius: positive radius of the label in score cells (2).
        return_scale: also return ``scale``: float32, how many times larger the target appears in the search crop
            than in the template crop, relative to the unjittered geometry (``jitter_z / jitter_x``, the two crop
            sides' scale-jitter factors ``1 + U(-scale, scale)``). Off by default (samples unchanged).
        scale_ratio, max_shift: with ``return_scale``, the scale head's geometry (basis ratio, shifts ``-m..m``):
            adds ``scale_label`` float32 ``[2m + 1, S, S]`` (:func:`sesiam_lib.core.labels.scale_shift_label`) and
            ``scale_shift`` int64 (the positive shift). The trainer sets them for ``head="scale"`` models.

    Each sample is a dict: ``template`` uint8 ``[3, E, E]`` RGB, ``search`` uint8 ``[3, I, I]`` RGB, ``label``
    float32 ``[1, S, S]``, ``shift`` float32 ``(dx, dy)`` (target centre minus search-crop centre, search-crop
    pixels), ``sequence`` / ``template_frame`` / ``search_frame`` int64 (what was sampled).
    """

    def __init__(
        self,
        sequences,
        exemplar_size: int = 127,
        instance_size: int = 255,
        score_size: int = 17,
        stride: int = 8,
        context: float = 0.5,
        frame_range: int = 100,
        shift: float = 4,
        scale: float = 0.05,
        color: float = 0.05,
        pairs_per_epoch: int | None = None,
        seed: int = 0,
        radius: float = 2,
        return_scale: bool = False,
        scale_ratio: float | None = None,
        max_shift: int = 1,
    ):
        self.sequences = _as_sequences(sequences)
        self.exemplar_size = int(exemplar_size)
        self.instance_size = int(instance_size)
        self.score_size = int(score_size)
        self.stride = int(stride)
        self.context = float(context)
        self.frame_range = int(frame_range)
        self.shift = float(shift)
        self.scale = float(scale)
        self.color = float(color)
        self.seed = int(seed)
        self.radius = radius
        self.return_scale = bool(return_scale)
        self.scale_ratio = None if scale_ratio is None else float(scale_ratio)
        self.max_shift = int(max_shift)
        if self.scale_ratio is not None and not (self.return_scale and self.scale_ratio > 1 and self.max_shift >= 0):
            raise ValueError(f"PairDataset: scale_ratio needs return_scale=True, a ratio > 1 and max_shift >= 0 "
                             f"(got return_scale={return_scale}, scale_ratio={scale_ratio}, max_shift={max_shift})")
        self.epoch = 0
        if self.frame_range < 1:
            raise ValueError(f"PairDataset: frame_range must be >= 1, got {frame_range}")
        self._usable: list[int] = []  # indices into self.sequences
        self._valid: list[np.ndarray] = []  # valid frame indices, sorted
        self._templates: list[np.ndarray] = []  # valid frames with a partner within frame_range
        for k, seq in enumerate(self.sequences):
            valid = np.flatnonzero(valid_frames(seq))
            if len(valid) < 2:
                continue
            gaps = np.diff(valid) <= self.frame_range
            has_partner = np.zeros(len(valid), dtype=bool)
            has_partner[:-1] |= gaps
            has_partner[1:] |= gaps
            if has_partner.any():
                self._usable.append(k)
                self._valid.append(valid)
                self._templates.append(valid[has_partner])
        if not self._usable:
            raise ValueError(
                f"PairDataset: none of the {len(self.sequences)} sequences has two valid frames (finite box with "
                f"positive size, target present) within frame_range={self.frame_range} of each other: no "
                "training pair can be made"
            )
        n_templates = int(sum(len(t) for t in self._templates))
        self.pairs_per_epoch = int(pairs_per_epoch) if pairs_per_epoch is not None else n_templates
        if self.pairs_per_epoch < 1:
            raise ValueError(f"PairDataset: pairs_per_epoch must be >= 1, got {pairs_per_epoch}")

    def __len__(self) -> int:
        return self.pairs_per_epoch

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose pairs ``__getitem__`` returns (deterministic per (seed, epoch, index))."""
        self.epoch = int(epoch)

    @property
    def num_usable_sequences(self) -> int:
        return len(self._usable)

    def sample_indices(self, index: int, rng: np.random.Generator | None = None) -> tuple[int, int, int]:
        """(sequence index, template frame, search frame) of sample ``index`` in the current epoch."""
        if rng is None:
            rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        u = int(rng.integers(len(self._usable)))
        templates, valid = self._templates[u], self._valid[u]
        t = int(templates[rng.integers(len(templates))])
        lo, hi = np.searchsorted(valid, [t - self.frame_range, t + self.frame_range + 1])
        partners = valid[lo:hi]
        partners = partners[partners != t]
        s = int(partners[rng.integers(len(partners))])
        return self._usable[u], t, s

    def make_pair(self, seq: Sequence, t: int, s: int, rng: np.random.Generator) -> dict:
        """Crops, shift and label of one (template frame ``t``, search frame ``s``) pair of ``seq``."""
        E, I = self.exemplar_size, self.instance_size
        # template: the tracker's exemplar crop (scale-jittered)
        z_img = seq.image(t)
        x, y, w, h = seq.boxes[t]
        jitter_z = 1.0 + rng.uniform(-self.scale, self.scale)
        s_z = context_side(w, h, self.context) * jitter_z
        template = get_subwindow(z_img, (x + w / 2.0, y + h / 2.0), E, max(1.0, s_z), _mean_colour(z_img))
        # search: target placed `shift` pixels from the crop centre
        x_img = z_img if s == t else seq.image(s)
        x, y, w, h = seq.boxes[s]
        centre = np.array([x + w / 2.0, y + h / 2.0])
        jitter_x = 1.0 + rng.uniform(-self.scale, self.scale)
        s_x = search_side(context_side(w, h, self.context), E, I) * jitter_x
        side = max(1, int(round(s_x)))
        desired = rng.uniform(-self.shift, self.shift, 2) if self.shift > 0 else np.zeros(2)
        crop_centre = centre - desired * side / I
        first = np.array([crop_window(crop_centre[0], side)[0], crop_window(crop_centre[1], side)[0]], float)
        realised = (centre - (first + side / 2.0)) * I / side
        search = get_subwindow(x_img, crop_centre, I, side, _mean_colour(x_img))
        if self.color > 0:
            template = color_jitter(template, rng, self.color)
            search = color_jitter(search, rng, self.color)
        label = siamfc_label(self.score_size, realised, self.stride, self.radius)
        sample = {
            "template": torch.from_numpy(np.ascontiguousarray(template.transpose(2, 0, 1))),
            "search": torch.from_numpy(np.ascontiguousarray(search.transpose(2, 0, 1))),
            "label": torch.from_numpy(label[None]),
            "shift": torch.tensor(realised, dtype=torch.float32),
        }
        if self.return_scale:
            self._add_scale(sample, jitter_z, jitter_x, realised)
        return sample

    def _add_scale(self, sample: dict, jitter_z: float, jitter_x: float, realised: np.ndarray) -> None:
        """``return_scale=True``: the pair's relative scale and (with ``scale_ratio``) the scale head's label."""
        # template side x jitter_z shrinks the target in the template by jitter_z, search side x jitter_x shrinks
        # it in the search crop by jitter_x; without jitter both crops show it at the same size (the search side
        # is the template side x I / E of the search frame's own box), so relative to that geometry the target
        # appears jitter_z / jitter_x times larger in the search crop than in the template crop
        relative = jitter_z / jitter_x
        sample["scale"] = torch.tensor(relative, dtype=torch.float32)
        if self.scale_ratio is not None:
            label = scale_shift_label(self.score_size, realised, self.stride, self.radius, relative,
                                      self.scale_ratio, self.max_shift)
            sample["scale_label"] = torch.from_numpy(label)
            sample["scale_shift"] = torch.tensor(scale_shift_index(relative, self.scale_ratio, self.max_shift),
                                                 dtype=torch.int64)

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(f"PairDataset index {index} out of range [0, {len(self)})")
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        k, t, s = self.sample_indices(index, rng)
        sample = self.make_pair(self.sequences[k], t, s, rng)
        sample["sequence"] = torch.tensor(k, dtype=torch.int64)
        sample["template_frame"] = torch.tensor(t, dtype=torch.int64)
        sample["search_frame"] = torch.tensor(s, dtype=torch.int64)
        return sample
