"""The Edge's camera path against a simulated HM01B0 (compile/camera_sim.py): the driver's I2C
register script, its 6 MHz MCLK and pad set-up, whole frames off the parallel port, the centre
crop and downscale against numpy, the boot self-test, and a missing or stalled sensor ending in a
status, never a hang."""

import numpy as np
import pytest

from compile import camera_sim, firmware, quantize
from smile_jax.models import zoo
from tests.test_deploy import compile_smlad, images_for

SPEC = zoo.compact().with_input_shape((32, 32, 1))
OPEN_DRAIN, PUSH_PULL = 0x4, 0x2


@pytest.fixture(scope="module")
def edge_build(tmp_path_factory):
  """(the Edge firmware of a small int8 net, its integer model, the self-test image)."""
  directory = str(tmp_path_factory.mktemp("edge_camera"))
  model, _ = compile_smlad(SPEC, directory)
  image = images_for(SPEC, 1, seed=3)
  fw = firmware.build(directory, "sparkfun-edge", f"{directory}/edge", test_image=image[0],
                      test_logits=quantize.run_int(model, image)[0])
  return fw, model, image, directory


def frame(seed=0):
  return np.random.default_rng(seed).integers(0, 256, (camera_sim.HEIGHT, camera_sim.WIDTH),
                                              dtype=np.uint8)


def test_the_driver_sets_up_the_sensor_and_reads_whole_frames(edge_build):
  fw = edge_build[0]
  sent = frame()
  run = camera_sim.run_camera(fw.elf, sent)
  assert (run.init_status, run.capture_status) == (0, 0)
  np.testing.assert_array_equal(run.frame, sent)              # every pixel once, in order
  assert run.port.reads_without_pclk == 0
  script = camera_sim.register_script()
  assert len(script) > 60 and script[0] == (0x0103, 0x00)     # starts with a software reset
  assert run.reads[:2] == [(0x0000, 0x01), (0x0001, 0xB0)]    # the model id, before the script
  assert run.writes == script + [(0x3020, 1), (0x0100, 0x03), (0x0104, 1)]  # then one frame
  board = run.board
  assert board.mclk_hz() == 6e6
  assert board.locked_writes == 0 and board.gpio.get(0x60) == 0   # every pad write under PADKEY
  for pad in (camera_sim.PAD_SCL, camera_sim.PAD_SDA):
    assert board.pad_field("cfg", pad) == OPEN_DRAIN and board.pad_field("padreg", pad) & 0x3 == 3
  for pad in camera_sim.DATA_PADS + (camera_sim.PAD_HSYNC, camera_sim.PAD_PCLK):
    assert board.pad_field("padreg", pad) == 0x1A and board.pad_field("cfg", pad) == 0
  assert all(board.bit(0xA0, pad) for pad in camera_sim.DATA_PADS)     # fast GPIO on
  assert board.pad_field("cfg", 10) == PUSH_PULL and board.bit(0x88, 10)   # DVDD on


def test_the_frame_is_cropped_and_scaled_as_numpy_does(edge_build):
  fw = edge_build[0]
  sent = frame(seed=1)
  for height, width, channels in ((32, 32, 1), (64, 64, 1), (48, 48, 3), (20, 30, 1)):
    np.testing.assert_array_equal(
        camera_sim.scale_on_firmware(fw.elf, sent, height, width, channels),
        camera_sim.centre_square(sent, height, width, channels))
  tall = frame(seed=2)[:, :100]                               # a portrait frame: crop rows
  np.testing.assert_array_equal(camera_sim.scale_on_firmware(fw.elf, tall, 32, 32),
                                camera_sim.centre_square(tall, 32, 32))
  flat = np.full((camera_sim.HEIGHT, camera_sim.WIDTH), 7, np.uint8)
  flat[:, :40] = flat[:, -40:] = 255                          # outside the centre square
  assert (camera_sim.scale_on_firmware(fw.elf, flat, 32, 32) == 7).all()


def test_the_boot_self_test_checks_the_model_against_the_host(edge_build, tmp_path):
  fw, model, image, directory = edge_build
  assert camera_sim.self_test(fw.elf)
  wrong = quantize.run_int(model, image)[0] + np.array([0, 1], np.int32)
  broken = firmware.build(directory, "sparkfun-edge", str(tmp_path / "edge"),
                          test_image=image[0], test_logits=wrong)
  assert not camera_sim.self_test(broken.elf)


def test_a_missing_or_wrong_or_stalled_sensor_ends_in_a_status(edge_build):
  fw = edge_build[0]
  absent = camera_sim.run_camera(fw.elf, frame(), camera_sim.I2CSensor(address=0x25))
  assert absent.init_status == 1 and absent.writes == [] and absent.capture_status is None
  other = camera_sim.run_camera(fw.elf, frame(), camera_sim.I2CSensor(model_id=0x0360))
  assert other.init_status == 2 and other.writes == []
  stalled = camera_sim.run_camera(fw.elf, frame(), lines=10, cycles_per_read=20_000)
  assert (stalled.init_status, stalled.capture_status) == (0, 3)          # CAMERA_TIMEOUT
  np.testing.assert_array_equal(stalled.frame[:10], frame()[:10])
