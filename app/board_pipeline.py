"""The robot's whole pipeline on a board: whole camera frames streamed to its firmware over the
serial protocol (FRAME_CHUNK, LOCATE), the faces it answers checked against the host reference.

    board_frames(pipeline, frames, names, port, out_dir, cfg) -> board.json content

`port` "qemu" builds the pipeline's UART firmware (compile/pipeline_firmware.py) and starts QEMU;
anything else is a serial port whose board must run the same pipeline (HELLO's hash). Each frame
the board answers is compared with compile/face_pipeline.py on the host: the same boxes and the
same int8 logits, or a mismatch named in board.json. Ctrl-C or a failing link ends the stream;
the report then covers the frames answered and says it is partial.
"""

from __future__ import annotations

import os

import numpy as np
from tqdm import tqdm

from app import board as board_app
from compile import board_link, pipeline_firmware
from smile_jax.data import camera_frames, face_map, images as images_lib
from smile_jax.io import jsonfile


def folder_frames(folder: str) -> tuple[np.ndarray, list[str]]:
  """Every usable image under `folder` as the camera frames it (camera_frames.sensor_frame)."""
  return images_lib.usable(folder, camera_frames.sensor_frame)


def _stream(client, frames, expected_hash: str):
  hello = client.hello(expected_hash=expected_hash)
  answers, stopped = [], None
  try:
    for frame in tqdm(frames, desc=f"on {client.link.name}", unit="frame", mininterval=1.0):
      answers.append(client.locate(frame, face_map.MAX_FACES, hello.classes, np.int32))
  except KeyboardInterrupt:
    stopped = "interrupted (Ctrl-C)"
  except (board_link.LinkError, RuntimeError) as e:
    stopped = str(e)
  return hello, answers, stopped


def board_frames(pipeline, frames: np.ndarray, names: list[str], port: str, out_dir: str,
                 cfg) -> dict:
  """Streams `frames` through the board's pipeline and writes out_dir/board.json."""
  os.makedirs(out_dir, exist_ok=True)
  frames = frames[:cfg.max_images] if cfg.max_images else frames
  fw = pipeline_firmware.build(pipeline, os.path.join(out_dir, "pipeline"))
  expected = pipeline_firmware.pipeline_hash(fw)
  if port == "qemu":
    link = board_link.QemuLink(pipeline_firmware.build_uart(fw, os.path.join(out_dir, "uart")).elf)
  else:   # the image the board must run (HELLO says whether it does): flash it first
    edge = pipeline_firmware.build_uart(fw, os.path.join(out_dir, "uart_edge"),
                                        board="sparkfun-edge-pipeline-uart")
    print(f"the board must run {edge.bin}: python -m experiments.flash --workdir=... "
          f"--image={edge.bin} --port={port}")
    link = board_link.SerialLink(port, cfg.baud)
  with link:
    hello, answers, stopped = _stream(board_link.BoardClient(link, cfg.timeout_s), frames,
                                      expected)
  host = pipeline.run(frames[:len(answers)]) if answers else []
  same = [a.boxes == h.boxes and np.array_equal(a.logits, h.logits) for a, h in zip(answers, host)]
  summary = {
      "port": port, "device": link.name, "model_hash": hello.model_hash, "firmware": hello.version,
      "pipeline": "device", "frames": int(len(frames)), "answered": len(answers),
      "partial": stopped is not None, "stopped": stopped,
      "host_reference_agreement": float(np.mean(same)) if same else None,
      "host_reference_mismatches": [str(names[i]) for i, ok in enumerate(same) if not ok],
      "faces_found": int(sum(bool(a.boxes) for a in answers)),
      **board_app.counters(answers, port),
      "outputs": [{"image": str(name), "faces": len(a.boxes), "boxes": [list(b) for b in a.boxes],
                   "logits": a.logits.tolist(), "counter": a.cycles,
                   "stack_bytes": a.stack_bytes} for name, a in zip(names, answers)],
  }
  jsonfile.dump(summary, os.path.join(out_dir, "board.json"), indent=1)
  with open(os.path.join(out_dir, "board.md"), "w") as file:
    file.write(markdown(summary))
  return summary


def markdown(summary: dict) -> str:
  agreement = summary["host_reference_agreement"]
  lines = [f"# Board run (the whole pipeline): {summary['device']}", "",
           f"Pipeline {summary['model_hash']} ({summary['firmware']}), {summary['answered']:,} of "
           f"{summary['frames']:,} camera frames answered"
           + (f"; **partial: {summary['stopped']}**" if summary["partial"] else "") + "; "
           f"{summary['faces_found']:,} with a face.", ""]
  if agreement is not None:
    lines += [f"Agreement with the host reference (boxes and int8 logits): {agreement:.1%} of "
              f"frames; mismatches: {len(summary['host_reference_mismatches'])}.", ""]
  if summary["answered"]:
    lines += [f"Per frame, {summary['counter']}: min {summary['counter_min']:,.0f}, median "
              f"{summary['counter_median']:,.0f}, max {summary['counter_max']:,.0f}; stack "
              f"{summary['stack_bytes_max']:,} B.", ""]
  return "\n".join(lines) + "\n"
