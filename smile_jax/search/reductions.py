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
A reduction must lower the MAC count; one that does not (a stride that no longer shrinks the
map, a removed pool that grows the next layer) is skipped with that reason. Batch norm and dropout
layers stay, except that one made redundant by a removal goes with it.
"""

from __future__ import annotations

import dataclasses

from smile_jax.models import spec as spec_lib

MIN_FEATURES = 2


@dataclasses.dataclass(frozen=True)
class Reduction:
  description: str                      # e.g. "conv_0 filters/2"
  spec: spec_lib.ModelSpec | None       # None when skipped
  reason: str = ""                      # why it was skipped


def _rebuild(spec: spec_lib.ModelSpec, layers: list, description: str) -> Reduction:
  try:
    reduced = spec_lib.ModelSpec(spec.name, tuple(layers), spec.input_shape, spec.num_classes)
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


def _fewer_features(spec: spec_lib.ModelSpec, index: int, label: str, unit: str) -> list[Reduction]:
  """Layer `index` with 2x and 4x fewer features (filters or units), or why not."""
  out = []
  for divisor in (2, 4):
    features = spec.layers[index].features // divisor
    desc = f"{label}/{divisor}"
    out.append(
        _rebuild(spec, _replace(spec, index, features=features), desc) if features >= MIN_FEATURES
        else Reduction(desc, None, f"would leave {features} {unit} (< {MIN_FEATURES})"))
  return out


def reductions(spec: spec_lib.ModelSpec) -> list[Reduction]:
  out = []
  layers = spec.layers
  conv_idx = [index for index, layer in enumerate(layers) if isinstance(layer, spec_lib.Conv)]
  dense_idx = [index for index, layer in enumerate(layers)
               if isinstance(layer, spec_lib.Dense)][:-1]   # not the logits
  for index in conv_idx:
    out += _fewer_features(spec, index, f"{layers[index].type}_{index} filters", "filters")
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
    out += _fewer_features(spec, index, f"dense_{index} width", "units")
  pools = [index for index, layer in enumerate(layers) if isinstance(layer, spec_lib.MaxPool)]
  for index in conv_idx[1:] + pools + dense_idx:
    out.append(_rebuild(spec, _remove(spec, index), f"remove {layers[index].type}_{index}"))
  return out


def valid(spec: spec_lib.ModelSpec) -> list[Reduction]:
  return [r for r in reductions(spec) if r.spec is not None]
