"""Uploading a wired-update blob (ambiq_image.py) to the Apollo3's secure bootloader over UART,
written from the message formats of AmbiqSuite's `uart_wired_update.py`; not yet tried on a board
(tests/test_ambiq_image.py runs it against a simulated bootloader).

Every host message is its CRC-32 (u32 LE, zlib's) followed by the message, whose first word is
`length << 16 | type`, length counting the CRC word too:
    HELLO (0)            -> the bootloader's STATUS (1), 88 bytes: version, max storage, state
    OTADESC (2) address  -> ACK: where the OTA descriptor page is (0xFE000, the end of flash)
    UPDATE (3) size, CRC-32 of the blob, 0   -> ACK
    DATA (8) offset, bytes (at most 8,180)   -> ACK, one per chunk
    RESET (6) 1 (POI: run the new image)     -> ACK
An ACK (7) is 20 bytes: its type word, the acknowledged type, a status (0 = success) and the
sequence number; a NACK is retried up to 4 times, as AmbiqSuite does.
"""

from __future__ import annotations

import struct
import time
import zlib

HELLO, STATUS, OTADESC, UPDATE, ABORT, RECOVER, RESET, ACK, DATA = range(9)
STATUS_BYTES, ACK_BYTES = 88, 20
MAX_MESSAGE = 8192               # the bootloader's UART buffer
OTA_DESCRIPTOR = 0xFE000
RESET_POI = 1
ACK_ERRORS = {1: "failure", 2: "invalid INFO0", 3: "CRC", 4: "security", 5: "message too big",
              6: "unknown message type", 7: "invalid address", 8: "invalid operation",
              9: "invalid parameter", 10: "sequence", 11: "too much data"}
TRIES = 4


class UploadError(RuntimeError):
  """The bootloader did not answer, or refused a message."""


def message(kind: int, *words: int, data: bytes = b"") -> bytes:
  """A host message as sent: CRC-32, then the type word, the parameter words and the data."""
  body = struct.pack(f"<{1 + len(words)}I", (4 * (2 + len(words)) + len(data)) << 16 | kind,
                     *words) + data
  return struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF) + body


def read_exact(link, count: int, timeout_s: float) -> bytes:
  """`count` bytes from a board_link-style link, or UploadError after `timeout_s`."""
  data, deadline = b"", time.monotonic() + timeout_s
  while len(data) < count:
    left = deadline - time.monotonic()
    if left <= 0:
      raise UploadError(f"the bootloader sent {len(data)} of {count} bytes within {timeout_s:g} s:"
                        " is the board in its bootloader (hold button 14, tap RST)?")
    data += link.read(min(left, 0.5))
  return data


def upload(link, wired_blob: bytes, timeout_s: float = 12.0, progress=None) -> dict:
  """Sends `wired_blob` (one piece) and resets into it; returns the bootloader's STATUS fields.
  `progress(sent_bytes, total)` is called after each data chunk."""
  link.write(message(HELLO))
  status = read_exact(link, STATUS_BYTES, timeout_s)
  kind_word, version, max_storage, sbl_status, state = struct.unpack_from("<5I", status, 4)
  if kind_word & 0xFFFF != STATUS:
    raise UploadError(f"the bootloader answered HELLO with message type {kind_word & 0xFFFF}, "
                      "not STATUS")

  def acked(msg: bytes) -> None:
    for _ in range(TRIES):
      link.write(msg)
      ack = read_exact(link, ACK_BYTES, timeout_s)
      kind, acked_type, error, _ = struct.unpack_from("<4I", ack, 4)
      if kind & 0xFFFF != ACK:
        raise UploadError(f"expected an ACK, got message type {kind & 0xFFFF}")
      if error == 0:
        return
    raise UploadError(f"the bootloader refused message type {acked_type} {TRIES} times: "
                      f"{ACK_ERRORS.get(error, error)}")

  acked(message(OTADESC, OTA_DESCRIPTOR))
  acked(message(UPDATE, len(wired_blob), zlib.crc32(wired_blob) & 0xFFFFFFFF, 0))
  chunk = MAX_MESSAGE - 12
  for offset in range(0, len(wired_blob), chunk):
    acked(message(DATA, offset, data=wired_blob[offset:offset + chunk]))
    if progress:
      progress(min(offset + chunk, len(wired_blob)), len(wired_blob))
  acked(message(RESET, RESET_POI))
  return {"version": version, "max_storage": max_storage, "status": sbl_status, "state": state}
