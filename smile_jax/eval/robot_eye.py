"""The robot's-eye benchmark: labelled photos drawn into camera frames, scored by a pipeline.

`sources` reads a split of the datasets (SMILEsmileD's face crops, GENKI-4K's photos) as
data/camera_frames.Source's; `frame_set` draws each into frames at every distance, and adds
frames with no face and frames with two. A *pipeline* turns frames into `Answer`s: the smile
score (the maximum over the faces it found), and the boxes it found. `measure` scores answers per
frame kind: the AUC, the share of true faces found (a found box matches a true one at an IoU of
`MATCH_IOU`), and false faces per frame.

Three pipelines live here, on the host: `centre_square` (what the robot's firmware did before it
could find faces), `host` (OpenCV's face detection and crop, data/faces.py, as predict does) and
`located` (any locator's boxes, cropped the device's way, the maximum over faces).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Sequence

import cv2
import numpy as np
from tqdm import tqdm

from smile_jax.data import builders, camera_frames, faces, frame_crop, sources as sources_lib
from smile_jax.data import splits
from smile_jax.eval import metrics

MATCH_IOU = 0.3


@dataclasses.dataclass(frozen=True)
class Answer:
  score: float                                   # smile probability, max over faces found
  boxes: tuple[tuple[int, int, int, int], ...]   # faces found, frame pixels, best-scoring first
  face_found: bool


Pipeline = Callable[[Sequence[np.ndarray]], list[Answer]]


def sources(data_dir: str, dataset: str, manifest: str, split: str,
            limit: int = 0) -> list[camera_frames.Source]:
  """The `split` of `dataset` (a builders.BUILDERS name) under `data_dir` by its manifest, as
  Sources (the first `limit` of each class when > 0). A photo whose face the host detector
  cannot find is left out: its true box is unknown."""
  folder = os.path.join(sources_lib.data_dir(data_dir), builders.BUILDERS[dataset][1])
  is_crop = dataset == "smilesmiled"
  examples = (sources_lib.smilesmiled_examples(folder) if is_crop
              else sources_lib.class_folder_examples(folder))
  wanted = {key.split(":", 1)[-1] for key in splits.read_manifest(manifest)["splits"][split]}
  chosen, per_class = [], {0: 0, 1: 0}
  for ex in sorted(examples, key=lambda e: e.key):
    if ex.key in wanted and not (limit and per_class[ex.label] >= limit):
      per_class[ex.label] += 1
      chosen.append(ex)
  out = [camera_frames.source_from_photo(f"{dataset}:{ex.key}", ex.path, ex.label, is_crop)
         for ex in tqdm(chosen, desc=f"{dataset} {split} sources", unit="img", mininterval=1.0)]
  return [source for source in out if source is not None]


def frame_set(face_sources: list[camera_frames.Source], extra_frames: int, seed: int,
              look: camera_frames.SensorLook = camera_frames.SensorLook()):
  """Every source drawn at each of camera_frames.DISTANCES, then `extra_frames` frames with no
  face and as many with two (pairs of sources in a seeded order): a list of Frames, each with
  its own seed, so a frame does not change when others are added."""
  frames = []
  for k, kind in enumerate(camera_frames.DISTANCES):
    for i, source in enumerate(face_sources):
      frames.append(camera_frames.draw(kind, [source], face_sources, seed * 1_000_003 + k * 100_003
                                       + i, look))
  order = np.random.default_rng(seed).permutation(len(face_sources))
  for i in range(extra_frames):
    base = seed * 1_000_003 + 900_000 + i
    frames.append(camera_frames.draw("none", [], face_sources, base, look))
    pair = [face_sources[order[(2 * i) % len(order)]], face_sources[order[(2 * i + 1) % len(order)]]]
    frames.append(camera_frames.draw("two", pair, face_sources, base + 50_000, look))
  return frames


def iou(a, b) -> float:
  ax, ay, aw, ah = a
  bx, by, bw, bh = b
  w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
  h = max(0, min(ay + ah, by + bh) - max(ay, by))
  inter = w * h
  return inter / float(aw * ah + bw * bh - inter) if inter else 0.0


@dataclasses.dataclass(frozen=True)
class KindScore:
  kind: str
  frames: int
  auc: float | None               # None for `none` frames (no smiling ones)
  faces_found: float | None       # true faces matched / true faces (None: no true faces)
  false_faces_per_frame: float    # found boxes matching no true face, per frame

  def to_dict(self) -> dict:
    return dataclasses.asdict(self)


def measure(frames, answers: list[Answer]) -> dict[str, KindScore]:
  """Per frame kind (camera_frames.KINDS), the scores of `answers` on `frames` (module
  docstring)."""
  out = {}
  for kind in camera_frames.KINDS:
    picked = [(f, a) for f, a in zip(frames, answers) if f.kind == kind]
    if not picked:
      continue
    labels = np.array([f.label for f, _ in picked])
    scores = np.array([a.score for _, a in picked])
    auc = metrics.roc_auc(labels, scores) if 0 < labels.sum() < len(labels) else None
    true_faces = sum(len(f.boxes) for f, _ in picked)
    found = sum(sum(any(iou(t, b) >= MATCH_IOU for b in a.boxes) for t in f.boxes)
                for f, a in picked)
    false = sum(sum(not any(iou(t, b) >= MATCH_IOU for t in f.boxes) for b in a.boxes)
                for f, a in picked)
    out[kind] = KindScore(kind, len(picked), auc, found / true_faces if true_faces else None,
                          false / len(picked))
  return out


def centre_square(score_crops, size: int) -> Pipeline:
  """The frame's centre square box-averaged to the net's input (the firmware before faces)."""
  def run(images):
    crops = np.stack([frame_crop.box_average(image, *frame_crop.centre_square(
        image.shape[1], image.shape[0]), size, size) for image in images])
    return [Answer(float(s), (), False) for s in score_crops(crops[..., None])]
  return run


def host(score_crops, size: int) -> Pipeline:
  """OpenCV's face detection and the host crop (data/faces.py: the largest face, else the
  centre square), as `experiments.predict` scores photos."""
  def run(images):
    crops = [faces.crop_face(image, size)
             for image in tqdm(images, desc="host faces", unit="frame", mininterval=2.0)]
    scores = score_crops(np.stack([c.image for c in crops])[..., None])
    return [Answer(float(s), (c.box,) if c.face_found else (), c.face_found)
            for s, c in zip(scores, crops)]
  return run


def located(locate, score_crops, size: int) -> Pipeline:
  """Faces from `locate` (frame -> boxes, best first: the device's locator), each cropped the
  device's way (data/frame_crop.py: face_square, box_average) and scored; the frame's score is
  the maximum over its faces, 0 with none (no face: no smile)."""
  def run(images):
    answers = []
    for image in tqdm(images, desc="located faces", unit="frame", mininterval=2.0):
      boxes = tuple(locate(image))
      if not boxes:
        answers.append(Answer(0.0, (), False))
        continue
      crops = np.stack([frame_crop.box_average(image, *frame_crop.face_square(box), size, size)
                        for box in boxes])
      scores = np.asarray(score_crops(crops[..., None]))
      order = np.argsort(-scores, kind="stable")
      answers.append(Answer(float(scores[order[0]]), tuple(boxes[i] for i in order), True))
    return answers
  return run


def table(results: dict[str, dict[str, KindScore]]) -> str:
  """pipeline -> `measure` result, as one Markdown table: per frame kind, AUC, faces found and
  false faces per frame of each pipeline, side by side."""
  names = list(results)
  head = "| frames | n | " + " | ".join(f"{n} AUC | {n} faces found | {n} false/frame"
                                       for n in names) + " |"
  lines = [head, "|---|--:|" + "--:|--:|--:|" * len(names)]

  def cell(value, fmt):
    return "-" if value is None else format(value, fmt)
  for kind in camera_frames.KINDS:
    scores = [results[n].get(kind) for n in names]
    if scores[0] is None:
      continue
    lines.append(f"| {kind} | {scores[0].frames} | " + " | ".join(
        f"{cell(s.auc, '.3f')} | {cell(s.faces_found, '.1%')} | {s.false_faces_per_frame:.2f}"
        for s in scores) + " |")
  return "\n".join(lines)


def sample_sheet(frames, answers: list[Answer], path: str, per_kind: int = 3) -> str:
  """A PNG of `per_kind` frames of each kind, the true faces in green, the pipeline's boxes in
  red with its score; returns `path`."""
  rows = []
  for kind in camera_frames.KINDS:
    tiles = []
    for frame, answer in [(f, a) for f, a in zip(frames, answers) if f.kind == kind][:per_kind]:
      tile = cv2.cvtColor(frame.image, cv2.COLOR_GRAY2BGR)
      for x, y, w, h in frame.boxes:
        cv2.rectangle(tile, (x, y), (x + w - 1, y + h - 1), (0, 200, 0), 1)
      for x, y, w, h in answer.boxes:
        cv2.rectangle(tile, (x, y), (x + w - 1, y + h - 1), (0, 0, 255), 1)
      cv2.putText(tile, f"{kind} label {frame.label} score {answer.score:.2f}", (3, 12),
                  cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 255), 1)
      tiles.append(tile)
    if tiles:
      tiles += [np.zeros_like(tiles[0])] * (per_kind - len(tiles))
      rows.append(np.hstack(tiles))
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  cv2.imwrite(path, np.vstack(rows))
  return path
