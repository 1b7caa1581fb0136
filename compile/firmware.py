"""Firmware for the two boards from one set of model sources, built with arm-none-eabi-gcc.

  qemu-mps2-an386  Cortex-M4 in QEMU: images in, logits and SysTick ticks out via semihosting
                   (the test and measurement board; 4 MB + 4 MB, so float builds too big for
                   the Apollo3 can still be checked).
  sparkfun-edge    Apollo3 Blue at 0xC000 behind Ambiq's bootloader: clock and cache set-up, a
                   self-test on a compiled-in face, then HM01B0 camera frames through the model
                   to the smile LED pattern (flashable .bin; the driver is checked against a
                   simulated sensor in compile/camera_sim.py).

The model's kernels come either as TVM's C source (compiled here with gcc -O2) or as TVM's LLVM
Thumb-2 object; everything else is the same. Sizes are read from the ELF: flash = every section
loaded from flash (vectors, code, constants, the .data image), RAM = .data + .bss + stack.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess

import numpy as np
from elftools.elf.elffile import ELFFile

FIRMWARE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "firmware")
# A model directory's own hand loops, when its kernels call any (compile/dsp_asm.py).
OWN_LOOPS = "dsp_layers.S"
CFLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-O2",
          "-ffunction-sections", "-fdata-sections", "-Wall", "-Wno-unused-variable",
          "-Wno-unused-but-set-variable", "-fno-strict-aliasing"]
LDFLAGS = ["-nostartfiles", "--specs=nano.specs", "-Wl,--gc-sections", "-lm"]
INSTALL_HINT = ("install the Arm toolchain and QEMU: sudo apt-get install --no-install-recommends "
                "gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm (README, set-up)")


class ToolchainMissing(RuntimeError):
  pass


class DoesNotFit(RuntimeError):
  """The model does not fit the board's flash or RAM."""


@dataclasses.dataclass(frozen=True)
class Board:
  name: str
  directory: str
  sources: tuple
  flash_origin: int
  flash_capacity_bytes: int
  ram_origin: int
  ram_capacity_bytes: int
  stack_bytes: int = 16 * 1024
  common: tuple = ()          # sources of firmware/common/ besides startup.c


# firmware/common/'s sources of the robot's pipeline (compile/pipeline_firmware.py adds the
# locator's renamed model object and the face map's generated tables).
PIPELINE_SOURCES = ("frame_crop.c", "face_map.c", "face_pipeline.c")

BOARDS = {
    "qemu-mps2-an386": Board("qemu-mps2-an386", "qemu_mps2_an386", ("main.c",),
                             0x0, 4096 * 1024, 0x20000000, 4096 * 1024, common=("semihost.c",)),
    # The same machine serving the board protocol on its UART (compile/board_link.py).
    "qemu-mps2-an386-uart": Board("qemu-mps2-an386-uart", "qemu_mps2_an386", ("uart_main.c",),
                                  0x0, 4096 * 1024, 0x20000000, 4096 * 1024,
                                  common=("protocol.c",)),
    # The robot's whole pipeline (face locator, crops, smile net) on frames from input.bin.
    "qemu-mps2-an386-pipeline": Board("qemu-mps2-an386-pipeline", "qemu_mps2_an386",
                                      ("pipeline_main.c",), 0x0, 4096 * 1024, 0x20000000,
                                      4096 * 1024, common=("semihost.c",) + PIPELINE_SOURCES),
    # ... and serving the board protocol on its UART, whole frames in (FRAME_CHUNK, LOCATE).
    "qemu-mps2-an386-pipeline-uart": Board("qemu-mps2-an386-pipeline-uart", "qemu_mps2_an386",
                                           ("uart_main.c",), 0x0, 4096 * 1024, 0x20000000,
                                           4096 * 1024, common=("protocol.c",) + PIPELINE_SOURCES),
    "sparkfun-edge": Board("sparkfun-edge", "sparkfun_edge",
                           ("main.c", "edge.c", "hm01b0.c", "frame_scale.c", "test_frame.c"),
                           0xC000, 960 * 1024, 0x10000000, 384 * 1024),
    # The robot that finds the face itself: the whole pipeline on every camera frame.
    "sparkfun-edge-pipeline": Board("sparkfun-edge-pipeline", "sparkfun_edge",
                                    ("pipeline_main.c", "edge.c", "hm01b0.c"), 0xC000,
                                    960 * 1024, 0x10000000, 384 * 1024, common=PIPELINE_SOURCES),
    # The Edge serving the board protocol on UART0 (experiments.board --port=/dev/tty...).
    # The Edge serving the protocol with the robot's whole pipeline (board --pipeline=device).
    "sparkfun-edge-pipeline-uart": Board("sparkfun-edge-pipeline-uart", "sparkfun_edge",
                                         ("uart_main.c", "edge.c"), 0xC000, 960 * 1024,
                                         0x10000000, 384 * 1024,
                                         common=("protocol.c",) + PIPELINE_SOURCES),
    "sparkfun-edge-uart": Board("sparkfun-edge-uart", "sparkfun_edge", ("uart_main.c", "edge.c"),
                                0xC000, 960 * 1024, 0x10000000, 384 * 1024,
                                common=("protocol.c",)),
}


@dataclasses.dataclass(frozen=True)
class Firmware:
  board: Board
  elf: str
  bin: str
  linked_flash_bytes: int     # what the linked image takes, read from its ELF
  linked_ram_bytes: int
  sections: dict            # name -> (address, size)


def require_tool(name: str) -> str:
  path = shutil.which(name)
  if path is None:
    raise ToolchainMissing(f"{name} not found on PATH: {INSTALL_HINT}")
  return path


def check_toolchain(qemu: bool = True) -> None:
  """Clear error before any long work when a tool the deploy needs is missing."""
  for tool in ("arm-none-eabi-gcc", "arm-none-eabi-objcopy") + (("qemu-system-arm",) if qemu else
                                                                ()):
    require_tool(tool)


def test_frame_source(image: np.ndarray, logits: np.ndarray, tolerance: float) -> str:
  """test_frame.c: the self-test's input, the logits the host computed on it and how far the
  firmware's may be from them (absolute; 0: bit-exact)."""
  flat = np.asarray(image, np.uint8).reshape(-1)
  logits = np.asarray(logits).reshape(-1)
  exact = np.issubdtype(logits.dtype, np.integer)
  if exact and tolerance:
    raise ValueError("integer logits are checked bit-exact: tolerance must be 0")
  rows = [", ".join(str(int(v)) for v in flat[i:i + 32]) for i in range(0, flat.size, 32)]
  values = ", ".join(str(int(v)) if exact else f"{float(v)!r}f" for v in logits)
  return ("/* Generated: the self-test's frame (a test face) and the host's logits on it. */\n"
          '#include "model.h"\n'
          f"const uint8_t test_frame[{flat.size}] = {{\n  " + ",\n  ".join(rows) + "\n};\n"
          f"const smile_logit_t test_frame_logits[{logits.size}] = {{{values}}};\n"
          f"const float test_frame_tolerance = {float(tolerance)!r}f;\n")


def _sections(elf_path: str) -> dict:
  with open(elf_path, "rb") as file:
    elf = ELFFile(file)
    return {s.name: (s["sh_addr"], s["sh_size"]) for s in elf.iter_sections()
            if s["sh_flags"] & 0x2 and s["sh_size"] > 0}   # SHF_ALLOC


def sizes(sections: dict, board: Board) -> tuple[int, int]:
  flash = sum(size for name, (addr, size) in sections.items()
              if board.flash_origin <= addr < board.flash_origin + board.flash_capacity_bytes)
  flash += sections.get(".data", (0, 0))[1]       # its initial values are stored in flash
  ram = sum(size for name, (addr, size) in sections.items()
            if board.ram_origin <= addr < board.ram_origin + board.ram_capacity_bytes)
  return flash, ram


def _overflow_lines(stderr: str) -> str:
  return "; ".join(
      line.split(": ", 1)[-1] for line in stderr.splitlines() if "overflowed by" in line)


def build(model_dir: str, board_name: str, out_dir: str, kernels: str = "llvm",
          test_image: np.ndarray | None = None, test_logits: np.ndarray | None = None,
          test_tolerance: float = 0.0, extra_flags=(), libraries=()) -> Firmware:
  """Links model_dir/{model.c, model.h, kernels.c | kernels.o} into the board's firmware.
  `test_image`, `test_logits` and `test_tolerance` (the sparkfun-edge build): the self-test's
  input, what the model must output on it and how closely. `extra_flags` (-I, -D) and `libraries`
  (.a or .o files, generated .c sources) are for a model.c built on a library
  (compile/cmsis_nn.py) or beside a second model (compile/pipeline_firmware.py)."""
  board = BOARDS[board_name]
  check_toolchain(qemu=False)
  os.makedirs(out_dir, exist_ok=True)
  board_dir = os.path.join(FIRMWARE_DIR, board.directory)
  common = os.path.join(FIRMWARE_DIR, "common")
  sources = [os.path.join(common, name) for name in ("startup.c", *board.common)]
  sources.append(os.path.join(model_dir, "model.c"))
  for name in board.sources:
    if name == "test_frame.c":
      if test_image is None or test_logits is None:
        raise ValueError(f"the {board_name} build needs test_image and test_logits (the "
                         "self-test's face and the host's logits on it)")
      path = os.path.join(out_dir, name)
      with open(path, "w") as file:
        file.write(test_frame_source(test_image, test_logits, test_tolerance))
      sources.append(path)
    else:
      sources.append(os.path.join(board_dir, name))
  if kernels in ("llvm", "c"):
    # TVM's kernels and the hand-scheduled loop some of them call (compile/dsp/).
    sources += [os.path.join(model_dir, "kernels.o" if kernels == "llvm" else "kernels.c"),
                os.path.join(common, "smile_dsp.S")]
    own_loops = os.path.join(model_dir, OWN_LOOPS)
    if os.path.exists(own_loops):
      sources.append(own_loops)
  elif kernels != "none":   # "none": model.c is self-contained (compile/naive_c.py)
    raise ValueError(f"kernels must be 'llvm', 'c' or 'none', got {kernels!r}")
  elf = os.path.join(out_dir, "firmware.elf")
  cmd = [
      require_tool("arm-none-eabi-gcc"), *CFLAGS, *extra_flags, f"-I{model_dir}", f"-I{common}",
      f"-I{board_dir}", *sources, *libraries, f"-L{common}", "-T",
      os.path.join(board_dir, "link.ld"), f"-Wl,-Map={os.path.join(out_dir, 'firmware.map')}",
      *LDFLAGS, "-o", elf
  ]
  result = subprocess.run(cmd, capture_output=True, text=True)
  if result.returncode != 0:
    if "will not fit in region" in result.stderr or "overflowed by" in result.stderr:
      raise DoesNotFit(f"{board_name}: the model does not fit the board's memory "
                       f"({board.flash_capacity_bytes // 1024} KB flash, {board.ram_capacity_bytes // 1024} KB RAM): "
                       f"{_overflow_lines(result.stderr)}. Choose a smaller net "
                       "(search with max_flash_bytes / max_peak_ram_bytes) or the int8 build.")
    raise RuntimeError(f"firmware build failed for {board_name}:\n{' '.join(cmd)}\n{result.stderr}")
  binary = os.path.join(out_dir, "firmware.bin")
  subprocess.run([require_tool("arm-none-eabi-objcopy"), "-O", "binary", elf, binary], check=True)
  sections = _sections(elf)
  flash, ram = sizes(sections, board)
  return Firmware(board, elf, binary, flash, ram, sections)
