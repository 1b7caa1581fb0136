"""The main job end to end on a small subset, predict on real photos, and the baselines."""

import csv
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from configs import main as main_config
from app import demo, job
from smile_jax.io import jsonfile
from smile_jax.eval import baselines, predict
from tests.conftest import awkward_corpus, face_like

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def job_dir(tmp_path_factory, tfds_dir):
  config = main_config.get_config("smoke")
  config.run.data.tfds_dir = tfds_dir
  workdir = str(tmp_path_factory.mktemp("job"))
  job.run_main_job(config, workdir)
  return workdir


def test_summary_and_report(job_dir):
  summary = jsonfile.load(os.path.join(job_dir, "summary.json"))
  assert summary["dataset"] == "smilesmiled"
  rows = {(row["name"], row["split"]): row for row in summary["models"]}
  assert set(rows) == {(n, s) for n in ("embedded", "two_layer_fc", "white_pixels", "smiled_01")
                       for s in ("val", "test")}
  for row in rows.values():
    assert 0.0 <= row["auc"] <= 1.0 and set(row) >= {
        "accuracy", "precision", "recall", "macs", "params", "run_dir"
    }
  assert rows[("embedded", "test")]["macs"] == 805_632
  search = summary["search"]
  assert set(search) == {
      "mode", "budget_macs", "candidates_trained", "wall_time_s", "chosen", "front", "finalists",
      "references", "teacher"
  }
  assert search["candidates_trained"] == 3 and search["chosen"]["macs"] <= search["budget_macs"]
  assert summary["chosen_run_dir"] == search["chosen"]["run_dir"]  # the search's retrained pick
  assert os.path.exists(os.path.join(summary["chosen_run_dir"], "checkpoints"))
  assert os.path.exists(os.path.join(summary["chosen_run_dir"], "spec.json"))
  report = open(os.path.join(job_dir, "report.md")).read()
  assert "| embedded | test |" in report and "| smiled_01 | test |" in report
  assert "Duplicates: " in report and "kept in one split" in report
  assert "Reduction search (best_first" in report and "search/search_figure.png" in report
  for png in ("loss_curves.png", "roc_test.png", "pr_test.png", "augmentations.png"):
    assert os.path.getsize(os.path.join(job_dir, png)) > 5000, png
    assert png in report
  assert os.path.exists(os.path.join(summary["chosen_run_dir"], "report.md"))
  builds = {build["dtype"]: build for build in summary["deploy"]}
  assert set(builds) == {"int8", "float32"}
  for build in builds.values():
    assert set(build) >= {
        "board", "dtype", "macs", "instructions", "cycles", "cycles_per_mac", "latency_ms_48mhz",
        "linked_flash_bytes", "linked_ram_bytes", "parity_max_abs_diff", "test_auc"
    }
    assert build["macs"] == search["chosen"]["macs"] and build["cycles"] > build[
        "macs"] and 0 <= build["test_auc"] <= 1
  assert builds["int8"]["parity_max_abs_diff"] == 0 and builds["float32"][
      "parity_max_abs_diff"] <= 1e-4
  # The int8 firmware scored the whole test split itself; the CMSIS-NN peer ran beside it.
  assert builds["int8"]["firmware_test_auc"] == builds["int8"]["test_auc"]
  assert builds["int8"]["cmsis_nn_cycles_per_mac"] > 0 and builds["int8"]["dsp_kernels"]
  assert builds["float32"]["firmware_test_auc"] is None
  assert 0 < builds["int8"]["stack_bytes_measured"] < builds["int8"]["linked_ram_bytes"]
  # The model's RAM on the Edge: arena + stack, + the weights only when SRAM keeps them within
  # the robot's limit (configs/main.py).
  int8, limit = builds["int8"], main_config.get_config("smoke").deploy.max_model_ram_bytes
  own = int8["arena_bytes"] + int8["stack_bytes_measured"]
  assert int8["model_ram_bytes"] >= own
  assert (int8["model_ram_bytes"] > own) == int8["weights_in_sram"]
  assert limit > 0 and (int8["model_ram_bytes"] <= limit or not int8["weights_in_sram"])
  assert builds["int8"]["fits_sparkfun_edge"] and (
      builds["int8"]["linked_flash_bytes"] < builds["float32"]["linked_flash_bytes"])
  assert "Deployment: " in report and "| int8 |" in report
  assert os.path.exists(os.path.join(job_dir, "deploy", "int8", "sparkfun_edge", "firmware.bin"))


def test_board_run_on_qemu_answers_as_the_deployed_firmware(job_dir, tmp_path, monkeypatch):
  """experiments.board's stage on QEMU over 50 test images: logits equal the parity-checked
  semihosting firmware's (bit-exact with the integer reference over the whole test split),
  counts within 1% of unicorn's; a Ctrl-C mid-stream leaves a valid, partial report."""
  from compile import board_link, emulate, profile
  from configs import board as board_config
  from app import board
  cfg = board_config.get_config()
  cfg.max_images = 50
  run_dir, deploy_dir = predict.resolve_run_dir(job_dir), board.deploy_dir_of(job_dir)
  summary = board.board_run(run_dir, deploy_dir, "qemu", str(tmp_path / "board"), cfg)
  assert summary["answered"] == 50 and not summary["partial"]
  assert summary == jsonfile.load(str(tmp_path / "board" / "board.json"))
  _, _, _, data = predict.load_run(run_dir)
  images = data.test.images[:50]
  elf = os.path.join(deploy_dir, "int8", "qemu", "firmware.elf")
  reference = emulate.run_qemu(elf, images, np.int32).logits
  np.testing.assert_array_equal([o["logits"] for o in summary["outputs"]], reference)
  for image, output in list(zip(images, summary["outputs"]))[:2]:
    count = profile.profile_elf(elf, image, np.int32, 2).instructions
    assert abs(output["counter"] / count - 1) < 0.01
  assert 0.5 <= summary["test_auc"] <= 1 and "Test AUC from the device" in (
      tmp_path / "board" / "board.md").read_text()
  calls = {"n": 0}
  infer = board_link.BoardClient.infer

  def interrupted(self, *args):
    calls["n"] += 1
    if calls["n"] == 5:
      raise KeyboardInterrupt
    return infer(self, *args)
  monkeypatch.setattr(board_link.BoardClient, "infer", interrupted)
  partial = board.board_run(run_dir, deploy_dir, "qemu", str(tmp_path / "partial"), cfg)
  assert partial["partial"] and partial["answered"] == 4 and "Ctrl-C" in partial["stopped"]
  assert "partial" in (tmp_path / "partial" / "board.md").read_text()


def _strings(obj):
  if isinstance(obj, dict):
    yield from (s for v in obj.values() for s in _strings(v))
  elif isinstance(obj, list):
    yield from (s for v in obj for s in _strings(v))
  elif isinstance(obj, str):
    yield obj


def test_no_json_file_of_the_job_holds_an_absolute_path(job_dir):
  files = [os.path.join(folder, name) for folder, _, names in os.walk(job_dir)
           for name in names if name.endswith(".json")]
  assert os.path.join(job_dir, "summary.json") in files and len(files) > 5
  for path in files:
    with open(path) as file:
      absolute = [s for s in _strings(json.load(file)) if job_dir in s]
    assert not absolute, f"{os.path.relpath(path, job_dir)} holds absolute paths {absolute[:3]}"


def test_a_moved_job_still_predicts(job_dir, tmp_path):
  moved = str(tmp_path / "moved")
  shutil.copytree(job_dir, moved, ignore=shutil.ignore_patterns("deploy", "demo", "analysis"))
  run_dir = predict.resolve_run_dir(moved)
  assert run_dir.startswith(moved) and os.path.exists(os.path.join(run_dir, "spec.json"))
  assert predict.Predictor.from_run(run_dir).score_crops(face_like(0)[None, ...,
                                                                      None]).shape == (1,)


def test_predict_cli_on_real_photos_and_a_broken_file(job_dir, tmp_path, shared_data_dir):
  photos = tmp_path / "photos"
  (photos / "nested").mkdir(parents=True)
  genki = os.path.join(shared_data_dir, "genki4k-dev")
  for cls in ("Smile", "not_Smile"):
    for name in sorted(os.listdir(os.path.join(genki, cls)))[:3]:
      shutil.copy(os.path.join(genki, cls, name), photos / "nested" / f"{cls}_{name}")
  (photos / "broken.jpg").write_bytes(b"\xff\xd8 garbage")
  out = tmp_path / "scores.csv"
  proc = subprocess.run([sys.executable, "-m", "experiments.predict", f"--workdir={job_dir}",
                         f"--images={photos}", f"--output={out}"], cwd=REPO, capture_output=True,
                        text=True, check=True)
  assert "scored 6 of 7 images" in proc.stdout
  assert not re.search(r"^I\d{4} ", proc.stderr, re.M), "INFO logs are hidden by default"
  assert "broken.jpg" in proc.stderr   # warnings are not
  with open(out) as file:
    rows = list(csv.DictReader(file))
  assert [list(r) for r in rows][0] == ["path", "face_found", "score"] and len(rows) == 7
  by_name = {os.path.basename(r["path"]): r for r in rows}
  assert by_name["broken.jpg"]["score"] == "" and "broken.jpg" in proc.stderr
  scored = [r for r in rows if r["score"]]
  assert all(0.0 <= float(r["score"]) <= 1.0 for r in scored)
  assert sum(r["face_found"] == "1" for r in scored) >= 5


def test_predict_and_demo_on_an_awkward_folder(job_dir, tmp_path, shared_data_dir):
  import cv2
  genki = os.path.join(shared_data_dir, "genki4k-dev", "Smile")
  face = cv2.imread(os.path.join(genki, sorted(os.listdir(genki))[0]))
  folder = tmp_path / "awkward"
  expected = awkward_corpus(str(folder), face)
  counts = predict.predict_folder(job_dir, str(folder), str(tmp_path / "scores.csv"))
  with open(tmp_path / "scores.csv") as file:
    rows = {os.path.relpath(r["path"], folder): r for r in csv.DictReader(file)}
  assert sorted(rows) == sorted(expected)    # exactly one row per file, none for the empty folder
  assert counts == {"files": len(expected), "scored": sum(v is None for v in expected.values()),
                    "unreadable": sum(v is not None for v in expected.values()),
                    "faces_found": sum(r["face_found"] == "1" for r in rows.values())}
  for name, reason in expected.items():
    assert (rows[name]["score"] == "") == (reason is not None), name
  upright, rotated = rows["upright.jpg"], rows["exif_rotated.jpg"]
  assert upright["face_found"] == rotated["face_found"] == "1"
  assert abs(float(upright["score"]) - float(rotated["score"])) < 0.05
  assert rows["photo_4000x3000.jpg"]["face_found"] == "1"
  result = demo.run_demo(job_dir, str(folder), out_dir=str(tmp_path / "demo"))
  assert result["frames"] == len(expected) and result["unreadable"] == counts["unreadable"]


def test_the_robots_pipeline_in_the_summary(job_dir):
  device = jsonfile.load(os.path.join(job_dir, "summary.json"))["device_pipeline"]
  assert device["parity_frames"] > 0 and device["parity_mismatches"] == 0
  assert device["edge_self_test_passes"] and os.path.exists(device["sparkfun_edge_image"])
  assert device["latency_ms_48mhz_worst"] >= device["latency_ms_48mhz"] > 0
  assert device["locator"]["macs"] > 0 and 0 < device["ram_bytes"] < 384 * 1024
  for kind in ("portrait", "arm", "room"):
    assert set(device["robot_eye"][kind]) >= {"device_auc", "host_auc", "faces_found"}
  report = open(os.path.join(job_dir, "report.md")).read()
  assert "## The robot's eye" in report
  assert os.path.getsize(os.path.join(job_dir, "robot_eye_samples.png")) > 3000
  # The smoke job ships the Embedded net (its FC layer: ~500 KB): too big for one wired update.
  proc = subprocess.run([sys.executable, "-m", "experiments.flash", f"--workdir={job_dir}",
                         "--firmware=pipeline", "--pack_only"], cwd=REPO, capture_output=True,
                        text=True)
  assert proc.returncode != 0 and "of one wired-update piece" in proc.stderr


def test_the_device_pipeline_takes_the_tuned_smile_net_only_when_adopted(job_dir, tmp_path):
  from app import device_pipeline
  from compile import quantize
  from configs import deploy as deploy_config
  smile = jsonfile.load(os.path.join(job_dir, "summary.json"))["device_pipeline"]["smile_net"]
  tuned_dir = os.path.join(job_dir, "robot_smile")
  tune = jsonfile.load(os.path.join(tuned_dir, "tune.json"))
  assert smile["train_crops"] == tune["train_crops"] > 0
  assert smile["tuned_on_device_crops"] == tune["adopted"] == (
      tune["val_auc_after"] > tune["val_auc_before"])
  crops = np.load(os.path.join(tuned_dir, "crops_val.npz"))["images"][:16]
  logits = {}
  for adopted in (True, False):
    copy = tmp_path / f"adopted_{adopted}"
    shutil.copytree(tuned_dir, copy)
    jsonfile.dump({**tune, "adopted": adopted}, str(copy / "tune.json"))
    pipeline = device_pipeline.load(os.path.join(job_dir, "locator"),
                                    predict.resolve_run_dir(job_dir), deploy_config.get_config(),
                                    str(copy))
    logits[adopted] = quantize.run_int(pipeline.smile, crops)
  untuned = device_pipeline.load(os.path.join(job_dir, "locator"), predict.resolve_run_dir(job_dir),
                                 deploy_config.get_config())
  np.testing.assert_array_equal(logits[False], quantize.run_int(untuned.smile, crops))
  assert not np.array_equal(logits[True], logits[False])


def test_predict_with_the_device_pipeline_on_an_awkward_folder(job_dir, tmp_path, shared_data_dir):
  import cv2
  genki = os.path.join(shared_data_dir, "genki4k-dev", "Smile")
  face = cv2.imread(os.path.join(genki, sorted(os.listdir(genki))[0]))
  folder = tmp_path / "awkward"
  expected = awkward_corpus(str(folder), face)
  out = tmp_path / "device.csv"
  proc = subprocess.run([sys.executable, "-m", "experiments.predict", f"--workdir={job_dir}",
                         f"--images={folder}", f"--output={out}", "--pipeline=device"],
                        cwd=REPO, capture_output=True, text=True, check=True)
  with open(out) as file:
    reader = csv.DictReader(file)
    rows = {os.path.relpath(r["path"], folder): r for r in reader}
  assert reader.fieldnames == ["path", "face_found", "score", "faces", "box"]
  assert sorted(rows) == sorted(expected)    # one row per file, as the host pipeline's
  for name, reason in expected.items():
    row = rows[name]
    assert (row["score"] == "") == (reason is not None), name
    if reason is not None:
      assert name in proc.stderr             # a warning naming the file
    elif row["face_found"] == "0":
      assert float(row["score"]) == 0.0 and row["box"] == ""    # no face: no smile
    else:
      assert len(row["box"].split(",")) == 4 and int(row["faces"]) >= 1


def test_rerun_reuses_finished_work(job_dir, tfds_dir):
  config = main_config.get_config("smoke")
  config.run.data.tfds_dir = tfds_dir
  before = os.path.getmtime(os.path.join(job_dir, "runs", "embedded", "history.json"))
  job.run_main_job(config, job_dir)
  # The run resumed at its last epoch: no epoch was trained again, so history.json is untouched.
  assert os.path.getmtime(os.path.join(job_dir, "runs", "embedded", "history.json")) == before


def test_white_pixels_and_cascades_rank_as_expected():
  dark = np.stack([face_like(i) for i in range(4)])[..., None] // 2
  bright = np.stack([face_like(i) for i in range(4)])[..., None]
  scores = baselines.white_pixels(np.concatenate([dark, bright]))
  assert (scores[4:] > scores[:4].max()).all()
  found = baselines.available(["white_pixels", "haar_smile", "smiled_01"], "/nonexistent")
  assert sorted(found) == ["haar_smile", "white_pixels"]  # smiled_01 needs SMILEsmileD's folder
  assert found["haar_smile"](bright).shape == (4,)
  with pytest.raises(ValueError, match="unknown baseline"):
    baselines.available(["hog_svm"], "/nonexistent")


def test_analyze_cli_on_the_chosen_run(job_dir):
  proc = subprocess.run([sys.executable, "-m", "experiments.analyze", f"--workdir={job_dir}",
                         "--config.max_saliency_images=24", "--config.bootstrap=100",
                         "--config.cross_max_per_class=15", "--config.finetune_epochs=1"],
                        cwd=REPO, capture_output=True, text=True, check=True)
  assert "saliency (vanilla): mouth" in proc.stdout and "fine-tuned: test AUC" in proc.stdout
  run_dir = predict.resolve_run_dir(job_dir)
  with open(os.path.join(run_dir, "analysis", "analysis.json")) as file:
    result = json.load(file)
  for method in ("vanilla", "smoothgrad", "integrated"):
    shares = result["saliency"][method]
    assert shares["n"] > 0 and sum(
        shares[r]["share"] for r in ("mouth", "cheeks", "elsewhere")) == pytest.approx(1.0)
  zero = result["cross_dataset"]["zero_shot"]
  assert zero["images"] == 30 and 0 <= zero["auc_all"] <= 1
  assert 0 <= zero["face_detection_rate"] <= 1
  assert len(result["thresholds"]["operating_points"]) == 5
  for png in ("figure6_saliency.png", "figure7_false_positives.png", "figure8_false_negatives.png"):
    assert os.path.getsize(os.path.join(run_dir, "analysis", png)) > 3000
  report = open(os.path.join(run_dir, "report.md")).read()
  assert report.count("## Saliency: where the net looks") == 1 and "## On genki4k" in report


def test_demo_on_real_photos_a_video_and_the_emulator(job_dir, tmp_path, shared_data_dir):
  import cv2
  photos = tmp_path / "photos"
  photos.mkdir()
  genki = os.path.join(shared_data_dir, "genki4k-dev")
  sources = [
      os.path.join(genki, c,
                   sorted(os.listdir(os.path.join(genki, c)))[0]) for c in ("Smile", "not_Smile")
  ]
  for path in sources:
    shutil.copy(path, photos / os.path.basename(path))
  video = tmp_path / "clip.mp4"
  frame = cv2.imread(sources[0])
  writer = cv2.VideoWriter(
      str(video), cv2.VideoWriter_fourcc(*"mp4v"), 5.0, (frame.shape[1], frame.shape[0]))
  for shift in range(6):
    writer.write(np.roll(frame, 2 * shift, axis=1))
  writer.release()
  for source, device, frames in ((photos, "host", 2), (video, "host", 6), (photos, "emulator", 2)):
    proc = subprocess.run([
        sys.executable, "-m", "experiments.demo", f"--workdir={job_dir}", f"--input={source}",
        f"--device={device}"
    ],
                          cwd=REPO,
                          capture_output=True,
                          text=True,
                          check=True)
    assert f"{frames} frame(s)" in proc.stdout
    out = proc.stdout.strip().split("-> ")[-1]
    assert out.startswith(job_dir) and not out.startswith(
        str(tmp_path))  # next to the run, not the input
    with open(os.path.join(out, "scores.csv")) as file:
      rows = list(csv.DictReader(file))
    assert len(rows) == frames and all(0 <= float(r["score"]) <= 1 for r in rows)
    if source == video:
      assert os.path.getsize(os.path.join(out, "clip_annotated.mp4")) > 1000
    else:
      assert len([n for n in os.listdir(out) if n.endswith("_annotated.png")]) == 2
