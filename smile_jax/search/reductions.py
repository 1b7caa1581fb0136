"""The report's reductions (its section 4.2.2) as functions: spec -> candidate specs.

Each reduction makes one change; `reductions(spec)` lists every one that applies, in a fixed
order, each either with its new spec or skipped with the reason (a collapsed feature map, a layer
that would vanish, ...):
  * fewer filters: a conv's features / 2 and / 4 (at least `MIN_FEATURES`);
  * larger stride: a conv's stride + 1, while stride <= kernel (no input pixel is skipped);
  * smaller kernel: a conv's kernel - 2 (odd sizes stay odd), while stride <= kernel; the report's
    list stops at the four above, but without this one no path from the 11x11 / 5x5 Table 1 net
    reaches the 3x3 stride-2 stacks that score best under the budget (WORKSPACE.md, issue 3);
  * smaller fully-connected layer: a hidden dense layer's width / 2 and / 4;
  * fewer layers: remove a middle conv (not the first), a max pool, or a hidden dense layer.
The wider moves (`moves="extended"`; the report's list alone is `moves="report"`) reach the
compact nets that the report's steps cannot (WORKSPACE.md):
  * a conv becomes a 3x3 stride-2 conv with the same filters (`conv_i 3x3/2`);
  * a conv becomes a depthwise-separable pair: a depthwise conv of its kernel and stride, then a
    1x1 conv with its filters (`conv_i separable`; not on a one-channel input, where a depthwise
    conv is a plain conv);
  * a flatten head becomes a global average pool (`pool head`);
  * the input resolution drops to each of `RESOLUTIONS` below the current one (`input 48`): the
    camera frame is downscaled anyway, and every layer after it shrinks;
  * every conv and hidden dense layer keeps half its filters (`width/2`, MobileNet's width
    multiplier): one step where halving each layer alone takes one per layer, each scored on its
    own in short training before the next (the 0.26 M reference is the compact root at width/2).
The finer widths (`moves="fine"`: the extended moves and these) take smaller steps where halving
overshoots (the 1.33 M reference's 48 filters are 3/4 of 64):
  * a conv or hidden dense layer keeps 3/4 of its features (`conv_3 filters*3/4`).
A reduction must lower the MAC count; one that does not (a stride that no longer shrinks the
map, a removed pool that grows the next layer) is skipped with that reason. Batch norm and dropout
layers stay, except that one made redundant by a removal goes with it.
"""

from __future__ import annotations

import dataclasses

from smile_jax.models import spec as spec_lib

MIN_FEATURES = 2
RESOLUTIONS = (48, 32)
MOVES = ("report", "extended", "fine")


@dataclasses.dataclass(frozen=True)
class Reduction:
  description: str                      # e.g. "conv_0 filters/2"
  spec: spec_lib.ModelSpec | None       # None when skipped
  reason: str = ""                      # why it was skipped


def _rebuild(spec: spec_lib.ModelSpec, layers: list, description: str,
             input_shape: tuple | None = None) -> Reduction:
  try:
    reduced = spec_lib.ModelSpec(spec.name, tuple(layers), input_shape or spec.input_shape,
                                 spec.num_classes)
  except spec_lib.SpecError as e:
    return Reduction(description, None, str(e))
  before, after = spec_lib.total_macs(spec), spec_lib.total_macs(reduced)
  # e.g. a stride that no longer shrinks the map, or a pool whose removal grows it
  if after >= before:
    return Reduction(description, None, f"does not reduce MACs ({before:,} -> {after:,})")
  # Named after the root and the architecture (the run store keeps the chain of reductions).
  root = spec.name.split("~")[0]
  return Reduction(description,
                   dataclasses.replace(reduced, name=f"{root}~{reduced.canonical_hash()[:8]}"))


def _replace(spec, index, **changes) -> list:
  layers = list(spec.layers)
  layers[index] = dataclasses.replace(layers[index], **changes)
  return layers


def _remove(spec, index) -> list:
  layers = list(spec.layers)
  del layers[index]
  # A batch norm or dropout that belonged to the removed layer goes with it when it would now
  # directly follow another normalisation/regularisation layer.
  if (0 < index < len(layers) and isinstance(layers[index], (spec_lib.BatchNorm, spec_lib.Dropout))
      and isinstance(layers[index - 1], type(layers[index]))):
    del layers[index]
  return layers


def _fewer_features(spec: spec_lib.ModelSpec, index: int,
                   fractions=("1/2", "1/4")) -> list[Reduction]:
  """Layer `index` (a conv or a hidden dense) keeping each of `fractions` of its features
  (filters or units), or why not."""
  layer = spec.layers[index]
  label, unit = ((f"{layer.type}_{index} filters", "filters")
                 if isinstance(layer, spec_lib.Conv) else (f"dense_{index} width", "units"))
  out = []
  for fraction in fractions:
    kept, whole = map(int, fraction.split("/"))
    features = layer.features * kept // whole
    desc = f"{label}/{whole}" if kept == 1 else f"{label}*{fraction}"
    out.append(
        _rebuild(spec, _replace(spec, index, features=features), desc) if features >= MIN_FEATURES
        else Reduction(desc, None, f"would leave {features} {unit} (< {MIN_FEATURES})"))
  return out


def _feature_layers(spec: spec_lib.ModelSpec) -> tuple[list[int], list[int]]:
  """The indices of the convs and of the hidden dense layers (not the logits)."""
  layers = spec.layers
  conv_idx = [index for index, layer in enumerate(layers) if isinstance(layer, spec_lib.Conv)]
  dense_idx = [index for index, layer in enumerate(layers)
               if isinstance(layer, spec_lib.Dense)][:-1]
  return conv_idx, dense_idx


def reductions(spec: spec_lib.ModelSpec) -> list[Reduction]:
  out = []
  layers = spec.layers
  conv_idx, dense_idx = _feature_layers(spec)
  for index in conv_idx:
    out += _fewer_features(spec, index)
  for index in conv_idx:
    desc = f"conv_{index} stride+1"
    stride = layers[index].stride + 1
    out.append(
        _rebuild(spec, _replace(spec, index, stride=stride), desc) if stride <= layers[index].kernel
        else Reduction(desc, None, f"stride {stride} > kernel {layers[index].kernel} skips pixels"))
  for index in conv_idx:
    desc = f"conv_{index} kernel-2"
    kernel = layers[index].kernel - 2
    out.append(
        _rebuild(spec, _replace(spec, index, kernel=kernel), desc)
        if kernel >= max(1, layers[index].stride) else
        Reduction(desc, None, f"kernel {kernel} < stride {layers[index].stride} skips pixels"))
  for index in dense_idx:
    out += _fewer_features(spec, index)
  pools = [index for index, layer in enumerate(layers) if isinstance(layer, spec_lib.MaxPool)]
  for index in conv_idx[1:] + pools + dense_idx:
    out.append(_rebuild(spec, _remove(spec, index), f"remove {layers[index].type}_{index}"))
  return out


def extended_moves(spec: spec_lib.ModelSpec) -> list[Reduction]:
  """The moves beyond the report's reductions (module docstring), each with its spec or reason."""
  out = []
  layers = spec.layers
  shapes = spec_lib.infer_shapes(spec)
  for index, layer in enumerate(layers):
    if not isinstance(layer, spec_lib.Conv):
      continue
    desc = f"conv_{index} 3x3/2"
    if (layer.kernel, layer.stride) == (3, 2):
      out.append(Reduction(desc, None, "already a 3x3 stride-2 conv"))
    else:
      out.append(_rebuild(spec, _replace(spec, index, kernel=3, stride=2), desc))
    desc = f"conv_{index} separable"
    channels = shapes[index - 1][-1] if index else spec.input_shape[-1]
    if channels == 1 or layer.kernel == 1:
      out.append(Reduction(desc, None, "a depthwise conv of one channel, or of a 1x1 kernel, "
                                       "is no cheaper than the conv"))
    else:
      pair = [spec_lib.DepthwiseConv(layer.kernel, layer.stride, layer.padding, "relu"),
              spec_lib.Conv(layer.features, 1, activation=layer.activation)]
      out.append(_rebuild(spec, list(layers[:index]) + pair + list(layers[index + 1:]), desc))
  for index, layer in enumerate(layers):
    if isinstance(layer, spec_lib.Flatten) and index and len(shapes[index - 1]) == 3:
      head = list(layers)
      head[index] = spec_lib.GlobalAvgPool()
      out.append(_rebuild(spec, head, "pool head"))
  out.append(_half_width(spec))
  height, width, channels = spec.input_shape
  for size in RESOLUTIONS:
    desc = f"input {size}"
    if size >= min(height, width):
      out.append(Reduction(desc, None, f"not below the current {height}x{width} input"))
    else:
      out.append(_rebuild(spec, list(layers), desc, (size, size, channels)))
  return out


def _half_width(spec: spec_lib.ModelSpec) -> Reduction:
  """Every conv and hidden dense layer at half its features, or why not."""
  layers = list(spec.layers)
  last_dense = max((i for i, layer in enumerate(layers) if isinstance(layer, spec_lib.Dense)),
                   default=-1)
  for index, layer in enumerate(layers):
    if isinstance(layer, spec_lib.Conv) or (isinstance(layer, spec_lib.Dense) and
                                            index != last_dense):
      if layer.features // 2 < MIN_FEATURES:
        return Reduction("width/2", None, f"would leave layer {index} {layer.features // 2} "
                                          f"features (< {MIN_FEATURES})")
      layers[index] = dataclasses.replace(layer, features=layer.features // 2)
  return _rebuild(spec, layers, "width/2")


def finer_widths(spec: spec_lib.ModelSpec) -> list[Reduction]:
  """Each conv and hidden dense layer at 3/4 of its features, or why not (`moves="fine"`)."""
  conv_idx, dense_idx = _feature_layers(spec)
  return [option for index in conv_idx + dense_idx
          for option in _fewer_features(spec, index, ("3/4",))]


def valid(spec: spec_lib.ModelSpec, moves: str = "report") -> list[Reduction]:
  """The applicable reductions of `spec`: the report's, (`moves="extended"`) those and the wider
  moves, or (`moves="fine"`) all those and the 3/4 widths."""
  if moves not in MOVES:
    raise ValueError(f"search moves must be one of {MOVES}, got {moves!r}")
  options = (reductions(spec) + (extended_moves(spec) if moves != "report" else [])
             + (finer_widths(spec) if moves == "fine" else []))
  return [r for r in options if r.spec is not None]
