"""The robot's whole pipeline on the device: the QEMU firmware (compile/pipeline_firmware.py)
against its host reference (compile/face_pipeline.py), frame by frame: the same boxes, the same
int8 logits; awkward frames give no face or clipped boxes; the stages' cycles are counted."""

import os
import re
import struct
import subprocess
import sys
import time

import numpy as np
import pytest

from compile import board_link, camera_sim, face_pipeline, firmware, graph as graph_lib
from compile import pipeline_firmware, serial_protocol as sp
from smile_jax.data import camera_frames, face_map, frame_crop
from smile_jax.models import zoo
from tests.test_deploy import variables_for

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

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
  # The Edge's flash cache: its nets' weights are read from flash, so both stall; a warm cache
  # holds the loops, so the stalls stay a fraction of the work.
  stalls = pipeline_firmware.stall_cycles(built, frame)
  assert stalls["locator"] > 0 and stalls["smile net"] > 0
  assert sum(stalls.values()) < 0.5 * sum(stages.values())


def test_the_edge_firmware_self_tests_the_whole_pipeline_on_its_frame(pipeline, built, tmp_path):
  assert pipeline.run(_frames()[1][None])[0].face_found
  assert camera_sim.self_test(built.edge.elf)
  assert built.edge.linked_flash_bytes < 960 * 1024 and built.edge.linked_ram_bytes < 384 * 1024
  subprocess.run([sys.executable, "-m", "experiments.flash", f"--workdir={tmp_path}",
                  f"--image={built.edge.bin}", "--pack_only"], cwd=REPO, check=True,
                 capture_output=True)
  packed = os.path.join(os.path.dirname(built.edge.bin), "firmware_wired.bin")
  assert os.path.getsize(packed) > os.path.getsize(built.edge.bin)      # packed for the SVL
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


@pytest.fixture(scope="module")
def uart(built, tmp_path_factory):
  return pipeline_firmware.build_uart(built, str(tmp_path_factory.mktemp("uart")))


def _client(uart):
  return board_link.BoardClient(board_link.QemuLink(uart.elf), timeout_s=20)


def test_the_edge_serial_pipeline_image_links(built, tmp_path):
  edge = pipeline_firmware.build_uart(built, str(tmp_path), board="sparkfun-edge-pipeline-uart")
  assert os.path.getsize(edge.bin) > 0 and edge.linked_ram_bytes < 384 * 1024


def test_the_uart_firmware_answers_whole_frames_as_the_host_reference(pipeline, built, uart):
  frames = _frames()[:4]
  client = _client(uart)
  try:
    assert client.hello(pipeline_firmware.pipeline_hash(built)).input_shape == (64, 64, 1)
    for frame, want in zip(frames, pipeline.run(frames)):
      faces = client.locate(frame, face_map.MAX_FACES, 2, np.int32)
      assert faces.boxes == want.boxes
      np.testing.assert_array_equal(faces.logits, want.logits)
      assert faces.cycles > 0 and faces.stack_bytes > 0
  finally:
    client.link.close()


def _sync(client) -> list:
  """HELLO until its reply comes back: the frames before it (the board's answers to what was
  sent since the last sync)."""
  seen = []
  for _ in range(10):
    client.link.write(sp.encode(sp.HELLO))
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
      client.pending += client.reader.feed(client.link.read(0.2))
      while client.pending:
        frame = client.pending.pop(0)
        if frame.type == sp.HELLO_REPLY:
          return seen
        seen.append(frame)
  raise AssertionError(f"the firmware stopped answering; last frames {seen[-3:]}")


def _raw(frame_type: int, payload: bytes, length: int | None = None, crc_delta: int = 0) -> bytes:
  body = struct.pack("<BH", frame_type, len(payload) if length is None else length) + payload
  return sp.MAGIC + body + struct.pack("<I", (sp.crc32(body) + crc_delta) & 0xFFFFFFFF)


def test_a_thousand_malformed_requests_then_a_good_one(pipeline, uart):
  """Random bytes, bad CRCs, wrong lengths, unknown types, chunks out of order or past the frame,
  LOCATE before the frame is whole, payloads over 16 KB and requests cut short: each answered
  with its error (or, for bytes that are no frame, skipped), and the firmware keeps serving."""
  rng = np.random.default_rng(11)
  frame_bytes = face_map.FRAME_W * face_map.FRAME_H
  cases = {  # request -> the error code it must get (None: no frame, nothing to answer)
      "garbage": lambda: (bytes(rng.integers(0, 256, int(rng.integers(1, 80)), dtype=np.uint8))
                          .replace(b"SM", b"Sm"), None),
      "bad_crc": lambda: (_raw(int(rng.choice([sp.HELLO, sp.INFER, sp.FRAME_CHUNK, sp.LOCATE])),
                               bytes(int(rng.integers(0, 40))), crc_delta=1), sp.BAD_CRC),
      "infer_length": lambda: (_raw(sp.INFER, bytes(int(rng.integers(0, 4000)))), sp.BAD_LENGTH),
      "unknown_type": lambda: (_raw(int(rng.integers(5, 0x80)), b"x"), sp.BAD_TYPE),
      "chunk_offset": lambda: (_raw(sp.FRAME_CHUNK, struct.pack("<I", int(rng.integers(1, 9999)))
                                    + b"abc"), sp.BAD_OFFSET),
      "chunk_short": lambda: (_raw(sp.FRAME_CHUNK, b"\0\0"), sp.BAD_LENGTH),
      "chunk_empty": lambda: (_raw(sp.FRAME_CHUNK, struct.pack("<I", 0)), sp.BAD_LENGTH),
      "locate_early": lambda: (_raw(sp.LOCATE, struct.pack("<I", 0)), sp.BAD_LENGTH),
      "locate_length": lambda: (_raw(sp.LOCATE, b"\0" * int(rng.integers(5, 20))), sp.BAD_LENGTH),
      "over_16k": lambda: (_raw(sp.INFER, b"", length=int(rng.integers(16 * 1024 + 1, 65536))),
                           sp.BAD_LENGTH),
  }
  names = sorted(cases)
  client = _client(uart)
  sent = 0
  try:
    _sync(client)
    for i in range(1000):
      request, code = cases[names[i % len(names)]]()
      client.link.write(request)
      sent += 1
      errors = [f for f in _sync(client) if f.type == sp.ERROR]
      if code is not None:
        assert [f.payload[0] for f in errors] == [code], (names[i % len(names)], errors)
    for _ in range(3):      # cut short: the link goes quiet mid-frame; the board times out
      client.link.write(_raw(sp.INFER, bytes(100), length=4096)[:60])
      sent += 1
      time.sleep(0.5)
      assert [f.payload[0] for f in _sync(client)] == [sp.BAD_LENGTH]
    frame = _frames()[0]
    data = frame.tobytes()   # the whole frame, then a LOCATE with a wrong frame CRC
    for offset in range(0, frame_bytes, sp.CHUNK_BYTES):
      client.expect(client.request(sp.FRAME_CHUNK, struct.pack("<I", offset) +
                                   data[offset:offset + sp.CHUNK_BYTES]), sp.CHUNK_OK)
    past = client.request(sp.FRAME_CHUNK, struct.pack("<I", frame_bytes) + b"0123456789")
    assert past.type == sp.ERROR and past.payload[0] == sp.BAD_LENGTH     # past the frame's end
    bad = client.request(sp.LOCATE, struct.pack("<I", sp.crc32(data) ^ 1))
    assert bad.type == sp.ERROR and bad.payload[0] == sp.BAD_CRC
    assert sent >= 1000
    good = client.locate(frame, face_map.MAX_FACES, 2, np.int32)   # and now a good one
    want = pipeline.run(frame[None])[0]
    assert good.boxes == want.boxes
    np.testing.assert_array_equal(good.logits, want.logits)
  finally:
    client.link.close()


def test_the_board_loop_streams_frames_and_reports_agreement(pipeline, tmp_path):
  from app import board_pipeline
  from configs import board as board_config
  frames = _frames()[:3]
  summary = board_pipeline.board_frames(pipeline, frames, ["a", "b", "c"], "qemu",
                                        str(tmp_path), board_config.get_config())
  assert summary["answered"] == 3 and summary["host_reference_agreement"] == 1.0
  assert summary["host_reference_mismatches"] == [] and not summary["partial"]
  assert [o["faces"] for o in summary["outputs"]] == [len(r.boxes) for r in pipeline.run(frames)]
  assert "Agreement with the host reference" in (tmp_path / "board.md").read_text()


def test_the_pipeline_reads_only_its_buffers(built):
  """Every load of the whole pipeline lies in the firmware's sections, the frame, the outputs or
  the stack: on frames with faces, with two, black, noise and a face cut by the frame's edges."""
  frames = _frames()
  for i in (0, 5, len(frames) - 5, len(frames) - 2, len(frames) - 1):  # faces, two, black, noise,
    assert pipeline_firmware.stray_reads(built, frames[i]) == [], i     # a face cut by the edges
  # The check sees reads past a buffer: declare the frame a row short and the last row is stray.
  short = pipeline_firmware.stray_reads(built, frames[0], frames[0].size - face_map.FRAME_W)
  assert short and all(address >= 0x1000 for _, address, _ in short)
