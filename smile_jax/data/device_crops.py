"""Face crops made the robot's way: labelled photos drawn into camera frames, each face cropped
from its frame as the firmware crops a found face.

The robot's smile net sees a face through two steps the host's does not: the camera (gain, blur,
noise, low light; data/camera_frames.py) and the locator's box, which is off the true face by a
few pixels and a few per cent in size. `crop_set` makes the smile net's training or val crops
that way: each source drawn once into a frame at a random distance (`camera_frames.DISTANCES`),
its true box moved and scaled at random (`jittered`: a centre shift of N(0, `shift`) x the box's
side in each axis, a side scaled by 2^N(0, `log2_scale`)), then framed and box-averaged exactly
as the device does (data/frame_crop.py). A set is a pure function of its sources and seed.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from tqdm import tqdm

from smile_jax.data import camera_frames, frame_crop


@dataclasses.dataclass(frozen=True)
class CropSet:
  """The face-dataset interface the train loop validates on (loop.validate)."""
  images: np.ndarray            # (N, S, S, 1) uint8
  labels: np.ndarray            # (N,) int32, 1 = smiling
  domain: np.ndarray            # (N,) str: the source's dataset, for the per-dataset AUC
  kinds: tuple                  # per crop, the distance its frame was drawn at


def jittered(box, rng: np.random.Generator, shift: float, log2_scale: float):
  """`box` (x, y, w, h) with its centre moved and its side scaled at random (module docstring)."""
  x, y, w, h = box
  side = max(w, h)
  cx = x + w / 2 + rng.normal(0.0, shift) * side
  cy = y + h / 2 + rng.normal(0.0, shift) * side
  factor = 2.0 ** rng.normal(0.0, log2_scale)
  nw, nh = max(1, round(w * factor)), max(1, round(h * factor))
  return round(cx - nw / 2), round(cy - nh / 2), nw, nh


def crop_set(face_sources: list[camera_frames.Source], size: int, seed: int, shift: float,
             log2_scale: float, look: camera_frames.SensorLook = camera_frames.SensorLook(),
             desc: str = "device crops") -> CropSet:
  """One crop of each source, `size` x `size` (module docstring)."""
  if not face_sources:
    raise ValueError("device crops need face sources: the split holds none")
  kinds = list(camera_frames.DISTANCES)
  images, labels, domain, drawn = [], [], [], []
  for i, source in enumerate(tqdm(face_sources, desc=desc, unit="crop", mininterval=2.0)):
    rng = np.random.default_rng(seed * 1_000_003 + i)
    kind = kinds[rng.integers(len(kinds))]
    frame = camera_frames.draw(kind, [source], face_sources, int(rng.integers(2 ** 31)), look)
    if not frame.boxes:
      continue
    box = jittered(frame.boxes[0], rng, shift, log2_scale)
    images.append(frame_crop.box_average(frame.image, *frame_crop.face_square(box), size, size))
    labels.append(source.label)
    domain.append(source.key.split(":", 1)[0])
    drawn.append(kind)
  return CropSet(np.stack(images)[..., None], np.array(labels, np.int32),
                 np.array(domain), tuple(drawn))
