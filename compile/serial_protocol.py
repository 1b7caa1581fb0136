"""The serial protocol between the host and the firmware's UART (QEMU's CMSDK UART, or the
SparkFun Edge's UART0 behind its USB-serial bridge): framed requests and replies.

Every frame, both ways:

    b"SM" | type (u8) | length (u16 LE) | payload (length bytes) | CRC-32 (u32 LE)

the CRC being zlib's CRC-32 (reflected, polynomial 0xEDB88320) over type, length and payload.
Requests: HELLO (empty) and INFER (the net's input pixels, uint8, H x W x C row-major); on a
firmware that runs the robot's whole pipeline, also FRAME_CHUNK (an offset, u32, then the next
bytes of a 324 x 244 camera frame, in order from offset 0) and LOCATE (the whole frame's CRC-32:
run the pipeline on it). Replies: HELLO_REPLY (the model hash, the input shape, the classes, the
logits' byte width and a version text), RESULT (the logits, the cycles or instructions the
inference took, the stack it used), CHUNK_OK (the frame's bytes received so far), FACES (the
faces found, their boxes and logits, the counter and the stack) and ERROR (a code and a message:
a bad CRC, a wrong length, an unknown type, a chunk out of order). A receiver
that meets bytes that are not a frame skips to the next magic, so a corrupted frame costs that
frame only, never the link.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib

import numpy as np

MAGIC = b"SM"
HEADER = struct.Struct("<2sBH")          # magic, type, length
CRC = struct.Struct("<I")
MAX_PAYLOAD = 16 * 1024                   # the largest input the boards take (64 x 64 x 3 fits)

HELLO, INFER, FRAME_CHUNK, LOCATE = 0x01, 0x02, 0x03, 0x04
HELLO_REPLY, RESULT, CHUNK_OK, FACES, ERROR = 0x81, 0x82, 0x83, 0x84, 0xEE
TYPES = {HELLO, INFER, FRAME_CHUNK, LOCATE, HELLO_REPLY, RESULT, CHUNK_OK, FACES, ERROR}
# Error codes, the firmware's and the host's alike.
BAD_CRC, BAD_LENGTH, BAD_TYPE, BAD_OFFSET = 1, 2, 3, 4
ERROR_NAMES = {BAD_CRC: "bad CRC", BAD_LENGTH: "wrong payload length", BAD_TYPE: "unknown type",
               BAD_OFFSET: "chunk out of order"}
CHUNK_BYTES = 8 * 1024                    # a camera frame's bytes per FRAME_CHUNK


class ProtocolError(RuntimeError):
  """A frame that cannot be read, or a reply that is not the one asked for."""


def crc32(data: bytes) -> int:
  return zlib.crc32(data) & 0xFFFFFFFF


def encode(frame_type: int, payload: bytes = b"") -> bytes:
  if frame_type not in TYPES:
    raise ValueError(f"unknown frame type 0x{frame_type:02x}")
  if len(payload) > MAX_PAYLOAD:
    raise ValueError(f"payload of {len(payload)} bytes is over the {MAX_PAYLOAD}-byte limit")
  body = HEADER.pack(MAGIC, frame_type, len(payload))[2:] + payload
  return MAGIC + body + CRC.pack(crc32(body))


@dataclasses.dataclass(frozen=True)
class Frame:
  type: int
  payload: bytes


class FrameReader:
  """Turns a byte stream into frames: `feed(data)` returns the frames completed so far. Bytes
  before a magic are skipped; a frame whose CRC fails, or whose length is impossible, is dropped
  and reported in `errors` (its first byte skipped, so the next magic is found)."""

  def __init__(self):
    self.buffer = bytearray()
    self.errors: list[str] = []
    self.skipped = 0

  def feed(self, data: bytes) -> list[Frame]:
    self.buffer += data
    frames = []
    while True:
      start = self.buffer.find(MAGIC)
      if start < 0:
        keep = 1 if self.buffer.endswith(MAGIC[:1]) else 0   # half a magic may follow
        self.skipped += len(self.buffer) - keep
        del self.buffer[:len(self.buffer) - keep]
        return frames
      self.skipped += start
      del self.buffer[:start]
      if len(self.buffer) < HEADER.size:
        return frames
      _, frame_type, length = HEADER.unpack_from(self.buffer)
      if length > MAX_PAYLOAD or frame_type not in TYPES:
        self.errors.append(f"impossible frame header (type 0x{frame_type:02x}, length {length})")
        del self.buffer[:1]
        continue
      end = HEADER.size + length + CRC.size
      if len(self.buffer) < end:
        return frames
      body = bytes(self.buffer[2:HEADER.size + length])
      (crc,) = CRC.unpack_from(self.buffer, HEADER.size + length)
      if crc != crc32(body):
        self.errors.append(f"CRC mismatch on a type 0x{frame_type:02x} frame")
        del self.buffer[:1]
        continue
      frames.append(Frame(frame_type, bytes(self.buffer[HEADER.size:HEADER.size + length])))
      del self.buffer[:end]


@dataclasses.dataclass(frozen=True)
class Hello:
  model_hash: str            # 16 hex digits: the first 8 bytes of the model's SHA-256
  input_shape: tuple         # (H, W, C)
  classes: int
  logit_bytes: int           # 4: int32 accumulators (int8 builds) or float32
  version: str

  def payload(self) -> bytes:
    return (bytes.fromhex(self.model_hash) + bytes(self.input_shape)
            + bytes([self.classes, self.logit_bytes]) + self.version.encode())

  @classmethod
  def parse(cls, payload: bytes) -> "Hello":
    if len(payload) < 13:
      raise ProtocolError(f"HELLO reply of {len(payload)} bytes, expected at least 13")
    return cls(payload[:8].hex(), tuple(payload[8:11]), payload[11], payload[12],
               payload[13:].decode(errors="replace"))


@dataclasses.dataclass(frozen=True)
class Result:
  logits: np.ndarray         # (classes,) in the firmware's logit type
  cycles: int                # DWT cycles (Apollo3), or SysTick ticks x 40 instructions (QEMU)
  stack_bytes: int

  @classmethod
  def parse(cls, payload: bytes, classes: int, logit_dtype) -> "Result":
    dtype = np.dtype(logit_dtype)
    expected = classes * dtype.itemsize + 8
    if len(payload) != expected:
      raise ProtocolError(f"RESULT of {len(payload)} bytes, expected {expected}")
    logits = np.frombuffer(payload[:classes * dtype.itemsize], dtype.newbyteorder("<")).copy()
    cycles, stack = struct.unpack_from("<II", payload, classes * dtype.itemsize)
    return cls(logits.astype(dtype), cycles, stack)


@dataclasses.dataclass(frozen=True)
class Faces:
  """FACES: the pipeline's answer on one frame."""
  boxes: tuple               # (x, y, w, h) per face found, in the locator's order
  logits: np.ndarray         # (faces, classes) in the firmware's logit type
  cycles: int
  stack_bytes: int

  @classmethod
  def parse(cls, payload: bytes, max_faces: int, classes: int, logit_dtype) -> "Faces":
    dtype = np.dtype(logit_dtype)
    expected = 4 + max_faces * 8 + max_faces * classes * dtype.itemsize + 8
    if len(payload) != expected:
      raise ProtocolError(f"FACES of {len(payload)} bytes, expected {expected}")
    (count,) = struct.unpack_from("<i", payload)
    if not 0 <= count <= max_faces:
      raise ProtocolError(f"FACES says {count} faces, at most {max_faces} fit")
    boxes = np.frombuffer(payload[4:4 + max_faces * 8], "<i2").reshape(max_faces, 4)
    start = 4 + max_faces * 8
    logits = np.frombuffer(payload[start:start + max_faces * classes * dtype.itemsize],
                           dtype.newbyteorder("<")).reshape(max_faces, classes)
    cycles, stack = struct.unpack_from("<II", payload, expected - 8)
    return cls(tuple(tuple(int(v) for v in b) for b in boxes[:count]),
               logits[:count].astype(dtype), cycles, stack)


def error_text(payload: bytes) -> str:
  """An ERROR frame's payload in words."""
  if not payload:
    return "error (no code)"
  name = ERROR_NAMES.get(payload[0], f"code {payload[0]}")
  detail = payload[1:].decode(errors="replace")
  return f"{name}: {detail}" if detail else name


def error_payload(code: int, message: str = "") -> bytes:
  return bytes([code]) + message.encode()
