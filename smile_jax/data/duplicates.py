"""Exact and near-duplicate images, found by a perceptual hash, so that splits can keep them
together.

SMILEsmileD is cut from a public face set with several photos of many people (and a few files
stored twice, once per class), so a per-image split can put the same photo in train and test.
`duplicate_groups` links images whose 256-bit difference hashes (dHash: is each pixel of a 17x16
thumbnail brighter than its left neighbour?) differ in at most `max_distance` bits, and returns a
group id per image; `splits.stratified_split` then assigns whole groups to one split.

The default distance was read off SMILEsmileD (WORKSPACE.md): nearest-neighbour distances are 0
for exact copies, 2-26 for the same photo re-cropped or re-encoded, then a gap, and 32 and up for
different photos (often of the same person: this finds copies, not identities).
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

HASH_SIDE = 16
MAX_DISTANCE = 26          # of 256 bits
_CHUNK = 512               # rows of the pairwise distance matrix at a time (~30 MB for 13k images)


@dataclasses.dataclass(frozen=True)
class Duplicates:
  groups: np.ndarray       # int64 (N,): images with the same id are copies of each other
  max_distance: int

  @property
  def duplicated(self) -> np.ndarray:
    """True for images that have at least one copy."""
    _, inverse, counts = np.unique(self.groups, return_inverse=True, return_counts=True)
    return counts[inverse] > 1

  def stats(self) -> dict:
    dup = self.duplicated
    return {"max_distance": self.max_distance, "images_with_copies": int(dup.sum()),
            "groups": int(len(np.unique(self.groups[dup])))}


def dhash(images: np.ndarray) -> np.ndarray:
  """(N, 4) uint64 difference hashes of uint8 images (N, H, W) or (N, H, W, C: first channel)."""
  images = images[..., 0] if images.ndim == 4 else images
  small = np.stack([cv2.resize(im, (HASH_SIDE + 1, HASH_SIDE), interpolation=cv2.INTER_AREA)
                    for im in images]).astype(np.int16)
  bits = (small[:, :, 1:] > small[:, :, :-1]).reshape(len(images), -1)
  return np.packbits(bits, axis=1).view(np.uint64)


def duplicate_groups(images: np.ndarray, max_distance: int = MAX_DISTANCE) -> Duplicates:
  """Connected components of the "hashes within `max_distance` bits" relation."""
  hashes = dhash(images)
  parent = np.arange(len(hashes))

  def root(firstode: int) -> int:
    while parent[firstode] != firstode:
      parent[firstode] = parent[parent[firstode]]
      firstode = parent[firstode]
    return firstode

  for start in range(0, len(hashes), _CHUNK):
    block = hashes[start:start + _CHUNK]
    distance = np.bitwise_count(block[:, None, :] ^ hashes[None, start:, :]).sum(axis=-1)
    rows, cols = np.nonzero(distance <= max_distance)
    for first, second in zip(rows + start, cols + start):   # each pair once: j >= start, and i < j
      if first < second:
        parent[root(first)] = root(second)
  return Duplicates(np.array([root(first) for first in range(len(hashes))], np.int64), max_distance)
