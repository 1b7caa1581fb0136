"""Where the SparkFun Edge firmware keeps a model's weights: in flash (read through the 16 KB
flash cache) or copied to SRAM at start-up (no flash reads; RAM pays their size).

`place(...)` builds the Edge firmware both ways (`-DSMILE_WEIGHTS_IN_SRAM`, see
compile/model_source.py), charges each for the flash misses of a warm inference at the wait
states the firmware sets for 48 and 96 MHz (compile/flash_cache.py), and keeps one by
`deploy.weights_in_sram`:

  never   flash.
  always  SRAM; an error when they do not fit.
  auto    SRAM when they fit, within `sram_room_bytes` when given (the RAM a robot grants the
          model, less its arena and stack: deploy.max_model_ram_bytes), and it saves stall
          cycles at 48 MHz; else flash.

The kept build is `<directory>/sparkfun_edge/` (what experiments.flash packs); the other stays
beside it as `sparkfun_edge_<flash|sram>/` so the trade can be looked at.
"""

from __future__ import annotations

import dataclasses
import os
import shutil

import numpy as np

from compile import firmware, flash_cache, profile

CHOICES = ("auto", "always", "never")
SRAM_FLAG = "-DSMILE_WEIGHTS_IN_SRAM"
BOARD = "sparkfun-edge"


def flags(in_sram: bool) -> list[str]:
  """The compiler flags of a placement, for every firmware built from the same model."""
  return [SRAM_FLAG] if in_sram else []


def flash_profile(elf: str, image: np.ndarray, logit_dtype, classes: int,
                  rd_wait: int) -> profile.Profile:
  """One warm inference of an Edge ELF with flash misses charged at `rd_wait` wait states."""
  cache = flash_cache.FlashCache.of_board(firmware.BOARDS[BOARD], rd_wait)
  return profile.profile_elf(elf, image, logit_dtype, classes, flash=cache)


def _measure(fw: firmware.Firmware, image, logit_dtype, classes) -> dict:
  # The misses do not depend on the wait states, only what each costs: one profile serves both.
  prof = flash_profile(fw.elf, image, logit_dtype, classes, flash_cache.RD_WAIT_48MHZ)
  misses = sum(prof.flash_misses)
  return {"edge_linked_flash_bytes": fw.linked_flash_bytes, "edge_linked_ram_bytes": fw.linked_ram_bytes,
          "flash_line_misses": {"code": prof.flash_misses[0], "data": prof.flash_misses[1]},
          "stall_cycles_48mhz": prof.stall_cycles,
          "stall_cycles_96mhz": misses * (1 + flash_cache.RD_WAIT_96MHZ)}


def place(directory: str, kernels_route: str, test_image: np.ndarray, test_logits: np.ndarray,
          test_tolerance: float, logit_dtype, classes: int, choice: str = "auto",
          sram_room_bytes: int | None = None) -> dict:
  """Builds and measures both placements; returns {"weights_in_sram": bool, "flash": {...},
  "sram": {...} | None, "sram_weights_bytes": the RAM the SRAM placement adds (weights, tables,
  their alignment) or None, "firmware": the kept Firmware}. Raises firmware.DoesNotFit when even
  the flash placement does not fit (or SRAM does not, under `always`)."""
  if choice not in CHOICES:
    raise ValueError(f"deploy.weights_in_sram must be one of {CHOICES}, got {choice!r}")
  built, rows = {}, {}
  for name in ("flash", "sram") if choice != "never" else ("flash",):
    try:
      built[name] = firmware.build(
          directory, BOARD, os.path.join(directory, f"sparkfun_edge_{name}"),
          kernels=kernels_route, test_image=test_image, test_logits=test_logits,
          test_tolerance=test_tolerance, extra_flags=flags(name == "sram"))
    except firmware.DoesNotFit as e:
      if name == "flash":
        raise
      if choice == "always":
        raise firmware.DoesNotFit(
            f"{e} With deploy.weights_in_sram=always the weights must fit in SRAM: set it to "
            "auto or never to keep them in flash.") from e
      continue
    rows[name] = _measure(built[name], test_image, logit_dtype, classes)
  grown = (rows["sram"]["edge_linked_ram_bytes"] - rows["flash"]["edge_linked_ram_bytes"] if "sram" in rows
           else None)
  room = sram_room_bytes is None or (grown is not None and grown <= sram_room_bytes)
  in_sram = "sram" in rows and (choice == "always" or (
      room and rows["sram"]["stall_cycles_48mhz"] < rows["flash"]["stall_cycles_48mhz"]))
  kept = "sram" if in_sram else "flash"
  final = os.path.join(directory, "sparkfun_edge")
  shutil.rmtree(final, ignore_errors=True)
  os.replace(os.path.join(directory, f"sparkfun_edge_{kept}"), final)
  fw = dataclasses.replace(built[kept], elf=os.path.join(final, "firmware.elf"),
                           bin=os.path.join(final, "firmware.bin"))
  return {"weights_in_sram": in_sram, "flash": rows["flash"], "sram": rows.get("sram"),
          "sram_weights_bytes": grown, "firmware": fw}
