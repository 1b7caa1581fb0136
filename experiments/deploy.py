r"""Deploys a trained run to the Apollo3: TVM compile (int8 + float), firmware for QEMU and the
SparkFun Edge, parity under QEMU, per-kernel profile in unicorn, deploy.md + deploy.json.

  .venv/bin/python -m experiments.deploy --config=configs/deploy.py --workdir=runs/main

--workdir is a training run, or a main job's directory (its summary.json names the chosen run);
output goes to <run>/deploy/ unless --output is given.
"""

import os

from absl import flags

from experiments import cli
from compile import deploy_report
from app import deploy
from smile_jax.cost import hardware

FLAGS = flags.FLAGS
cli.define_run_and_output_flags("configs/deploy.py", "Deploy configuration.", "deploy")


def main(argv):
  del argv
  run_dir, out_dir = cli.run_and_output_dirs("deploy")
  result = deploy.deploy_run(run_dir, out_dir, FLAGS.config)
  deploy_report.write(out_dir, result, FLAGS.config.energy,
                      hardware.get("apollo3-report").ops_per_second)
  for build in result["builds"]:
    print(
        f"{build['dtype']}: {build['cycles']:,} cycles ({build['cycles_per_mac']:.2f}/MAC), "
        f"{build['latency_ms_48mhz']:.1f} ms at 48 MHz, flash {build['linked_flash_bytes']:,} B, RAM "
        f"{build['linked_ram_bytes']:,} B, "
        f"parity {build['parity_max_abs_diff']:.3g}, test AUC {build['test_auc']:.4f}")
  print(f"report: {os.path.join(out_dir, 'deploy.md')}")


if __name__ == "__main__":
  cli.run(main)
