"""The CMSIS-NN peer (compile/cmsis_nn.py): TFLite's multipliers, and the same nets on CMSIS-NN
under QEMU agreeing with the integer reference to within TFLite's rounding."""

import os

import numpy as np
import pytest

from compile import cmsis_nn, emulate, graph as graph_lib, quantize
from smile_jax.models import zoo
from tests.test_deploy import FOLDABLE, SEPARABLE, images_for, variables_for

THIRD_PARTY = cmsis_nn.third_party_dir()


def test_tflite_multipliers_reproduce_the_real_scale():
  real = np.array([1e-4, 0.37, 0.5, 0.999999999, 1.7, 3e-9])
  mult, shift = cmsis_nn.tflite_multipliers(real)
  assert ((mult >= 2 ** 30) & (mult < 2 ** 31)).all()
  np.testing.assert_allclose(mult * 2.0 ** (shift.astype(np.float64) - 31), real, rtol=1e-9)


def test_missing_sources_say_where_to_get_them(tmp_path):
  with pytest.raises(FileNotFoundError, match="git clone https://github.com/ARM-software/CMSIS-NN"):
    cmsis_nn.check_dir(str(tmp_path))


@pytest.fixture(scope="module")
def library(tmp_path_factory):
  if not os.path.isdir(os.path.join(THIRD_PARTY, "CMSIS-NN")):
    pytest.fail(f"the pinned CMSIS-NN sources are expected at {THIRD_PARTY} (set "
                f"${cmsis_nn.THIRD_PARTY_ENV})")
  return cmsis_nn.build_library(THIRD_PARTY, str(tmp_path_factory.mktemp("cmsis_lib")))


# Max pools, a batch norm after ReLU, hidden dense (embedded); depthwise convs, average and global
# pools (separable).
@pytest.mark.parametrize("spec", [zoo.embedded(), SEPARABLE], ids=lambda s: s.name)
def test_cmsis_nn_build_tracks_the_integer_reference(spec, library, tmp_path):
  model = quantize.quantize(graph_lib.from_spec(spec, variables_for(spec)),
                            images_for(spec, 16, seed=2))
  images = images_for(spec, 6, seed=5)
  cmsis, fw = cmsis_nn.build_firmware(model, images, str(tmp_path), library, THIRD_PARTY)
  out = emulate.run_qemu(fw, images, np.int8).logits.astype(np.float64) * cmsis.logit_scale
  reference = quantize.dequantize_logits(model, quantize.run_int(model, images))
  spread = np.abs(reference).max()
  # TFLite's rounding moves a unit here and there; the logits stay within a few int8 steps.
  assert np.abs(out - reference).max() <= 4 * cmsis.logit_scale + 0.02 * spread
  assert set(cmsis.layers) >= {"smile_00_input"} and len(cmsis.layers) > 3
  source = (tmp_path / "model" / "model.c").read_text()
  for op in model.ops:
    name = {"conv": "arm_convolve_wrapper_s8", "depthwise_conv": "arm_depthwise_conv_wrapper_s8",
            "max_pool": "arm_max_pool_s8", "avg_pool": "arm_avgpool_s8",
            "global_avg_pool": "arm_avgpool_s8", "dense": "arm_fully_connected_per_channel_s8"}
    if op.kind in name:
      assert name[op.kind] in source, op.kind


def test_cycles_per_mac_is_none_without_the_sources(tmp_path):
  spec = FOLDABLE
  model = quantize.quantize(graph_lib.from_spec(spec, variables_for(spec)), images_for(spec, 4))
  assert cmsis_nn.cycles_per_mac(model, images_for(spec, 1), str(tmp_path), str(tmp_path)) is None
