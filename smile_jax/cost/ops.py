"""An analytical op counter that walks the jaxpr of a model's inference function (batch 1).

Conventions (used everywhere in the project, the search budget and the reports included):
  * MAC: one multiply-accumulate. `conv_general_dilated`: output elements x kernel H x kernel W x
    input channels / feature groups (SAME-padding borders count full windows, as the usual
    Hout*Wout*K*K*Cin*Cout formula does). `dot_general`: output elements x contracted size.
  * other ops: one per output element of each elementwise primitive (add, sub, mul, div, max,
    min, neg, exp, log, rsqrt, sqrt, tanh, logistic, select_n, comparisons, convert), plus the
    window comparisons of `reduce_window` pooling ((window - 1) per output element), plus
    (input - output) elements for reductions. A conv written as multiply-adds (the depthwise conv,
    models/net.py) counts each `mul` inside its `net.MAC_SCOPE` scope as one MAC per output
    element and its accumulating `add`s as nothing, as a conv primitive would. Layout ops
    (reshape, broadcast, transpose, slice, concatenate, pad) move data and count zero.
  * "ops", the report's unit (its budget of 1.38 M ops = 3 s on the Apollo3): MACs. The report
    estimated one floating-point load-add-store per operation; a MAC is that unit of work, and
    the budget is applied to MACs (`budget_macs`). `macs + other_ops` is also reported.
Batch norm is counted both ways: as the inference-time ops JAX runs (the `unfolded` fields) and
folded into the preceding conv/dense, where it costs nothing at inference (the default figures).

Per-layer attribution uses the jaxpr's name stack (`SpecNet` scopes every layer as `{type}_{i}`).
"""

from __future__ import annotations

import collections
import dataclasses
import math

import jax
import jax.numpy as jnp

from smile_jax.models import net as net_lib
from smile_jax.models import spec as spec_lib

ELEMENTWISE = {"add", "sub", "mul", "div", "max", "min", "neg", "exp", "log", "rsqrt", "sqrt",
               "tanh", "logistic", "select_n", "gt", "ge", "lt", "le", "eq", "ne", "abs",
               "convert_element_type", "integer_pow", "pow", "sign", "floor", "ceil", "round",
               "clamp", "square", "exp2", "log1p", "expm1", "erf", "and", "or", "not"}
REDUCTIONS = {"reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "argmax", "argmin"}
POOLS = {"reduce_window_max", "reduce_window_min", "reduce_window_sum", "reduce_window"}


@dataclasses.dataclass
class ScopeCounts:
  """What the jaxpr walk counts inside one layer's name scope (spec.LayerCost is the spec's own
  arithmetic per layer; LayerRow joins the two)."""
  name: str                  # "{type}_{i}" as in the spec, or "(other)"
  macs: int = 0
  other_ops: int = 0
  by_primitive: dict = dataclasses.field(default_factory=lambda: collections.Counter())


def _size(shape) -> int:
  return int(math.prod(shape))


def _eqn_cost(eqn, multiply_accumulate: bool = False) -> tuple[int, int]:
  """(MACs, other ops) of one primitive application (`multiply_accumulate`: inside a
  `net.MAC_SCOPE`)."""
  name = eqn.primitive.name
  out = eqn.outvars[0].aval.shape
  if multiply_accumulate and name in ("mul", "add"):
    return (_size(out), 0) if name == "mul" else (0, 0)
  if name == "conv_general_dilated":
    rhs = eqn.invars[1].aval.shape
    dn = eqn.params["dimension_numbers"]
    spatial = _size(rhs[d] for d in dn.rhs_spec[2:])
    in_features = rhs[dn.rhs_spec[1]]  # per group already
    return _size(out) * spatial * in_features, 0
  if name == "dot_general":
    (lhs_contract, _), _ = eqn.params["dimension_numbers"]
    lhs = eqn.invars[0].aval.shape
    return _size(out) * _size(lhs[d] for d in lhs_contract), 0
  if name in ELEMENTWISE:
    return 0, _size(out)
  if name in POOLS:
    window = _size(eqn.params["window_dimensions"])
    return 0, _size(out) * (window - 1)
  if name in REDUCTIONS:
    return 0, _size(eqn.invars[0].aval.shape) - _size(out)
  return 0, 0


def _sub_jaxprs(eqn):
  for param in eqn.params.values():
    for item in param if isinstance(param, (list, tuple)) else (param,):
      if hasattr(item, "eqns"):
        yield item
      elif hasattr(item, "jaxpr") and hasattr(item.jaxpr, "eqns"):
        yield item.jaxpr


def _layer_of(name_stack: str, prefix: str) -> str:
  parts = [p for p in name_stack.split("/") if p]
  if prefix in parts:
    parts = parts[parts.index(prefix) + 1:]
  return parts[0] if parts else "(other)"


def count_jaxpr(jaxpr, prefix: str = "SpecNet") -> dict[str, ScopeCounts]:
  """Costs per layer name of a (closed) jaxpr, descending into nested jaxprs (jit, custom_jvp)."""
  costs: dict[str, ScopeCounts] = {}

  def walk(sub_jaxpr, outer: str):
    for eqn in sub_jaxpr.eqns:
      stack = f"{outer}/{eqn.source_info.name_stack}" if outer else str(eqn.source_info.name_stack)
      subs = list(_sub_jaxprs(eqn))
      if subs:
        for sub in subs:
          walk(sub, stack)
        continue
      macs, other = _eqn_cost(eqn, net_lib.MAC_SCOPE in stack.split("/"))
      layer = costs.setdefault(_layer_of(stack, prefix), ScopeCounts(_layer_of(stack, prefix)))
      layer.macs += macs
      layer.other_ops += other
      if macs or other:
        layer.by_primitive[eqn.primitive.name] += macs + other

  walk(getattr(jaxpr, "jaxpr", jaxpr), "")
  return costs


def _inference(spec: spec_lib.ModelSpec):
  """(inference function, abstract variables, batch-1 float32 input): no weights are needed."""
  model = net_lib.build(spec)
  images = jnp.zeros((1, *spec.input_shape), jnp.float32)
  variables = jax.eval_shape(lambda: model.init(jax.random.key(0), images, train=False))
  return (lambda v, images: model.apply(v, images, train=False)), variables, images


def inference_jaxpr(spec: spec_lib.ModelSpec):
  """The jaxpr of `spec`'s inference function at batch 1."""
  fn, variables, images = _inference(spec)
  return jax.make_jaxpr(fn)(variables, images)


@dataclasses.dataclass(frozen=True)
class LayerRow:
  name: str
  type: str
  output_shape: tuple[int, ...]
  macs: int
  other_ops: int            # batch norm folded (zero for a batch-norm layer)
  other_ops_unfolded: int   # as JAX runs it at inference
  params: int               # batch norm's scale/offset counted here, unfolded


@dataclasses.dataclass(frozen=True)
class ModelCost:
  """Inference cost of one spec at batch 1 (see the module docstring for the conventions)."""
  name: str
  layers: tuple[LayerRow, ...]
  macs: int
  other_ops: int
  other_ops_unfolded: int
  params: int               # batch norm folded into the preceding conv/dense
  params_unfolded: int
  peak_activation_elements: int

  @property
  def ops(self) -> int:
    """The report's "ops" (the unit of its 1.38 M budget): MACs."""
    return self.macs

  def param_bytes(self, dtype: str = "float32") -> int:
    return self.params * (4 if dtype == "float32" else 1)

  def peak_activation_bytes(self, dtype: str = "float32") -> int:
    return self.peak_activation_elements * (4 if dtype == "float32" else 1)

  def to_dict(self) -> dict:
    out = {k: v for k, v in dataclasses.asdict(self).items() if k != "layers"}
    out.update(ops=self.ops, param_bytes_float32=self.param_bytes("float32"),
             param_bytes_int8=self.param_bytes("int8"),
             peak_activation_bytes_float32=self.peak_activation_bytes("float32"),
             peak_activation_bytes_int8=self.peak_activation_bytes("int8"))
    out["layers"] = [dataclasses.asdict(l) for l in self.layers]
    return out


# Layers that write a new activation buffer; the others work in place (relu, batch norm,
# dropout) or are views (flatten).
_NEW_BUFFER = spec_lib.WINDOWED + (spec_lib.GlobalAvgPool, spec_lib.Dense)


def peak_activation_elements(spec: spec_lib.ModelSpec) -> int:
  """Largest input + output buffer pair live at once, at batch 1, with buffers reused across
  layers."""
  peak, current = _size(spec.input_shape), _size(spec.input_shape)
  for layer, shape in zip(spec.layers, spec_lib.infer_shapes(spec)):
    if isinstance(layer, _NEW_BUFFER):
      peak = max(peak, current + _size(shape))
      current = _size(shape)
  return peak


def folded_params(spec: spec_lib.ModelSpec) -> int:
  """Parameters once batch norm is folded into the layer before it (what a device stores)."""
  return sum(cost.params for layer, cost in zip(spec.layers, spec_lib.layer_costs(spec))
             if not isinstance(layer, spec_lib.BatchNorm))


def analyze(spec: spec_lib.ModelSpec) -> ModelCost:
  """Walks `spec`'s inference jaxpr and returns its per-layer and total cost."""
  counted = count_jaxpr(inference_jaxpr(spec))
  rows = []
  for (layer, shape), base in zip(
      zip(spec.layers, spec_lib.infer_shapes(spec)), spec_lib.layer_costs(spec)):
    name = f"{layer.type}_{base.index}"
    counts = counted.get(name, ScopeCounts(name))
    folded_other = 0 if isinstance(layer, spec_lib.BatchNorm) else counts.other_ops
    rows.append(
        LayerRow(name, layer.type, shape, counts.macs, folded_other, counts.other_ops, base.params))
  untracked = sum(counts.macs + counts.other_ops for n, counts in counted.items()
                  if n not in {r.name for r in rows})
  if untracked:
    raise AssertionError(f"{untracked} ops of {spec.name} fell outside any layer scope")
  return ModelCost(
      name=spec.name, layers=tuple(rows), macs=sum(r.macs for r in rows),
      other_ops=sum(r.other_ops for r in rows),
      other_ops_unfolded=sum(r.other_ops_unfolded for r in rows),
      params=folded_params(spec),
      params_unfolded=sum(r.params for r in rows),
      peak_activation_elements=peak_activation_elements(spec))


def xla_flops(spec: spec_lib.ModelSpec) -> float:
  """XLA's own flop estimate for the compiled inference function (2 per MAC + elementwise)."""
  fn, variables, images = _inference(spec)
  compiled = jax.jit(fn).lower(variables, images).compile()
  analysis = compiled.cost_analysis()
  analysis = analysis[0] if isinstance(analysis, (list, tuple)) else analysis
  return float(analysis["flops"])
