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


def _replace(spec, i, **changes) -> list:
  layers = list(spec.layers)
  layers[i] = dataclasses.replace(layers[i], **changes)
  return layers


def _remove(spec, i) -> list:
  layers = list(spec.layers)
  del layers[i]
  # A batch norm or dropout that belonged to the removed layer goes with it when it would now
  # directly follow another normalisation/regularisation layer.
  if i < len(layers) and i > 0 and isinstance(layers[i], (spec_lib.BatchNorm, spec_lib.Dropout)) \
      and isinstance(layers[i - 1], type(layers[i])):
    del layers[i]
  return layers


def reductions(spec: spec_lib.ModelSpec) -> list[Reduction]:
  out = []
  layers = spec.layers
  conv_idx = [i for i, l in enumerate(layers) if isinstance(l, spec_lib.Conv)]
  dense_idx = [i for i, l in enumerate(layers) if isinstance(l, spec_lib.Dense)][:-1]  # not logits
  for i in conv_idx:
    name = f"{layers[i].type}_{i}"
    for k in (2, 4):
      features = layers[i].features // k
      desc = f"{name} filters/{k}"
      out.append(
          _rebuild(spec, _replace(spec, i, features=features), desc) if features >= MIN_FEATURES
          else Reduction(desc, None, f"would leave {features} filters (< {MIN_FEATURES})"))
  for i in conv_idx:
    desc = f"conv_{i} stride+1"
    stride = layers[i].stride + 1
    out.append(
        _rebuild(spec, _replace(spec, i, stride=stride), desc) if stride <= layers[i].kernel else
        Reduction(desc, None, f"stride {stride} > kernel {layers[i].kernel} skips pixels"))
  for i in conv_idx:
    desc = f"conv_{i} kernel-2"
    kernel = layers[i].kernel - 2
    out.append(
        _rebuild(spec, _replace(spec, i, kernel=kernel), desc) if kernel >=
        max(1, layers[i].stride) else Reduction(
            desc, None, f"kernel {kernel} < stride {layers[i].stride} skips pixels"))
  for i in dense_idx:
    for k in (2, 4):
      features = layers[i].features // k
      desc = f"dense_{i} width/{k}"
      out.append(
          _rebuild(spec, _replace(spec, i, features=features), desc) if features >= MIN_FEATURES
          else Reduction(desc, None, f"would leave {features} units (< {MIN_FEATURES})"))
  pools = [i for i, l in enumerate(layers) if isinstance(l, spec_lib.MaxPool)]
  for i in conv_idx[1:] + pools + dense_idx:
    out.append(_rebuild(spec, _remove(spec, i), f"remove {layers[i].type}_{i}"))
  return out


def valid(spec: spec_lib.ModelSpec) -> list[Reduction]:
  return [r for r in reductions(spec) if r.spec is not None]
