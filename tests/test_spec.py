"""Model specs: JSON round trip, shape inference and its errors, MAC/parameter counts by hand."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from smile_jax.models import net, spec as spec_lib, zoo

# Hand counts at 64x64x1 (conv MACs = Hout*Wout*K*K*Cin*Cout, SAME padding, pools 3x3/2 SAME):
# embedded: conv 8x8 (11x11x1x12) + conv 4x4 (5x5x12x32) + conv 2x2 (3x3x32x256) + fc 256x1024 +
# fc 1024x2
EMBEDDED_MACS = (8 * 8 * 121 * 12 + 4 * 4 * 25 * 12 * 32 + 2 * 2 * 9 * 32 * 256 + 256 * 1024
                 + 1024 * 2)
ALEXNET_MACS = (16 * 16 * 121 * 96 + 8 * 8 * 25 * 96 * 256 + 4 * 4 * 9 * 256 * 384
                + 4 * 4 * 9 * 384 * 384 + 4 * 4 * 9 * 384 * 256 + 1024 * 4096 + 4096 * 2)
REDUCED_MACS = (8 * 8 * 121 * 24 + 4 * 4 * 25 * 24 * 64 + 2 * 2 * 9 * 64 * 96 + 2 * 2 * 9 * 96 * 96
                + 2 * 2 * 9 * 96 * 64 + 64 * 1024 + 1024 * 2)
FC_MACS = 4096 * 256 + 256 * 2
# Depthwise-separable layers and average pools (depthwise MACs = Hout*Wout*K*K*C): a conv and
# batch norm that fold, one that cannot (after a pool), windowed and global average pools.
SEPARABLE = spec_lib.ModelSpec("separable", (
    spec_lib.Conv(8, 3, stride=2), spec_lib.DepthwiseConv(3, stride=2), spec_lib.Conv(16, 1),
    spec_lib.AvgPool(3, 2, padding="SAME"), spec_lib.BatchNorm(),
    spec_lib.DepthwiseConv(5, activation="none"), spec_lib.BatchNorm(), spec_lib.AvgPool(2, 2),
    spec_lib.GlobalAvgPool(), spec_lib.Dense(2, activation="none")))
SEPARABLE_MACS = (32 * 32 * 9 * 1 * 8 + 16 * 16 * 9 * 8 + 16 * 16 * 8 * 16 + 8 * 8 * 25 * 16
                  + 16 * 2)


def test_hand_counts():
  assert EMBEDDED_MACS == 805_632  # the figure in the project's reference points
  assert spec_lib.total_macs(zoo.embedded()) == EMBEDDED_MACS
  assert spec_lib.total_macs(zoo.alexnet()) == ALEXNET_MACS
  assert spec_lib.total_macs(zoo.reduced_alexnet()) == REDUCED_MACS
  assert spec_lib.total_macs(zoo.two_layer_fc()) == FC_MACS
  assert spec_lib.total_macs(SEPARABLE) == SEPARABLE_MACS
  assert [s for s in spec_lib.infer_shapes(SEPARABLE)][-3:] == [(4, 4, 16), (16,), (2,)]


def test_separable_layers_round_trip_and_count_params():
  again = spec_lib.ModelSpec.from_json(SEPARABLE.to_json())
  assert again == SEPARABLE and again.canonical_hash() == SEPARABLE.canonical_hash()
  variables = jax.eval_shape(
      lambda: net.SpecNet(SEPARABLE).init(jax.random.key(0), jnp.zeros((1, 64, 64, 1))))
  assert net.count_params(variables["params"]) == spec_lib.total_params(SEPARABLE)
  with pytest.raises(spec_lib.SpecError, match="global_avg_pool.*needs an HxWxC input"):
    spec_lib.ModelSpec("flat", (spec_lib.Flatten(), spec_lib.GlobalAvgPool(),
                                spec_lib.Dense(2, activation="none")))


@pytest.mark.parametrize("size,kernel,stride,padding", [(9, 3, 2, "SAME"), (8, 3, 1, "SAME"),
                                                         (11, 5, 3, "SAME"), (9, 3, 2, "VALID"),
                                                         (7, 5, 1, "VALID")])
def test_depthwise_conv_is_the_grouped_convolution(size, kernel, stride, padding):
  inputs = jax.random.normal(jax.random.key(1), (2, size, size + 2, 3))
  weights = jax.random.normal(jax.random.key(2), (kernel, kernel, 1, 3))

  def grouped(x, w):
    return jax.lax.conv_general_dilated(x, w, (stride, stride), padding,
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                        feature_group_count=3)

  def ours(x, w):
    return net.depthwise_conv(x, w, stride, padding)
  np.testing.assert_allclose(ours(inputs, weights), grouped(inputs, weights), atol=1e-5)
  loss = lambda fn: lambda x, w: jnp.sum(jnp.sin(fn(x, w)))   # noqa: E731
  for got, want in zip(jax.grad(loss(ours), (0, 1))(inputs, weights),
                       jax.grad(loss(grouped), (0, 1))(inputs, weights)):
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_depthwise_params_are_the_grouped_convs():
  """Same names, shapes and initial values as nn.Conv with one group per channel."""
  images = jnp.zeros((1, 8, 8, 4))
  ours = net.DepthwiseConv(3, 2, "SAME", name="dw").init(jax.random.key(3), images)
  flax_conv = nn.Conv(4, (3, 3), strides=2, feature_group_count=4, name="dw").init(
      jax.random.key(3), images)
  jax.tree.map(np.testing.assert_array_equal, ours, flax_conv)


@pytest.mark.parametrize("name", sorted(zoo.ZOO))
def test_round_trip_and_param_count(name):
  spec = zoo.get(name)
  again = spec_lib.ModelSpec.from_json(spec.to_json())
  assert again == spec and again.canonical_hash() == spec.canonical_hash()
  variables = jax.eval_shape(
      lambda: net.SpecNet(spec).init(jax.random.key(0), jnp.zeros((1, 64, 64, 1))))
  assert net.count_params(variables["params"]) == spec_lib.total_params(spec)


@pytest.mark.parametrize("name", sorted(zoo.ZOO))
def test_any_input_size(name):
  spec = zoo.get(name, (224, 224, 3))
  logits = jax.eval_shape(lambda: net.SpecNet(spec).init_with_output(
      jax.random.key(0), jnp.zeros((2, 224, 224, 3)))[0])
  assert logits.shape == (2, 2)


def test_collapse_names_the_layer():
  layers = (spec_lib.Conv(8, 3, stride=2, padding="VALID"), spec_lib.MaxPool(3, 2, "VALID"),
            spec_lib.Conv(8, 3, padding="VALID"), spec_lib.Flatten(), spec_lib.Dense(2, "none"))
  with pytest.raises(
      spec_lib.SpecError,
      match=r"layer 2 \(conv\).*collapses the 3x3 feature map to 1x1|"
      r"layer 2 \(conv\)"):
    spec_lib.ModelSpec("tiny", layers, input_shape=(8, 8, 1))
  with pytest.raises(spec_lib.SpecError, match=r"layer 1 \(max_pool\).*collapses"):
    spec_lib.ModelSpec("tiny", layers, input_shape=(4, 4, 1))


def test_bad_specs_are_explained():
  with pytest.raises(spec_lib.SpecError, match="unknown type 'conv3d'"):
    spec_lib.ModelSpec.from_dict({"name": "x", "input_shape": [8, 8, 1],
                                  "layers": [{"type": "conv3d"}]})
  with pytest.raises(spec_lib.SpecError, match="add a flatten layer"):
    spec_lib.ModelSpec("x", (spec_lib.Dense(2, "none"),), input_shape=(8, 8, 1))
  with pytest.raises(spec_lib.SpecError, match="last layer must be Dense"):
    spec_lib.ModelSpec("x", (spec_lib.Flatten(), spec_lib.Dense(2)), input_shape=(8, 8, 1))
  with pytest.raises(spec_lib.SpecError, match="stride must be a positive integer"):
    spec_lib.ModelSpec("x", (spec_lib.Conv(4, 3, stride=0), spec_lib.Flatten(),
                             spec_lib.Dense(2, "none")), input_shape=(8, 8, 1))


def test_a_map_spec_ends_in_a_1x1_conv_and_writes_a_map():
  locator = zoo.face_locator()
  assert locator.is_map and not zoo.compact().is_map
  assert locator.output_shape == (8, 11, 4) and locator.output_size == 352
  assert spec_lib.ModelSpec.from_json(locator.to_json()) == locator
  assert zoo.compact().output_shape == (2,) and zoo.compact().output_size == 2
  with pytest.raises(spec_lib.SpecError, match="Conv\\(4, 1"):
    spec_lib.ModelSpec("wide_head", (spec_lib.Conv(8, 3), spec_lib.Conv(4, 3, activation="none")),
                       (16, 16, 1), 4)
  with pytest.raises(spec_lib.SpecError, match="last layer must be"):
    spec_lib.ModelSpec("relu_head", (spec_lib.Conv(8, 3), spec_lib.Conv(4, 1)), (16, 16, 1), 4)
