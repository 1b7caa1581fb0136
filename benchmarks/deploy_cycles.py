r"""Cycles per MAC on the Cortex-M4, int8: TVM's kernels (SMLAD and scalar schedules, LLVM and C
routes) vs CMSIS-NN (what TFLite Micro calls) vs a naive C reference, on three nets, in one run.

  .venv/bin/python -m benchmarks.deploy_cycles                      # ~6 min on 2 cores
  .venv/bin/python -m benchmarks.deploy_cycles --workdir=runs/main --json=cycles.json
  .venv/bin/python -m benchmarks.deploy_cycles --cmsis_nn_dir=/path/to/third_party --float

Nets: the report's Embedded net and the 0.96 M-MAC conv 8/16/32/64 stride-2 net (`compact`; random
weights: the cycle counts do not depend on them), and the chosen net of `--workdir` (a trained
run or main job; default runs/main when it exists). Every build is linked into the same QEMU
firmware with arm-none-eabi-gcc -O2 and profiled in unicorn on the same image: executed
instructions and estimated cycles (compile/profile.py), whole net and per layer (a layer's batch
norm counted with it). The outputs are checked against the project's integer reference
(quantize.run_int) on `--images` random images: TVM's builds and naive C must be bit-exact;
CMSIS-NN rounds TFLite's way (compile/cmsis_nn.py), so its largest logit difference is printed,
in float logits and in units of its int8 logits. CMSIS-NN comes from `--cmsis_nn_dir` (the pinned
sources in ../shared/third_party; a clear message with the git URLs and commits when missing).
For TVM SMLAD (LLVM) and CMSIS-NN, the stalls of their flash-cache misses are estimated too (weights
and code in flash, the Edge's 16 KB cache at RD_WAIT 1; compile/flash_cache.py) and the ratio
recomputed with them. Targets (issue 11): <= 1.5 cycles/MAC on the chosen net, >= 1.5x fewer
cycles than CMSIS-NN on each net, <= 3 cycles/MAC on the first layer; the M4's limit is 0.5 (two 16-bit MACs a cycle).
"""

import json
import os
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags

from experiments import cli
from compile import build, cmsis_nn, firmware, flash_cache, graph as graph_lib, naive_c, profile
from compile import quantize
from smile_jax.eval import predict
from smile_jax.models import net, spec as spec_lib, zoo

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Trained run or main job whose chosen net is the third net "
                    "(default: runs/main when it exists).")
flags.DEFINE_string("cmsis_nn_dir", None, "Folder holding CMSIS-NN/ and CMSIS-Core/ (default: "
                    "$SMILE_JAX_THIRD_PARTY_DIR, else ../shared/third_party).")
flags.DEFINE_string("json", None, "Also write the tables as JSON to this file.")
flags.DEFINE_integer("images", 8, "Random images the outputs are compared on.")
flags.DEFINE_bool("float", False, "Also time the float32 builds (TVM and naive C).")

# The pair compared with the flash charged too: weights and code in flash behind the Edge's cache
# geometry at 48 MHz's wait states (compile/flash_cache.py), in the QEMU firmware's layout.
FLASH = flash_cache.FlashCache(0, firmware.BOARDS["qemu-mps2-an386"].flash_capacity_bytes,
                               flash_cache.RD_WAIT_48MHZ)
WITH_FLASH = ("TVM SMLAD, LLVM", "CMSIS-NN (TFLite rounding)")
TVM_BUILDS = (("TVM SMLAD, LLVM", True, "llvm"), ("TVM SMLAD, C + gcc -O2", True, "c"),
              ("TVM scalar, LLVM", False, "llvm"), ("TVM scalar, C + gcc -O2", False, "c"))


def nets() -> list[tuple]:
  """(label, spec, variables) of the benchmark's nets."""
  out = []
  for name in ("embedded", "compact"):
    spec = zoo.get(name)
    variables = net.build(spec).init(jax.random.key(0), jnp.zeros((1, *spec.input_shape)),
                                     train=False)
    out.append((name, spec, variables))
  workdir = FLAGS.workdir or (os.path.join(REPO, "runs", "main")
                              if os.path.isdir(os.path.join(REPO, "runs", "main")) else None)
  if workdir:
    predictor = predict.Predictor.from_run(predict.resolve_run_dir(workdir))
    out.append((f"chosen ({predictor.spec.name})", predictor.spec, predictor.variables))
  else:
    print("no --workdir and no runs/main: the chosen net is left out")
  return out


def write_model(directory: str, header: str, source: str) -> str:
  os.makedirs(directory, exist_ok=True)
  for name, text in (("model.h", header), ("model.c", source)):
    with open(os.path.join(directory, name), "w") as file:
      file.write(text)
  return directory


def group(label: str) -> str:
  """A layer row's key across builds: its first layer ("conv_0 + batch_norm_1" -> "conv_0")."""
  return label.split(" + ")[0]


def profile_net(spec, variables, tmp: str, library: str) -> dict:
  images = np.random.default_rng(0).integers(0, 256, (FLAGS.images, *spec.input_shape),
                                             dtype=np.uint8)
  model = quantize.quantize(graph_lib.from_spec(spec, variables), images)
  reference = quantize.run_int(model, images)
  ref_logits = quantize.dequantize_logits(model, reference)
  macs = spec_lib.total_macs(spec)
  costs = {c.index: c for c in spec_lib.layer_costs(spec)}
  rows, layers = [], {}

  def add(label, prof, diff, unit_diff=None, elf=None, logit_dtype=None):
    stalls = (profile.profile_elf(elf, images[0], logit_dtype, spec.num_classes,
                                  flash=FLASH).stall_cycles if label in WITH_FLASH else None)
    rows.append({"build": label, "instructions": prof.instructions, "cycles": prof.cycles,
                 "cycles_per_mac": prof.cycles / macs, "latency_ms_48mhz": prof.cycles / 48e3,
                 "stall_cycles_48mhz": stalls, "max_logit_diff": diff,
                 "max_logit_diff_lsb": unit_diff})

  def add_layer(build_label, key, cycles, layer_macs):
    row = layers.setdefault(key, {"layer": key, "macs": layer_macs})
    row[build_label] = row.get(build_label, 0) + cycles

  for label, dsp, kernels in TVM_BUILDS:
    built = build.compile_model(model, os.path.join(tmp, f"tvm_{dsp}"), dsp=dsp)
    fw = firmware.build(built.directory, "qemu-mps2-an386",
                        os.path.join(tmp, f"fw_{dsp}_{kernels}"), kernels=kernels)
    prof = profile.profile_elf(fw.elf, images[0], built.logit_dtype, spec.num_classes)
    add(label, prof, float(np.abs(prof.logits - reference[0]).max()), elf=fw.elf,
        logit_dtype=built.logit_dtype)
    if kernels == "llvm":
      for row in build.layer_rows(built, prof):
        add_layer(label, group(row["layer"]), row["cycles"], row["macs"])
  header, source = naive_c.generate(model)
  fw = firmware.build(write_model(os.path.join(tmp, "naive"), header, source), "qemu-mps2-an386",
                      os.path.join(tmp, "fw_naive"), kernels="none")
  prof = profile.profile_elf(fw.elf, images[0], np.int32, spec.num_classes)
  add("naive C, gcc -O2", prof, float(np.abs(prof.logits - reference[0]).max()))
  cmsis, fw = cmsis_nn.build_firmware(model, images, os.path.join(tmp, "cmsis"), library,
                                      FLAGS.cmsis_nn_dir)
  runs = [profile.profile_elf(fw.elf, image, np.int8, spec.num_classes) for image in images]
  diff = max(float(np.abs(run.logits * cmsis.logit_scale - ref).max())
             for run, ref in zip(runs, ref_logits))
  add("CMSIS-NN (TFLite rounding)", runs[0], diff, diff / cmsis.logit_scale, fw.elf, np.int8)
  key = "input"
  by_name = {k.name.split(".")[0]: k for k in runs[0].kernels}
  for function, ops in cmsis.layers.items():
    if ops and ops[0].kind != "affine":
      key = f"{spec.layers[ops[0].layer].type}_{ops[0].layer}"
    layer_macs = costs[ops[0].layer].macs if ops and ops[0].kind != "affine" else 0
    add_layer("CMSIS-NN (TFLite rounding)", key,
              by_name.get(function, profile.KernelProfile(function, 0, 0)).cycles, layer_macs)
  cmsis = rows[-1]
  for row in rows:
    row["cmsis_nn_over_this"] = cmsis["cycles"] / row["cycles"]
    row["cmsis_nn_over_this_with_flash"] = (
        (cmsis["cycles"] + cmsis["stall_cycles_48mhz"]) /
        (row["cycles"] + row["stall_cycles_48mhz"]) if row["stall_cycles_48mhz"] is not None
        else None)
  return {"name": spec.name, "macs": macs, "builds": rows, "layers": list(layers.values())}


def markdown(label: str, result: dict) -> str:
  lines = [f"\n### {label}: {result['macs']:,} MACs\n",
           "| build | instructions | est. cycles | cycles/MAC | latency @48 MHz | CMSIS-NN / this "
           "| + flash stalls | CMSIS-NN / this, with them | max logit diff vs integer ref |",
           "|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
  for row in result["builds"]:
    diff = f"{row['max_logit_diff']:.3g}"
    if row["max_logit_diff_lsb"] is not None:
      diff += f" ({row['max_logit_diff_lsb']:.1f} int8 LSB)"
    stalls, ratio = row["stall_cycles_48mhz"], row["cmsis_nn_over_this_with_flash"]
    lines.append(f"| {row['build']} | {row['instructions']:,} | {row['cycles']:,} | "
                 f"{row['cycles_per_mac']:.2f} | {row['latency_ms_48mhz']:.1f} ms | "
                 f"{row['cmsis_nn_over_this']:.2f}x | "
                 f"{'' if stalls is None else f'{stalls:,}'} | "
                 f"{'' if ratio is None else f'{ratio:.2f}x'} | {diff} |")
  builds = ("TVM SMLAD, LLVM", "TVM scalar, LLVM", "CMSIS-NN (TFLite rounding)")
  lines += ["", "| layer (+ its batch norm) | MACs | " + " | ".join(
      f"{b} cycles/MAC" for b in builds) + " |", "|---|--:|" + "--:|" * len(builds)]
  for layer in result["layers"]:
    cells = [f"{layer.get(b, 0) / layer['macs']:.2f}" if layer["macs"] else
             f"{layer.get(b, 0):,} cycles" for b in builds]
    lines.append(f"| {layer['layer']} | {layer['macs']:,} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def float_rows(spec, variables, tmp: str) -> str:
  """The float32 builds side by side (TVM LLVM and C, naive C)."""
  graph = graph_lib.from_spec(spec, variables)
  built = build.compile_model(graph, os.path.join(tmp, "tvm_float"))
  header, source = naive_c.generate(graph)
  lines = [f"\n### {spec.name}, float32\n", "| build | est. cycles | cycles/MAC |", "|---|--:|--:|"]
  for label, directory, kernels in (
      ("TVM, LLVM", built.directory, "llvm"), ("TVM, C + gcc -O2", built.directory, "c"),
      ("naive C, gcc -O2", write_model(os.path.join(tmp, "naive_float"), header, source), "none")):
    fw = firmware.build(directory, "qemu-mps2-an386", os.path.join(tmp, f"fwf_{kernels}"),
                        kernels=kernels)
    image = np.zeros(spec.input_shape, np.uint8)
    prof = profile.profile_elf(fw.elf, image, np.float32, spec.num_classes)
    lines.append(f"| {label} | {prof.cycles:,} | {prof.cycles / spec_lib.total_macs(spec):.2f} |")
  return "\n".join(lines)


def main(argv):
  del argv
  FLAGS.cmsis_nn_dir = cmsis_nn.third_party_dir(FLAGS.cmsis_nn_dir)
  cmsis_nn.check_dir(FLAGS.cmsis_nn_dir)
  results, text = {}, []
  with tempfile.TemporaryDirectory() as tmp:
    library = cmsis_nn.build_library(FLAGS.cmsis_nn_dir, os.path.join(tmp, "cmsis_nn"))
    for label, spec, variables in nets():
      results[label] = profile_net(spec, variables, os.path.join(tmp, spec.name), library)
      text.append(markdown(label, results[label]))
      if FLAGS.float:
        text.append(float_rows(spec, variables, os.path.join(tmp, spec.name)))
  print(f"CMSIS-NN {cmsis_nn.CMSIS_NN_COMMIT[:12]} from {FLAGS.cmsis_nn_dir}; int8, estimated "
        "cycles (compile/profile.py), one image; logit differences over "
        f"{FLAGS.images} images\n" + "\n".join(text))
  if FLAGS.json:
    with open(FLAGS.json, "w") as file:
      json.dump(results, file, indent=1)


if __name__ == "__main__":
  cli.run(main)
