"""The deployment report: per-layer cost on the Cortex-M4, totals, memory, energy and battery life.

Energy model (parameters in configs/deploy.py, each with its source there): the Apollo3 draws
`active_ua_per_mhz` x f while computing and `sleep_ua` otherwise; the camera draws `camera_mw`
whenever the robot is watching (always, at any inference rate); a CR2032 holds `battery_mah` at
`supply_volts`. One inference takes cycles / f seconds. At r inferences per second:
  energy per inference = V * I_active * t
  average current      = I_sleep + r * t * (I_active - I_sleep) + P_camera / V
  battery life         = capacity / average current
"""

from __future__ import annotations

import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class Power:
  inference_uj: float
  average_ua: float
  battery_hours: float


def power(cycles: int, mhz: float, energy_cfg, camera: bool = True) -> Power:
  seconds = cycles / (mhz * 1e6)
  active_ua = energy_cfg.active_ua_per_mhz * mhz
  inference_uj = energy_cfg.supply_volts * active_ua * seconds
  rate = energy_cfg.inferences_per_s
  camera_ua = energy_cfg.camera_mw * 1e3 / energy_cfg.supply_volts if camera else 0.0
  duty = min(rate * seconds, 1.0)
  average_ua = energy_cfg.sleep_ua + duty * (active_ua - energy_cfg.sleep_ua) + camera_ua
  return Power(inference_uj, average_ua, energy_cfg.battery_mah * 1e3 / average_ua)


def _kb(nbytes: int) -> str:
  return f"{nbytes / 1024:,.1f} KB"


# Said in every report: what the estimates do not model, and what no board has checked yet.
LEFT_OUT = [
    "- Flash: the misses of a warm inference are counted exactly for the cache the firmware sets "
    "(16 KB, one way, 16-byte lines, instructions and data; FLASHCFG RD_WAIT 1 at 48 MHz, 3 at "
    "96 MHz), but what a miss costs (1 + RD_WAIT cycles a line) is an assumption, and the cache's "
    "line buffer, the core's prefetch and fills overlapping execution are not modelled "
    "(compile/flash_cache.py).",
    "- Interrupts, the camera's frame capture and LED time: only the inference is counted.",
    "- Energy: a model from the clock and datasheet-style currents (configs/deploy.py), not a "
    "measurement.",
    "- Not yet run on a SparkFun Edge: the firmware images, the serial-protocol firmware "
    "(`sparkfun-edge-uart`, linked and size-checked here) and `experiments.flash` (tested against "
    "a simulated bootloader). The HM01B0 driver of the camera image is tested against a simulated "
    "sensor (compile/camera_sim.py: the I2C register script, MCLK, pads, whole frames, the crop "
    "and downscale); untested until a board: whether its polled pixel loop keeps up with the real "
    "PCLK (it runs at 96 MHz where the part allows, as TFLM's Edge example does), the sensor's "
    "exposure settling, its orientation and the TurboSPOT switch.",
]


def firmware_lines(builds: list[dict]) -> list[str]:
  """What the firmware measured of itself: RAM (arena, its lower bound, the painted stack), the
  int8 AUC over the test split under QEMU, and the same net on CMSIS-NN (compile/cmsis_nn.py)."""
  lines = []
  for build in builds:
    if build.get("stack_bytes_measured") is not None:
      lines.append(
          f"RAM of the {build['dtype']} build: activation arena {build['arena_bytes']:,} B "
          f"(lower bound, the largest set of tensors live at once: "
          f"{build['arena_lower_bound_bytes']:,} B); stack measured by painting under QEMU: "
          f"{build['stack_bytes_measured']:,} B at most over {build['parity_images']:,} images "
          "(the RAM column reserves the board's whole stack).")
    if build.get("firmware_test_auc") is not None:
      lines.append(
          f"Test AUC from the {build['dtype']} firmware's own outputs under QEMU, over all "
          f"{build['parity_images']:,} test images: {build['firmware_test_auc']:.4f} ("
          + ", ".join(f"{name} {auc:.4f}"
                      for name, auc in build["firmware_test_auc_by_dataset"].items()) + ").")
    if build.get("model_ram_bytes") is not None:
      limit = build.get("max_model_ram_bytes")
      lines.append(
          f"RAM the {build['dtype']} model takes on the Edge: {_kb(build['model_ram_bytes'])} "
          f"(arena + measured stack{' + weights in SRAM' if build['weights_in_sram'] else ''})"
          + (f"; limit (deploy.max_model_ram_bytes) {_kb(limit)}"
             f"{'' if build['model_ram_bytes'] <= limit else ', over it'}." if limit else "."))
    placements = build.get("weights_placements") or {}
    if placements.get("flash") and placements.get("sram"):
      flash, sram = placements["flash"], placements["sram"]
      lines.append(
          f"Weights of the {build['dtype']} Edge build: in "
          f"{'SRAM' if build['weights_in_sram'] else 'flash'} (deploy.weights_in_sram). In flash: "
          f"{flash['flash_line_misses']['code']:,} code + "
          f"{flash['flash_line_misses']['data']:,} data line misses a warm inference, "
          f"est. {flash['stall_cycles_48mhz']:,} stall cycles at 48 MHz "
          f"({flash['stall_cycles_96mhz']:,} at 96); in SRAM: "
          f"{sram['flash_line_misses']['code']:,} + "
          f"{sram['flash_line_misses']['data']:,}, {sram['stall_cycles_48mhz']:,} "
          f"({sram['stall_cycles_96mhz']:,}), for "
          f"{_kb(sram['edge_linked_ram_bytes'] - flash['edge_linked_ram_bytes'])} more RAM.")
    if build.get("cmsis_nn_cycles_per_mac") is not None:
      lines.append(
          f"The same {build['dtype']} net on CMSIS-NN (TFLite Micro's kernels, same emulator): "
          f"{build['cmsis_nn_cycles_per_mac']:.2f} est. cycles/MAC against "
          f"{build['cycles_per_mac']:.2f} here "
          f"({build['cmsis_nn_cycles_per_mac'] / build['cycles_per_mac']:.2f}x).")
  return lines


def _builds_table(builds) -> list[str]:
  lines = [
      "Compiled with TVM (Relax -> fused TIR -> "
      f"{'LLVM Thumb-2 object' if builds[0]['kernels'] == 'llvm' else 'C, gcc -O2'}; with the "
      "SMLAD kernels, the inner loops of int8 convs and hidden dense layers are hand-scheduled "
      "assembly they call: compile/firmware/common/smile_dsp.S and the model's own dsp_layers.S, "
      "compile/dsp/asm.py), linked with arm-none-eabi-gcc, "
      "run under QEMU `mps2-an386` (parity) and unicorn (counts). Cycles are an estimate from "
      "the Cortex-M4 TRM's instruction timings (compile/profile.py) at zero wait states, plus "
      "(in brackets) the stalls of the Edge build's flash-cache misses at 48 MHz "
      "(compile/flash_cache.py); the latencies include the stalls at each clock's wait states.",
      "",
      "| build | MACs | instructions | est. cycles | cycles/MAC | latency @48 MHz | @96 MHz | "
      "flash (linked) | RAM (arena) | fits Edge | parity | test AUC |",
      "|---|--:|--:|--:|--:|--:|--:|--:|--:|:-:|--:|--:|"
  ]
  for build in builds:
    parity = (f"{build['parity_max_abs_diff']:.0f} (bit-exact)" if build["dtype"] == "int8" and
              build["parity_max_abs_diff"] == 0 else f"{build['parity_max_abs_diff']:.2e}")
    lines.append(
        f"| {build['dtype']} | {build['macs']:,} | {build['instructions']:,} | "
        f"{build['cycles']:,} (+{build['stall_cycles_48mhz']:,}) | "
        f"{build['cycles_per_mac']:.2f} | "
        f"{build['latency_ms_48mhz']:.1f} ms | {build['latency_ms_96mhz']:.1f} ms | "
        f"{_kb(build['linked_flash_bytes'])} | "
        f"{_kb(build['linked_ram_bytes'])} ({_kb(build['arena_bytes'])}) | "
        f"{'yes' if build['fits_sparkfun_edge'] else 'no'} | "
        f"{parity} | {build['test_auc']:.4f} |")
  return lines


def _comparisons(builds, report_ops_per_s: float, report_macs_estimate: float) -> list[str]:
  est_s = report_macs_estimate / report_ops_per_s
  return [
      "", f"The report's estimate for this net ({report_macs_estimate:,.0f} ops at "
      f"{report_ops_per_s / 1e6:.2f} M ops/s): **{est_s * 1e3:,.0f} ms**; estimated from the "
      "emulated firmware (48 MHz): " +
      ", ".join(f"**{build['latency_ms_48mhz']:.1f} ms** ({build['dtype']})" for build in builds) +
      ".",
      f"Float test AUC (JAX): {builds[0]['float_test_auc']:.4f}; AUC change from quantization: " +
      ", ".join(f"{build['test_auc'] - build['float_test_auc']:+.4f} ({build['dtype']})"
                for build in builds) + ".",
      "Test AUC per dataset (the test AUC above is their mean): " + "; ".join(
          f"{build['dtype']}: " + ", ".join(
              f"{name} {auc:.4f}" for name, auc in build.get("test_auc_by_dataset", {}).items())
          for build in builds) + ".",
      *firmware_lines(builds),
      "QEMU instruction count (SysTick x 40 under -icount): " + ", ".join(
          f"{build['qemu_instructions']:,} vs unicorn {build['instructions']:,} ({build['dtype']})"
          for build in builds) + "."]


def _layer_tables(builds) -> list[str]:
  lines = ["", "### Per layer", ""]
  for build in builds:
    lines += [
        f"{build['dtype']}:", "",
        "| kernel | layer | MACs | instructions | est. cycles | cycles/MAC |",
        "|---|---|--:|--:|--:|--:|"
    ]
    for row in build["layers"]:
      cpm = f"{row['cycles_per_mac']:.2f}" if row["cycles_per_mac"] else ""
      lines.append(
          f"| `{row['kernel']}` | {row['layer']} | {row['macs']:,} | {row['instructions']:,} | "
          f"{row['cycles']:,} | {cpm} |"
      )
    lines.append("")
  return lines


def _energy_table(builds, energy_cfg) -> list[str]:
  lines = [
      "### Energy and battery life", "",
      f"Apollo3 at {energy_cfg.active_ua_per_mhz} uA/MHz active, {energy_cfg.sleep_ua} uA asleep, "
      "camera "
      f"{energy_cfg.camera_mw} mW, {energy_cfg.battery_mah} mAh CR2032 at "
      f"{energy_cfg.supply_volts} V, "
      f"{energy_cfg.inferences_per_s} inference(s) per second (sources: configs/deploy.py). With a "
      "current proportional to the clock, 96 MHz halves the time at the same energy; what "
      "TurboSPOT "
      "burst mode costs beyond that is not modelled (no published figure was found).", "",
      "| build | clock | energy / inference | average current | battery life | without camera |",
      "|---|--:|--:|--:|--:|--:|"
  ]
  for build in builds:
    for mhz in (48, 96):
      cycles = build["cycles"] + build[f"stall_cycles_{mhz}mhz"]
      with_camera = power(cycles, mhz, energy_cfg)
      no_cam = power(cycles, mhz, energy_cfg, camera=False)
      lines.append(
          f"| {build['dtype']} | {mhz} MHz | {with_camera.inference_uj:.1f} uJ | "
          f"{with_camera.average_ua:,.0f} uA | "
          f"{with_camera.battery_hours / 24:.1f} days | {no_cam.battery_hours / 24:.0f} days |")
  return lines


def markdown(result: dict, energy_cfg, report_ops_per_s: float,
             report_macs_estimate: float) -> tuple[str, str]:
  """(heading, body) of the deployment section; the body's sub-sections are `###`."""
  builds = result["builds"]
  lines = (_builds_table(builds) + _comparisons(builds, report_ops_per_s, report_macs_estimate)
           + _layer_tables(builds) + _energy_table(builds, energy_cfg)
           + ["", "### What these numbers leave out", "", *LEFT_OUT])
  return f"Deployment: `{result['model']}` on the Apollo3 Cortex-M4F", "\n".join(lines)


def write(out_dir: str, result: dict, energy_cfg, report_ops_per_s: float) -> tuple[str, str]:
  """Writes out_dir/deploy.md; returns its (heading, body) for a larger report to include."""
  heading, body = markdown(result, energy_cfg, report_ops_per_s, result["builds"][0]["macs"])
  with open(os.path.join(out_dir, "deploy.md"), "w") as file:
    file.write(f"## {heading}\n\n{body}\n")
  return heading, body
