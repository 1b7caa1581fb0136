"""The robot's whole pipeline on the device: the QEMU firmware (compile/pipeline_firmware.py)
against its host reference (compile/face_pipeline.py), frame by frame: the same boxes, the same
int8 logits; awkward frames give no face or clipped boxes; the stages' cycles are counted."""

import os
import re

import numpy as np
import pytest

from compile import camera_sim, face_pipeline, firmware, graph as graph_lib, pipeline_firmware
from smile_jax.data import camera_frames, face_map, frame_crop
from smile_jax.models import zoo
from tests.test_deploy import variables_for

pytestmark = pytest.mark.skipif(
    not all(map(firmware.shutil.which, ("arm-none-eabi-gcc", "qemu-system-arm"))),
    reason="needs the Arm toolchain and QEMU (make setup)")


def test_the_c_crop_constants_are_the_references():
  source = open(os.path.join(firmware.FIRMWARE_DIR, "common", "frame_crop.c")).read()
  found = dict(re.findall(r"#define FRAME_CROP_(\w+) (\d+)", source))
  assert int(found["SIDE_TENTHS"]) == frame_crop.SIDE_TENTHS
  assert int(found["SHIFT_HUNDREDTHS"]) == frame_crop.SHIFT_HUNDREDTHS


def _frames() -> np.ndarray:
  """Frames with faces at every distance, two faces, none, and the awkward ones: black,
  saturated, uniform grey, noise, a face cut by the frame's edge, a tiny and a huge face."""
  rng = np.random.default_rng(5)
  sources = []
  for i in range(4):
    image = (rng.random((150, 120)) * 80 + 30).astype(np.uint8)
    image[40:110, 25:95] = 200 + 10 * i
    sources.append(camera_frames.Source(f"synthetic:{i}", image, i % 2, (25, 40, 70, 70)))
  frames = [camera_frames.draw(kind, sources[:{"none": 0, "two": 2}.get(kind, 1)], sources, seed)
            .image for seed, kind in enumerate(camera_frames.KINDS * 2)]
  shape = (face_map.FRAME_H, face_map.FRAME_W)
  frames += [np.zeros(shape, np.uint8), np.full(shape, 255, np.uint8), np.full(shape, 128, np.uint8),
             rng.integers(0, 256, shape, dtype=np.uint8)]
  edge = np.full(shape, 60, np.uint8)
  edge[-40:, -50:] = 220                                    # a "face" cut by two edges
  return np.stack(frames + [edge])


@pytest.fixture(scope="module")
def pipeline():
  """Random-weight nets with a low heat threshold, so that most frames have several faces."""
  locator, smile = zoo.face_locator(), zoo.compact()
  rng = np.random.default_rng(1)
  return face_pipeline.DevicePipeline.quantized(
      graph_lib.from_spec(locator, variables_for(locator, 1)), -1.0,
      graph_lib.from_spec(smile, variables_for(smile, 2)),
      rng.integers(0, 256, (16, face_map.INPUT_H, face_map.INPUT_W), dtype=np.uint8),
      rng.integers(0, 256, (16, 64, 64, 1), dtype=np.uint8))


@pytest.fixture(scope="module")
def built(pipeline, tmp_path_factory):
  return pipeline_firmware.build(pipeline, str(tmp_path_factory.mktemp("pipeline")),
                                 test_frame=_frames()[1])


def test_the_firmware_finds_the_host_references_boxes_and_logits(pipeline, built):
  frames = _frames()
  host = pipeline.run(frames)
  device = pipeline_firmware.run_qemu(built, frames)
  assert sum(r.face_found for r in host) >= len(frames) // 2, "too few faces to test anything"
  for i, (h, d) in enumerate(zip(host, device.results)):
    assert d.boxes == h.boxes, i
    np.testing.assert_array_equal(d.logits, h.logits, err_msg=f"frame {i}")
  for result in host:
    for x, y, w, h in result.boxes:      # clipped to the frame
      assert 0 <= x and 0 <= y and w > 0 and h > 0
      assert x + w <= face_map.FRAME_W and y + h <= face_map.FRAME_H
  assert (device.ticks > 0).all() and (device.stack_bytes > 0).all()


def test_blank_frames_have_no_face_with_a_real_threshold(pipeline):
  strict = face_pipeline.DevicePipeline(
      pipeline.locator, face_map.IntDecode.from_scales(pipeline.locator.logit_scale, 1e6),
      pipeline.smile)
  results = strict.run(_frames()[-5:-1])
  assert all(not r.face_found and r.logits.shape == (0, 2) for r in results)


def test_the_stages_cycles_are_counted(pipeline, built):
  frame = _frames()[0]
  faces = len(pipeline.run(frame[None])[0].boxes)
  stages = pipeline_firmware.stage_cycles(built, frame)
  assert faces and {"locator", "smile net", "resize and crops", "decode"} <= set(stages)
  assert stages["locator"] > 1_000_000 and stages["smile net"] > 500_000 * faces


def test_the_edge_firmware_self_tests_the_whole_pipeline_on_its_frame(pipeline, built, tmp_path):
  assert pipeline.run(_frames()[1][None])[0].face_found
  assert camera_sim.self_test(built.edge.elf)
  assert built.edge.linked_flash_bytes < 960 * 1024 and built.edge.linked_ram_bytes < 384 * 1024
  # The same firmware expecting another frame's faces fails its self-test.
  wrong = os.path.join(tmp_path, "pipeline_test_frame.c")
  with open(wrong, "w") as file:
    file.write(pipeline_firmware.test_frame_source(_frames()[1],
                                                   pipeline.run(_frames()[0][None])[0]))
  tables = os.path.join(built.directory, "tables")
  failing = firmware.build(built.smile.directory, pipeline_firmware.EDGE_BOARD,
                           str(tmp_path / "edge"), extra_flags=[f"-I{tables}"],
                           libraries=[os.path.join(built.directory, "locator_model.o"),
                                      os.path.join(tables, "face_map_tables.c"), wrong])
  assert not camera_sim.self_test(failing.elf)
