"""The board protocol end to end on QEMU: the UART firmware (common/protocol.c) answering the host
(compile/board_link.py), and every way the link can go wrong ending in a clear error, in time."""

import os

import numpy as np
import pytest

from compile import board_link, firmware, profile, quantize
from compile import serial_protocol as sp
from smile_jax.models import zoo
from tests.test_deploy import compile_smlad, images_for

SPEC = zoo.compact().with_input_shape((32, 32, 1))


@pytest.fixture(scope="module")
def uart_build(tmp_path_factory):
  """(the compiled model, its UART firmware, its directory) of a small net on the SMLAD kernels."""
  directory = str(tmp_path_factory.mktemp("uart"))
  model, _ = compile_smlad(SPEC, directory)
  return model, board_link.build_uart_firmware(directory, os.path.join(directory, "uart")), \
      directory


def test_the_board_answers_with_the_reference_logits_and_the_emulator_count(uart_build):
  model, fw, directory = uart_build
  images = images_for(SPEC, 12, seed=7)
  reference = quantize.run_int(model, images)
  with board_link.QemuLink(fw.elf) as link:
    board = board_link.BoardClient(link, timeout_s=20)
    hello = board.hello(expected_hash=board_link.model_hash(directory))
    assert hello.input_shape == SPEC.input_shape and hello.classes == 2 and hello.logit_bytes == 4
    results = [board.infer(image, 2, np.int32) for image in images]
  np.testing.assert_array_equal([r.logits for r in results], reference)       # bit for bit
  for image, result in list(zip(images, results))[:2]:
    instructions = profile.profile_elf(fw.elf, image, np.int32, 2).instructions
    assert abs(result.cycles / instructions - 1) < 0.01, (result.cycles, instructions)
  assert all(256 <= r.stack_bytes < firmware.BOARDS["sparkfun-edge"].stack_bytes
             for r in results)


def test_bad_frames_get_error_replies_and_the_link_lives_on(uart_build):
  _, fw, directory = uart_build
  image = images_for(SPEC, 1)[0]
  with board_link.QemuLink(fw.elf) as link:
    board = board_link.BoardClient(link, timeout_s=20)
    corrupted = bytearray(sp.encode(sp.INFER, image.tobytes()))
    corrupted[40] ^= 0x10
    link.write(bytes(corrupted))
    with pytest.raises(sp.ProtocolError, match="bad CRC"):
      board.expect(board.next_frame(), sp.RESULT)
    with pytest.raises(sp.ProtocolError, match="wrong payload length"):
      board.infer(image[:16], 2, np.int32)                   # not one input frame
    link.write(b"SM\x02\x00\x04" + bytes(8))                 # says 1,024 bytes, sends 8
    with pytest.raises(sp.ProtocolError, match="cut short"):
      board.expect(board.next_frame(), sp.RESULT)
    assert board.hello().classes == 2                        # still answering
    with pytest.raises(sp.ProtocolError, match="runs model .* flash the run's firmware"):
      board.hello(expected_hash="0" * 16)


def test_a_silent_or_dead_board_is_an_error_not_a_hang(uart_build, tmp_path):
  _, fw, directory = uart_build
  semihosting = firmware.build(directory, "qemu-mps2-an386", str(tmp_path / "semihost"))
  with board_link.QemuLink(semihosting.elf) as link:     # a firmware that never answers
    with pytest.raises(board_link.LinkError, match="no reply .* within 2 s"):
      board_link.BoardClient(link, timeout_s=2).hello()
  with board_link.QemuLink(fw.elf) as link:
    link.proc.kill()
    link.proc.wait()
    with pytest.raises(board_link.LinkError, match="exited|closed"):
      board_link.BoardClient(link, timeout_s=5).hello()


def test_qemu_missing_says_how_to_install(uart_build, monkeypatch, tmp_path):
  monkeypatch.setenv("PATH", str(tmp_path))
  with pytest.raises(firmware.ToolchainMissing, match="apt-get install"):
    board_link.QemuLink(uart_build[1].elf)


def test_a_missing_serial_port_is_a_clear_error(tmp_path):
  with pytest.raises(board_link.LinkError, match="cannot open the serial port .*plugged in"):
    board_link.SerialLink(str(tmp_path / "ttyUSB9"))


def test_the_edge_serial_firmware_links_for_the_board(uart_build, tmp_path):
  """What cannot run here must at least build: the Edge's protocol firmware (UART0, DWT)."""
  import subprocess
  _, _, directory = uart_build
  fw = board_link.build_uart_firmware(directory, str(tmp_path / "edge"),
                                      board="sparkfun-edge-uart")
  symbols = subprocess.run(["arm-none-eabi-nm", fw.elf], capture_output=True, text=True).stdout
  assert all(f" {name}" in symbols for name in ("smile_serve", "board_getc_timeout",
                                                "smile_model_run", "edge_core_init"))
  assert fw.sections[".isr_vector"][0] == 0xC000 and fw.linked_flash_bytes < 960 * 1024
