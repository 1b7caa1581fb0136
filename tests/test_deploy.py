"""The deploy compiler: graph and integer references, TVM kernels, firmware under QEMU, profiling.

Nets are randomly initialised with non-trivial batch statistics (parity does not need training);
the trained path runs in test_main_job's smoke job.
"""

import dataclasses
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import deploy as deploy_config
from compile import build, emulate, firmware, graph as graph_lib, naive_c, parity, profile, quantize
from smile_jax.cost import emulated
from smile_jax.models import net, spec as spec_lib, zoo
from tests.test_spec import SEPARABLE

SEARCHED = zoo.searched_alexnet()   # the net the first full-size search chose
# Batch norm right after a conv without activation folds into its weights.
FOLDABLE = spec_lib.ModelSpec(
    "foldable", (spec_lib.Conv(8, 3, stride=2, activation="none"), spec_lib.BatchNorm(),
                 spec_lib.Conv(8, 3, stride=2), spec_lib.BatchNorm(), spec_lib.Dropout(0.5),
                 spec_lib.Flatten(), spec_lib.Dense(16), spec_lib.Dense(2, activation="none")),
    (32, 32, 1), 2)


def variables_for(spec, seed=0):
  model = net.build(spec)
  variables = model.init(jax.random.key(seed), jnp.zeros((1, *spec.input_shape)), train=False)
  rng = np.random.default_rng(seed)
  stats = jax.tree_util.tree_map(
      lambda a: np.asarray(a) + rng.uniform(0.1, 0.5, a.shape).astype(np.float32),
      variables.get("batch_stats", {}))
  return {"params": variables["params"], "batch_stats": stats}


def images_for(spec, count=3, seed=0):
  return np.random.default_rng(seed).integers(0, 256, (count, *spec.input_shape), dtype=np.uint8)


def compile_smlad(spec, directory):
  """(the int8 model, its build) of `spec` with random weights on the SMLAD kernels."""
  model = quantize.quantize(graph_lib.from_spec(spec, variables_for(spec)),
                            images_for(spec, 16, seed=2))
  return model, build.compile_model(model, directory, dsp=True)


def jax_logits(spec, variables, images):
  return np.asarray(net.build(spec).apply(variables, net.normalize_pixels(images), train=False))


@pytest.mark.parametrize("spec", [zoo.embedded(), zoo.reduced_alexnet(), SEARCHED, FOLDABLE,
                                  SEPARABLE],
                         ids=lambda s: s.name)
def test_float_graph_matches_jax(spec):
  variables = variables_for(spec)
  images = images_for(spec, 4)
  graph = graph_lib.from_spec(spec, variables)
  np.testing.assert_allclose(
      graph_lib.run_float(graph, images), jax_logits(spec, variables, images), atol=2e-5)


def test_batch_norm_folds_only_where_exact():
  kinds = [op.kind for op in graph_lib.from_spec(FOLDABLE, variables_for(FOLDABLE)).ops]
  # conv_0 (no activation) absorbs batch_norm_1; batch_norm_3 follows a ReLU and stays; dropout
  # goes.
  assert kinds == ["conv", "conv", "affine", "flatten", "dense", "dense"]


def test_fixed_point_multipliers():
  real = np.array([0.3, 1e-3, -0.02, 0.0])
  mult, shift = quantize.fixed_point(real)
  assert mult.dtype == np.int32 and 2 ** 30 <= np.abs(mult).max() < 2 ** 31
  np.testing.assert_allclose(mult / 2.0 ** shift, real, atol=2.0 ** -shift)


def test_requantize_rounds_half_up_and_clips():
  rq = quantize._requant(np.array([0.5]), np.array([0.0]), relu=False)
  acc = np.array([[1], [3], [-3], [1000], [-1000]])
  np.testing.assert_array_equal(rq.apply(acc)[:, 0],
                                [1, 2, -1, 127, -128])  # 0.5, 1.5, -1.5 round up


def test_int8_reference_tracks_float():
  spec = zoo.reduced_alexnet()
  graph = graph_lib.from_spec(spec, variables_for(spec))
  images = images_for(spec, 64, seed=1)
  qgraph = quantize.quantize(graph, images[:32])
  float_logits = graph_lib.run_float(graph, images)
  int_logits = quantize.dequantize_logits(qgraph, quantize.run_int(qgraph, images))
  assert np.corrcoef(float_logits[:, 1] - float_logits[:, 0],
                     int_logits[:, 1] - int_logits[:, 0])[0, 1] > 0.98


def test_memory_plan_never_overlaps_live_tensors(tmp_path):
  spec = zoo.reduced_alexnet()
  built = build.compile_model(graph_lib.from_spec(spec, variables_for(spec)), str(tmp_path))
  plan = built.plan
  items = list(plan.placements.values())
  for first in items:
    for second in items:
      if first is not second and not (first.last < second.first or second.last < first.first):
        assert (first.offset + first.nbytes <= second.offset
                or second.offset + second.nbytes <= first.offset)
  assert plan.arena_bytes < sum(p.nbytes for p in items)   # buffers are reused


# A flatten straight after the input: its first kernel reads the image buffer through the
# flatten's alias (the fit of the emulated profile once failed on the two-layer FC net there).
FLAT_INPUT = zoo.two_layer_fc(hidden=16).with_input_shape((32, 32, 1))


@pytest.mark.parametrize(
    "spec", [zoo.embedded(), zoo.reduced_alexnet(), SEARCHED, SEPARABLE, FLAT_INPUT],
    ids=lambda s: s.name)
def test_qemu_parity_and_profile(spec, tmp_path):
  variables = variables_for(spec)
  images = images_for(spec, 3)
  graph = graph_lib.from_spec(spec, variables)
  for model in (quantize.quantize(graph, images_for(spec, 16, seed=2)), graph):
    built = build.compile_model(model, str(tmp_path / build.dtype_of(model)))
    fw = firmware.build(built.directory, "qemu-mps2-an386", os.path.join(built.directory, "qemu"))
    run = emulate.run_qemu(fw, images, built.logit_dtype)
    if built.dtype == "int8":
      np.testing.assert_array_equal(run.logits, quantize.run_int(model, images))   # bit-exact
    else:
      assert np.abs(run.logits - jax_logits(spec, variables, images)).max() <= 1e-4
    prof = profile.profile_elf(fw.elf, images[0], built.logit_dtype, 2)
    np.testing.assert_array_equal(prof.logits, run.logits[0])
    assert (run.stack_bytes < firmware.BOARDS["sparkfun-edge"].stack_bytes).all()
    assert built.plan.live_bytes <= built.plan.arena_bytes
    # QEMU counts through SysTick in steps of 40 instructions, plus the reads around the call.
    assert abs(int(run.instructions[0]) - prof.instructions) <= 2 * emulate.INSTRUCTIONS_PER_TICK
    assert {k.name for k in prof.kernels} >= {c.kernel for c in built.program.calls
                                              if not c.is_reshape}
    # Every kernel's own output (read in unicorn) matches the reference op it is mapped to.
    covered = build.kernel_layers(built)
    assert parity.first_divergence(built, covered, fw.elf, images[0]).startswith("no kernel")


def test_a_parity_failure_names_the_first_divergent_layer(tmp_path):
  """Firmware whose second conv computes other weights than the model it claims to be: the check
  fails, naming that conv (read from the firmware's own buffers in unicorn), not a later layer."""
  spec = zoo.embedded()
  graph = graph_lib.from_spec(spec, variables_for(spec))
  model = quantize.quantize(graph, images_for(spec, 16, seed=2))
  convs = [i for i, op in enumerate(model.ops) if isinstance(op, quantize.QConv)]
  wrong_ops = list(model.ops)
  wrong_ops[convs[1]] = dataclasses.replace(model.ops[convs[1]], weight=-model.ops[convs[1]].weight)
  wrong = dataclasses.replace(model, ops=tuple(wrong_ops))
  built = dataclasses.replace(build.compile_model(wrong, str(tmp_path)), model=model)
  fw = firmware.build(built.directory, "qemu-mps2-an386", str(tmp_path / "qemu"))
  images = images_for(spec, 3)
  run = emulate.run_qemu(fw, images, built.logit_dtype)
  layer = f"conv_{model.ops[convs[1]].layer}"
  with pytest.raises(parity.ParityError, match=rf"first divergent layer is kernel \w+ \({layer}"):
    parity.check(built, build.kernel_layers(built), fw.elf, images, run.logits,
                 quantize.run_int(model, images), "embedded")
  ok = build.compile_model(model, str(tmp_path / "ok"))
  fw_ok = firmware.build(ok.directory, "qemu-mps2-an386", str(tmp_path / "ok_qemu"))
  assert parity.first_divergence(ok, build.kernel_layers(ok), fw_ok.elf,
                                 images[0]).startswith("no kernel")


def test_c_kernels_match_llvm_kernels(tmp_path):
  spec = FOLDABLE
  graph = graph_lib.from_spec(spec, variables_for(spec))
  qgraph = quantize.quantize(graph, images_for(spec, 8))
  built = build.compile_model(qgraph, str(tmp_path))
  images = images_for(spec, 2, seed=5)
  outs = [
      emulate.run_qemu(
          firmware.build(built.directory, "qemu-mps2-an386", str(tmp_path / k), kernels=k), images,
          np.int32).logits for k in ("llvm", "c")
  ]
  np.testing.assert_array_equal(outs[0], outs[1])


def test_sparkfun_edge_memory_map(tmp_path):
  spec = zoo.reduced_alexnet()
  graph = graph_lib.from_spec(spec, variables_for(spec))
  images = images_for(spec, 8)
  built = build.compile_model(quantize.quantize(graph, images), str(tmp_path))
  fw = firmware.build(built.directory, "sparkfun-edge", str(tmp_path / "edge"), test_image=images[0],
                      test_logits=quantize.run_int(built.model, images[:1])[0])
  assert fw.sections[".isr_vector"][0] == 0xC000            # behind Ambiq's secure bootloader
  assert all(0x10000000 <= fw.sections[s][0] < 0x10060000 for s in (".bss", ".stack"))
  assert fw.linked_flash_bytes <= 960 * 1024 and fw.linked_ram_bytes <= 384 * 1024
  assert 0 < os.path.getsize(fw.bin) <= fw.linked_flash_bytes + 64   # the flashable image from 0xC000
  with open(fw.bin, "rb") as file:
    words = np.frombuffer(file.read(8), np.uint32)
  assert 0x10000000 < words[0] <= 0x10060000  # initial SP: top of the stack in SRAM
  assert words[1] & 1 and 0xC000 < words[
      1] < 0xC000 + fw.linked_flash_bytes  # Thumb reset vector in the image


def test_float_embedded_does_not_fit_the_edge(tmp_path):
  spec = zoo.embedded()   # 1 MB of float32 weights
  built = build.compile_model(graph_lib.from_spec(spec, variables_for(spec)), str(tmp_path))
  with pytest.raises(firmware.DoesNotFit, match="FLASH.*overflowed.*int8 build"):
    firmware.build(built.directory, "sparkfun-edge", str(tmp_path / "edge"),
                   test_image=images_for(spec, 1)[0], test_logits=np.zeros(2, np.float32))


@dataclasses.dataclass(frozen=True)
class Upsample:      # a layer type the compiler has no kernel for
  factor: int = 2
  type: str = "upsample"


def test_unsupported_layer_is_named_before_compiling():
  spec = dataclasses.replace(SEARCHED, name="odd")
  object.__setattr__(spec, "layers", spec.layers[:3] + (Upsample(),) + spec.layers[3:])
  with pytest.raises(graph_lib.UnsupportedLayer, match=r"layer 3 \(upsample\)"):
    graph_lib.check_supported(spec)


def test_missing_toolchain_says_how_to_install(monkeypatch):
  monkeypatch.setenv("PATH", "/nonexistent")
  with pytest.raises(
      firmware.ToolchainMissing, match="apt-get install --no-install-recommends gcc-arm-none-eabi"):
    firmware.check_toolchain()


def test_emulated_profile_predicts_a_fresh_compile(tmp_path):
  """The committed apollo3-emulated fit (experiments.fit_latency) still describes today's
  compiler, on a net of the family whose latency the default search limits (the compact root at
  48 px: not one of the fit's nets)."""
  spec = zoo.compact().with_input_shape((48, 48, 1))
  graph = graph_lib.from_spec(spec, variables_for(spec))
  images = images_for(spec, 8)
  built = build.compile_model(quantize.quantize(graph, images), str(tmp_path),
                              dsp=deploy_config.get_config().dsp_kernels)   # as the fit did
  fw = firmware.build(built.directory, "qemu-mps2-an386", str(tmp_path / "qemu"))
  cycles = profile.profile_elf(fw.elf, images[0], np.int32, 2).cycles
  predicted = emulated.load().cycles(spec, "int8")
  assert abs(predicted / cycles - 1) < 0.15, (predicted, cycles)


@pytest.mark.parametrize("spec", [SEARCHED, FOLDABLE, SEPARABLE], ids=lambda s: s.name)
def test_naive_c_reference_agrees(spec, tmp_path):
  """The plain C baseline (benchmarks/deploy_cycles.py) computes what the TVM build computes."""
  variables = variables_for(spec)
  graph = graph_lib.from_spec(spec, variables)
  images = images_for(spec, 2, seed=3)
  for model, dtype in ((quantize.quantize(graph, images_for(spec,
                                                            8)), np.int32), (graph, np.float32)):
    header, source = naive_c.generate(model)
    (tmp_path / "model.h").write_text(header)
    (tmp_path / "model.c").write_text(source)
    fw = firmware.build(str(tmp_path), "qemu-mps2-an386", str(tmp_path / "qemu"), kernels="none")
    out = emulate.run_qemu(fw, images, dtype).logits
    if dtype == np.int32:
      np.testing.assert_array_equal(out, quantize.run_int(model, images))
    else:
      assert np.abs(out - jax_logits(spec, variables, images)).max() <= 1e-4


def test_stack_painting_measures_what_the_model_uses(tmp_path):
  """A model whose run touches a 3,000-byte local array: the firmware's painted-stack figure
  sees it (and the logits, a byte sum, come back)."""
  (tmp_path / "model.h").write_text(
      "#include <stdint.h>\n#define SMILE_MODEL_INPUT_SIZE 16\n#define SMILE_MODEL_NUM_CLASSES 2\n#define SMILE_MODEL_OUTPUT_SIZE 2\n"
      "typedef int32_t smile_logit_t;\n"
      "int smile_model_run(const uint8_t* image, smile_logit_t* logits);\n")
  (tmp_path / "model.c").write_text(
      '#include "model.h"\nint smile_model_run(const uint8_t* image, smile_logit_t* logits) {\n'
      "  volatile uint8_t big[3000];\n  for (int i = 0; i < 3000; ++i) big[i] = image[i % 16];\n"
      "  int32_t sum = 0;\n  for (int i = 0; i < 3000; ++i) sum += big[i];\n"
      "  logits[0] = sum; logits[1] = -sum;\n  return 0;\n}\n")
  fw = firmware.build(str(tmp_path), "qemu-mps2-an386", str(tmp_path / "qemu"), kernels="none")
  images = np.full((2, 4, 4, 1), 3, np.uint8)
  run = emulate.run_qemu(fw, images, np.int32)
  np.testing.assert_array_equal(run.logits, [[9000, -9000]] * 2)
  assert (3000 <= run.stack_bytes).all() and (run.stack_bytes < 3300).all(), run.stack_bytes


def test_too_large_for_the_board_fails_before_compiling():
  build.check_fits(SEARCHED)                     # 0.7 MB of int8 weights: fits
  with pytest.raises(firmware.DoesNotFit, match=r"alexnet: int8 weights 7,9\d\d,\d\d\d B"):
    build.check_fits(zoo.alexnet())              # 7.9 M parameters: does not


def test_firmware_links_no_tvm_runtime(tmp_path):
  """Kernels are plain C functions: nothing of TVM's runtime or FFI is linked or left undefined."""
  import subprocess
  spec = FOLDABLE
  graph = graph_lib.from_spec(spec, variables_for(spec))
  built = build.compile_model(quantize.quantize(graph, images_for(spec, 8)), str(tmp_path))
  for kernels in ("llvm", "c"):
    fw = firmware.build(
        built.directory, "qemu-mps2-an386", str(tmp_path / kernels), kernels=kernels)
    symbols = subprocess.run(["arm-none-eabi-nm", fw.elf],
                             capture_output=True,
                             text=True,
                             check=True).stdout
    assert "smile_model_run" in symbols and "smile_01_conv" in symbols
    assert not [line for line in symbols.splitlines() if "tvm" in line.lower() or " U " in line]
  obj = subprocess.run(["arm-none-eabi-nm", "-u", os.path.join(built.directory, "kernels.o")],
                       capture_output=True, text=True, check=True).stdout.split()
  assert set(obj) <= {"U", "memcpy", "memset"}, obj
