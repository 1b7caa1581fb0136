"""The device's face locator: Viola-Jones in fixed point, over a pyramid of the camera frame.

The robot finds faces the way the seed report's pipeline does (a Haar cascade), in integer
arithmetic only, so that this numpy reference and the firmware (compile/firmware/common/
haar_locator.c, its tables generated from `Cascade`) find the same boxes bit for bit.

- `Cascade.from_opencv(name)` reads one of OpenCV's Haar cascades (the data file; the evaluation
  is ours) into integer tables: node thresholds in units of 2^-THRESHOLD_BITS, leaf values and
  stage thresholds in units of 2^-LEAF_BITS (rounded once, here).
- A window passes a node's left branch when its feature's weighted rectangle sum, times
  2^THRESHOLD_BITS, is below the node's threshold times the window's contrast `nf`, the integer
  square root of area x sum of squares - sum^2 over the window less a one-pixel border (what
  OpenCV's float evaluation compares, multiplied out). A flat window (nf = 0) is no face.
- `Locator.find(frame)` box-averages the frame to each pyramid level (data/frame_crop.py), builds
  the level's integral image and squared integral image (uint32; the squared one wraps, and a
  window's difference of four wrapped sums is still exact), slides the window by `step` pixels,
  maps each hit back to frame pixels and groups them (`group`, OpenCV's groupRectangles rule in
  integers): up to `max_faces` boxes, the best-supported first.
"""

from __future__ import annotations

import dataclasses
import functools
import xml.etree.ElementTree as ET

import cv2
import numpy as np

from smile_jax.data import frame_crop

THRESHOLD_BITS = 24
LEAF_BITS = 16


@dataclasses.dataclass(frozen=True)
class Cascade:
  """A Haar cascade as integer tables (module docstring). Trees are stored node by node: tree t
  has nodes [t * nodes_per_tree, (t + 1) * nodes_per_tree); a child <= 0 is leaf -child of its
  tree (leaves [t * (nodes_per_tree + 1), ...))."""
  name: str
  window: int                      # the cascade's square window side (20 or 24)
  nodes_per_tree: int
  stage_trees: np.ndarray          # (S + 1,) int32: stage s has trees [stage_trees[s], [s + 1])
  stage_threshold: np.ndarray      # (S,) int32, Q LEAF_BITS
  node_feature: np.ndarray         # (N,) int32
  node_threshold: np.ndarray       # (N,) int32, Q THRESHOLD_BITS
  node_left: np.ndarray            # (N,) int32: > 0 another node of the tree, <= 0 a leaf
  node_right: np.ndarray
  leaf: np.ndarray                 # (L,) int32, Q LEAF_BITS
  rects: np.ndarray                # (F, 3, 5) int32: x, y, w, h, weight (unused rects: weight 0)

  @classmethod
  @functools.lru_cache(maxsize=None)
  def from_opencv(cls, name: str = "haarcascade_frontalface_alt2.xml") -> "Cascade":
    path = name if "/" in name else cv2.data.haarcascades + name
    root = ET.parse(path).getroot().find("cascade")
    if root is None or root.findtext("featureType") != "HAAR":
      raise ValueError(f"{path}: not an OpenCV HAAR cascade in the new format")
    window = int(root.findtext("width"))
    if int(root.findtext("height")) != window:
      raise ValueError(f"{path}: the locator takes square windows")
    stage_trees, stage_threshold, nodes, leaves = [0], [], [], []
    per_tree = None
    for stage in root.find("stages"):
      for weak in stage.find("weakClassifiers"):
        values = weak.findtext("internalNodes").split()
        tree = [values[i:i + 4] for i in range(0, len(values), 4)]
        per_tree = per_tree or len(tree)
        if len(tree) != per_tree:
          raise ValueError(f"{path}: trees of different sizes")
        nodes += [(int(left), int(right), int(feature), float(threshold))
                  for left, right, feature, threshold in tree]
        leaves += [float(v) for v in weak.findtext("leafValues").split()]
      stage_trees.append(stage_trees[-1] + len(stage.find("weakClassifiers")))
      stage_threshold.append(float(stage.findtext("stageThreshold")))
    rects = np.zeros((len(root.find("features")), 3, 5), np.int32)
    for f, feature in enumerate(root.find("features")):
      if feature.findtext("tilted", "0").strip() != "0":
        raise ValueError(f"{path}: tilted features are not supported")
      for r, rect in enumerate(feature.find("rects")):
        x, y, w, h, weight = (float(v) for v in rect.text.split())
        if weight != round(weight):
          raise ValueError(f"{path}: feature {f} has a fractional weight {weight}")
        rects[f, r] = (x, y, w, h, weight)
    nodes = np.array(nodes, dtype=object)

    def fixed(values, bits):
      return np.round(np.asarray(values, np.float64) * (1 << bits)).astype(np.int32)
    return cls(name, window, per_tree, np.array(stage_trees, np.int32),
               fixed(stage_threshold, LEAF_BITS), nodes[:, 2].astype(np.int32),
               fixed(nodes[:, 3].astype(np.float64), THRESHOLD_BITS),
               nodes[:, 0].astype(np.int32), nodes[:, 1].astype(np.int32),
               fixed(leaves, LEAF_BITS), rects)


def integrals(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """(H + 1, W + 1) uint32 integral image and squared integral image (the latter wraps)."""
  pixels = image.astype(np.uint32)
  sums = np.zeros((image.shape[0] + 1, image.shape[1] + 1), np.uint32)
  squares = np.zeros_like(sums)
  sums[1:, 1:] = pixels.cumsum(0, dtype=np.uint32).cumsum(1, dtype=np.uint32)
  squares[1:, 1:] = (pixels * pixels).cumsum(0, dtype=np.uint32).cumsum(1, dtype=np.uint32)
  return sums, squares


def _rect_sum(table, ys, xs, x, y, w, h) -> np.ndarray:
  """Window-relative rectangle sums at window origins (ys, xs), wrapped uint32 -> int64."""
  total = (table[ys + y + h, xs + x + w] - table[ys + y, xs + x + w]
           - table[ys + y + h, xs + x] + table[ys + y, xs + x])
  return total.astype(np.int64)


def isqrt(values: np.ndarray) -> np.ndarray:
  """The integer square root, floor(sqrt(v)), of non-negative int64s."""
  root = np.sqrt(values.astype(np.float64)).astype(np.int64)
  root -= (root * root > values)
  root += ((root + 1) * (root + 1) <= values)
  return root


def passing_windows(cascade: Cascade, sums, squares, ys, xs) -> np.ndarray:
  """Which windows (origins ys, xs in the level) pass every stage (module docstring)."""
  inner = cascade.window - 2
  area = inner * inner
  s = _rect_sum(sums, ys, xs, 1, 1, inner, inner)
  q = _rect_sum(squares, ys, xs, 1, 1, inner, inner) & 0xFFFFFFFF
  nf = isqrt(np.maximum(area * q - s * s, 0))
  alive = np.flatnonzero(nf > 0)
  for stage in range(len(cascade.stage_threshold)):
    total = np.zeros(len(alive), np.int64)
    for tree in range(cascade.stage_trees[stage], cascade.stage_trees[stage + 1]):
      node = np.zeros(len(alive), np.int64)   # index within the tree
      done = np.zeros(len(alive), bool)
      leaf = np.zeros(len(alive), np.int64)
      for _ in range(cascade.nodes_per_tree):
        n = tree * cascade.nodes_per_tree + node
        value = np.zeros(len(alive), np.int64)
        for r in range(3):
          x, y, w, h, weight = (cascade.rects[cascade.node_feature[n], r, k] for k in range(5))
          value += weight * _rect_sum(sums, ys[alive], xs[alive], x, y, w, h)
        left = (value << THRESHOLD_BITS) < cascade.node_threshold[n].astype(np.int64) * nf[alive]
        child = np.where(left, cascade.node_left[n], cascade.node_right[n])
        newly = ~done & (child <= 0)
        leaf[newly] = -child[newly]
        done |= child <= 0
        node = np.where(done, node, child)
        if done.all():
          break
      total += cascade.leaf[tree * (cascade.nodes_per_tree + 1) + leaf]
    alive = alive[total >= cascade.stage_threshold[stage]]
    if not len(alive):
      break
  keep = np.zeros(len(ys), bool)
  keep[alive] = True
  return keep


@dataclasses.dataclass(frozen=True)
class Level:
  width: int                        # the frame box-averaged to width x height
  height: int


@dataclasses.dataclass(frozen=True)
class Locator:
  """Where and how finely to look (module docstring): faces from `min_face` frame pixels up,
  levels `scale_step` apart, the window moved `step` level pixels, a face kept when more than
  `min_neighbors` hits group into it; at most `max_hits` hits (the first in level, row, column
  order) and `max_faces` faces."""
  cascade: Cascade
  frame_width: int = 324
  frame_height: int = 244
  min_face: int = 24
  scale_step: float = 1.25
  step: int = 2
  min_neighbors: int = 2
  max_hits: int = 512
  max_faces: int = 4

  @functools.cached_property
  def levels(self) -> tuple[Level, ...]:
    """The pyramid: level k is the frame shrunk by (min_face / window) x scale_step^k, while
    the window still fits (sizes rounded once here; the firmware gets this table)."""
    out, k = [], 0
    while True:
      shrink = self.min_face / self.cascade.window * self.scale_step ** k
      level = Level(round(self.frame_width / shrink), round(self.frame_height / shrink))
      if min(level.width, level.height) < self.cascade.window:
        return tuple(out)
      if not out or level != out[-1]:
        out.append(level)
      k += 1

  def step_at(self, level: Level) -> int:
    """The window's step on `level`: `step`, but 1 where a level pixel is over two frame pixels
    (OpenCV's rule: coarse levels have few windows on a face, and grouping needs neighbours)."""
    return 1 if 2 * level.width < self.frame_width else self.step

  def hits(self, frame: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Every window that passes the cascade, as a square box in frame pixels, in level, row and
    column order, at most `max_hits`."""
    if frame.shape != (self.frame_height, self.frame_width):
      raise ValueError(f"the locator takes {self.frame_width}x{self.frame_height} frames, got "
                       f"{frame.shape[1]}x{frame.shape[0]}")
    out, win = [], self.cascade.window
    for level in self.levels:
      image = frame_crop.area_resize(frame, level.height, level.width)
      sums, squares = integrals(image)
      step = self.step_at(level)
      ys, xs = np.meshgrid(np.arange(0, level.height - win + 1, step),
                           np.arange(0, level.width - win + 1, step), indexing="ij")
      ys, xs = ys.ravel(), xs.ravel()
      found = passing_windows(self.cascade, sums, squares, ys, xs)
      side = win * self.frame_width // level.width
      out += [(int(x) * self.frame_width // level.width, int(y) * self.frame_height // level.height,
               side, side) for y, x in zip(ys[found], xs[found])]
      if len(out) >= self.max_hits:
        return out[:self.max_hits]
    return out

  def find(self, frame: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The faces in a (frame_height, frame_width) uint8 frame: boxes (x, y, w, h)."""
    return group(self.hits(frame), self.min_neighbors)[:self.max_faces]


def _similar(a, b) -> bool:
  """OpenCV's SimilarRects at eps = 0.2, multiplied out: every edge within 0.2 x the mean of
  the smaller width and height."""
  limit = min(a[2], b[2]) + min(a[3], b[3])      # 10 x delta
  return (10 * abs(a[0] - b[0]) <= limit and 10 * abs(a[1] - b[1]) <= limit
          and 10 * abs(a[0] + a[2] - b[0] - b[2]) <= limit
          and 10 * abs(a[1] + a[3] - b[1] - b[3]) <= limit)


def group(hits: list, min_neighbors: int) -> list[tuple[int, int, int, int]]:
  """OpenCV's groupRectangles in integers: hits joined when similar (transitively), each group's
  rounded mean box kept when it has more than `min_neighbors` hits and lies inside no group with
  more support; sorted by support, then size, then position."""
  parent = list(range(len(hits)))

  def root(i):
    while parent[i] != i:
      parent[i] = parent[parent[i]]
      i = parent[i]
    return i
  for i in range(len(hits)):
    for j in range(i):
      if _similar(hits[i], hits[j]):
        parent[root(i)] = root(j)
  members: dict[int, list] = {}
  for i, box in enumerate(hits):
    members.setdefault(root(i), []).append(box)
  groups = []
  for boxes in members.values():
    n = len(boxes)
    groups.append((n, tuple((sum(b[k] for b in boxes) + n // 2) // n for k in range(4))))
  kept = []
  for i, (n1, r1) in enumerate(groups):
    if n1 <= min_neighbors:
      continue
    inside = False
    for j, (n2, r2) in enumerate(groups):
      if j == i or n2 <= min_neighbors:
        continue
      dx, dy = (r2[2] + 2) // 5, (r2[3] + 2) // 5
      if (r1[0] >= r2[0] - dx and r1[1] >= r2[1] - dy and r1[0] + r1[2] <= r2[0] + r2[2] + dx
          and r1[1] + r1[3] <= r2[1] + r2[3] + dy and (n2 > max(3, n1) or n1 < 3)):
        inside = True
        break
    if not inside:
      kept.append((n1, r1))
  kept.sort(key=lambda g: (-g[0], -g[1][2], g[1][1], g[1][0]))
  return [box for _, box in kept]
