"""The first layer's hand loop (compile/first_layer.py, smile_dsp.S's smile_dsp_image_3x3_k<K>_c<C>)
against the integer reference's arithmetic, alone in unicorn; and that compiled nets call it.
Bit-exact parity of whole nets on both routes is test_dsp's (ODD's first layer takes the
checked gather, COMPACT_32's the aligned one)."""

import os
import subprocess

import numpy as np
import pytest

from compile import build, firmware, graph as graph_lib, profile, quantize
from compile.dsp import asm as dsp_asm, first_layer, pack as dsp_pack, requant as dsp_requant
from tests.test_deploy import images_for, variables_for
from tests.test_dsp import ODD


def _pairs(values: np.ndarray) -> np.ndarray:
  """(..., 10) int16 -> (..., 5) int32 words, the even element in the low half."""
  return np.ascontiguousarray(values.astype(np.int16)).view("<i4")


# Pixel counts that enter the 16-copy pixel loop at many copies; K at both ends of its range.
@pytest.mark.parametrize("pixels, channels, k", [(1, 1, 1), (2, 3, 8), (11, 8, 8), (24, 4, 31),
                                                 (7, 2, 13), (4, 5, 20), (13, 1, 3),
                                                 (30, 2, 9), (16, 3, 5), (47, 2, 17)])
def test_image_loop_equals_the_requantized_conv_and_table(hand_loops, pixels, channels, k):
  rng = np.random.default_rng(pixels * 100 + k)
  taps = rng.integers(-255, 256, (pixels, 9))                 # the int16 image's 2p - 255
  taps[0] = 255
  weight = rng.integers(-128, 128, (9, channels))
  weight[:, 0] = -128                                          # the extremes
  shift = 32 + k
  multiplier = rng.integers(2**29, 2**31 - 1, channels).astype(np.int32)
  bias = rng.integers(-2**16, 2**16, channels)
  requant = quantize.Requant(multiplier, shift, bias * multiplier.astype(np.int64) +
                             (np.int64(1) << np.int64(shift - 1)), 0)
  table = rng.integers(-128, 128, (channels, 128)).astype(np.int8)
  flat = np.zeros((pixels, 10), np.int64)
  flat[:, :9] = taps
  col = _pairs(flat).copy()
  col[-1, -1] |= first_layer.LAST_PIXEL                         # the row's end
  packed = dsp_pack.pack_int16_pairs(weight, 1, ((0, 1), (2, 3), (4, 5), (6, 7), (8, -1)))
  # The identity the loop relies on: the rounding and shift of the high word (dsp_requant).
  stage = dsp_requant.stage_of(requant, int(np.abs(taps @ weight).max()), biased=True)
  assert stage.high and stage.shift == shift
  name = first_layer.function_name((stage,), channels)
  uc, symbols = profile.load_elf(hand_loops([name]))
  uc.mem_map(profile.SCRATCH, profile.SCRATCH_BYTES)
  base = profile.SCRATCH
  addresses = [base + offset for offset in (0, 0x4000, 0x8000, 0xC000, 0xD000, 0xE000)]
  for address, data in zip(addresses, (col, packed.astype("<i4"), bias.astype("<i8"),
                                       multiplier.astype("<i4"), table)):
    uc.mem_write(address, data.tobytes())
  out = addresses[5]
  uc.mem_write(out, bytes(pixels * channels + 4))
  profile.call_function(uc, symbols, name, addresses[0], addresses[1], out, channels,
                        addresses[2], addresses[3], addresses[4], 128, pixels)
  got = np.frombuffer(bytes(uc.mem_read(out, pixels * channels + 4)), np.int8)
  levels = requant.apply(taps @ weight)                        # (pixels, channels) in 0..127
  expected = table[np.arange(channels), levels]
  np.testing.assert_array_equal(got[:-4].reshape(pixels, channels), expected)
  assert not got[-4:].any()                                    # nothing written past the row


def test_a_first_layer_off_the_words_calls_the_image_loop_too(tmp_path):
  """ODD's 15 x 15 image (odd width): every field takes the checked gather (COMPACT_32's aligned
  one: test_dsp's relocations)."""
  spec = ODD
  graph = graph_lib.from_spec(spec, variables_for(spec))
  built = build.compile_model(quantize.quantize(graph, images_for(spec, 8)), str(tmp_path),
                              dsp=True)
  relocations = subprocess.run(
      [firmware.require_tool("arm-none-eabi-objdump"), "-r",
       os.path.join(built.directory, "kernels.o")], capture_output=True, text=True,
      check=True).stdout
  assert "smile_dsp_image_3x3_k" in relocations


def test_image_pairs_put_each_rows_neighbours_in_a_word():
  assert dsp_pack.image_pairs(3, 1) == ((0, 1), (3, 4), (6, 7), (2, 5), (8, -1))
  assert dsp_pack.image_pairs(1, 1) == ((0, -1),)
  assert dsp_pack.image_pairs(2, 1) == ((0, 1), (2, 3))
  assert dsp_pack.image_pairs(3, 2)[:2] == ((0, 1), (2, 3))       # more channels: in order
  weight = np.arange(9 * 2, dtype=np.int8).reshape(3, 3, 1, 2)
  halves = dsp_pack.pack_weights(weight, "int16", 1).astype("<i4").view(np.int16).reshape(2, 10)
  np.testing.assert_array_equal(halves[0], [0, 2, 6, 8, 12, 14, 4, 10, 16, 0])


@pytest.mark.parametrize("pixels, misalign", [(16, 0), (48, 1), (64, 3)])
def test_image_int16_loop_is_the_references_input(hand_loops, pixels, misalign):
  """smile_dsp_image_int16: 2p - 255 for every pixel (0 and 255 included), from an image at any
  alignment, and nothing written past the end."""
  image = np.random.default_rng(pixels).integers(0, 256, pixels).astype(np.uint8)
  image[:2] = (0, 255)
  uc, symbols = profile.load_elf(hand_loops())
  uc.mem_map(profile.SCRATCH, profile.SCRATCH_BYTES)
  source, out = profile.SCRATCH + misalign, profile.SCRATCH + 0x1000
  uc.mem_write(source, image.tobytes())
  uc.mem_write(out, bytes(2 * pixels + 8))
  profile.call_function(uc, symbols, "smile_dsp_image_int16", source, out, pixels)
  got = np.frombuffer(bytes(uc.mem_read(out, 2 * pixels + 8)), "<i2")
  np.testing.assert_array_equal(got[:pixels], 2 * image.astype(np.int64) - 255)
  assert not got[pixels:].any()


@pytest.mark.parametrize("width, pairs", [(16, 1), (64, 15), (48, 4)])
def test_image_fields_loop_gathers_the_pairs_of_image_pairs(hand_loops, width, pairs):
  """smile_dsp_image_fields_w<W>: interior pixels at stride 2, two a loop, each pixel's 5 words
  in dsp_pack.image_pairs' order (as first_layer.py's checked gather writes them)."""
  rng = np.random.default_rng(width + pairs)
  image = rng.integers(-255, 256, (4, width)).astype(np.int16)
  iy0, ix0 = 1, 2
  name = dsp_asm.image_fields_name(width)
  uc, symbols = profile.load_elf(hand_loops([name]))
  uc.mem_map(profile.SCRATCH, profile.SCRATCH_BYTES)
  source, col = profile.SCRATCH, profile.SCRATCH + 0x4000
  uc.mem_write(source, image.astype("<i2").tobytes())
  uc.mem_write(col, bytes(4 * (10 * pairs + 1)))
  profile.call_function(uc, symbols, name, source + 2 * (iy0 * width + ix0), col, pairs)
  got = np.frombuffer(bytes(uc.mem_read(col, 4 * (10 * pairs + 1))), "<i4")
  field_pairs = dsp_pack.image_pairs(3, 1)
  expected = []
  for pixel in range(2 * pairs):
    field = np.append(image[iy0:iy0 + 3, ix0 + 2 * pixel:ix0 + 2 * pixel + 3].reshape(-1), 0)
    expected.append([field[a] if a >= 0 else 0 for pair in field_pairs for a in pair])
  np.testing.assert_array_equal(got[:-1], _pairs(np.array(expected)).reshape(-1))
  assert got[-1] == 0
