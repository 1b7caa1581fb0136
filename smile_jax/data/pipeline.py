"""Batches for training and evaluation, from a built dataset held in memory as numpy arrays.

Training batches are a pure function of (seed, epoch): the same seed gives the same order, the
same class balancing and the same augmentations, which is what lets a killed run resume and end
exactly where an uninterrupted one would. Augmentation runs in a background thread, one batch
ahead, so the accelerator (or XLA's CPU threads) is not kept waiting.

Class balancing follows the report (section 3.3): a random two of every three smiling training
images are repeated once per epoch.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterator

import numpy as np

from smile_jax.data import augment as augment_lib


def balanced_indices(labels: np.ndarray, seed: int) -> np.ndarray:
  """All indices, plus a seeded random 2/3 of the positive ones a second time."""
  positives = np.flatnonzero(labels == 1)
  rng = np.random.default_rng([seed, 7])
  extra = rng.permutation(positives)[: (2 * len(positives)) // 3]
  return np.concatenate([np.arange(len(labels)), np.sort(extra)])


def epoch_indices(labels: np.ndarray, seed: int, balance: bool) -> np.ndarray:
  """The training indices one epoch visits (before shuffling), balanced or not."""
  return balanced_indices(labels, seed) if balance else np.arange(len(labels))


def epoch_order(base: np.ndarray, seed: int, epoch: int) -> np.ndarray:
  return np.random.default_rng([seed, epoch]).permutation(base)


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
  return num_examples // batch_size


def _background(generator, depth: int = 3):
  """Runs `generator` in a thread, `depth` items ahead; re-raises its errors in the caller."""
  buffer: queue.Queue = queue.Queue(maxsize=depth)
  done = object()

  def work():
    try:
      for item in generator:
        buffer.put(item)
      buffer.put(done)
    except BaseException as e:  # handed to the consumer, which raises it
      buffer.put(e)

  threading.Thread(target=work, daemon=True).start()
  while True:
    item = buffer.get()
    if item is done:
      return
    if isinstance(item, BaseException):
      raise item
    yield item


def train_batches(images: np.ndarray, labels: np.ndarray, *, batch_size: int, seed: int, epoch: int,
                  balance: bool, augment_cfg=None, teacher=None) -> Iterator[dict]:
  """One epoch of {'image': uint8 (B,H,W,C), 'label': int32 (B,)}, plus 'teacher' (B, 2) float32
  when a teacher's logits per training image are given; the last partial batch is dropped."""
  order = epoch_order(epoch_indices(labels, seed, balance), seed, epoch)
  pipeline = augment_lib.build(augment_cfg, seed=seed * 100_003 + epoch) if augment_cfg else None

  def gen():
    for step in range(steps_per_epoch(len(order), batch_size)):
      idx = order[step * batch_size:(step + 1) * batch_size]
      batch = images[idx]
      if pipeline is not None:
        batch = augment_lib.apply(pipeline, batch)
      out = {"image": batch, "label": labels[idx].astype(np.int32)}
      if teacher is not None:
        out["teacher"] = teacher[idx].astype(np.float32)
      yield out

  return _background(gen())


def eval_batches(images: np.ndarray, batch_size: int) -> Iterator[tuple[np.ndarray, int]]:
  """Fixed-size batches (the last one padded, so one compiled shape serves all) and their true
  size."""
  for start in range(0, len(images), batch_size):
    batch = images[start:start + batch_size]
    count = len(batch)
    if count < batch_size:
      batch = np.concatenate([batch, np.zeros((batch_size - count, *batch.shape[1:]), batch.dtype)])
    yield batch, count


def fit_channels(images: np.ndarray, input_shape) -> np.ndarray:
  """Resizes/replicates stored (N, S, S, 1) crops to a model's (H, W, C) input when they differ."""
  import cv2
  height, width, channels = input_shape
  if images.shape[1:3] != (height, width):
    # Area averaging when shrinking (no aliasing), linear interpolation when enlarging.
    interpolation = cv2.INTER_AREA if height < images.shape[1] else cv2.INTER_LINEAR
    images = np.stack([cv2.resize(image[..., 0], (width, height), interpolation=interpolation)
                       for image in images])[..., None]
  if channels != images.shape[-1]:
    images = np.repeat(images[..., :1], channels, axis=-1)
  return images
