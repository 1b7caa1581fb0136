"""Run the QEMU board's firmware on images and read back logits and SysTick ticks.

`qemu-system-arm -M mps2-an386` is a Cortex-M4; with `-icount shift=0` its virtual clock advances
one nanosecond per executed instruction, and SysTick counts the board's 25 MHz clock, so one tick
is 40 instructions: the firmware's tick count is an instruction count at 40-instruction
resolution, which `profile.py` cross-checks against unicorn's exact count.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import tempfile

import numpy as np

from compile import firmware as firmware_lib

INSTRUCTIONS_PER_TICK = 40      # 1 ns per instruction under -icount shift=0; SysTick at 25 MHz


@dataclasses.dataclass(frozen=True)
class QemuRun:
  logits: np.ndarray            # (N, classes), the firmware's output type
  ticks: np.ndarray             # (N,) SysTick ticks per inference
  stack_bytes: np.ndarray       # (N,) stack used below main's frame, measured by painting

  @property
  def instructions(self) -> np.ndarray:
    return self.ticks.astype(np.int64) * INSTRUCTIONS_PER_TICK


def run_records(elf: str, data: bytes, timeout_s: float = 600) -> np.ndarray:
  """A semihosting record firmware under QEMU (-icount: deterministic): `data` as its
  input.bin, its output.bin back as bytes (uint8)."""
  qemu = firmware_lib.require_tool("qemu-system-arm")
  with tempfile.TemporaryDirectory() as tmp:
    with open(os.path.join(tmp, "input.bin"), "wb") as file:
      file.write(data)
    cmd = [qemu, "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "none",
           "-semihosting-config", "enable=on,target=native", "-icount", "shift=0",
           "-kernel", os.path.abspath(elf)]
    result = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=timeout_s)
    if result.returncode != 0:
      raise RuntimeError(f"QEMU exited with {result.returncode}: {result.stdout}{result.stderr}")
    return np.fromfile(os.path.join(tmp, "output.bin"), np.uint8)


def run_qemu(fw: firmware_lib.Firmware | str,
             images: np.ndarray,
             logit_dtype,
             timeout_s: float = 600) -> QemuRun:
  """Runs images (N, H, W, C) uint8 through the firmware (or the ELF at that path) under QEMU."""
  elf = fw if isinstance(fw, str) else fw.elf
  images = np.ascontiguousarray(images, np.uint8)
  raw = run_records(elf, images.tobytes(), timeout_s)
  dtype = np.dtype(logit_dtype)
  record = raw.size // max(len(images), 1)
  classes = (record - 8) // dtype.itemsize     # logits, then ticks and stack bytes (uint32)
  if len(images) == 0 or raw.size != len(images) * (classes * dtype.itemsize + 8):
    raise RuntimeError(
        f"QEMU wrote {raw.size} bytes for {len(images)} images: the firmware stopped early")
  rows = raw.reshape(len(images), record)
  logits = rows[:, :classes * dtype.itemsize].copy().view(dtype).reshape(len(images), classes)
  counters = rows[:, classes * dtype.itemsize:].copy().view(np.uint32).reshape(len(images), 2)
  return QemuRun(logits, counters[:, 0], counters[:, 1])
