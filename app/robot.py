"""The main job's robot stage: the face locator built, the robot's whole pipeline deployed and
measured on what the robot sees.

`run_robot_stage(config, workdir, chosen_run_dir)`:
  1. builds the face locator on the job's split (app/locator.py: frames of the train photos,
     its threshold chosen on frames of the val photos) in <workdir>/locator;
  2. fine-tunes the chosen smile net on face crops made the device's way (app/robot_smile.py)
     in <workdir>/robot_smile, adopted when it beats the chosen net on val crops;
  3. assembles the device pipeline (app/device_pipeline.py: the int8 locator and the int8 smile
     net, tuned or deployed) and links its firmware (compile/pipeline_firmware.py);
  4. draws the robot's-eye frames of the test photos (data/frame_sets.py) and scores them by the
     host's pipeline (OpenCV's detection and crop, the float net) and by the device's;
  5. checks the QEMU firmware against the host reference on `parity_frames` of them: the same
     boxes and the same int8 logits, frame by frame;
  6. costs the pipeline per stage in unicorn on a sample of face frames: the median frame and
     the worst.
It returns summary.json's `device_pipeline` and the report's section; robot_eye_samples.png
shows frames with their true (green) and found (red) boxes.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from app import device_pipeline, locator as locator_app, robot_smile
from compile import camera_sim, pipeline_firmware
from smile_jax.data import face_map, frame_sets
from smile_jax.eval import predict, robot_eye
from smile_jax.models import spec as spec_lib

KINDS = ("portrait", "arm", "room")


@dataclasses.dataclass(frozen=True)
class RobotStage:
  summary: dict                  # summary.json's device_pipeline
  section: tuple[str, str]       # the report's (heading, body)


@dataclasses.dataclass(frozen=True)
class FrameCost:
  """One frame's estimated cost per pipeline stage at 48 MHz."""
  cycles: dict                   # zero wait states (pipeline_firmware.stage_cycles)
  stalls: dict                   # the Edge's flash-cache stalls (pipeline_firmware.stall_cycles)

  @property
  def ms_48mhz(self) -> float:
    return (sum(self.cycles.values()) + sum(self.stalls.values())) / 48e3


def stage_costs(fw, frames, results, sample: int) -> tuple[FrameCost, FrameCost]:
  """The cost of up to `sample` frames with faces, spread over the set, and of one with the most
  faces (the first frame when none has a face): (the median frame's, the worst frame's), ranked
  by their zero-wait cycles; only those two are run again for their flash stalls."""
  with_faces = [i for i, r in enumerate(results) if r.face_found]
  picked = with_faces[::max(1, len(with_faces) // sample)][:sample]
  most = max(with_faces, key=lambda i: len(results[i].boxes), default=None)
  if most is not None and most not in picked:
    picked.append(most)
  picked = picked or [0]
  cycles = {i: pipeline_firmware.stage_cycles(fw, frames[i].image) for i in picked}
  order = sorted(picked, key=lambda i: sum(cycles[i].values()))
  return tuple(FrameCost(cycles[i], pipeline_firmware.stall_cycles(fw, frames[i].image))
               for i in (order[len(order) // 2], order[-1]))


def _off_centre(frames, results) -> int:
  """The Edge self-test's frame: the first where the device found one face, a true one, whose
  centre is a quarter of the frame's width or more off the frame's centre (else the first frame
  with a face)."""
  width = frames[0].image.shape[1]
  for i, (frame, result) in enumerate(zip(frames, results)):
    if len(result.boxes) == 1 and face_map.match(result.boxes, frame.boxes) == (1, 0):
      x, _, w, _ = result.boxes[0]
      if abs(x + w / 2 - width / 2) >= width / 4:
        return i
  return next((i for i, r in enumerate(results) if r.face_found), 0)


def _section(summary: dict, table: str) -> tuple[str, str]:
  lat, eye = summary, summary["robot_eye"]
  lines = [
      "The robot classifies what its camera sees: a 324 x 244 gray frame. Its firmware finds the "
      f"faces with a learned locator (`{lat['locator']['model']}`, "
      f"{lat['locator']['macs']:,} MACs, an 11 x 8 map of face centres and sizes), crops each "
      "by the host's framing, box-averaged from the full frame, and scores each with the int8 "
      "smile net; the frame's score is the best face's. "
      + (f"The smile net is the chosen net fine-tuned on {lat['smile_net']['train_crops']:,} "
         "face crops made the device's way (train photos drawn into frames, cropped by true "
         "boxes jittered as the locator errs): val AUC on such crops of the val photos "
         f"{lat['smile_net']['val_crops_auc_before']:.3f} -> "
         f"{lat['smile_net']['val_crops_auc_after']:.3f}. "
         if lat["smile_net"]["tuned_on_device_crops"] else
         "The smile net is the chosen net (its tuning on device crops did not beat it on val). ")
      + "The frames below are the test split's "
      "photos drawn at three distances (filling the frame, ~60% and ~35% of its height), with "
      "frames of no face and of two, over photo, packaged and synthetic backgrounds with the "
      "sensor's gain, blur, noise and low light (smile_jax/data/camera_frames.py). The locator "
      f"learned from {lat['locator']['train_frames']:,} frames drawn the same way from the train "
      "split's photos (SMILEsmileD's face crops, GENKI-4K's photos with the host detector's "
      "boxes; backgrounds: the photos outside their faces, scikit-learn's packaged images, "
      "synthetic scenes; nothing downloaded) and chose its heat threshold "
      f"({lat['locator']['threshold']:g}) on {lat['locator']['val_frames']:,} frames of the val "
      "split's: the most faces with few false ones on frames holding none.", "",
      table, "",
      f"Firmware against the host reference: {lat['parity_frames']} frames under QEMU, "
      f"{lat['parity_mismatches']} mismatches (boxes and int8 logits).", "",
      f"Latency at 48 MHz (estimated: unicorn's count x the M4's timings, plus the Edge "
      f"flash cache's stalls at the firmware's wait states): median face frame "
      f"{lat['latency_ms_48mhz']:.1f} ms, worst {lat['latency_ms_48mhz_worst']:.1f} ms. Stages "
      "of the median frame (of which stalls): " + ", ".join(
          f"{k} {v / 48e3:.1f} ms ({lat['stall_cycles_median'].get(k, 0) / 48e3:.1f})"
          for k, v in lat["stage_cycles_median"].items()) + ".", "",
      f"The SparkFun Edge camera firmware (`deploy/pipeline/sparkfun_edge/firmware.bin`), read "
      f"from its ELF: flash {lat['flash_bytes'] / 1024:.1f} KB (the self-test's frame "
      f"included), RAM {lat['ram_bytes'] / 1024:.1f} KB (the frame buffer included) + stack "
      f"{lat['stack_bytes']:,} B measured under QEMU; its boot self-test (the whole pipeline on "
      f"a frame with a face off the centre, boxes and logits against the host's) "
      f"{'passes' if lat['edge_self_test_passes'] else 'FAILS'} in unicorn.", "",
      "Device against host AUC: " + ", ".join(
          f"{k} {eye[k]['device_auc']:.3f} / {eye[k]['host_auc']:.3f}" for k in KINDS) + ".", "",
      "![robot's-eye frames](robot_eye_samples.png)"]
  return "The robot's eye: camera frame -> face locator -> crop -> smile", "\n".join(lines)


def run_robot_stage(config, workdir: str, chosen_run_dir: str) -> RobotStage:
  """The stage (module docstring); writes <workdir>/locator/, <workdir>/robot_smile/ and
  <workdir>/deploy/pipeline/."""
  cfg = config.robot
  locator_cfg = config.copy_and_resolve_references()
  locator_cfg.locator.split_run = chosen_run_dir
  locator_dir = os.path.join(workdir, "locator")
  built = locator_app.build_locator(locator_cfg, locator_dir)
  smile_dir = os.path.join(workdir, "robot_smile")
  tuned = robot_smile.tune_smile(config, smile_dir, chosen_run_dir)
  pipeline = device_pipeline.load(locator_dir, chosen_run_dir, config.deploy, smile_dir)
  sources = frame_sets.run_sources(chosen_run_dir, "test", cfg.per_class)
  frames = frame_sets.frame_set(sources, cfg.extra_frames, cfg.seed)
  images = [f.image for f in frames]
  results = pipeline.run(np.stack(images))
  test_frame = images[_off_centre(frames, results)]
  fw = pipeline_firmware.build(pipeline, os.path.join(workdir, "deploy", "pipeline"),
                               test_frame=test_frame)
  device = device_pipeline.answers(pipeline, results)
  predictor = predict.Predictor.from_run(chosen_run_dir)
  host = robot_eye.host(predictor.score_crops, predictor.spec.input_shape[0])(images)
  scores = {"device": robot_eye.measure(frames, device), "host": robot_eye.measure(frames, host)}
  parity = np.stack(images[:cfg.parity_frames])
  emulated = pipeline_firmware.run_qemu(fw, parity)
  mismatches = sum(e.boxes != h.boxes or not np.array_equal(e.logits, h.logits)
                   for e, h in zip(emulated.results, results))
  median, worst = stage_costs(fw, frames, results, cfg.cost_frames)
  robot_eye.sample_sheet(frames, device, os.path.join(workdir, "robot_eye_samples.png"))
  summary = {
      "latency_ms_48mhz": median.ms_48mhz, "latency_ms_48mhz_worst": worst.ms_48mhz,
      "stage_cycles_median": median.cycles, "stage_cycles_worst": worst.cycles,
      "stall_cycles_median": median.stalls, "stall_cycles_worst": worst.stalls,
      "locator": {"approach": "learned int8 CNN (face-centre heat map + box)",
                  "model": built.summary["model"], "macs": spec_lib.total_macs(built.result.spec),
                  "threshold": built.threshold, "val": built.summary["val"],
                  "train_frames": built.summary["train_frames"],
                  "val_frames": built.summary["val_frames"]},
      "smile_net": {"tuned_on_device_crops": tuned["adopted"],
                    "val_crops_auc_before": tuned["val_auc_before"],
                    "val_crops_auc_after": tuned["val_auc_after"],
                    "train_crops": tuned["train_crops"]},
      "flash_bytes": fw.edge.linked_flash_bytes, "ram_bytes": fw.edge.linked_ram_bytes,
      "qemu_flash_bytes": fw.firmware.linked_flash_bytes,
      "sparkfun_edge_image": fw.edge.bin,
      "edge_self_test_passes": camera_sim.self_test(fw.edge.elf),
      "stack_bytes": int(emulated.stack_bytes.max()),
      "parity_frames": len(parity), "parity_mismatches": int(mismatches),
      "robot_eye": {k: {"device_auc": scores["device"][k].auc, "host_auc": scores["host"][k].auc,
                        "faces_found": scores["device"][k].faces_found,
                        "host_faces_found": scores["host"][k].faces_found,
                        "false_faces_per_frame": scores["device"][k].false_faces_per_frame}
                    for k in KINDS},
      "false_faces_per_empty_frame": scores["device"]["none"].false_faces_per_frame,
      "host_false_faces_per_empty_frame": scores["host"]["none"].false_faces_per_frame,
      "frames": len(frames),
  }
  return RobotStage(summary, _section(summary, robot_eye.table(scores)))
