"""Face detection and cropping: Viola-Jones (OpenCV's Haar frontal-face cascade), as in the report.

`crop_face` turns any photo into a model input: the largest detected face, framed like
SMILEsmileD's tight crops (a square of side 0.9 x box width, centred 0.08 x box height below the
box centre), grayscale, resized to `size` x `size`.

Fallback when no face is found: the centred square of side min(H, W) of the whole image. That is
the right crop for an image that already is a tight face crop (the detector often misses faces
that fill the frame), and a documented best guess otherwise; `FaceCrop.face_found` records which
case it was, so evaluations can report both.
"""

from __future__ import annotations

import dataclasses
import functools

import cv2
import numpy as np

from smile_jax.data import images as images_lib

SCALE_FACTOR = 1.1
MIN_NEIGHBORS = 5
MIN_FACE = 40          # pixels; smaller detections on these photos are mostly false positives
CROP_SIDE = 0.9        # x box width
CROP_SHIFT_DOWN = 0.08  # x box height
# Larger photos (a phone's 4000x3000) are searched at this size: ~100x faster, and the cascade
# misses faces hundreds of pixels wide that it finds at a moderate scale. The crop itself is
# taken from the full-resolution photo.
DETECT_MAX_SIDE = 1024


@dataclasses.dataclass(frozen=True)
class FaceCrop:
  image: np.ndarray            # (size, size) uint8 grayscale
  face_found: bool
  box: tuple[int, int, int, int]  # detected face (x, y, w, h) in the photo; (0, 0, 0, 0) if none


@functools.lru_cache(maxsize=None)
def cascade(name: str = "haarcascade_frontalface_default.xml") -> cv2.CascadeClassifier:
  """An OpenCV Haar cascade by file name (from cv2.data.haarcascades) or by path."""
  path = name if "/" in name else cv2.data.haarcascades + name
  clf = cv2.CascadeClassifier(path)
  if clf.empty():
    raise FileNotFoundError(f"cannot load Haar cascade {path}: install opencv-python-headless<5 "
                            "(OpenCV 5 has no cascades)")
  return clf


def detect_largest_face(gray: np.ndarray) -> tuple[int, int, int, int] | None:
  """The largest face's box (x, y, w, h) in `gray`'s own pixels, or None."""
  scale = min(1.0, DETECT_MAX_SIDE / max(gray.shape))
  if scale < 1.0:
    size = (round(gray.shape[1] * scale), round(gray.shape[0] * scale))
    gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
  faces = cascade().detectMultiScale(gray, scaleFactor=SCALE_FACTOR, minNeighbors=MIN_NEIGHBORS,
                                     minSize=(MIN_FACE, MIN_FACE))
  if len(faces) == 0:
    return None
  box = max(faces, key=lambda f: f[2] * f[3])
  return tuple(int(round(v / scale)) for v in box)


def _square_crop(gray: np.ndarray, cx: float, cy: float, side: float) -> np.ndarray:
  """A side x side crop centred at (cx, cy); parts outside the photo are filled by edge pixels."""
  half = side / 2.0
  x0, y0 = int(round(cx - half)), int(round(cy - half))
  side_px = max(1, int(round(side)))
  height, width = gray.shape
  pad = max(0, -x0, -y0, x0 + side_px - width, y0 + side_px - height)
  if pad:
    gray = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    x0, y0 = x0 + pad, y0 + pad
  return gray[y0:y0 + side_px, x0:x0 + side_px]


def crop_face(image: np.ndarray, size: int = 64) -> FaceCrop:
  """Detects the largest face in a decoded photo and returns its crop (see module docstring)."""
  gray = images_lib.to_gray(image)
  box = detect_largest_face(gray)
  if box is None:
    box_h, box_w = gray.shape
    crop = _square_crop(gray, box_w / 2.0, box_h / 2.0, min(box_h, box_w))
    found, box = False, (0, 0, 0, 0)
  else:
    box_x, box_y, box_w, box_h = box
    crop = _square_crop(gray, box_x + box_w / 2.0, box_y + box_h / 2.0 + CROP_SHIFT_DOWN * box_h,
                        CROP_SIDE * box_w)
    found = True
  return FaceCrop(resize(crop, size), found, box)


def resize(gray: np.ndarray, size: int) -> np.ndarray:
  if gray.shape == (size, size):
    return gray
  interp = cv2.INTER_AREA if gray.shape[0] > size else cv2.INTER_LINEAR
  return cv2.resize(gray, (size, size), interpolation=interp)
