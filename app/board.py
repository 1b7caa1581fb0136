"""Profiling runs on a board: a deployed run's int8 firmware answering over the serial protocol
(compile/serial_protocol.py) on QEMU or on the SparkFun Edge, fed the run's test split (or a
folder of photos through the same face crop as `experiments.predict`); AUC, accuracy, latency and
stack come from the device's own answers.

    board_run(run_dir, deploy_dir, port, out_dir, cfg, images_dir=None) -> board.json content

`port` "qemu" builds the run's UART firmware (`qemu-mps2-an386-uart`) and starts QEMU; anything
else is a serial port. The board must run the run's model (HELLO's hash), else nothing is sent.
Ctrl-C (or a link that fails mid-way) stops the stream: the report then covers the images
answered so far and says it is partial.
"""

from __future__ import annotations

import os

import numpy as np
from tqdm import tqdm

from compile import board_link
from smile_jax.io import jsonfile
from smile_jax.data import faces, images as images_lib
from smile_jax.eval import calibration, metrics, predict

MHZ = 48.0


def deploy_dir_of(workdir: str) -> str:
  """Where a workdir's deployment is: a main job's deploy/, else its run's deploy/."""
  job_deploy = os.path.join(workdir, "deploy")
  if os.path.exists(os.path.join(job_deploy, "deploy.json")):
    return job_deploy
  return os.path.join(predict.resolve_run_dir(workdir), "deploy")


def deployed_int8(deploy_dir: str) -> dict:
  """The int8 build in a deploy.json (experiments.deploy or the main job writes it)."""
  path = os.path.join(deploy_dir, "deploy.json")
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path} not found: deploy the run first (python -m "
                            "experiments.deploy --workdir=RUN)")
  builds = [b for b in jsonfile.load(path)["builds"] if b["dtype"] == "int8"]
  if not builds:
    raise ValueError(f"{path} has no int8 build: deploy with --config.dtypes includes int8")
  return builds[0]


def folder_crops(folder: str, size: int) -> tuple[np.ndarray, list[str]]:
  """Face crops of every usable image under `folder` (unreadable files skipped, as predict
  does), and their paths."""
  crops, paths = images_lib.usable(folder, lambda image: faces.crop_face(image, size).image)
  return crops[..., None], paths


def open_link(port: str, build: dict, out_dir: str, cfg):
  if port == "qemu":
    fw = board_link.build_uart_firmware(build["directory"], os.path.join(out_dir, "qemu_uart"),
                                        build["kernels"],
                                        weights_in_sram=build["weights_in_sram"])
    return board_link.QemuLink(fw.elf)
  return board_link.SerialLink(port, cfg.baud)


def _inputs(run_dir: str, images_dir: str | None, max_images: int):
  """(images, names, labels, domains): the run's test split, or a folder's face crops
  (no labels)."""
  if images_dir:
    spec_shape = tuple(jsonfile.load(os.path.join(run_dir, "spec.json"))["input_shape"])
    images, names = folder_crops(images_dir, spec_shape[0])
    labels = domains = None
  else:
    _, _, _, data = predict.load_run(run_dir)
    images, labels, domains = data.test.images, data.test.labels, data.test.domain
    names = list(data.test.keys)
  return (images[:max_images] if max_images else images), names, labels, domains


def _stream(link, images, cfg, build):
  """(hello, results, why it stopped early or None): every image through the board."""
  results, stopped = [], None
  board = board_link.BoardClient(link, cfg.timeout_s)
  hello = board.hello(expected_hash=board_link.model_hash(build["directory"]))
  try:
    for image in tqdm(images, desc=f"on {link.name}", unit="img", mininterval=1.0):
      results.append(board.infer(image, hello.classes, np.int32))
  except KeyboardInterrupt:
    stopped = "interrupted (Ctrl-C)"
  except (board_link.LinkError, RuntimeError) as e:
    stopped = str(e)
  return hello, results, stopped


def counters(results, port: str) -> dict:
  """The per-inference counter (and stack) over `results`, as board.json gives them."""
  answered = len(results)
  cycles = np.array([r.cycles for r in results], np.float64)
  return {
      "counter": "instructions (QEMU -icount)" if port == "qemu" else "cycles (DWT)",
      "counter_min": float(cycles.min()) if answered else None,
      "counter_median": float(np.median(cycles)) if answered else None,
      "counter_max": float(cycles.max()) if answered else None,
      # QEMU counts instructions, not cycles: no latency of its own there.
      "latency_ms_48mhz_median": (float(np.median(cycles)) / (MHZ * 1e3)
                                  if answered and port != "qemu" else None),
      "stack_bytes_max": int(max(r.stack_bytes for r in results)) if answered else None,
  }


def board_run(run_dir: str, deploy_dir: str, port: str, out_dir: str, cfg,
              images_dir: str | None = None) -> dict:
  """Streams images through the board and writes out_dir/board.json; returns its content."""
  build = deployed_int8(deploy_dir)
  os.makedirs(out_dir, exist_ok=True)
  images, names, labels, domains = _inputs(run_dir, images_dir, cfg.max_images)
  with open_link(port, build, out_dir, cfg) as link:
    hello, results, stopped = _stream(link, images, cfg, build)
  answered = len(results)
  scale = np.asarray(build["logit_scale"], np.float64)
  logits = np.array([r.logits for r in results], np.float64).reshape(answered, -1) * scale
  margins = logits[:, 1] - logits[:, 0] if answered else np.zeros(0)
  threshold = calibration.logit(predict.val_threshold(run_dir))
  summary = {
      "run_dir": run_dir, "port": port, "device": link.name, "model_hash": hello.model_hash,
      "firmware": hello.version, "images": int(len(images)), "answered": answered,
      "partial": stopped is not None, "stopped": stopped, **counters(results, port),
      "linked_ram_bytes": build["linked_ram_bytes"], "arena_bytes": build["arena_bytes"],
      "estimated_instructions": build["instructions"],
      # the core's estimate plus the flash misses' stalls: what the DWT counts on the Edge
      "estimated_cycles": build["cycles"] + build["stall_cycles_48mhz"],
      "estimated_latency_ms_48mhz": build["latency_ms_48mhz"],
  }
  if labels is not None and answered and len(set(labels[:answered].tolist())) == 2:
    summary |= {
        "test_auc": metrics.mean_group_auc(labels[:answered], margins, domains[:answered]),
        "test_auc_by_dataset": metrics.auc_by_group(labels[:answered], margins,
                                                    domains[:answered]),
        "accuracy": float(np.mean((margins > threshold) == (labels[:answered] == 1))),
    }
  summary["outputs"] = [{"image": str(name), "logits": r.logits.tolist(), "counter": r.cycles,
                         "stack_bytes": r.stack_bytes} for name, r in zip(names, results)]
  jsonfile.dump(summary, os.path.join(out_dir, "board.json"), indent=1)
  with open(os.path.join(out_dir, "board.md"), "w") as file:
    file.write(markdown(summary))
  return summary


def markdown(summary: dict) -> str:
  lines = [f"# Board run: {summary['device']}", "",
           f"Model {summary['model_hash']} ({summary['firmware']}), {summary['answered']:,} of "
           f"{summary['images']:,} images answered"
           + (f"; **partial: {summary['stopped']}**" if summary["partial"] else "") + ".", ""]
  if summary.get("test_auc") is not None:
    lines += [f"Test AUC from the device's outputs: {summary['test_auc']:.4f} ("
              + ", ".join(f"{k} {v:.4f}" for k, v in summary["test_auc_by_dataset"].items())
              + f"); accuracy at the validation threshold {summary['accuracy']:.4f}.", ""]
  if summary["answered"]:
    lines += [
        f"| {summary['counter']} | min | median | max | estimate (unicorn) |",
        "|---|--:|--:|--:|--:|",
        f"| per image | {summary['counter_min']:,.0f} | {summary['counter_median']:,.0f} | "
        f"{summary['counter_max']:,.0f} | {summary['estimated_instructions']:,} instructions, "
        f"{summary['estimated_cycles']:,} est. cycles |", "",
        (f"Latency at 48 MHz: {summary['latency_ms_48mhz_median']:.1f} ms measured (median), "
         f"{summary['estimated_latency_ms_48mhz']:.1f} ms estimated."
         if summary["latency_ms_48mhz_median"] is not None else
         "QEMU counts instructions, not cycles: the latency is the estimate's, "
         f"{summary['estimated_latency_ms_48mhz']:.1f} ms at 48 MHz.")
        + f" Stack used (painted): {summary['stack_bytes_max']:,} B; RAM "
        f"{summary['linked_ram_bytes']:,} B (arena {summary['arena_bytes']:,} B).", ""]
  return "\n".join(lines) + "\n"
