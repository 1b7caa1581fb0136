"""The SparkFun Edge firmware packed for Ambiq's secure bootloader (compile/ambiq_image.py),
checked field by field against the layout of AmbiqSuite's blob tools (the module docstring)."""

import struct
import zlib

import pytest

from compile import ambiq_image as ai, ambiq_upload as up


def test_image_blob_header_fields_and_crc():
  app = bytes(range(256)) * 3 + b"\x01\x02\x03"         # 771 bytes: one pad byte needed
  blob = ai.image_blob(app, version=5)
  header, body = blob[:128], blob[128:]
  assert body == app + b"\x01" and len(blob) % 4 == 0     # padded with its own length
  w0, w1, w2 = struct.unpack_from("<III", header, 0)
  assert w0 >> 24 == 0xCB and not w0 & (1 << 23) and w0 & 0x7FFFFF == len(blob)
  assert w1 == zlib.crc32(header[8:] + body)
  assert w2 == 0x10 << 24                                 # CRC on install, no auth, no enc
  assert header[16:112] == bytes(96)
  assert struct.unpack_from("<IIII", header, 112) == (0xC000, 5, 0xFFFFFFFF, 0xFFFFFFFF)
  broken = bytearray(blob)
  broken[200] ^= 1                                        # a flipped bit fails the CRC
  assert struct.unpack_from("<I", broken, 4)[0] != zlib.crc32(bytes(broken[8:]))


def test_wired_update_blob_wraps_the_image():
  image = ai.image_blob(b"\x00" * 1000)
  wired = ai.wired_update_blob(image)
  header = wired[:96]
  assert struct.unpack_from("<I", header, 0)[0] == 0x08000800
  assert header[4:80] == bytes(76) and header[80] == 6 and header[81] == 1
  assert struct.unpack_from("<III", header, 84) == (0x12344321, 0x20000, len(image))
  assert wired[96:] == image


def test_bad_requests_are_refused():
  with pytest.raises(ValueError, match="not word aligned"):
    ai.image_blob(b"\x00", load_address=0xC002)
  with pytest.raises(ValueError, match="15 bits"):
    ai.image_blob(b"\x00", version=1 << 15)
  with pytest.raises(ValueError, match="one wired-update piece"):
    ai.wired_update_blob(bytes(ai.MAX_STAGED_BYTES + 4))


class SimulatedBootloader:
  """The bootloader's side of the wired update, as its message formats say (a test double of the
  board, not of the uploader): checks every CRC, acknowledges, assembles the data, and on RESET
  keeps the blob if its CRC matches the UPDATE's. `nack_first_data`: refuse one DATA once."""

  def __init__(self, nack_first_data=False):
    self.inbox, self.outbox = b"", b""
    self.nack_first_data, self.expected = nack_first_data, None
    self.received, self.flashed = b"", None
    self.name, self.log = "simulated SBL", []

  def write(self, data):
    self.inbox += data
    while len(self.inbox) >= 8:
      crc, word = struct.unpack_from("<II", self.inbox)
      length = word >> 16
      if len(self.inbox) < length:
        return
      msg, self.inbox = self.inbox[:length], self.inbox[length:]
      assert crc == zlib.crc32(msg[4:]), "a message with a wrong CRC"
      self.handle(word & 0xFFFF, msg[8:])

  def reply(self, *words):
    body = struct.pack(f"<{len(words)}I", *words)
    self.outbox += struct.pack("<I", zlib.crc32(body)) + body

  def ack(self, kind, error=0, seq=0):
    self.reply(20 << 16 | up.ACK, kind, error, seq)

  def handle(self, kind, params):
    self.log.append(kind)
    if kind == up.HELLO:
      self.reply(88 << 16 | up.STATUS, 3, 0x48000, 0, 1, *([0] * 16))
    elif kind == up.UPDATE:
      self.expected = struct.unpack_from("<II", params)
      self.ack(kind)
    elif kind == up.DATA:
      offset = struct.unpack_from("<I", params)[0]
      if self.nack_first_data:
        self.nack_first_data = False
        return self.ack(kind, error=3, seq=offset)
      assert offset == len(self.received)
      self.received += params[4:]
      self.ack(kind, seq=offset)
    elif kind == up.RESET:
      size, crc = self.expected
      if len(self.received) == size and zlib.crc32(self.received) == crc:
        self.flashed = self.received
      self.ack(kind)
    else:
      self.ack(kind)

  def read(self, timeout_s):
    data, self.outbox = self.outbox, b""
    return data


def test_upload_speaks_the_wired_update_protocol():
  wired = ai.wired_update_blob(ai.image_blob(bytes(range(256)) * 80))   # 20 KB: three chunks
  board = SimulatedBootloader(nack_first_data=True)
  sent = []
  status = up.upload(board, wired, timeout_s=1, progress=lambda done, total: sent.append(done))
  assert board.flashed == wired and status["max_storage"] == 0x48000
  assert board.log == [up.HELLO, up.OTADESC, up.UPDATE] + [up.DATA] * 4 + [up.RESET]  # 1 retry
  assert sent[-1] == len(wired)


def test_a_silent_bootloader_is_an_error_naming_the_fix():
  class Silent:
    name = "silent"

    def write(self, data):
      pass

    def read(self, timeout_s):
      return b""
  with pytest.raises(up.UploadError, match="hold button 14, tap RST"):
    up.upload(Silent(), ai.wired_update_blob(ai.image_blob(b"\x00" * 64)), timeout_s=0.2)
