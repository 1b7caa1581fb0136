r"""Cycles per MAC on the Cortex-M4: TVM's kernels (SMLAD and scalar schedules, LLVM and C routes)
vs a naive C reference.

  .venv/bin/python -m benchmarks.deploy_cycles                       # the searched 1.34 M-MAC net
  shape
  .venv/bin/python -m benchmarks.deploy_cycles --workdir=runs/main   # a trained run (or main
  job's chosen)

Every build is linked into the same QEMU firmware with arm-none-eabi-gcc -O2 and profiled in
unicorn on the same image: executed instructions and estimated cycles (compile/profile.py),
int8 and float side by side. The naive reference is compile/naive_c.py: textbook loops with the
same arithmetic, so its outputs equal TVM's (bit for bit in int8), which this checks too.
Targets: int8 <= 1.5 cycles/MAC on the chosen net (issue 11; the SMLAD kernels of
compile/simd.py); the M4's limit is 0.5 (two 16-bit MACs a cycle).
"""

import os
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags

from experiments import cli
from compile import build, firmware, graph as graph_lib, naive_c, profile, quantize
from smile_jax.eval import predict
from smile_jax.models import net, spec as spec_lib, zoo

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None,
                    "Trained run or main job; default: random weights on the searched net.")


def _model():
  if FLAGS.workdir:
    predictor = predict.Predictor.from_run(predict.resolve_run_dir(FLAGS.workdir))
    return predictor.spec, predictor.variables
  spec = zoo.searched_alexnet()
  variables = net.build(spec).init(jax.random.key(0), jnp.zeros((1, 64, 64, 1)), train=False)
  return spec, variables


def main(argv):
  del argv
  spec, variables = _model()
  macs = spec_lib.total_macs(spec)
  images = np.random.default_rng(0).integers(0, 256, (16, *spec.input_shape), dtype=np.uint8)
  graph = graph_lib.from_spec(spec, variables)
  rows = []
  with tempfile.TemporaryDirectory() as tmp:
    for model in (quantize.quantize(graph, images), graph):
      built = build.compile_model(model, os.path.join(tmp, "tvm"))
      naive_dir = os.path.join(tmp, "naive")
      os.makedirs(naive_dir, exist_ok=True)
      header, source = naive_c.generate(model)
      for name, text in (("model.h", header), ("model.c", source)):
        with open(os.path.join(naive_dir, name), "w") as file:
          file.write(text)
      builds = [("TVM scalar, LLVM kernels", built.directory, "llvm"),
                ("TVM scalar, C kernels + gcc -O2", built.directory, "c"),
                ("naive C, gcc -O2", naive_dir, "none")]
      if built.dtype == "int8":
        dsp = build.compile_model(model, os.path.join(tmp, "dsp"), dsp=True)
        builds[:0] = [("TVM SMLAD, LLVM kernels", dsp.directory, "llvm"),
                      ("TVM SMLAD, C kernels + gcc -O2", dsp.directory, "c")]
      results = {}
      for label, directory, kernels in builds:
        fw = firmware.build(directory, "qemu-mps2-an386",
                            os.path.join(tmp, "fw_" + label.replace(" ", "_").replace(",", "")),
                            kernels=kernels)
        results[label] = profile.profile_elf(fw.elf, images[0], built.logit_dtype, spec.num_classes)
      outs = [r.logits for r in results.values()]
      same = all(np.array_equal(outs[0], o) for o in outs) if built.dtype == "int8" else \
          max(float(np.abs(outs[0] - o).max()) for o in outs)
      naive = results["naive C, gcc -O2"].cycles
      for label, prof in results.items():
        rows.append(
            f"| {built.dtype} | {label} | {prof.instructions:,} | {prof.instructions / macs:.2f} | "
            f"{prof.cycles:,} | {prof.cycles / macs:.2f} | {naive / prof.cycles:.2f}x | "
            f"{prof.cycles / 48e3:.1f} ms |"
        )
      print(f"{built.dtype}: outputs agree across builds: {same}")
  print(f"\n{spec.name}: {macs:,} MACs\n")
  print(
      "| dtype | build | instructions | instr/MAC | est. cycles | cycles/MAC | speed-up vs naive "
      "| latency @48 MHz |"
  )
  print("|---|---|--:|--:|--:|--:|--:|--:|")
  print("\n".join(rows))


if __name__ == "__main__":
  cli.run(main)
