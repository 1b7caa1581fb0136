"""The SMLAD kernels (compile/simd.py): weight packing, the instructions they compile to, and
bit-exact parity with the integer reference under QEMU on both code-generation routes."""

import os
import subprocess

import numpy as np
import pytest

from compile import build, emulate, firmware, graph as graph_lib, quantize, simd
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
  packed = simd.pack_int8(weight)
  assert packed.shape == (4 // simd.TILE, 3, simd.TILE)          # 10 taps -> 3 words
  words = packed.transpose(0, 2, 1).reshape(4, 3)                 # (channel, word)
  as_bytes = words.astype("<i4").view(np.int8).reshape(4, 12)
  np.testing.assert_array_equal(as_bytes[:, :10], weight.T)        # flash holds the weights
  assert not as_bytes[:, 10:].any()                                # zero padding
  wide = simd.pack_int16_pairs(weight)
  halves = wide.transpose(0, 2, 1).reshape(4, 5).astype("<i4").view(np.int16).reshape(4, 10)
  np.testing.assert_array_equal(halves, weight.T)


def test_requantize_narrows_to_32_bits_only_where_it_cannot_overflow():
  rq = quantize.Requant(np.array([2**30], np.int32), 40, np.array([2**39], np.int64), 0)
  assert simd.stage_of(rq, 1000).narrow
  assert not simd.stage_of(rq, 2**42).narrow


def test_a_batch_norm_after_relu_is_a_table_only_where_outputs_have_few_macs():
  conv_rq = quantize.Requant(np.array([2**30, 2**29], np.int32), 40,
                             np.array([2**39, 2**39], np.int64), 0)
  bn_rq = quantize.Requant(np.array([3 * 2**28, -2**29], np.int32), 30,
                           np.array([5 * 2**29, 2**29], np.int64), -128)
  few = simd.stages_for((conv_rq, bn_rq), 1000, taps=9)
  many = simd.stages_for((conv_rq, bn_rq), 1000, taps=288)
  assert [s.table for s in few] == [False, True] and few[1].base == 0
  assert not any(s.table for s in many)
  tables = simd.stage_tables((conv_rq, bn_rq), few)
  assert tables.shape == (2, 2, 128)        # every ReLU output 0..127, per channel
  inputs = np.arange(128)
  for channel in range(2):
    one = quantize.Requant(bn_rq.multiplier[channel:channel + 1], bn_rq.shift,
                           bn_rq.offset[channel:channel + 1], bn_rq.lo)
    np.testing.assert_array_equal(tables[1, channel], one.apply(inputs[:, None])[:, 0])


@pytest.mark.parametrize("spec", [ODD, COMPACT_32, zoo.embedded(), SEPARABLE, DEPTHWISE],
                         ids=lambda s: s.name)
def test_dsp_kernels_are_bit_exact_on_both_routes(spec, tmp_path):
  graph = graph_lib.from_spec(spec, variables_for(spec))
  model = quantize.quantize(graph, images_for(spec, 16, seed=2))
  built = build.compile_model(model, str(tmp_path), dsp=True)
  images = images_for(spec, 3, seed=7)
  reference = quantize.run_int(model, images)
  for route in ("llvm", "c"):
    fw = firmware.build(built.directory, "qemu-mps2-an386", str(tmp_path / route), kernels=route)
    np.testing.assert_array_equal(emulate.run_qemu(fw, images, np.int32).logits, reference)
  names = {call.kernel for call in built.program.calls}
  assert any("conv" in name for name in names)
  if spec is DEPTHWISE:   # on SMLAD: all but the input, the 6-channel pool, the edge-bound pool
    assert sum(simd.DSP_ATTR in (f.attrs or {})
               for f in built.program.kernels.functions.values()) == 6
  # The batch norms after ReLU ride in their conv's kernel: no standalone requantize kernel.
  assert build.kernel_layers(built)


def test_depthwise_words_pair_each_channels_taps():
  weight = np.random.default_rng(1).integers(-128, 128, (3, 3, 1, 8), dtype=np.int8)
  packed = simd.pack_depthwise(weight)
  assert packed.shape == (2, 5, 4)                         # 8 channels / 4, 9 taps -> 5 pairs
  halves = packed.astype("<i4").view(np.int16).reshape(2, 5, 4, 2)   # (group, pair, c, tap)
  taps = halves.transpose(0, 2, 1, 3).reshape(8, 10)                  # (channel, tap)
  np.testing.assert_array_equal(taps[:, :9], weight.reshape(9, 8).T)
  assert not taps[:, 9].any()
  assert simd.depthwise_fits((1, 32, 32, 8), "int8", 3, 2, (0, 0, 1, 1))
  assert not simd.depthwise_fits((1, 8, 8, 16), "int8", 5, 1, (2, 2, 2, 2))  # mostly edges
  assert not simd.depthwise_fits((1, 32, 32, 6), "int8", 3, 2, (0, 0, 1, 1))  # not whole words


def test_dsp_kernels_compile_to_smlad_and_sxtb16(tmp_path):
  spec = COMPACT_32
  graph = graph_lib.from_spec(spec, variables_for(spec))
  built = build.compile_model(quantize.quantize(graph, images_for(spec, 8)), str(tmp_path),
                              dsp=True)
  objdump = firmware.require_tool("arm-none-eabi-objdump")
  listing = subprocess.run([objdump, "-d", os.path.join(built.directory, "kernels.o")],
                           capture_output=True, text=True, check=True).stdout
  assert listing.count("smlad") >= 8 and "sxtb16" in listing
  scalar = build.compile_model(quantize.quantize(graph, images_for(spec, 8)),
                               str(tmp_path / "scalar"))
  listing = subprocess.run([objdump, "-d", os.path.join(scalar.directory, "kernels.o")],
                           capture_output=True, text=True, check=True).stdout
  assert "smlad" not in listing
