"""Architectures as data: a serialisable model spec.

A `ModelSpec` is a plain, frozen description of a feed-forward net (input shape, a list of layers).
The Flax builder (`net.py`), the zoo, the search, the op counter and the compiler all read this one
description, so a spec that round-trips through JSON rebuilds exactly the same net.

Shape inference lives here too: `infer_shapes` walks the layers and raises `SpecError` naming the
layer whose output would collapse below 1x1, before any JAX tracing happens.

Padding convention: "SAME" output size is ceil(in / stride); "VALID" is floor((in - k) / stride) + 1
(the same arithmetic as `jax.lax` and `flax.linen`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from typing import Literal, Sequence, Union

Padding = Literal["SAME", "VALID"]


class SpecError(ValueError):
  """A model spec that cannot be built (bad field, collapsed feature map, ...)."""


@dataclasses.dataclass(frozen=True)
class Conv:
  features: int
  kernel: int
  stride: int = 1
  padding: Padding = "SAME"
  activation: str = "relu"
  type: str = dataclasses.field(default="conv", init=False)


@dataclasses.dataclass(frozen=True)
class DepthwiseConv:
  """A kernel x kernel convolution of each input channel on its own (channel multiplier 1):
  H x W x C -> H' x W' x C. With a 1x1 `Conv` after it, a depthwise-separable pair."""
  kernel: int
  stride: int = 1
  padding: Padding = "SAME"
  activation: str = "relu"
  type: str = dataclasses.field(default="depthwise_conv", init=False)


@dataclasses.dataclass(frozen=True)
class MaxPool:
  window: int = 3
  stride: int = 2
  padding: Padding = "SAME"
  type: str = dataclasses.field(default="max_pool", init=False)


@dataclasses.dataclass(frozen=True)
class AvgPool:
  """The mean of each window x window patch; SAME padding counts the padded zeros in the mean
  (Flax's default), so every window divides by window^2."""
  window: int = 2
  stride: int = 2
  padding: Padding = "VALID"
  type: str = dataclasses.field(default="avg_pool", init=False)


@dataclasses.dataclass(frozen=True)
class GlobalAvgPool:
  """The mean over height and width: H x W x C -> C (a flat output, ready for `Dense`)."""
  type: str = dataclasses.field(default="global_avg_pool", init=False)


@dataclasses.dataclass(frozen=True)
class BatchNorm:
  type: str = dataclasses.field(default="batch_norm", init=False)


@dataclasses.dataclass(frozen=True)
class Dropout:
  rate: float = 0.5
  type: str = dataclasses.field(default="dropout", init=False)


@dataclasses.dataclass(frozen=True)
class Flatten:
  type: str = dataclasses.field(default="flatten", init=False)


@dataclasses.dataclass(frozen=True)
class Dense:
  features: int
  activation: str = "relu"
  type: str = dataclasses.field(default="dense", init=False)


Layer = Union[Conv, DepthwiseConv, MaxPool, AvgPool, GlobalAvgPool, BatchNorm, Dropout, Flatten,
              Dense]
LAYER_TYPES = {cls.type: cls for cls in (Conv, DepthwiseConv, MaxPool, AvgPool, GlobalAvgPool,
                                         BatchNorm, Dropout, Flatten, Dense)}
WINDOWED = (Conv, DepthwiseConv, MaxPool, AvgPool)   # layers that slide a window over H x W


def window_of(layer) -> int:
  """The side of the window a `WINDOWED` layer slides (its kernel, or its pooling window)."""
  return layer.kernel if isinstance(layer, (Conv, DepthwiseConv)) else layer.window
ACTIVATIONS = ("relu", "none")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """A feed-forward net: input (H, W, C) -> layers -> logits (num_classes,), or, for a map
  spec, a map (H', W', num_classes) of per-cell outputs (the face locator's heat map and box).

  The last layer must be a `Dense` with `num_classes` features and activation "none" (a
  classifier) or a 1x1 stride-1 `Conv` with `num_classes` features and activation "none" on a
  feature map (a map spec: the same linear head at every cell).
  """
  name: str
  layers: tuple[Layer, ...]
  input_shape: tuple[int, int, int] = (64, 64, 1)
  num_classes: int = 2

  def __post_init__(self):
    object.__setattr__(self, "layers", tuple(self.layers))
    object.__setattr__(self, "input_shape", tuple(int(d) for d in self.input_shape))
    validate(self)

  # -- serialisation -------------------------------------------------------------------------
  def to_dict(self) -> dict:
    return {
        "name": self.name,
        "input_shape": list(self.input_shape),
        "num_classes": self.num_classes,
        "layers": [dataclasses.asdict(layer) for layer in self.layers],
    }

  def to_json(self, indent: int | None = 2) -> str:
    return json.dumps(self.to_dict(), indent=indent)

  @classmethod
  def from_dict(cls, data: dict) -> "ModelSpec":
    layers = []
    for index, raw in enumerate(data["layers"]):
      raw = dict(raw)
      kind = raw.pop("type", None)
      if kind not in LAYER_TYPES:
        raise SpecError(f"layer {index}: unknown type {kind!r}; known: {sorted(LAYER_TYPES)}")
      try:
        layers.append(LAYER_TYPES[kind](**raw))
      except TypeError as e:
        raise SpecError(f"layer {index} ({kind}): {e}") from None
    return cls(name=data["name"], layers=tuple(layers), input_shape=tuple(data["input_shape"]),
               num_classes=int(data.get("num_classes", 2)))

  @classmethod
  def from_json(cls, text: str) -> "ModelSpec":
    return cls.from_dict(json.loads(text))

  def canonical_hash(self) -> str:
    """Hash of the architecture alone (the name is not part of it)."""
    data = self.to_dict()
    data.pop("name")
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

  def with_input_shape(self, shape: Sequence[int]) -> "ModelSpec":
    return dataclasses.replace(self, input_shape=tuple(shape))

  @property
  def is_map(self) -> bool:
    """Whether the net ends in a per-cell map (a 1x1 conv head) rather than logits."""
    return isinstance(self.layers[-1], Conv)

  @property
  def output_shape(self) -> tuple[int, ...]:
    """(num_classes,) for a classifier, (H', W', num_classes) for a map spec."""
    return infer_shapes(self)[-1]

  @property
  def output_size(self) -> int:
    """How many values one inference writes (the firmware's output buffer)."""
    return math.prod(self.output_shape)


def _out_size(size: int, window: int, stride: int, padding: str) -> int:
  if padding == "SAME":
    return math.ceil(size / stride)
  return (size - window) // stride + 1


def infer_shapes(spec: ModelSpec) -> list[tuple[int, ...]]:
  """Output shape (without batch) of every layer; raises SpecError on a collapse."""
  shape: tuple[int, ...] = spec.input_shape
  shapes = []
  for index, layer in enumerate(spec.layers):
    where = f"layer {index} ({layer.type}) of spec {spec.name!r}"
    if isinstance(layer, WINDOWED + (GlobalAvgPool,)) and len(shape) != 3:
      raise SpecError(f"{where} needs an HxWxC input, got shape {shape}: put it before flatten")
    if isinstance(layer, WINDOWED):
      window = window_of(layer)
      height, width = (_out_size(s, window, layer.stride, layer.padding) for s in shape[:2])
      if height < 1 or width < 1:
        raise SpecError(
            f"{where} collapses the {shape[0]}x{shape[1]} feature map to {height}x{width}: use a "
            "larger input, a smaller stride/window, SAME padding, or remove a layer")
      shape = (height, width, layer.features if isinstance(layer, Conv) else shape[2])
    elif isinstance(layer, GlobalAvgPool):
      shape = (shape[2],)
    elif isinstance(layer, Flatten):
      shape = (math.prod(shape),)
    elif isinstance(layer, Dense):
      if len(shape) != 1:
        raise SpecError(f"{where} needs a flat input, got {shape}: add a flatten layer before it")
      shape = (layer.features,)
    shapes.append(shape)
  return shapes


def validate(spec: ModelSpec) -> None:
  if len(spec.input_shape) != 3 or min(spec.input_shape) < 1:
    raise SpecError(
        f"spec {spec.name!r}: input_shape must be (H, W, C) >= 1, got {spec.input_shape}")
  if not spec.layers:
    raise SpecError(f"spec {spec.name!r} has no layers")
  for index, layer in enumerate(spec.layers):
    where = f"layer {index} ({layer.type}) of spec {spec.name!r}"
    for field in ("features", "kernel", "stride", "window"):
      value = getattr(layer, field, 1)
      if not isinstance(value, int) or value < 1:
        raise SpecError(f"{where}: {field} must be a positive integer, got {value!r}")
    if getattr(layer, "padding", "SAME") not in ("SAME", "VALID"):
      raise SpecError(f"{where}: padding must be SAME or VALID, got {layer.padding!r}")
    if getattr(layer, "activation", "none") not in ACTIVATIONS:
      raise SpecError(f"{where}: activation must be one of {ACTIVATIONS}, got {layer.activation!r}")
    if isinstance(layer, Dropout) and not 0.0 <= layer.rate < 1.0:
      raise SpecError(f"{where}: dropout rate must be in [0, 1), got {layer.rate}")
  last = spec.layers[-1]
  logits = isinstance(last, Dense)
  head = isinstance(last, Conv) and last.kernel == 1 and last.stride == 1
  if not ((logits or head) and last.features == spec.num_classes and last.activation == "none"):
    raise SpecError(f"spec {spec.name!r}: the last layer must be Dense({spec.num_classes}, "
                    f"activation='none') producing logits, or Conv({spec.num_classes}, 1, "
                    f"activation='none') producing a map, got {last}")
  infer_shapes(spec)


@dataclasses.dataclass(frozen=True)
class LayerCost:
  index: int
  type: str
  output_shape: tuple[int, ...]
  macs: int
  params: int


def layer_costs(spec: ModelSpec) -> list[LayerCost]:
  """Multiply-accumulates and parameters per layer, at batch 1, in inference mode.

  MACs: conv = Hout * Wout * K * K * Cin * Cout; depthwise conv = Hout * Wout * K * K * C;
  dense = In * Out. Pooling (its additions and comparisons are "other ops", cost/ops.py), batch
  norm (foldable into the preceding conv) and activations count no MACs. Parameters include
  biases and the batch norm scale/offset (its running statistics are state, not parameters).
  """
  costs, shape = [], spec.input_shape
  for index, (layer, out) in enumerate(zip(spec.layers, infer_shapes(spec))):
    macs = params = 0
    if isinstance(layer, Conv):
      macs = out[0] * out[1] * layer.kernel ** 2 * shape[2] * layer.features
      params = layer.kernel ** 2 * shape[2] * layer.features + layer.features
    elif isinstance(layer, DepthwiseConv):
      macs = out[0] * out[1] * layer.kernel ** 2 * shape[2]
      params = layer.kernel ** 2 * shape[2] + shape[2]
    elif isinstance(layer, Dense):
      macs = shape[0] * layer.features
      params = macs + layer.features
    elif isinstance(layer, BatchNorm):
      params = 2 * shape[-1]
    costs.append(LayerCost(index, layer.type, out, macs, params))
    shape = out
  return costs


def total_macs(spec: ModelSpec) -> int:
  return sum(c.macs for c in layer_costs(spec))


def total_params(spec: ModelSpec) -> int:
  return sum(c.params for c in layer_costs(spec))
