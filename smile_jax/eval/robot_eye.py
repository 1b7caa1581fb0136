"""The robot's-eye benchmark: labelled photos drawn into camera frames, scored by a pipeline.

The frames come from data/frame_sets.py (a split's photos drawn at every distance, with frames
holding no face and two). A *pipeline* turns frames into `Answer`s: the smile
score (the maximum over the faces it found), and the boxes it found. `measure` scores answers per
frame kind: the AUC, the share of true faces found (a found box matches a true one at an IoU of
data/face_map.MATCH_IOU), and false faces per frame.

The pipelines, on the host: `centre_square` (what the robot's firmware did before it could find
faces), `host` (OpenCV's face detection and crop, data/faces.py, as predict does), `located`
(any locator's boxes, cropped the device's way, the maximum over faces) and `whole` (a pipeline
that does it all in one: the device's integer reference).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Sequence

import cv2
import numpy as np
from tqdm import tqdm

from smile_jax.data import camera_frames, face_map, faces, frame_crop
from smile_jax.eval import metrics

@dataclasses.dataclass(frozen=True)
class Answer:
  score: float                                   # smile probability, max over faces found
  boxes: tuple[tuple[int, int, int, int], ...]   # faces found, frame pixels, best-scoring first
  face_found: bool


Pipeline = Callable[[Sequence[np.ndarray]], list[Answer]]


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
    found, false = np.sum([face_map.match(a.boxes, f.boxes) for f, a in picked], axis=0)
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


def answer(boxes, scores) -> Answer:
  """A frame's Answer from its faces' boxes and smile scores: the best face's score and the
  boxes best-scoring first; no face, no smile."""
  if not len(boxes):
    return Answer(0.0, (), False)
  order = np.argsort(-np.asarray(scores), kind="stable")
  return Answer(float(scores[order[0]]), tuple(tuple(boxes[i]) for i in order), True)


def located(locate, score_crops, size: int) -> Pipeline:
  """Faces from `locate` (frame -> boxes: a locator), each cropped the device's way
  (data/frame_crop.py: face_square, box_average) and scored by `score_crops`."""
  def run(images):
    answers = []
    for image in tqdm(images, desc="located faces", unit="frame", mininterval=2.0):
      boxes = tuple(locate(image))
      crops = [frame_crop.box_average(image, *frame_crop.face_square(box), size, size)
               for box in boxes]
      scores = np.asarray(score_crops(np.stack(crops)[..., None])) if crops else []
      answers.append(answer(boxes, scores))
    return answers
  return run


def whole(run_frames, batch: int = 64) -> Pipeline:
  """A pipeline that goes from frames to faces in one (the device's: compile/face_pipeline.py):
  `run_frames` takes (N, H, W) uint8 frames and gives, per frame, (boxes, scores)."""
  def run(images):
    answers = []
    for start in tqdm(range(0, len(images), batch), desc="device pipeline", unit="batch",
                      mininterval=2.0):
      answers += [answer(b, s) for b, s in run_frames(np.stack(images[start:start + batch]))]
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
