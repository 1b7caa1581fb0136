"""The robot's whole pipeline in the device's integers: camera frame -> face locator -> crops ->
smile net, as the firmware computes it.

`DevicePipeline.run(frames)` is the host reference of the firmware's `smile_pipeline_run`
(compile/firmware/common/face_pipeline.c), bit for bit:

  1. the 324 x 244 frame box-averaged to the locator's 81 x 61 input (data/face_map.py);
  2. the int8 locator's int32 map (quantize.run_int), read as face boxes in integers
     (face_map.decode_int: the heat threshold chosen on val frames, at most MAX_FACES);
  3. each box framed as the host crops faces (data/frame_crop.face_square) and box-averaged
     from the full frame to the smile net's input (frame_crop.box_average);
  4. the int8 smile net's int32 logits of each crop.

A frame's smile score is the maximum over its faces (the robot smiles when any face does); a
frame with no face has face_found 0 and no smile. Scores are read from the logits by the smile
net's logit scales: `FrameResult.scores`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from compile import graph as graph_lib, quantize
from smile_jax.data import face_map, frame_crop

Box = tuple[int, int, int, int]


@dataclasses.dataclass(frozen=True)
class FrameResult:
  boxes: tuple[Box, ...]          # faces found, frame pixels, in the locator's order (heat)
  logits: np.ndarray              # (faces, 2) int32: the int8 smile net's accumulators per face

  @property
  def face_found(self) -> bool:
    return bool(self.boxes)


@dataclasses.dataclass(frozen=True)
class DevicePipeline:
  locator: quantize.QuantGraph
  decode: face_map.IntDecode
  smile: quantize.QuantGraph

  @classmethod
  def quantized(cls, locator: graph_lib.Graph, threshold: float, smile: graph_lib.Graph,
                locator_range: np.ndarray, smile_range: np.ndarray,
                percentile: float = 99.99) -> "DevicePipeline":
    """Both nets quantized (activation ranges on `locator_range`: locator inputs, and
    `smile_range`: face crops) and the decode's constants from the locator's output scales."""
    locator_q = quantize.quantize(locator, locator_range[..., None], percentile)
    smile_q = quantize.quantize(smile, smile_range, percentile)
    return cls(locator_q, face_map.IntDecode.from_scales(locator_q.logit_scale, threshold),
               smile_q)

  @property
  def crop_size(self) -> int:
    return self.smile.graph.input_shape[0]

  def locate(self, frames: np.ndarray) -> list[tuple[Box, ...]]:
    """Steps 1-2 for (N, 244, 324) uint8 frames: each frame's boxes."""
    inputs = np.stack([face_map.locator_input(f) for f in frames])[..., None]
    maps = quantize.run_int(self.locator, inputs)
    return [tuple(face_map.decode_int(m, self.decode)) for m in maps]

  def crops(self, frame: np.ndarray, boxes) -> np.ndarray:
    """Step 3: (faces, S, S, 1) uint8 crops of one frame's boxes."""
    size = self.crop_size
    if not boxes:
      return np.zeros((0, size, size, 1), np.uint8)
    return np.stack([frame_crop.box_average(frame, *frame_crop.face_square(b), size, size)
                     for b in boxes])[..., None]

  def run(self, frames: np.ndarray) -> list[FrameResult]:
    """The whole pipeline on (N, 244, 324) uint8 frames."""
    frames = np.asarray(frames)
    if frames.ndim != 3 or frames.shape[1:] != (face_map.FRAME_H, face_map.FRAME_W) or \
        frames.dtype != np.uint8:
      raise ValueError(f"the device pipeline takes (N, {face_map.FRAME_H}, {face_map.FRAME_W}) "
                       f"uint8 frames, got {frames.shape} {frames.dtype}")
    located = self.locate(frames)
    crops = [self.crops(f, b) for f, b in zip(frames, located)]
    stacked = np.concatenate(crops) if crops else np.zeros((0, self.crop_size, self.crop_size, 1))
    logits = (quantize.run_int(self.smile, stacked) if len(stacked)
              else np.zeros((0, 2), np.int32))
    out, start = [], 0
    for boxes in located:
      out.append(FrameResult(boxes, logits[start:start + len(boxes)]))
      start += len(boxes)
    return out

  def scores(self, result: FrameResult) -> np.ndarray:
    """Smiling probability of each face of `result`, from its int32 logits."""
    real = quantize.dequantize_logits(self.smile, result.logits).astype(np.float64)
    return 1.0 / (1.0 + np.exp(real[:, 0] - real[:, 1]))
