"""The SMLAD kernels (compile/dsp/): weight packing, the instructions they compile to, and
bit-exact parity with the integer reference under QEMU on both code-generation routes."""

import os
import subprocess

import numpy as np
import pytest

from compile import build, emulate, firmware, graph as graph_lib, profile, quantize
from compile.dsp import (asm as dsp_asm, conv as dsp_conv, depthwise as dsp_depthwise,
                         instructions as dsp_instructions, pack as dsp_pack,
                         requant as dsp_requant)
from smile_jax.models import spec as spec_lib, zoo
from tests.test_deploy import SEPARABLE, variables_for, images_for

# Every path of the kernels: an odd pixel count (the last pixel computed twice), the int16 image
# into 6 channels (tile 2), int8 inputs whose channels are not whole words (6: the element-wise
# gather), VALID padding, 5 output channels (tile 1), a batch norm after ReLU fused as a second
# requantization, a hidden dense layer on 45 inputs (not whole words) and the logits layer.
ODD = spec_lib.ModelSpec("odd", (
    spec_lib.Conv(6, 3, stride=2), spec_lib.BatchNorm(), spec_lib.Conv(6, 3, padding="VALID"),
    spec_lib.Conv(8, 3, stride=2), spec_lib.Conv(5, 1), spec_lib.Flatten(), spec_lib.Dense(7),
    spec_lib.Dense(2, activation="none")), (15, 15, 1), 2)
# Convs with one output pixel go to the dense layers' 1 x 4 and 1 x 2 loops.
ONE_PIXEL = spec_lib.ModelSpec("one_pixel", (
    spec_lib.Conv(8, 3, stride=2), spec_lib.Conv(12, 5, padding="VALID"), spec_lib.Conv(6, 1),
    spec_lib.Flatten(), spec_lib.Dense(2, activation="none")), (9, 9, 1), 2)
COMPACT_32 = zoo.compact().with_input_shape((32, 32, 1))   # the default search's pick's shape
# The depthwise kernel's paths: 3 channel groups, fields inside the image and across its edge, a
# batch norm after ReLU as a table, average pools (windowed, global) as all-one depthwise convs,
# and the layers it leaves to TVM's kernels (6 channels: not whole words).
DEPTHWISE = spec_lib.ModelSpec("depthwise", (
    spec_lib.Conv(12, 3, stride=2), spec_lib.DepthwiseConv(3), spec_lib.BatchNorm(),
    spec_lib.AvgPool(3, 2, padding="SAME"), spec_lib.Conv(6, 1), spec_lib.AvgPool(2, 2),
    spec_lib.Conv(8, 1), spec_lib.GlobalAvgPool(), spec_lib.Dense(2, activation="none")),
    (17, 17, 1), 2)


def test_packed_words_hold_the_weights_as_sxtb16_splits_them():
  weight = np.random.default_rng(0).integers(-128, 128, (10, 4), dtype=np.int8)
  packed = dsp_pack.pack_int8(weight)
  assert packed.shape == (4 // dsp_pack.TILE, 3, dsp_pack.TILE)          # 10 taps -> 3 words
  words = packed.transpose(0, 2, 1).reshape(4, 3)                 # (channel, word)
  as_bytes = words.astype("<i4").view(np.int8).reshape(4, 12)
  np.testing.assert_array_equal(as_bytes[:, :10], weight.T)        # flash holds the weights
  assert not as_bytes[:, 10:].any()                                # zero padding
  wide = dsp_pack.pack_int16_pairs(weight, 1, tuple(zip(range(0, 10, 2), range(1, 10, 2))))
  halves = wide.transpose(0, 2, 1).reshape(4, 5).astype("<i4").view(np.int16).reshape(4, 10)
  np.testing.assert_array_equal(halves, weight.T)


def test_requantize_narrows_to_32_bits_only_where_it_cannot_overflow():
  rq = quantize.Requant(np.array([2**30], np.int32), 40, np.array([2**39], np.int64), 0)
  assert dsp_requant.stage_of(rq, 1000).narrow
  assert not dsp_requant.stage_of(rq, 2**42).narrow
  batch_norm = quantize.Requant(np.array([2**22], np.int32), 22, np.array([2**29], np.int64), 0)
  assert dsp_requant.stage_of(batch_norm, 128).mul32        # 128 * 2^22 + 2^29 < 2^31
  assert not dsp_requant.stage_of(rq, 128).mul32            # a 30-bit multiplier: 64 bits


def test_a_convs_step_starts_at_its_bias_and_keeps_the_products_high_word():
  rng = np.random.default_rng(3)
  multiplier = rng.integers(2**29, 2**31, 6).astype(np.int32)
  bias = rng.integers(-2**16, 2**16, 6)
  for shift in (31, 33, 40):
    offset = bias * multiplier.astype(np.int64) + (np.int64(1) << np.int64(shift - 1))
    rq = quantize.Requant(multiplier, shift, offset, 0)
    stage = dsp_requant.stage_of(rq, 2**20, biased=True)
    assert stage.biased and stage.high == (shift >= 33)
    np.testing.assert_array_equal(dsp_requant.stage_offsets((rq,), (stage,), 2**20)[0], bias)
    acc = rng.integers(-2**20, 2**20, (1000, 6))
    started = (acc + bias).astype(np.int64) * multiplier
    if stage.high:                        # what requantize computes: SMMUL, add, shift
      value = ((started >> 32) + (1 << (shift - 33))) >> (shift - 32)
    else:
      value = (started + (1 << (shift - 1))) >> shift
    np.testing.assert_array_equal(np.clip(value, 0, 127), rq.apply(acc))
  off_by_one = quantize.Requant(multiplier, 40, offset + 1, 0)     # not b * M + rounding
  assert not dsp_requant.stage_of(off_by_one, 2**20, biased=True).biased
  assert not dsp_requant.stage_of(rq, 2**31 - 2**10, biased=True).biased   # acc + b overflows


def test_a_batch_norm_after_relu_is_a_table_only_where_outputs_have_few_macs():
  conv_rq = quantize.Requant(np.array([2**30, 2**29], np.int32), 40,
                             np.array([2**39, 2**39], np.int64), 0)
  bn_rq = quantize.Requant(np.array([3 * 2**28, -2**29], np.int32), 30,
                           np.array([5 * 2**29, 2**29], np.int64), -128)
  few = dsp_requant.stages_for((conv_rq, bn_rq), 1000, taps=9)
  many = dsp_requant.stages_for((conv_rq, bn_rq), 1000, taps=288)
  assert [s.table for s in few] == [False, True] and few[1].base == 0
  assert not any(s.table for s in many)
  tables = dsp_requant.stage_tables((conv_rq, bn_rq), few)
  assert tables.shape == (2, 2, 128)        # every ReLU output 0..127, per channel
  inputs = np.arange(128)
  for channel in range(2):
    one = quantize.Requant(bn_rq.multiplier[channel:channel + 1], bn_rq.shift,
                           bn_rq.offset[channel:channel + 1], bn_rq.lo)
    np.testing.assert_array_equal(tables[1, channel], one.apply(inputs[:, None])[:, 0])


@pytest.mark.parametrize("spec", [ODD, COMPACT_32, zoo.embedded(), SEPARABLE, DEPTHWISE,
                                  ONE_PIXEL, zoo.face_locator()],
                         ids=lambda s: s.name)
def test_dsp_kernels_are_bit_exact_on_both_routes(spec, tmp_path):
  graph = graph_lib.from_spec(spec, variables_for(spec))
  model = quantize.quantize(graph, images_for(spec, 16, seed=2))
  built = build.compile_model(model, str(tmp_path), dsp=True)
  images = images_for(spec, 3, seed=7)
  reference = quantize.run_int(model, images).reshape(len(images), -1)   # a map: as written
  for route in ("llvm", "c"):
    fw = firmware.build(built.directory, "qemu-mps2-an386", str(tmp_path / route), kernels=route)
    np.testing.assert_array_equal(emulate.run_qemu(fw, images, np.int32).logits, reference)
  names = {call.kernel for call in built.program.calls}
  assert any("conv" in name for name in names)
  if spec is DEPTHWISE:   # by hand: all but the 6-channel pool and the edge-bound pool
    assert sum(dsp_instructions.DSP_ATTR in (f.attrs or {})
               for f in built.program.kernels.functions.values()) == 7
  # The batch norms after ReLU ride in their conv's kernel: no standalone requantize kernel.
  assert build.kernel_layers(built)


def test_depthwise_words_pair_each_channels_taps():
  weight = np.random.default_rng(1).integers(-128, 128, (3, 3, 1, 8), dtype=np.int8)
  packed = dsp_pack.pack_depthwise(weight)
  assert packed.shape == (2, 5, 4)                         # 8 channels / 4, 9 taps -> 5 pairs
  halves = packed.astype("<i4").view(np.int16).reshape(2, 5, 4, 2)   # (group, pair, c, tap)
  taps = halves.transpose(0, 2, 1, 3).reshape(8, 10)                  # (channel, tap)
  np.testing.assert_array_equal(taps[:, :9], weight.reshape(9, 8).T)
  assert not taps[:, 9].any()
  assert dsp_depthwise.fits((1, 32, 32, 8), "int8", 3, 2, (0, 0, 1, 1))
  assert not dsp_depthwise.fits((1, 8, 8, 16), "int8", 5, 1, (2, 2, 2, 2))  # mostly edges
  assert not dsp_depthwise.fits((1, 32, 32, 6), "int8", 3, 2, (0, 0, 1, 1))  # not whole words


def test_dsp_kernels_compile_to_smlad_and_sxtb16(tmp_path):
  spec = COMPACT_32
  graph = graph_lib.from_spec(spec, variables_for(spec))
  built = build.compile_model(quantize.quantize(graph, images_for(spec, 8)), str(tmp_path),
                              dsp=True)
  objdump = firmware.require_tool("arm-none-eabi-objdump")
  listing = subprocess.run([objdump, "-d", os.path.join(built.directory, "kernels.o")],
                           capture_output=True, text=True, check=True).stdout
  assert "sxtb16" in listing                     # the gathers; every SMLAD is in a hand loop
  relocations = subprocess.run([objdump, "-r", os.path.join(built.directory, "kernels.o")],
                               capture_output=True, text=True, check=True).stdout
  assert dsp_conv.HAND_LOOPS[1, 2] in relocations     # the logits
  own = dsp_asm.calls(built.program.kernels)      # the int8 convs requantizing in registers
  for prefix in ("smile_dsp_image_3x3_k", "smile_dsp_conv3x2_", "smile_dsp_conv2x2_"):
    assert any(name.startswith(prefix) for name in own), (prefix, own)
  for name in own:
    assert name in relocations
  with open(os.path.join(built.directory, firmware.OWN_LOOPS)) as file:
    assert file.read() == dsp_asm.source(own)   # what the firmware links
  embedded = zoo.embedded()                     # its hidden dense layer: 1 x 4 by hand
  built = build.compile_model(quantize.quantize(graph_lib.from_spec(
      embedded, variables_for(embedded)), images_for(embedded, 4)), str(tmp_path / "embedded"),
      dsp=True)
  assert dsp_conv.HAND_LOOPS[1, 4] in subprocess.run(
      [objdump, "-r", os.path.join(built.directory, "kernels.o")], capture_output=True,
      text=True, check=True).stdout
  listing = subprocess.run([objdump, "-d", os.path.join(built.directory, "kernels.o")],
                           capture_output=True, text=True, check=True).stdout
  assert listing.count("smlad") >= 8            # its 11x11 first layer: dsp_conv.conv's loop nest
  scalar = build.compile_model(quantize.quantize(graph, images_for(spec, 8)),
                               str(tmp_path / "scalar"))
  listing = subprocess.run([objdump, "-d", os.path.join(scalar.directory, "kernels.o")],
                           capture_output=True, text=True, check=True).stdout
  assert "smlad" not in listing


def test_pixel_passes_cover_every_pixel_once():
  for pixels in range(2, 40):
    passes = dsp_conv.pixel_passes(pixels)
    assert sum(size * count for size, count in passes) == pixels
    assert {size for size, _ in passes} <= {2, 3}
  assert dsp_conv.pixel_passes(1) == ((1, 1),)              # a lone pixel: the dense loops
  assert dsp_conv.pixel_passes(64) == ((3, 20), (2, 2))


def _as_pairs(x: np.ndarray) -> np.ndarray:
  """(P, 4k) int8 -> (k, 2, P) int32 words: the (x0, x2) and (x1, x3) int16 pairs of each 4."""
  quads = x.astype(np.int32).reshape(x.shape[0], -1, 4)
  even = (quads[..., 0] & 0xFFFF) | (quads[..., 2] << 16)
  odd = (quads[..., 1] & 0xFFFF) | (quads[..., 3] << 16)
  return np.stack([even, odd]).transpose(2, 0, 1).astype(np.int32)


@pytest.mark.parametrize("pixels, tile", list(dsp_conv.HAND_LOOPS))
# Word counts entering the 8-times unrolled loops at every copy (8k + r, each r), and a long run.
@pytest.mark.parametrize("words, tiles", [(1, 1), (2, 3), (3, 1), (4, 2), (5, 2), (6, 1), (7, 2),
                                          (8, 1), (15, 2), (72, 2)])
def test_hand_scheduled_loops_equal_the_dot_products(hand_loops, pixels, tile, words, tiles):
  rng = np.random.default_rng(words * 10 + tiles)
  channels = tile * tiles
  x = rng.integers(-128, 128, (pixels, 4 * words), dtype=np.int8)
  weight = rng.integers(-128, 128, (4 * words, channels), dtype=np.int8)
  x[0], weight[:, 0] = -128, -128                   # the extremes, every tap
  bias = rng.integers(-2**20, 2**20, channels).astype(np.int64)   # where each channel starts
  uc, symbols = profile.load_elf(hand_loops())
  uc.mem_map(profile.SCRATCH, profile.SCRATCH_BYTES)
  col, w, acc = profile.SCRATCH, profile.SCRATCH + 0x10000, profile.SCRATCH + 0x20000
  start = profile.SCRATCH + 0x30000
  uc.mem_write(col, _as_pairs(x).tobytes())
  uc.mem_write(w, dsp_pack.pack_int8(weight, tile).astype("<i4").tobytes())
  uc.mem_write(start, bias.astype("<i8").tobytes())
  uc.mem_write(acc, bytes(4 * channels * pixels + 4))                  # one sentinel word
  profile.call_function(uc, symbols, dsp_conv.HAND_LOOPS[pixels, tile], col, w, words, tiles, acc,
                        start)
  got = np.frombuffer(bytes(uc.mem_read(acc, 4 * (channels * pixels + 1))), "<i4")
  expected = (x.astype(np.int64) @ weight.astype(np.int64) + bias).T   # (channel, pixel)
  np.testing.assert_array_equal(got[:-1], expected.reshape(-1))        # (tile, channel, pixel)
  assert got[-1] == 0                                                  # nothing written past


# The conv loops with their requantization (dsp_asm.conv_name): group counts before, at and past
# the 8-copy loop; both clips; with and without the batch norm; the extreme shifts.
@pytest.mark.parametrize("pixels", [3, 2])
@pytest.mark.parametrize("groups, tiles", [(1, 1), (7, 3), (18, 1), (19, 2), (36, 2)])
@pytest.mark.parametrize("k, relu, bn_shift", [(7, True, 22), (31, False, 0), (1, True, 0),
                                               (13, False, 9)])
def test_model_conv_loops_equal_the_requantized_dot_products(hand_loops, pixels, groups, tiles, k,
                                                             relu, bn_shift):
  rng = np.random.default_rng(groups * 100 + tiles * 10 + k)
  channels = 2 * tiles
  x = rng.integers(-128, 128, (pixels, 4 * groups), dtype=np.int8)
  weight = rng.integers(-128, 128, (4 * groups, channels), dtype=np.int8)
  x[0], weight[:, 0] = -128, -128
  bias = rng.integers(-2**16, 2**16, channels).astype(np.int64)
  multiplier = rng.integers(2**29, 2**31 - 1, channels).astype(np.int64)
  shift = 32 + k
  requants = [quantize.Requant(multiplier.astype(np.int32), shift,
                               bias * multiplier + (np.int64(1) << np.int64(shift - 1)),
                               0 if relu else -128)]
  if bn_shift:
    requants.append(quantize.Requant(
        rng.integers(-2**22, 2**22, channels).astype(np.int32), bn_shift,
        rng.integers(-2**28, 2**28, channels).astype(np.int64), -128))
  bound = 128 * 128 * 4 * groups
  stages = dsp_requant.stages_for(requants, bound, biased=True)
  assert dsp_requant.in_registers(stages) == (k, relu, bn_shift)       # what the TIR calls
  name = dsp_asm.conv_name(pixels, groups, k, relu, bn_shift, channels)
  uc, symbols = profile.load_elf(hand_loops([name]))
  uc.mem_map(profile.SCRATCH, profile.SCRATCH_BYTES)
  col, w, out = profile.SCRATCH, profile.SCRATCH + 0x10000, profile.SCRATCH + 0x20000
  mult, offset = profile.SCRATCH + 0x30000, profile.SCRATCH + 0x38000
  uc.mem_write(col, _as_pairs(x).tobytes())
  uc.mem_write(w, dsp_pack.pack_int8(weight, 2).astype("<i4").tobytes())
  uc.mem_write(mult, np.stack([rq.multiplier for rq in requants]).astype("<i4").tobytes())
  uc.mem_write(offset, dsp_requant.stage_offsets(requants, stages, bound).astype("<i8").tobytes())
  uc.mem_write(out, bytes(pixels * channels + 4))                     # a sentinel word
  profile.call_function(uc, symbols, name, col, w, out, tiles, mult, offset)
  got = np.frombuffer(bytes(uc.mem_read(out, pixels * channels + 4)), np.int8)
  expected = x.astype(np.int64) @ weight.astype(np.int64)             # (pixel, channel)
  for rq in requants:
    expected = rq.apply(expected)
  np.testing.assert_array_equal(got[:-4].reshape(pixels, channels), expected)
  assert not got[-4:].any()


# A pass's fields gathered by the model's own loop (dsp_asm.fields_name): row lengths with every
# remainder of 4 words, both pass sizes, rows further apart than their words.
@pytest.mark.parametrize("pixels", [3, 2])
@pytest.mark.parametrize("words, row_bytes", [(6, 256), (12, 128), (3, 64), (5, 20)])
def test_model_field_gather_equals_the_passes_pairs(hand_loops, pixels, words, row_bytes):
  rng = np.random.default_rng(words * 7 + pixels)
  rows = 3
  x = rng.integers(-128, 128, 4096, dtype=np.int8)
  starts = [0, 40 + 4 * words, 800]                    # each pixel's first byte (word-aligned)
  name = dsp_asm.fields_name(pixels, rows, words, row_bytes)
  uc, symbols = profile.load_elf(hand_loops([name]))
  uc.mem_map(profile.SCRATCH, profile.SCRATCH_BYTES)
  source, col = profile.SCRATCH, profile.SCRATCH + 0x10000
  uc.mem_write(source, x.tobytes())
  slots = 2 * rows * words * pixels
  uc.mem_write(col, bytes(4 * (slots + 1)))
  profile.call_function(uc, symbols, name, col, *[source + start for start in starts[:pixels]],
                        *([0] if pixels == 2 else []))
  got = np.frombuffer(bytes(uc.mem_read(col, 4 * (slots + 1))), "<i4")
  fields = np.stack([np.concatenate([x[start + r * row_bytes:start + r * row_bytes + 4 * words]
                                     for r in range(rows)]) for start in starts[:pixels]])
  np.testing.assert_array_equal(got[:-1], _as_pairs(fields).reshape(-1))   # (word, split, pixel)
  assert got[-1] == 0
