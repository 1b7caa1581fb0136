"""Robot's-eye camera frames: labelled photos drawn into the HM01B0's 324 x 244 gray frame.

The robot never sees a face crop: it sees what its camera sees. `draw` makes such a frame from
labelled photos (`Source`s) at one of `DISTANCES`, the photo's height as a share of the frame's:
`portrait` (the photo fills the frame, a face ~40 cm away), `arm` (~60 %, ~1 m) and `room`
(~35 %, ~2 m), at a random place, over a background, with the sensor's look (`SensorLook`: gain,
gamma, blur, noise, low light). `none` frames hold no face; `two` frames hold two photos, labelled
smiling when either smiles (the robot smiles when any face does). A face crop (SMILEsmileD) is
drawn at the size a photo's face has at that distance (`FACE_SHARE`), blended into the
background through a soft oval, as a head would be.

Backgrounds (`background`) are, in turn: crops of the photos that registry packages ship
(scikit-learn's `china.jpg` and `flower.jpg`), the parts of the sources' photos outside their
faces, and synthetic scenes (gradients, boxes, smoothed noise). Every frame is a pure function of
(its sources, its seed), so a benchmark's frames are the same on every machine.

Each frame records the true face boxes (x, y, w, h in frame pixels: a photo's from the host's
detector, data/faces.py, a crop's from the crop's framing), clipped to the frame.
"""

from __future__ import annotations

import dataclasses
import functools
import os

import cv2
import numpy as np

from smile_jax.data import faces, images as images_lib

WIDTH, HEIGHT = 324, 244              # the HM01B0's QVGA-like frame
DISTANCES = {"portrait": 1.0, "arm": 0.6, "room": 0.35}
KINDS = tuple(DISTANCES) + ("none", "two")
# A GENKI-4K photo's face box is about half the photo's height (the host detector's boxes on the
# dev half: median 0.49); a face crop is drawn so its face has that share too.
FACE_SHARE = 0.5
PACKAGED_BACKGROUNDS = ("china.jpg", "flower.jpg")   # sklearn/datasets/images/


@dataclasses.dataclass(frozen=True)
class Source:
  """A labelled picture to draw: a photo with its face box, or a tight face crop."""
  key: str
  image: np.ndarray                    # (H, W) uint8 gray
  label: int                           # 1 = smiling
  box: tuple[int, int, int, int]       # the face (x, y, w, h) in `image`
  is_crop: bool = False                # a tight face crop (SMILEsmileD), not a photo


@dataclasses.dataclass(frozen=True)
class Frame:
  image: np.ndarray                    # (HEIGHT, WIDTH) uint8
  label: int                           # 1 when any face in it smiles
  kind: str                            # one of KINDS
  boxes: tuple[tuple[int, int, int, int], ...]   # true faces, frame pixels, clipped
  keys: tuple[str, ...]                # the sources drawn


@dataclasses.dataclass(frozen=True)
class SensorLook:
  """The HM01B0's look, drawn per frame: `gain` and `gamma` on the scene, a Gaussian `blur`
  (pixels), Gaussian read `noise` (grey levels) and, in `low_light`, a darker scene with more
  noise."""
  gain: tuple[float, float] = (0.7, 1.25)
  gamma: tuple[float, float] = (0.8, 1.25)
  blur: tuple[float, float] = (0.0, 1.2)
  noise: tuple[float, float] = (1.0, 5.0)
  low_light: float = 0.25               # probability
  low_light_gain: tuple[float, float] = (0.25, 0.5)


def source_from_photo(key: str, path: str, label: int, is_crop: bool = False) -> Source | None:
  """A Source read from `path`: a photo's face box from the host detector (None when it finds
  none: its true face is unknown), a crop's from SMILEsmileD's framing (faces.CROP_SIDE)."""
  gray = images_lib.read_gray(path)
  if is_crop:
    side = gray.shape[0] / faces.CROP_SIDE
    cy = gray.shape[0] / 2.0 - faces.CROP_SHIFT_DOWN * side
    box = (round(gray.shape[1] / 2.0 - side / 2), round(cy - side / 2), round(side), round(side))
    return Source(key, gray, label, box, True)
  found = faces.detect_face(gray)
  return None if found is None else Source(key, gray, label, found[0])


@functools.lru_cache(maxsize=None)
def _packaged(name: str) -> np.ndarray:
  import sklearn
  path = os.path.join(os.path.dirname(sklearn.__file__), "datasets", "images", name)
  return cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2GRAY)


def _synthetic(rng: np.random.Generator) -> np.ndarray:
  """A gradient with a few boxes of furniture and smoothed noise: a plain room."""
  yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
  angle = rng.uniform(0, 2 * np.pi)
  ramp = (np.cos(angle) * xx / WIDTH + np.sin(angle) * yy / HEIGHT)
  scene = rng.uniform(60, 190) + rng.uniform(-60, 60) * ramp
  for _ in range(rng.integers(0, 6)):
    x0, y0 = rng.integers(0, WIDTH), rng.integers(0, HEIGHT)
    w, h = rng.integers(10, WIDTH // 2), rng.integers(10, HEIGHT // 2)
    scene[y0:y0 + h, x0:x0 + w] = rng.uniform(20, 235)
  noise = cv2.GaussianBlur(rng.normal(0, 1, (HEIGHT, WIDTH)).astype(np.float32), (0, 0),
                           rng.uniform(2, 12))
  return np.clip(scene + noise * rng.uniform(0, 60) / (noise.std() + 1e-6), 0, 255)


def _outside_face(rng: np.random.Generator, source: Source) -> np.ndarray:
  """The widest strip of the source photo beside or above its face, stretched to the frame."""
  x, y, w, h = source.box
  height, width = source.image.shape
  strips = [source.image[:, :max(x, 0)], source.image[:, x + w:], source.image[:max(y, 0), :]]
  strip = max(strips, key=lambda s: s.size)
  if min(strip.shape) < 8:
    return _synthetic(rng)
  return cv2.resize(strip, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR).astype(np.float32)


def background(rng: np.random.Generator, sources: list[Source]) -> np.ndarray:
  """A (HEIGHT, WIDTH) float32 scene without faces (module docstring)."""
  choice = rng.integers(0, 3)
  if choice == 0:
    photo = _packaged(PACKAGED_BACKGROUNDS[rng.integers(len(PACKAGED_BACKGROUNDS))])
    scale = rng.uniform(max(WIDTH / photo.shape[1], HEIGHT / photo.shape[0]), 1.5)
    photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    y0 = rng.integers(0, photo.shape[0] - HEIGHT + 1)
    x0 = rng.integers(0, photo.shape[1] - WIDTH + 1)
    scene = photo[y0:y0 + HEIGHT, x0:x0 + WIDTH].astype(np.float32)
    return scene[:, ::-1] if rng.random() < 0.5 else scene
  photos = [s for s in sources if not s.is_crop]
  if choice == 1 and photos:
    return _outside_face(rng, photos[rng.integers(len(photos))])
  return _synthetic(rng)


def _placement(rng, source: Source, distance: float, fill: bool) -> tuple[float, int, int]:
  """(scale, x0, y0): how the source is drawn into the frame."""
  height, width = source.image.shape
  if source.is_crop:
    scale = distance * HEIGHT * FACE_SHARE / source.box[3]
  elif fill:
    scale = max(WIDTH / width, HEIGHT / height)
  else:
    scale = distance * HEIGHT / height
  out_w, out_h = round(width * scale), round(height * scale)
  x0 = int(rng.integers(min(0, WIDTH - out_w), max(0, WIDTH - out_w) + 1))
  y0 = int(rng.integers(min(0, HEIGHT - out_h), max(0, HEIGHT - out_h) + 1))
  return scale, x0, y0


def _paste(scene: np.ndarray, source: Source, scale: float, x0: int, y0: int):
  """Draws `source` into `scene` (in place); its face box in frame pixels, clipped (None when
  the face falls outside the frame)."""
  height, width = source.image.shape
  out_w, out_h = max(1, round(width * scale)), max(1, round(height * scale))
  interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
  picture = cv2.resize(source.image, (out_w, out_h), interpolation=interp).astype(np.float32)
  alpha = np.ones((out_h, out_w), np.float32)
  if source.is_crop:   # a soft oval: a head against the scene, not a pasted tile
    yy, xx = np.mgrid[0:out_h, 0:out_w].astype(np.float32)
    r = np.hypot((xx - out_w / 2) / (out_w / 2), (yy - out_h / 2) / (out_h / 2))
    alpha = np.clip((1.0 - r) / 0.15, 0.0, 1.0)
  fx0, fy0 = max(x0, 0), max(y0, 0)
  fx1, fy1 = min(x0 + out_w, WIDTH), min(y0 + out_h, HEIGHT)
  if fx1 <= fx0 or fy1 <= fy0:
    return None
  part = (slice(fy0 - y0, fy1 - y0), slice(fx0 - x0, fx1 - x0))
  region = scene[fy0:fy1, fx0:fx1]
  scene[fy0:fy1, fx0:fx1] = alpha[part] * picture[part] + (1 - alpha[part]) * region
  return clip_box(tuple(round(v * scale) + off for v, off in
                        zip(source.box, (x0, y0, 0, 0))))


def sensor_frame(image: np.ndarray) -> np.ndarray:
  """Any picture (H x W gray or H x W x 3 BGR uint8) as the robot's camera would frame it: gray,
  scaled to cover the WIDTH x HEIGHT frame (area interpolation) and centre-cropped, as if held up
  to fill the robot's view. A frame of that size passes unchanged (only made gray)."""
  gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
  height, width = gray.shape
  if (width, height) == (WIDTH, HEIGHT):
    return np.ascontiguousarray(gray, np.uint8)
  scale = max(WIDTH / width, HEIGHT / height)
  out_w, out_h = max(WIDTH, round(width * scale)), max(HEIGHT, round(height * scale))
  resized = cv2.resize(gray, (out_w, out_h), interpolation=cv2.INTER_AREA if scale < 1
                       else cv2.INTER_LINEAR)
  x0, y0 = (out_w - WIDTH) // 2, (out_h - HEIGHT) // 2
  return np.ascontiguousarray(resized[y0:y0 + HEIGHT, x0:x0 + WIDTH], np.uint8)


def clip_box(box) -> tuple[int, int, int, int] | None:
  """A box (x, y, w, h) cut to the frame; None when less than a quarter of it is inside."""
  x, y, w, h = box
  x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, WIDTH), min(y + h, HEIGHT)
  if x1 <= x0 or y1 <= y0 or (x1 - x0) * (y1 - y0) < w * h / 4:
    return None
  return (x0, y0, x1 - x0, y1 - y0)


def sensor(rng: np.random.Generator, scene: np.ndarray, look: SensorLook) -> np.ndarray:
  """The scene as the sensor gives it: uint8 gray after gain, gamma, blur, noise, low light."""
  gain = rng.uniform(*look.gain)
  noise = rng.uniform(*look.noise)
  if rng.random() < look.low_light:
    gain *= rng.uniform(*look.low_light_gain)
    noise *= 2.0
  scene = 255.0 * (np.clip(scene, 0, 255) / 255.0) ** rng.uniform(*look.gamma)
  sigma = rng.uniform(*look.blur)
  if sigma > 0.3:
    scene = cv2.GaussianBlur(scene, (0, 0), sigma)
  scene = scene * gain + rng.normal(0.0, noise, scene.shape)
  return np.clip(np.rint(scene), 0, 255).astype(np.uint8)


def draw(kind: str, faces_in: list[Source], backgrounds_from: list[Source], seed: int,
         look: SensorLook = SensorLook()) -> Frame:
  """One frame of `kind` (KINDS) holding `faces_in` (one source; two for `two`; none for
  `none`), over a background drawn from `backgrounds_from`'s photos or the others (module
  docstring). A pure function of its arguments."""
  if kind not in KINDS:
    raise ValueError(f"frame kind {kind!r}: use one of {KINDS}")
  wanted = {"none": 0, "two": 2}.get(kind, 1)
  if len(faces_in) != wanted:
    raise ValueError(f"a {kind!r} frame draws {wanted} source(s), got {len(faces_in)}")
  rng = np.random.default_rng(seed)
  scene = background(rng, backgrounds_from)
  boxes = []
  if kind == "two":   # side by side, each in its own half, at arm's length or across the room
    distance = DISTANCES[("arm", "room")[rng.integers(2)]]
    for half, source in enumerate(faces_in):
      scale, x0, y0 = _placement(rng, source, distance, fill=False)
      out_w = round(source.image.shape[1] * scale)
      x0 = half * WIDTH // 2 + int(rng.integers(0, max(1, WIDTH // 2 - out_w)))
      boxes.append(_paste(scene, source, scale, x0, y0))
  elif faces_in:
    boxes.append(_paste(scene, faces_in[0], *_placement(
        rng, faces_in[0], DISTANCES[kind], fill=kind == "portrait")))
  image = sensor(rng, scene, look)
  label = int(any(s.label for s in faces_in))
  return Frame(image, label, kind, tuple(b for b in boxes if b is not None),
               tuple(s.key for s in faces_in))
