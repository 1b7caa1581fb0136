"""The smile-back demo: what the robot would do with a photo, a folder, a video or a camera.

For every frame: the largest face (Viola-Jones, the training crop), its smiling probability, and
an annotated copy with the face box, the score and a drawing of the SparkFun Edge's LEDs, lit in
the smile pattern (green, red, yellow; compile/firmware/sparkfun_edge/main.c) when the score
passes the run's validation threshold. `device="emulator"` scores the crops with the run's int8
firmware under QEMU instead (experiments.deploy must have built it) and shows the latency
estimated there (its instruction count at the profiled cycles per instruction). Output goes to
<run>/demo/<input name>/ unless told otherwise, never over the input.
"""

from __future__ import annotations

import csv
import dataclasses
import os

import cv2
import numpy as np
from absl import logging
from tqdm import tqdm

from smile_jax.io import jsonfile
from smile_jax.data import camera_frames, faces, images as images_lib
from smile_jax.eval import calibration, predict, robot_eye

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
LEDS = (("green", (0, 200, 0)), ("red", (0, 0, 230)), ("yellow", (0, 220, 230)))   # BGR, the smile
UNLIT = (70, 70, 70)


@dataclasses.dataclass(frozen=True)
class Frame:
  name: str
  image: np.ndarray        # BGR or gray uint8


def _frames(source: str):
  """(kind, fps, frame count or None, iterator of Frame) for an image, folder, video or camera
  index."""
  if source.isdigit():
    cap = cv2.VideoCapture(int(source))
    if not cap.isOpened():
      raise FileNotFoundError(f"camera {source} could not be opened (is one attached?)")
    return "video", cap.get(cv2.CAP_PROP_FPS) or 15.0, None, _video_frames(cap)
  if os.path.isdir(source):
    files = images_lib.list_files(source)
    if not files:
      raise FileNotFoundError(f"--input={source} holds no files")
    return "images", 0.0, len(files), (Frame(os.path.relpath(p, source), p) for p in files)
  if not os.path.exists(source):
    raise FileNotFoundError(
        f"--input={source} does not exist: give an image, a folder, a video or a camera index")
  if source.lower().endswith(VIDEO_EXTENSIONS):
    cap = cv2.VideoCapture(source)
    if not cap.isOpened():
      raise ValueError(f"{source}: OpenCV cannot decode this video")
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    return "video", cap.get(cv2.CAP_PROP_FPS) or 15.0, count, _video_frames(cap)
  return "images", 0.0, 1, iter([Frame(os.path.basename(source), source)])


def _video_frames(cap):
  index = 0
  while True:
    ok, image = cap.read()
    if not ok:
      cap.release()
      return
    yield Frame(f"frame_{index:05d}", image)
    index += 1


def draw_leds(image: np.ndarray, lit: bool) -> None:
  """The Edge's smile LEDs along an arc at the bottom right corner of the frame."""
  height, width = image.shape[:2]
  radius = max(4, min(height, width) // 40)
  cx, cy = width - 6 * radius, height - 4 * radius
  for position, (_, colour) in enumerate(LEDS):
    led_x = cx + (position - 1) * 2 * radius
    led_y = cy + (radius if position != 1 else 2 * radius)      # the middle one lower: a smile
    cv2.circle(image, (led_x, led_y), radius, colour if lit else UNLIT, -1)
    cv2.circle(image, (led_x, led_y), radius, (255, 255, 255), 1)


def annotate(image: np.ndarray, boxes, prob: float | None, threshold: float,
             note: str = "") -> np.ndarray:
  """`image` with its face boxes (the best-scoring first, drawn thicker), the score and the LEDs;
  `prob` None: nothing to score."""
  out = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image.copy()
  scale = float(np.clip(out.shape[1] / 480, 0.35, 3.0))
  lit = prob is not None and prob >= threshold
  for k, (box_x, box_y, box_w, box_h) in enumerate(boxes):
    colour = ((0, 200, 0) if lit else (0, 140, 255)) if k == 0 else (200, 200, 200)
    cv2.rectangle(out, (box_x, box_y), (box_x + box_w, box_y + box_h), colour,
                  max(1, int((2 if k == 0 else 1) * scale)))
  label = "no face" if prob is None else f"smiling {prob:.2f}" + ("" if boxes else
                                                                   " (no face found)")
  for text, row in ((label, 1), (note, 2)):
    if text:
      cv2.putText(out, text, (int(8 * scale), int(26 * scale * row)), cv2.FONT_HERSHEY_SIMPLEX,
                  0.8 * scale, (255, 255, 255), max(1, int(2 * scale)), cv2.LINE_AA)
  draw_leds(out, lit)
  return out


def _host_scorer(predictor, scorer):
  """image -> (the picture shown, face boxes, smile probability, note): the host's face
  detection and crop, the float net (or, `scorer`, the int8 firmware under QEMU)."""
  size = predictor.spec.input_shape[0]

  def score(image):
    crop = faces.crop_face(image, size)
    batch = crop.image[None, ..., None]
    if scorer is None:
      prob, note = float(predictor.score_crops(batch)[0]), ""
    else:
      probs, latency = scorer(batch)
      prob, note = float(probs[0]), f"Cortex-M4: {latency[0]:.0f} ms @48MHz"
    return image, [crop.box] if crop.face_found else [], prob, note
  return score


def _device_scorer(pipeline):
  """image -> (the robot's camera frame, the faces it found, best first, the best face's smile
  probability, 0 with no face), the device pipeline's integers (compile/face_pipeline.py)."""
  def score(image):
    frame = camera_frames.sensor_frame(image)
    result = pipeline.run(frame[None])[0]
    answer = robot_eye.answer(result.boxes, pipeline.scores(result))
    note = f"robot's view: {len(answer.boxes)} face(s)" if answer.face_found else (
        "robot's view: no face")
    return frame, list(answer.boxes), answer.score, note
  return score


def _emulator_scorer(workdir: str, run_dir: str):
  """Scores crops with the run's int8 firmware in QEMU (from experiments.deploy, or the main job's
  deploy stage); the score function also returns the latency estimated there."""
  from compile import emulate, firmware   # the deploy stack (TVM, QEMU) only when asked for
  paths = [os.path.join(d, "deploy", "deploy.json") for d in (run_dir, workdir)]
  path = next((p for p in paths if os.path.exists(p)), None)
  if path is None:
    raise FileNotFoundError(
        f"no {paths[0]}: run `python -m experiments.deploy --workdir={run_dir}` first")
  build = next(b for b in jsonfile.load(path)["builds"] if b["dtype"] == "int8")
  elf = os.path.join(build["directory"], "qemu", "firmware.elf")
  fw = firmware.Firmware(firmware.BOARDS["qemu-mps2-an386"], elf, "", 0, 0, {})
  scale = np.asarray(build["logit_scale"], np.float32)
  cycles_per_instruction = build["cycles"] / build["instructions"]

  def score(crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    run = emulate.run_qemu(fw, crops, np.int32)
    logits = run.logits.astype(np.float32) * scale
    latency_ms = run.instructions * cycles_per_instruction / 48e3
    return calibration.sigmoid(logits[:, 1] - logits[:, 0]), latency_ms
  return score


def _out_dir(run_dir: str, source: str, out_dir: str | None, device: str) -> tuple[str, str]:
  """(the input's name, the output folder), refusing one that would overwrite the input."""
  name = os.path.splitext(os.path.basename(os.path.normpath(source)))[0] or "input"
  out_dir = os.path.abspath(out_dir or os.path.join(run_dir, "demo", f"{name}_{device}"))
  if not source.isdigit() and os.path.abspath(source) in (out_dir, os.path.dirname(out_dir)):
    raise ValueError(
        f"the output folder {out_dir} would overwrite the input: choose another --output")
  os.makedirs(out_dir, exist_ok=True)
  return name, out_dir


class _Output:
  """Annotated frames as PNGs (images, folders) or one MP4 (videos and cameras)."""

  def __init__(self, out_dir: str, name: str, kind: str, fps: float):
    self.out_dir, self.name, self.kind, self.fps = out_dir, name, kind, fps
    self.writer = None

  def write(self, frame_name: str, annotated: np.ndarray) -> None:
    if self.kind == "video":
      if self.writer is None:
        height, width = annotated.shape[:2]
        self.writer = cv2.VideoWriter(
            os.path.join(self.out_dir, f"{self.name}_annotated.mp4"),
            cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (width, height))
      self.writer.write(annotated)
    else:
      target = os.path.join(self.out_dir, os.path.splitext(frame_name)[0] + "_annotated.png")
      os.makedirs(os.path.dirname(target), exist_ok=True)
      cv2.imwrite(target, annotated)

  def close(self) -> None:
    if self.writer is not None:
      self.writer.release()


def run_demo(workdir: str, source: str, out_dir: str | None = None, device: str = "host",
             max_frames: int = 0, pipeline=None) -> dict:
  """Every frame of `source` scored and drawn; `pipeline` (a compile/face_pipeline.py
  DevicePipeline, app/device_pipeline.load) puts the robot's own pipeline in the host's place."""
  run_dir = predict.resolve_run_dir(workdir)
  if device not in ("host", "emulator"):
    raise ValueError(f"--device must be 'host' or 'emulator', got {device!r}")
  threshold = predict.val_threshold(run_dir)
  name, out_dir = _out_dir(run_dir, source, out_dir, "device" if pipeline else device)
  if pipeline is not None:
    score = _device_scorer(pipeline)
  else:
    score = _host_scorer(predict.Predictor.from_run(run_dir),
                         _emulator_scorer(workdir, run_dir) if device == "emulator" else None)
  kind, fps, count, frames = _frames(source)
  output, rows = _Output(out_dir, name, kind, fps), []
  total = min(count, max_frames) if count and max_frames else (max_frames or count)
  for index, frame in enumerate(
      tqdm(frames, total=total, desc=f"demo ({device})", unit="frame", mininterval=1.0)):
    if max_frames and index >= max_frames:
      break
    try:
      image = images_lib.read_image(frame.image) if isinstance(frame.image, str) else frame.image
    except images_lib.BadImage as e:
      logging.warning("not scored: %s", e)
      rows.append([frame.name, "", "", ""])
      continue
    shown, boxes, prob, note = score(image)
    output.write(frame.name, annotate(shown, boxes, prob, threshold, note))
    rows.append([frame.name, int(bool(boxes)), f"{prob:.6f}", int(prob >= threshold)])
  output.close()
  with open(os.path.join(out_dir, "scores.csv"), "w", newline="") as file:
    writer = csv.writer(file)
    writer.writerow(["frame", "face_found", "score", "smile_leds_on"])
    writer.writerows(rows)
  scored = [r for r in rows if r[1] != ""]
  return {"frames": len(rows), "smiling": sum(r[3] for r in scored),
          "faces_found": sum(r[1] for r in scored), "unreadable": len(rows) - len(scored),
          "output": out_dir, "threshold": threshold, "device": device}
