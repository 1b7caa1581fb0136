"""How the DSP kernels (compile/dsp/) want their weights, laid out at
compile time so nothing is rearranged at run time: int8 words of four taps as trained (SXTB16
splits them), int16 pairs for the layers on the int16 image (SMLAD takes them as they are), and
each depthwise channel's taps paired beside its neighbours'; and how many output channels a
kernel's pass covers (its tile).
"""

from __future__ import annotations

import numpy as np

from compile.dsp.requant import few_taps

# Output channels a weight word's pass covers (pack_int8's tiles; the hand-scheduled loops take
# pairs).
TILE = 2


def tile_of(channels: int) -> int:
  return next(t for t in (TILE, 2, 1) if channels % t == 0)


def dense_tile(channels: int) -> int:
  """Channels a dense layer's pass covers: 4 or 2 where they divide (the hand loops), else 1."""
  return next(t for t in (4, 2, 1) if channels % t == 0)


def conv_tile(taps: int, pixels: int, channels: int, input_dtype: str) -> int:
  """Channels a conv's pass covers (its weights are packed so): one on the int16 image with few
  taps (conv.py's unrolled pass, first_layer.py); a conv with one output pixel is a dense layer."""
  if input_dtype == "int16":
    return 1 if few_taps(taps) else tile_of(channels)
  return dense_tile(channels) if pixels == 1 else tile_of(channels)


def words_of(taps: int, per_word: int) -> int:
  return -(-taps // per_word)


def pack_int8(weight: np.ndarray, tile: int | None = None) -> np.ndarray:
  """(taps, C_out) int8 weights -> int32 words (C_out / tile, words, tile): each word four
  consecutive taps of one output channel (zero-padded to a multiple of 4), a tile's words
  side by side (`tile`: tile_of(C_out) unless given). The bytes are the weights themselves:
  flash holds what the scalar kernels hold."""
  taps, channels = weight.shape
  tile = tile or tile_of(channels)
  padded = np.zeros((words_of(taps, 4) * 4, channels), np.int8)
  padded[:taps] = weight
  words = padded.T.reshape(channels, -1, 4).copy().view("<i4")[..., 0]      # (C_out, words)
  return np.ascontiguousarray(words.reshape(channels // tile, tile, -1).transpose(0, 2, 1))


def image_pairs(kernel: int, cin: int) -> tuple:
  """The int16 image's taps (indices in (ky, kx, c) order) two by two as its kernels pair them
  (-1: none). One input channel and an odd kernel: each row's neighbours first (at an even
  stride and left pad those two pixels are one aligned word of the image: first_layer.py loads
  them as such), then the last column down the rows; otherwise the taps in order."""
  if cin == 1 and kernel % 2 and kernel > 1:
    order = ([r * kernel + c for r in range(kernel) for c in range(kernel - 1)] +
             [r * kernel + kernel - 1 for r in range(kernel)])
  else:
    order = list(range(kernel * kernel * cin))
  order += [-1] * (len(order) % 2)
  return tuple(zip(order[::2], order[1::2]))


def pack_int16_pairs(weight: np.ndarray, tile: int, pairs: tuple) -> np.ndarray:
  """(taps, C_out) int8 weights -> int32 words of two int16 (C_out / tile, words, tile), the taps
  paired as `pairs` (image_pairs) has them (0 for -1): for layers whose input is the int16
  image (pairs of taps go to SMLAD as they are)."""
  channels = weight.shape[1]
  rows = np.zeros((2 * len(pairs), channels), np.int16)
  for row, tap in enumerate(t for pair in pairs for t in pair):
    if tap >= 0:
      rows[row] = weight[tap]
  words = rows.T.reshape(channels, -1, 2).copy().view("<i4")[..., 0]
  return np.ascontiguousarray(words.reshape(channels // tile, tile, -1).transpose(0, 2, 1))


def pack_weights(weight_hwio: np.ndarray, input_dtype: str, tile: int) -> np.ndarray:
  """A conv's HWIO (with its conv_tile) or a dense layer's (In, Out) (its dense_tile) int8
  weights, laid out for its kernel."""
  flat = weight_hwio.reshape(-1, weight_hwio.shape[-1])
  if input_dtype == "int16":
    return pack_int16_pairs(flat, tile, image_pairs(weight_hwio.shape[0], weight_hwio.shape[2]))
  return pack_int8(flat, tile)


def pack_depthwise(weight: np.ndarray) -> np.ndarray:
  """(K, K, 1, C) int8 depthwise weights -> int32 words (C / 4, pairs, 4): per channel, two
  consecutive taps as an int16 pair (the second 0 past the last tap), four channels side by side
  as one input word holds them."""
  taps, channels = weight.shape[0] * weight.shape[1], weight.shape[-1]
  padded = np.zeros((words_of(taps, 2) * 2, channels), np.int16)
  padded[:taps] = weight.reshape(taps, channels)
  words = padded.T.reshape(channels, -1, 2).copy().view("<i4")[..., 0]      # (C, pairs)
  return np.ascontiguousarray(words.reshape(channels // 4, 4, -1).transpose(0, 2, 1))
