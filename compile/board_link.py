"""The host end of the board protocol (serial_protocol.py) over a byte link: QEMU's UART (QEMU
started here with `-serial stdio`, its pipes the link) or a serial port (pyserial).

    with QemuLink(firmware.elf) as link:
        board = BoardClient(link, timeout_s=10)
        hello = board.hello()
        result = board.infer(image, logit_dtype)

Every read has a timeout: a dead or silent board is an error naming what was awaited, never a
hang. The firmware for QEMU is the `qemu-mps2-an386-uart` board of firmware.py.
"""

from __future__ import annotations

import hashlib
import os
import select
import struct
import subprocess
import time

import numpy as np

from compile import firmware, serial_protocol as sp, weights_placement


class LinkError(RuntimeError):
  """The board did not answer in time, went away, or could not be started."""


def model_hash(model_dir: str) -> str:
  """16 hex digits naming a compiled model: SHA-256 over its model.c and kernels (C, object and
  its own hand loops)."""
  digest = hashlib.sha256()
  for name in ("model.c", "kernels.c", "kernels.o", firmware.OWN_LOOPS):
    path = os.path.join(model_dir, name)
    if os.path.exists(path):
      with open(path, "rb") as file:
        digest.update(name.encode() + b"\0" + file.read())
  return digest.hexdigest()[:16]


def hash_flag(digits: str) -> str:
  """The compiler flag that puts a 16-hex-digit hash into the firmware's HELLO reply."""
  return "-DSMILE_MODEL_HASH={" + ",".join(f"0x{digits[i:i + 2]}" for i in range(0, 16, 2)) + "}"


def build_uart_firmware(model_dir: str, out_dir: str, kernels: str = "llvm",
                        board: str = "qemu-mps2-an386-uart", weights_in_sram: bool = False):
  """A compiled model's firmware serving the board protocol (`qemu-mps2-an386-uart` or
  `sparkfun-edge-uart`), its hash compiled in, its weights where deploy placed them."""
  return firmware.build(model_dir, board, out_dir, kernels=kernels,
                        extra_flags=[hash_flag(model_hash(model_dir)),
                                     *weights_placement.flags(weights_in_sram)])


class QemuLink:
  """QEMU `mps2-an386` running a firmware whose UART0 is QEMU's stdin/stdout."""

  def __init__(self, elf: str):
    qemu = firmware.require_tool("qemu-system-arm")
    self.proc = subprocess.Popen(
        [qemu, "-M", "mps2-an386", "-display", "none", "-monitor", "none", "-serial", "stdio",
         "-icount", "shift=0", "-kernel", os.path.abspath(elf)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    self.name = f"QEMU mps2-an386 ({os.path.basename(elf)})"

  def write(self, data: bytes) -> None:
    if self.proc.poll() is not None:
      raise LinkError(f"{self.name} exited with {self.proc.returncode}: "
                      f"{self.proc.stderr.read().decode(errors='replace')[-500:]}")
    self.proc.stdin.write(data)
    self.proc.stdin.flush()

  def read(self, timeout_s: float) -> bytes:
    """Whatever bytes arrive within `timeout_s` (b"" when none)."""
    ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s)
    if not ready:
      return b""
    data = os.read(self.proc.stdout.fileno(), 65536)
    if not data:
      raise LinkError(f"{self.name} closed its UART (exit code {self.proc.poll()})")
    return data

  def close(self) -> None:
    if self.proc.poll() is None:
      self.proc.kill()
    self.proc.wait()
    for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
      pipe.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()


class SerialLink:
  """A serial port (the SparkFun Edge's USB-serial bridge, 115200 8N1 by default), via pyserial."""

  def __init__(self, port: str, baud: int = 115200):
    try:
      import serial  # noqa: PLC0415 - only the real-board path needs it
    except ImportError:
      raise LinkError("talking to a board over a serial port needs pyserial: "
                      ".venv/bin/pip install pyserial (requirements.txt has it)") from None
    self.errors = (serial.SerialException, OSError)
    try:
      self.port = serial.Serial(port, baud, timeout=0)
    except self.errors as e:
      raise LinkError(f"cannot open the serial port {port}: {e}. Is the board plugged in and "
                      "is this its port (ls /dev/ttyUSB* /dev/ttyACM*)?") from None
    self.name = f"the board on {port}"

  def write(self, data: bytes) -> None:
    try:
      self.port.write(data)
      self.port.flush()
    except self.errors as e:
      raise LinkError(f"{self.name} went away: {e}") from None

  def read(self, timeout_s: float) -> bytes:
    try:
      self.port.timeout = timeout_s
      first = self.port.read(1)
      return first + self.port.read(self.port.in_waiting) if first else b""
    except self.errors as e:
      raise LinkError(f"{self.name} went away: {e}") from None

  def close(self) -> None:
    self.port.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()


class BoardClient:
  """Requests over a link, one at a time: each answered by one frame or a LinkError."""

  def __init__(self, link, timeout_s: float = 10.0):
    self.link, self.timeout_s = link, timeout_s
    self.reader = sp.FrameReader()
    self.pending: list[sp.Frame] = []

  def request(self, frame_type: int, payload: bytes = b"") -> sp.Frame:
    self.link.write(sp.encode(frame_type, payload))
    return self.next_frame(f"a type 0x{frame_type:02x} request")

  def next_frame(self, awaited: str = "a frame") -> sp.Frame:
    """The board's next frame, or a LinkError after `timeout_s` naming what was `awaited`."""
    deadline = time.monotonic() + self.timeout_s
    while not self.pending:
      left = deadline - time.monotonic()
      if left <= 0:
        raise LinkError(f"no reply from {self.link.name} to {awaited} within "
                        f"{self.timeout_s:g} s" + (f" (dropped: {'; '.join(self.reader.errors)})"
                                                   if self.reader.errors else ""))
      self.pending += self.reader.feed(self.link.read(min(left, 0.5)))
    return self.pending.pop(0)

  def expect(self, frame: sp.Frame, wanted: int) -> bytes:
    """`frame`'s payload if it is of type `wanted`; an ERROR reply or another type raises."""
    if frame.type == sp.ERROR:
      raise sp.ProtocolError(f"{self.link.name}: {sp.error_text(frame.payload)}")
    if frame.type != wanted:
      raise sp.ProtocolError(f"{self.link.name} answered type 0x{frame.type:02x}, expected "
                             f"0x{wanted:02x}")
    return frame.payload

  def hello(self, expected_hash: str | None = None) -> sp.Hello:
    """The board's HELLO; with `expected_hash`, a board running another model is an error."""
    hello = sp.Hello.parse(self.expect(self.request(sp.HELLO), sp.HELLO_REPLY))
    if expected_hash is not None and hello.model_hash != expected_hash:
      raise sp.ProtocolError(
          f"{self.link.name} runs model {hello.model_hash}, the run's build is {expected_hash}: "
          "flash the run's firmware first (python -m experiments.flash)")
    return hello

  def infer(self, image: np.ndarray, classes: int, logit_dtype) -> sp.Result:
    payload = np.ascontiguousarray(image, np.uint8).tobytes()
    return sp.Result.parse(self.expect(self.request(sp.INFER, payload), sp.RESULT), classes,
                           logit_dtype)

  def locate(self, frame: np.ndarray, max_faces: int, classes: int, logit_dtype) -> sp.Faces:
    """A whole camera frame through the board's pipeline: FRAME_CHUNKs in order, then LOCATE."""
    data = np.ascontiguousarray(frame, np.uint8).tobytes()
    for offset in range(0, len(data), sp.CHUNK_BYTES):
      chunk = struct.pack("<I", offset) + data[offset:offset + sp.CHUNK_BYTES]
      (filled,) = struct.unpack("<I", self.expect(self.request(sp.FRAME_CHUNK, chunk),
                                                   sp.CHUNK_OK))
      if filled != offset + len(chunk) - 4:
        raise sp.ProtocolError(f"{self.link.name} holds {filled} bytes of the frame after a "
                               f"chunk ending at {offset + len(chunk) - 4}")
    reply = self.request(sp.LOCATE, struct.pack("<I", sp.crc32(data)))
    return sp.Faces.parse(self.expect(reply, sp.FACES), max_faces, classes, logit_dtype)
