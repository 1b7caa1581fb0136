"""The robot's device pipeline assembled from a built face locator and a trained smile run.

`load(locator_dir, run_dir, cfg, smile_dir)` quantizes both nets as the firmware runs them: the
smile net tuned on device crops (app/robot_smile.py) on its train crops when its tuning was
adopted, else the run's exactly as `app/deploy.py` does (the same range images and percentile, so
its int8 model is the deployed one); the locator on its own training frames, with the heat
threshold its build chose on val frames (locator.json). The result is compile/face_pipeline.
DevicePipeline, the host reference that predict, demo, the board loop and the robot's-eye
benchmark call; `load_job` finds a main job's parts.
"""

from __future__ import annotations

import os

from absl import logging

from app import locator as locator_app, robot_smile
from compile import face_pipeline, graph as graph_lib, quantize
from smile_jax.data import camera_frames, images as images_lib
from smile_jax.eval import predict, robot_eye
from smile_jax.io import jsonfile
from smile_jax.models import infer, zoo


def load(locator_dir: str, run_dir: str, cfg, smile_dir: str = "") -> face_pipeline.DevicePipeline:
  """`cfg`: the deploy config's int8 fields (seed, range_images, percentile). The smile net is
  the tuned one at `smile_dir` when its tuning was adopted (app/robot_smile.py), else the run's."""
  summary_path = os.path.join(locator_dir, "locator.json")
  if not os.path.exists(summary_path):
    raise FileNotFoundError(f"{summary_path} is missing: build the locator first "
                            "(python -m experiments.locator --workdir=...)")
  summary = jsonfile.load(summary_path)
  spec = zoo.LOCATORS[summary["model"]]()
  locator_graph = graph_lib.from_spec(spec, infer.restore_variables(locator_dir, spec))
  frames = locator_app.load_set(os.path.join(locator_dir, "frames_train.npz"))
  locator_range = quantize.range_sample(frames.inputs, cfg.range_images, cfg.seed)
  if smile_dir and robot_smile.adopted(smile_dir):
    predictor, smile_images = predict.Predictor.from_run(smile_dir), robot_smile.range_images(
        smile_dir)
  else:
    _, predictor, _, data = predict.load_run(run_dir)
    smile_images = data.train.images
  smile_graph = graph_lib.from_spec(predictor.spec, predictor.variables)
  return face_pipeline.DevicePipeline.quantized(
      locator_graph, summary["threshold"], smile_graph, locator_range,
      quantize.range_sample(smile_images, cfg.range_images, cfg.seed), cfg.percentile)


def load_job(workdir: str, run_dir: str, cfg,
             locator_dir: str = "") -> face_pipeline.DevicePipeline:
  """The device pipeline a main job at `workdir` built: its locator/ (or `locator_dir`) and the
  smile net it tuned in robot_smile/ when adopted, else `run_dir`'s."""
  return load(locator_dir or os.path.join(workdir, "locator"), run_dir, cfg,
              os.path.join(workdir, "robot_smile"))


def answers(pipeline: face_pipeline.DevicePipeline, results) -> list:
  """The robot's-eye Answers (robot_eye.answer) of the pipeline's FrameResults."""
  return [robot_eye.answer(r.boxes, pipeline.scores(r)) for r in results]


def scored(pipeline: face_pipeline.DevicePipeline):
  """frames -> per frame (boxes, smile probabilities): robot_eye.whole's interface."""
  def run(frames):
    return [(r.boxes, pipeline.scores(r)) for r in pipeline.run(frames)]
  return run


def predict_folder(pipeline: face_pipeline.DevicePipeline, folder: str, output_csv: str) -> dict:
  """Writes `path,face_found,score,faces,box` for every file under `folder`, each image taken as a
  camera frame (camera_frames.sensor_frame); box = x,y,w,h of the best-scoring face. A frame with
  no face scores 0 (no smile); a file that is not a usable image gets empty fields and a warning
  naming it, as the host pipeline's rows (smile_jax/eval/predict.py). Returns counts."""
  if not os.path.isdir(folder):
    raise FileNotFoundError(f"--images={folder} is not a folder")
  files = images_lib.list_files(folder)
  rows, frames, frame_rows = [], [], []
  for path in files:
    try:
      frames.append(camera_frames.sensor_frame(images_lib.read_image(path)))
    except images_lib.BadImage as e:
      logging.warning("not scored: %s", e)
      rows.append([path, "", "", "", ""])
      continue
    frame_rows.append(len(rows))
    rows.append([path])
  for row_index, answer in zip(frame_rows, robot_eye.whole(scored(pipeline))(frames)):
    box = ",".join(str(v) for v in answer.boxes[0]) if answer.face_found else ""
    rows[row_index] += [int(answer.face_found), f"{answer.score:.6f}", len(answer.boxes), box]
  predict.write_csv(output_csv, ["path", "face_found", "score", "faces", "box"], rows)
  return {"files": len(files), "scored": len(frames), "unreadable": len(files) - len(frames),
          "faces_found": sum(1 for r in rows if r[1] == 1)}
