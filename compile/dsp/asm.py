"""A model's own hand loops: the loops of firmware/common/smile_dsp_macros.inc that its kernels
call with its layers' constants as immediates (requantization shifts, output channels, group
counts), written as the assembly source `dsp_layers.S` linked with its kernels.

The TIR kernels (compile/dsp/) call these loops by names that carry
their parameters (`image_name`, `image_fields_name`, `fields_name`, `conv_name`); after
lowering, `calls` reads those names back out of the kernels and `source` instantiates one macro
for each. A loop that is not called is not assembled, so any shift or channel count costs
nothing until a layer needs it.
"""

from __future__ import annotations

import re

import tvm
import tvm_ffi
from tvm.ir import Call

from compile import firmware

FILE_NAME = firmware.OWN_LOOPS

_IMAGE = re.compile(r"smile_dsp_image_3x3_k(\d+)_c(\d+)$")
_IMAGE_FIELDS = re.compile(r"smile_dsp_image_fields_w(\d+)$")
_FIELDS = re.compile(r"smile_dsp_fields([23])_r(\d+)_w(\d+)_s(\d+)$")
_CONV = re.compile(r"smile_dsp_conv([23])x2_g(\d+)_k(\d+)_(relu|lin)_s(\d+)_c(\d+)$")


def image_name(k: int, channels: int) -> str:
  """The first layer's loop (first_layer.py): requantization shift 32 + k, `channels` outputs a
  pixel."""
  return f"smile_dsp_image_3x3_k{k}_c{channels}"


def image_fields_name(width: int) -> str:
  """The first layer's gather of interior pixels at stride 2, two a loop (first_layer.py), from
  an int16 image `width` wide."""
  return f"smile_dsp_image_fields_w{width}"


def fields_name(pixels: int, rows: int, words: int, row_bytes: int) -> str:
  """The gather of a conv pass's `pixels` (3 or 2) receptive fields, all inside an int8 map
  (conv.py): `rows` rows of `words` words, `row_bytes` apart."""
  return f"smile_dsp_fields{pixels}_r{rows}_w{words}_s{row_bytes}"


def conv_name(pixels: int, groups: int, k: int, relu: bool, bn_shift: int, channels: int) -> str:
  """A conv layer's passes with their requantization (conv.py): `pixels` (3 or 2) x 2 channels a
  tile, `groups` words a tile, the conv's shift 32 + k clipped at 0 (`relu`) or -128, then a
  batch norm with shift `bn_shift` (0: none), `channels` outputs a pixel."""
  return (f"smile_dsp_conv{pixels}x2_g{groups}_k{k}_{'relu' if relu else 'lin'}_s{bn_shift}"
          f"_c{channels}")


def instance(name: str) -> str | None:
  """The macro line that defines loop `name`, or None for a name that is no such loop."""
  match = _IMAGE.match(name)
  if match:
    return f"  IMAGE_3X3 {match[1]}, {match[2]}"
  match = _IMAGE_FIELDS.match(name)
  if match:
    return f"  IMAGE_FIELDS {match[1]}"
  match = _FIELDS.match(name)
  if match:
    return "  FIELDS " + ", ".join(match.groups())
  match = _CONV.match(name)
  if match:
    pixels, groups, k, act, bn_shift, channels = match.groups()
    return (f"  CONV_TILES {pixels}, {groups}, {k}, {int(act == 'relu')}, {bn_shift}, "
            f"{channels}")
  return None


def calls(kernels: tvm.IRModule) -> tuple:
  """The names of the model's own loops its kernels call (call_extern), sorted."""
  names = set()

  def visit(call):
    if getattr(call.op, "name", "") == "tirx.call_extern":
      name = call.args[0].value
      if instance(name) is not None:
        names.add(name)
  for func in kernels.functions.values():
    tvm_ffi.structural_walk(func.body, [(Call, visit)])
  return tuple(sorted(names))


def source(names) -> str:
  """dsp_layers.S for the loops `names` (assembled with -I firmware/common)."""
  lines = [f"/* {FILE_NAME}: this model's hand loops (compile/dsp/asm.py). */",
           '#include "smile_dsp_macros.inc"']
  for name in names:
    line = instance(name)
    if line is None:
      raise ValueError(f"{name} is not a loop of smile_dsp_macros.inc (image_name, "
                       "image_fields_name, fields_name, conv_name)")
    lines.append(line)
  return "\n".join(lines) + "\n"
