"""How the DSP kernels (compile/dsp/) requantize: a kernel's chain of quantize.Requant steps
(a conv's, then a batch norm kept after its ReLU), each as the cheapest TIR that gives exactly
quantize.Requant.apply's integers:

  * a conv's step has offset = b * M + 2^(shift-1) (its bias b at the accumulator's scale and the
    rounding): the kernel starts its accumulators at b instead of 0, and with shift >= 33 only
    the high word of acc * M is needed (one SMMUL), then a shift and a saturate (USAT / SSAT);
  * a batch norm's step on int8 inputs has small multipliers (quantize.AFFINE_MULTIPLIER_BITS),
    so product and offset fit 32 bits: one MLA and a saturate;
  * where a kernel has few MACs an output (the first layer), that batch norm is a lookup table;
  * otherwise the general 64-bit multiply-add, shift and clip.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from tvm.script import tirx as T


# A later requantize stage (a batch norm after ReLU) maps int8 to int8 per channel: where a
# kernel has at most this many MACs per output, that stage is a table lookup (LDRSB) instead of
# the 64-bit multiply-shift-clip: on the first layer (9 MACs an output) it is a third of the
# time, for 128 bytes of flash a channel; deeper layers amortise the arithmetic and skip it.
TABLE_MAX_TAPS = 32


def few_taps(taps: int) -> bool:
  """Few MACs an output (a 3x3 first layer, not the Embedded net's 11x11): the kernel then runs
  one pixel and one channel a pass with its taps unrolled, and tables its batch norm."""
  return taps <= TABLE_MAX_TAPS


@dataclasses.dataclass(frozen=True)
class Stage:
  """One requantization step's constants known at compile time (quantize.Requant's shift and
  lower clip) and the cheapest exact way to compute it:
    narrow  its shifted value provably fits int32: the clip runs on 32 bits (SSAT / USAT);
    mul32   the product and offset provably fit int32: one MLA, no 64-bit arithmetic (a batch
            norm's small multipliers on int8);
    biased  a conv's step, offset = b * M + 2^(shift-1): the kernel starts its accumulators at
            the bias b (stage_offsets' row) and the offset left is the rounding;
    high    biased with shift >= 33: only the product's high word is needed (SMMUL), see
            requantize;
    table   a lookup (indexed by its int8 input minus `base`)."""
  shift: int
  lo: int
  narrow: bool
  table: bool = False
  base: int = -128
  mul32: bool = False
  biased: bool = False
  high: bool = False


def accumulator_bias(rq, input_bound: int) -> np.ndarray | None:
  """The int32 bias b with rq.offset = b * M + 2^(shift-1) for every channel, when there is one
  and accumulators of magnitude <= `input_bound` plus b fit int32."""
  multiplier = rq.multiplier.astype(np.int64)
  rest = rq.offset - (np.int64(1) << np.int64(rq.shift - 1))
  bias = np.where(multiplier != 0, rest // np.where(multiplier != 0, multiplier, 1), 0)
  if not np.array_equal(bias * multiplier, rest) or input_bound + np.abs(bias).max() >= 2**31:
    return None
  return bias


def stage_of(rq, input_bound: int, biased: bool = False) -> Stage:
  """`rq` applied to accumulators of magnitude <= `input_bound`; `biased`: with the bias in the
  accumulators where rq has one (a conv's first stage)."""
  unshifted = (input_bound * int(np.abs(rq.multiplier.astype(np.int64)).max())
               + int(np.abs(rq.offset).max()))
  biased = biased and accumulator_bias(rq, input_bound) is not None
  return Stage(rq.shift, rq.lo, unshifted >> rq.shift < 2**31 - 1,
               mul32=unshifted < 2**31 - 1 and rq.shift < 32, biased=biased,
               high=biased and rq.shift >= 33)


def in_registers(stages) -> tuple | None:
  """(k, relu, bn_shift) where a conv's chain is what the model's conv loops requantize in
  registers (smile_dsp_macros.inc's CONV_TILES, asm.conv_name): a high stage with
  shift 32 + k clipped at 0 (relu) or -128, then nothing (bn_shift 0) or a batch norm's mul32
  stage clipped to int8 only; else None."""
  first = stages[0]
  if not (first.high and 33 <= first.shift <= 63 and first.lo in (0, -128)):
    return None
  if len(stages) == 1:
    return first.shift - 32, first.lo == 0, 0
  second = stages[1]
  if (len(stages) == 2 and second.mul32 and not second.table and second.lo == -128 and
      1 <= second.shift <= 31):
    return first.shift - 32, first.lo == 0, second.shift
  return None


def stage_offsets(requants, stages, first_bound: int) -> np.ndarray:
  """(stages, C) int64: each stage's offsets, or a `biased` stage's accumulator bias."""
  return np.stack([accumulator_bias(rq, first_bound) if stage.biased else rq.offset
                   for rq, stage in zip(requants, stages)])


def stages_for(requants, first_bound: int, taps: int = TABLE_MAX_TAPS + 1,
               biased: bool = False) -> tuple:
  """The chain of a kernel's requantizations: the first on its accumulators (|acc| <=
  `first_bound`; `biased`: started at the bias where it can be), each later one (a batch norm
  after ReLU) on the int8 output before it, as a table when the kernel has at most
  TABLE_MAX_TAPS MACs per output (`taps`)."""
  stages = [stage_of(requants[0], first_bound, biased)]
  for rq in requants[1:]:
    stage = stage_of(rq, 128)
    if few_taps(taps):
      stage = dataclasses.replace(stage, table=True, base=stages[-1].lo)
    stages.append(stage)
  return tuple(stages)


def stage_tables(requants, stages) -> np.ndarray:
  """(stages, C, entries) int8: each table stage's output for every int8 input from its `base`
  to 127 (quantize.Requant.apply itself, so the lookup is exact); a row of zeros elsewhere."""
  base = min([stage.base for stage in stages if stage.table], default=127)
  inputs = np.arange(base, 128, dtype=np.int32)
  tables = np.zeros((len(stages), len(requants[0].multiplier), len(inputs)), np.int8)
  for i, (rq, stage) in enumerate(zip(requants, stages)):
    if stage.table:
      tables[i] = rq.apply(np.broadcast_to(inputs, (tables.shape[1], len(inputs))).T).T
  return tables


def requantize(acc, mult, offset, channel, stages, tables=None):
  """quantize.Requant.apply, stage after stage, on one int32 accumulator; `mult` / `offset` hold
  one row of constants per stage, `tables` the table stages' lookups (stage_tables)."""
  value = acc
  base = min([stage.base for stage in stages if stage.table], default=127)
  for i, stage in enumerate(stages):
    if stage.table:
      value = T.Cast("int32", tables[i, channel, value - base])
      continue
    if stage.high:
      # (acc * M + 2^(s-1)) >> s (acc from the bias) = (hi + 2^(s-33)) >> (s - 32), hi the
      # product's high word: floor divisions by powers of two compose.
      high = T.Cast("int32", T.shift_right(T.Cast("int64", value) * T.Cast(
          "int64", mult[i, channel]), T.int64(32))) + T.int32(1 << (stage.shift - 33))
      value = T.max(T.min(T.shift_right(high, T.int32(stage.shift - 32)), T.int32(127)),
                    T.int32(stage.lo))
      continue
    if stage.mul32:
      scaled = T.shift_right(value * mult[i, channel] + T.Cast("int32", offset[i, channel]),
                             T.int32(stage.shift))
      value = T.max(T.min(scaled, T.int32(127)), T.int32(stage.lo))
      continue
    # A biased stage's accumulator holds the bias: what is left of the offset is the rounding.
    rest = T.int64(1 << (stage.shift - 1)) if stage.biased else offset[i, channel]
    scaled = T.shift_right(T.Cast("int64", value) * T.Cast("int64", mult[i, channel]) + rest,
                           T.int64(stage.shift))
    if stage.narrow:
      value = T.max(T.min(T.Cast("int32", scaled), T.int32(127)), T.int32(stage.lo))
    else:
      value = T.Cast("int32", T.max(T.min(scaled, T.int64(127)), T.int64(stage.lo)))
  return T.Cast("int8", value)
