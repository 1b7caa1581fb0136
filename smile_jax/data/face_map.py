"""The face map: face boxes in a camera frame as a coarse per-cell map, and back.

The learned face locator (the FOMO / CenterNet idea) sees the 324 x 244 frame box-averaged by
`DOWNSCALE` (`locator_input`: 81 x 61, integer bins, data/frame_crop.py) and writes a map of
`GRID` cells, each `CELL` frame pixels wide, with `CHANNELS` values per cell:

  0  heat: a logit that a face's centre lies in this cell;
  1  dx, 2 dy: the face centre's offset from the cell's anchor, in cells;
  3  size: log2 of the face's side over `BASE_SIDE` pixels.

`encode(boxes)` gives the training targets: a Gaussian bump of heat around each face's centre
cell (CenterNet's penalty-reduced targets, 1 at the centre), and the box at the centre cell and
its neighbours. `decode` reads boxes back: cells whose heat clears the threshold and is a local
maximum (ties go to the earlier cell in raster order), best first, at most `MAX_FACES`.

Two decodes share that rule: `decode` on real values (training and evaluation in float) and
`decode_int` on the int8 locator's int32 output (the device's arithmetic: a threshold in
accumulator units, fixed-point offsets and a lookup table of sizes), which the firmware
reproduces bit for bit (compile/firmware/common/face_map.c).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from smile_jax.data import camera_frames, frame_crop

FRAME_W, FRAME_H = camera_frames.WIDTH, camera_frames.HEIGHT      # the sensor's 324 x 244
DOWNSCALE = 4
INPUT_W, INPUT_H = FRAME_W // DOWNSCALE, FRAME_H // DOWNSCALE     # 81 x 61
TRUNK_STRIDE = 8                         # the locator's three stride-2 convs
CELL = DOWNSCALE * TRUNK_STRIDE          # 32 frame pixels per cell
GRID = (math.ceil(INPUT_H / TRUNK_STRIDE), math.ceil(INPUT_W / TRUNK_STRIDE))    # (8, 11)
CHANNELS = 4
BASE_SIDE = 64                           # size channel 0 <=> a 64-pixel face
MAX_FACES = 4
SIGMA_CELLS = 0.75                       # the heat bump's spread at a 64-pixel face
# The size table spans faces of 2^-1.5 .. 2^2.5 x BASE_SIDE (23 .. 362 pixels) in 256 steps.
SIZE_LOG2_RANGE = (-1.5, 2.5)
SIZE_STEPS = 256
FIXED_SHIFT = 16                         # the integer decode's fixed-point fractions
MATCH_IOU = 0.3                          # a found box is a true face's at this IoU or more


def locator_input(frame: np.ndarray) -> np.ndarray:
  """A (244, 324) uint8 frame -> the locator's (61, 81) uint8 input (4 x 4 box averages)."""
  return frame_crop.area_resize(frame, INPUT_H, INPUT_W)


def anchor(row: int, col: int) -> tuple[int, int]:
  """A cell's anchor (x, y) in frame pixels: its centre."""
  return col * CELL + CELL // 2, row * CELL + CELL // 2


@dataclasses.dataclass(frozen=True)
class Targets:
  heat: np.ndarray        # (H, W) float32 in [0, 1]; 1 exactly at each face's centre cell
  box: np.ndarray         # (H, W, 3) float32: dx, dy, log2 size
  box_weight: np.ndarray  # (H, W) float32: 1 where `box` is a target


def encode(boxes) -> Targets:
  """The training targets of a frame's true face boxes (x, y, w, h in frame pixels)."""
  rows, cols = GRID
  heat = np.zeros(GRID, np.float32)
  box = np.zeros((rows, cols, 3), np.float32)
  weight = np.zeros(GRID, np.float32)
  centre_of = np.zeros(GRID, np.float32)          # the heat of the face whose box a cell holds
  r_idx, c_idx = np.mgrid[0:rows, 0:cols]
  for x, y, w, h in boxes:
    side = math.sqrt(w * h)
    cx, cy = x + w / 2, y + h / 2
    row, col = min(int(cy // CELL), rows - 1), min(int(cx // CELL), cols - 1)
    sigma = SIGMA_CELLS * max(side / BASE_SIDE, 0.5) ** 0.5
    bump = np.exp(-((r_idx - row) ** 2 + (c_idx - col) ** 2) / (2 * sigma ** 2))
    bump[row, col] = 1.0
    heat = np.maximum(heat, bump.astype(np.float32))
    size = math.log2(max(side, 1.0) / BASE_SIDE)
    for r in range(max(row - 1, 0), min(row + 2, rows)):
      for c in range(max(col - 1, 0), min(col + 2, cols)):
        if bump[r, c] > centre_of[r, c]:          # the nearer face keeps the cell
          ax, ay = anchor(r, c)
          box[r, c] = ((cx - ax) / CELL, (cy - ay) / CELL, size)
          weight[r, c] = 1.0
          centre_of[r, c] = bump[r, c]
  return Targets(heat, box, weight)


def peaks(heat: np.ndarray, threshold) -> list[tuple[int, int]]:
  """(row, col) of the cells whose heat is >= `threshold` and a local maximum of its 3 x 3
  neighbourhood (strictly above the neighbours before it in raster order, at least the ones
  after), by falling heat (raster order among equals), at most MAX_FACES."""
  rows, cols = heat.shape
  found = []
  for r in range(rows):
    for c in range(cols):
      value = heat[r, c]
      if value < threshold:
        continue
      is_peak = True
      for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
          rr, cc = r + dr, c + dc
          if (dr or dc) and 0 <= rr < rows and 0 <= cc < cols:
            earlier = (dr, dc) < (0, 0)
            if heat[rr, cc] > value or (earlier and heat[rr, cc] == value):
              is_peak = False
      if is_peak:
        found.append((r, c))
  found.sort(key=lambda rc: -heat[rc])       # a stable sort keeps raster order among equals
  return found[:MAX_FACES]


def _square(centre_x2: int, centre_y2: int, side: int) -> tuple[int, int, int, int] | None:
  """The square box of side `side` centred on twice-(x, y) (half pixels keep an odd side's
  centre whole), clipped to the frame (None: outside)."""
  return camera_frames.clip_box(((centre_x2 - side) // 2, (centre_y2 - side) // 2, side, side))


def decode(out: np.ndarray, threshold: float) -> list[tuple[int, int, int, int]]:
  """Face boxes (x, y, w, h, frame pixels, best first) from a real-valued map (H, W, CHANNELS)
  whose heat logits clear `threshold`."""
  boxes = []
  for r, c in peaks(out[..., 0], threshold):
    ax, ay = anchor(r, c)
    dx, dy, size = (float(v) for v in out[r, c, 1:])
    size = min(max(size, SIZE_LOG2_RANGE[0]), SIZE_LOG2_RANGE[1])
    boxes.append(_square(2 * ax + round(2 * dx * CELL), 2 * ay + round(2 * dy * CELL),
                         round(BASE_SIDE * 2 ** size)))
  return [b for b in boxes if b is not None]


@dataclasses.dataclass(frozen=True)
class IntDecode:
  """The integer decode's constants, from the int8 locator's per-channel output scales (real =
  int32 value x scale): the heat threshold in accumulator units, fixed-point multipliers
  (<< FIXED_SHIFT) from accumulators to half frame pixels (offsets) and to size-table steps, and
  the table of sides."""
  heat_threshold: int
  offset_multiplier: tuple[int, int]
  size_multiplier: int
  size_offset: int
  sides: tuple[int, ...]

  @classmethod
  def from_scales(cls, scales, threshold: float) -> "IntDecode":
    scales = [float(s) for s in scales]
    lo, hi = SIZE_LOG2_RANGE
    per_step = (SIZE_STEPS - 1) / (hi - lo)
    one = 1 << FIXED_SHIFT
    sides = tuple(round(BASE_SIDE * 2 ** (lo + i / per_step)) for i in range(SIZE_STEPS))
    return cls(math.ceil(threshold / scales[0] - 1e-9),
               (round(scales[1] * 2 * CELL * one), round(scales[2] * 2 * CELL * one)),
               round(scales[3] * per_step * one), round(-lo * per_step * one) + one // 2, sides)


def _fixed(value: int, multiplier: int) -> int:
  """round(value x multiplier / 2^FIXED_SHIFT), half up, in 64-bit integers as the C does."""
  return (int(value) * multiplier + (1 << (FIXED_SHIFT - 1))) >> FIXED_SHIFT


def decode_int(out: np.ndarray, constants: IntDecode) -> list[tuple[int, int, int, int]]:
  """`decode` in the device's integers: `out` is the int8 locator's int32 map (H, W, CHANNELS)."""
  boxes = []
  for r, c in peaks(np.asarray(out[..., 0], np.int64), constants.heat_threshold):
    ax, ay = anchor(r, c)
    dx2 = _fixed(out[r, c, 1], constants.offset_multiplier[0])
    dy2 = _fixed(out[r, c, 2], constants.offset_multiplier[1])
    step = (int(out[r, c, 3]) * constants.size_multiplier + constants.size_offset) >> FIXED_SHIFT
    side = constants.sides[min(max(step, 0), SIZE_STEPS - 1)]
    boxes.append(_square(2 * ax + dx2, 2 * ay + dy2, side))
  return [b for b in boxes if b is not None]


def iou(a, b) -> float:
  """Intersection over union of two boxes (x, y, w, h)."""
  ax, ay, aw, ah = a
  bx, by, bw, bh = b
  w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
  h = max(0, min(ay + ah, by + bh) - max(ay, by))
  inter = w * h
  return inter / float(aw * ah + bw * bh - inter) if inter else 0.0


def match(found, truth) -> tuple[int, int]:
  """(true faces that a found box matches, found boxes that match no true face), at MATCH_IOU."""
  hits = sum(any(iou(t, b) >= MATCH_IOU for b in found) for t in truth)
  false = sum(not any(iou(t, b) >= MATCH_IOU for t in truth) for b in found)
  return hits, false
