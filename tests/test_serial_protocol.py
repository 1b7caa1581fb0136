"""The host side of the board's serial protocol (compile/serial_protocol.py): frames, CRCs, and
what a receiver does with corrupted or cut streams."""

import struct
import zlib

import numpy as np
import pytest

from compile import serial_protocol as sp


def test_a_frame_is_magic_type_length_payload_and_crc():
  frame = sp.encode(sp.INFER, b"\x01\x02\x03")
  assert frame[:2] == b"SM" and frame[2] == sp.INFER
  assert struct.unpack("<H", frame[3:5])[0] == 3 and frame[5:8] == b"\x01\x02\x03"
  assert struct.unpack("<I", frame[8:])[0] == zlib.crc32(frame[2:8])
  assert sp.crc32(b"123456789") == 0xCBF43926     # the standard CRC-32 check value


def test_frames_survive_any_split_of_the_stream():
  frames = [sp.encode(sp.HELLO), sp.encode(sp.INFER, bytes(range(200))),
            sp.encode(sp.ERROR, sp.error_payload(sp.BAD_CRC, "frame 3"))]
  stream = b"".join(frames)
  for chunk in (1, 2, 7, len(stream)):
    reader = sp.FrameReader()
    got = []
    for start in range(0, len(stream), chunk):
      got += reader.feed(stream[start:start + chunk])
    assert [f.type for f in got] == [sp.HELLO, sp.INFER, sp.ERROR]
    assert got[1].payload == bytes(range(200)) and not reader.errors


def test_a_corrupted_frame_is_dropped_and_the_next_one_read():
  bad = bytearray(sp.encode(sp.INFER, b"pixels"))
  bad[6] ^= 0x40                               # one flipped bit in the payload
  reader = sp.FrameReader()
  got = reader.feed(b"noise" + bytes(bad) + sp.encode(sp.HELLO))
  assert [f.type for f in got] == [sp.HELLO]
  assert reader.errors == ["CRC mismatch on a type 0x02 frame"] and reader.skipped >= 5


def test_impossible_headers_and_bad_requests_are_refused():
  reader = sp.FrameReader()
  assert reader.feed(b"SM\x02\xff\xff" + sp.encode(sp.HELLO)) == [sp.Frame(sp.HELLO, b"")]
  assert "length 65535" in reader.errors[0]
  with pytest.raises(ValueError, match="unknown frame type"):
    sp.encode(0x55)
  with pytest.raises(ValueError, match="over the"):
    sp.encode(sp.INFER, bytes(sp.MAX_PAYLOAD + 1))


def test_a_cut_frame_waits_for_the_rest():
  frame = sp.encode(sp.INFER, b"abcdef")
  reader = sp.FrameReader()
  assert reader.feed(frame[:-1]) == [] and not reader.errors
  assert reader.feed(frame[-1:]) == [sp.Frame(sp.INFER, b"abcdef")]


def test_hello_and_result_payloads_round_trip():
  hello = sp.Hello("0123456789abcdef", (32, 32, 1), 2, 4, "smile 1")
  assert sp.Hello.parse(hello.payload()) == hello
  payload = np.array([-7, 12], "<i4").tobytes() + struct.pack("<II", 123456, 1316)
  result = sp.Result.parse(payload, 2, np.int32)
  assert result.logits.tolist() == [-7, 12] and (result.cycles, result.stack_bytes) == (123456,
                                                                                        1316)
  with pytest.raises(sp.ProtocolError, match="expected 16"):
    sp.Result.parse(payload[:-1], 2, np.int32)
  assert sp.error_text(sp.error_payload(sp.BAD_LENGTH, "got 10, want 1024")) == (
      "wrong payload length: got 10, want 1024")
