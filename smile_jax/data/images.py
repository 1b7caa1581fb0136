"""Reading image files robustly: every failure becomes a `BadImage` that names the file and the fix.

All decoders in the project go through `read_image`, so corrupt, truncated, empty, non-image,
alpha, 16-bit and tiny files are handled in one place, the same way at build and at predict time.
"""

from __future__ import annotations

import os
import warnings

import cv2
import numpy as np

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".ppm", ".tif", ".tiff", ".webp")
MIN_SIDE = 16  # Below this a face crop carries no usable detail.


class BadImage(ValueError):
  """An image file that cannot be used; the message names the file, the reason and the fix."""

  def __init__(self, path: str, reason: str, fix: str):
    super().__init__(f"{path}: {reason} ({fix})")
    self.path, self.reason, self.fix = path, reason, fix


def is_image_file(path: str) -> bool:
  return path.lower().endswith(IMAGE_EXTENSIONS)


def list_image_files(folder: str) -> tuple[list[str], list[str]]:
  """(image files, other files) under `folder`, recursively, sorted; hidden files are ignored."""
  images, others = [], []
  for root, dirs, files in os.walk(folder):
    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    for name in sorted(files):
      if name.startswith("."):
        continue
      path = os.path.join(root, name)
      (images if is_image_file(name) else others).append(path)
  return images, others


def _jpeg_is_truncated(data: bytes) -> bool:
  # libjpeg pads a truncated stream with grey and only warns, so look for the end-of-image marker.
  # Cameras and converters may append a few bytes after it, hence the search in the tail.
  return data[:2] == b"\xff\xd8" and b"\xff\xd9" not in data[-4096:]


def read_image(path: str, min_side: int = MIN_SIDE) -> np.ndarray:
  """Decodes `path` to a uint8 array, HxW (grayscale) or HxWx3 (BGR).

  Alpha is composited over white, 16-bit images are scaled to 8 bits. Raises `BadImage` for an
  empty, unreadable, truncated or too-small file.
  """
  try:
    with open(path, "rb") as f:
      data = f.read()
  except OSError as e:
    raise BadImage(path, f"cannot be read: {e.strerror}", "check the path and its permissions") from None
  if not data:
    raise BadImage(path, "is an empty (0-byte) file", "re-copy or delete it")
  if _jpeg_is_truncated(data):
    raise BadImage(path, "is a truncated JPEG (no end-of-image marker)", "re-download or delete it")
  image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
  if image is None:
    raise BadImage(path, "is not a decodable image (corrupt or not an image format)",
                   "replace it with a valid JPEG/PNG or delete it")
  if image.dtype == np.uint16:
    image = (image / 257.0).round().astype(np.uint8)
  elif image.dtype != np.uint8:
    raise BadImage(path, f"has unsupported pixel type {image.dtype}", "convert it to 8-bit")
  if image.ndim == 3 and image.shape[2] == 4:
    alpha = image[..., 3:].astype(np.float32) / 255.0
    image = (image[..., :3] * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
  elif image.ndim == 3 and image.shape[2] == 1:
    image = image[..., 0]
  if min(image.shape[:2]) < min_side:
    raise BadImage(path, f"is too small ({image.shape[1]}x{image.shape[0]} px, need >= {min_side})",
                   "use a larger photo or delete it")
  return image


def to_gray(image: np.ndarray) -> np.ndarray:
  return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def read_gray(path: str, min_side: int = MIN_SIDE) -> np.ndarray:
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    return to_gray(read_image(path, min_side))
