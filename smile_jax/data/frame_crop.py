"""The device's crop: a square of the camera frame, box-averaged down to the net's input.

Integer arithmetic only, so the firmware computes the same bytes (compile/firmware/common/
frame_crop.c; compile/camera_sim.py and tests/test_camera.py check them against each other).

- `face_square(box)`: the square a face box frames, by the host crop's policy (data/faces.py:
  side `CROP_SIDE` x the box's width, centred `CROP_SHIFT_DOWN` x its height below the box's
  centre), in whole pixels; it may reach outside the frame.
- `centre_square(width, height)`: the frame's centre square (what the robot did before it could
  find faces).
- `box_average(frame, x0, y0, side, out_h, out_w)`: output pixel (i, j) is the rounded mean of the
  square's rows [i*side/out_h, (i+1)*side/out_h) and columns [j*side/out_w, (j+1)*side/out_w),
  integer division, each bin at least one pixel (a square smaller than the output repeats its
  pixels); a pixel outside the frame reads the nearest edge pixel, as the host crop pads.
"""

from __future__ import annotations

import numpy as np

from smile_jax.data import faces

# faces.CROP_SIDE and CROP_SHIFT_DOWN as integer fractions (tenths, hundredths).
SIDE_TENTHS = round(faces.CROP_SIDE * 10)
SHIFT_HUNDREDTHS = round(faces.CROP_SHIFT_DOWN * 100)
assert SIDE_TENTHS / 10 == faces.CROP_SIDE and SHIFT_HUNDREDTHS / 100 == faces.CROP_SHIFT_DOWN


def face_square(box) -> tuple[int, int, int]:
  """(x0, y0, side) of the square the face box (x, y, w, h) frames (module docstring)."""
  x, y, w, h = (int(v) for v in box)
  side = max(1, (SIDE_TENTHS * w + 5) // 10)
  centre_x2 = 2 * x + w                                   # twice the centre, to stay whole
  centre_y2 = 2 * y + h + (2 * SHIFT_HUNDREDTHS * h + 50) // 100
  return (centre_x2 - side) // 2, (centre_y2 - side) // 2, side


def centre_square(width: int, height: int) -> tuple[int, int, int]:
  side = min(width, height)
  return (width - side) // 2, (height - side) // 2, side


def _bins(side: int, out: int) -> tuple[np.ndarray, np.ndarray]:
  starts = np.arange(out) * side // out
  ends = np.maximum((np.arange(out) + 1) * side // out, starts + 1)
  return starts, ends


def _binned_mean(pixels: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
  """(out_h, out_w) rounded means of `pixels`' integer bins (the module docstring's rule)."""
  r0, r1 = _bins(pixels.shape[0], out_h)
  c0, c1 = _bins(pixels.shape[1], out_w)
  # Sums over [start, end) from an integral image with a zero row and column in front.
  integral = np.zeros((pixels.shape[0] + 1, pixels.shape[1] + 1), np.int64)
  integral[1:, 1:] = pixels.astype(np.int64).cumsum(0).cumsum(1)
  sums = (integral[r1][:, c1] - integral[r0][:, c1] - integral[r1][:, c0] + integral[r0][:, c0])
  counts = (r1 - r0)[:, None] * (c1 - c0)[None, :]
  return ((sums + counts // 2) // counts).astype(np.uint8)


def _check(frame: np.ndarray, *sizes: int) -> np.ndarray:
  frame = np.asarray(frame)
  if frame.ndim != 2 or frame.dtype != np.uint8:
    raise ValueError(f"the crop takes a (H, W) uint8 frame, got {frame.shape} {frame.dtype}")
  if min(sizes) < 1:
    raise ValueError(f"the crop's sizes {sizes} must all be >= 1")
  return frame


def box_average(frame: np.ndarray, x0: int, y0: int, side: int, out_h: int,
                out_w: int) -> np.ndarray:
  """The square (x0, y0, side) of `frame` (H, W) uint8 as (out_h, out_w) uint8 (module
  docstring)."""
  frame = _check(frame, side, out_h, out_w)
  height, width = frame.shape
  rows = np.clip(y0 + np.arange(side), 0, height - 1)
  cols = np.clip(x0 + np.arange(side), 0, width - 1)
  return _binned_mean(frame[rows][:, cols], out_h, out_w)


def area_resize(frame: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
  """The whole frame box-averaged to (out_h, out_w), bins as box_average's per axis (the face
  locator's pyramid levels)."""
  return _binned_mean(_check(frame, out_h, out_w), out_h, out_w)
