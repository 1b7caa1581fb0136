"""The jaxpr op counter against hand counts, XLA's cost analysis, and the report's runtime
column."""

import pytest

from smile_jax.cost import emulated, hardware, ops
from smile_jax.models import spec as spec_lib, zoo
from tests.test_spec import (ALEXNET_MACS, EMBEDDED_MACS, FC_MACS, REDUCED_MACS, SEPARABLE,
                             SEPARABLE_MACS)


@pytest.mark.parametrize("spec,macs", [(zoo.alexnet(), ALEXNET_MACS),
                                       (zoo.reduced_alexnet(), REDUCED_MACS),
                                       (zoo.embedded(), EMBEDDED_MACS),
                                       (zoo.two_layer_fc(), FC_MACS), (SEPARABLE, SEPARABLE_MACS)],
                         ids=lambda value: getattr(value, "name", ""))
def test_macs_match_hand_counts(spec, macs):
  assert ops.analyze(spec).macs == macs


def test_embedded_per_layer_other_ops_by_hand():
  rows = {r.name: r for r in ops.analyze(zoo.embedded()).layers}
  # conv: bias add + relu max per output element; pool 3x3: 8 comparisons per output element
  assert rows["conv_0"].other_ops == 2 * 8 * 8 * 12
  assert rows["max_pool_1"].other_ops == 8 * 4 * 4 * 12
  assert rows["conv_5"].other_ops == 2 * 2 * 2 * 256
  assert rows["dense_10"].other_ops == 2  # bias only, no activation on the logits
  # batch norm on 2x2x32 at inference: (x - mean) * (scale * rsqrt(var + eps)) + offset
  bn = rows["batch_norm_4"]
  # per element: sub, mul, add; per channel: var + eps, rsqrt, scale * rsqrt
  assert bn.other_ops == 0 and bn.other_ops_unfolded == 3 * 2 * 2 * 32 + 3 * 32
  assert bn.params == 64


def test_depthwise_layer_counts_like_a_conv():
  # Written as multiply-adds (models/net.py), a depthwise conv still counts Hout*Wout*K*K*C MACs
  # and, like a conv, a bias add and a ReLU per output element, nothing for its accumulation.
  rows = {r.name: r for r in ops.analyze(SEPARABLE).layers}
  assert rows["depthwise_conv_1"].macs == 16 * 16 * 9 * 8
  assert rows["depthwise_conv_1"].other_ops == 2 * 16 * 16 * 8
  assert rows["depthwise_conv_5"].macs == 8 * 8 * 25 * 16
  assert rows["depthwise_conv_5"].other_ops == 8 * 8 * 16   # no activation


def test_params_and_peak_memory():
  cost = ops.analyze(zoo.embedded())
  assert cost.params_unfolded == spec_lib.total_params(zoo.embedded()) == cost.params + 64
  # conv_0 reads 64x64x1 and writes 8x8x12: the largest pair of live buffers.
  assert cost.peak_activation_elements == 64 * 64 + 8 * 8 * 12
  assert cost.peak_activation_bytes("int8") * 4 == cost.peak_activation_bytes("float32")
  assert cost.param_bytes("float32") == 4 * cost.params


def test_matches_xla_cost_analysis_where_comparable():
  # XLA counts 2 flops per MAC plus elementwise ops, but skips the padded border of SAME convs,
  # so the two agree exactly on VALID convs and dense layers.
  spec = spec_lib.ModelSpec(
      "valid", (spec_lib.Conv(8, 3, 2, "VALID"), spec_lib.Conv(
          16, 3, 1, "VALID"), spec_lib.MaxPool(
              2, 2, "VALID"), spec_lib.Flatten(), spec_lib.Dense(32), spec_lib.Dense(2, "none")),
      input_shape=(32, 32, 1))
  cost = ops.analyze(spec)
  assert ops.xla_flops(spec) == 2 * cost.macs + cost.other_ops_unfolded
  fc = ops.analyze(zoo.two_layer_fc())
  assert ops.xla_flops(zoo.two_layer_fc()) == 2 * fc.macs + fc.other_ops_unfolded


def test_report_profile_reproduces_its_runtime_column():
  profile = hardware.get("apollo3-report")
  budget = ops.ModelCost("budget", (), 1_380_000, 0, 0, 0, 0, 0)
  assert profile.latency_s(budget) == pytest.approx(3.0)
  assert profile.latency_s(ops.analyze(zoo.embedded())) == pytest.approx(805_632 / 460_000)



def test_emulated_profile_is_absent_until_fitted(monkeypatch, tmp_path):
  monkeypatch.setattr(emulated, "PROFILE_PATH", str(tmp_path / "none.json"))
  with pytest.raises(KeyError, match="experiments.fit_latency"):
    hardware.get("apollo3-emulated")
