"""The Apollo3's flash behind its cache, as the Edge firmware configures them: a model for the
unicorn profile (compile/profile.py) of what instruction fetches and constant reads cost.

What the firmware sets (compile/firmware/sparkfun_edge/edge.c, ../shared/notes/
apollo3-sparkfun-edge.md sections 2.3-2.4): the 16 KB cache on for instructions and data in the
HAL's default geometry (CONFIG 8: one way, 1,024 lines of 128 bits), and FLASHCFG at the register
documentation's recommended read wait states (RD_WAIT 1) at 48 MHz, back to the reset value
(RD_WAIT 3) before TurboSPOT's 96 MHz, where no source says that 1 is enough.

What is modelled: every fetch and every load from flash looks its 16-byte line up in a
direct-mapped cache of 1,024 lines; a miss stalls the core for 1 + RD_WAIT cycles (one flash
read of the whole 128-bit line: an assumption, the documentation gives no figure). The profile
counts the second of two back-to-back inferences, as the robot's loop runs them (a warm cache).
Not modelled: the cache's line buffer, flash reads overlapping execution, the core's prefetch.
So the stall figure is an estimate; its inputs (miss counts) are exact for the cache described.
"""

from __future__ import annotations

import dataclasses

LINE_BYTES = 16
LINES = 1024
RD_WAIT_48MHZ = 1          # FLASHCFG as edge_core_init() leaves it
RD_WAIT_96MHZ = 3          # the reset value, restored by edge_burst_enable()


@dataclasses.dataclass(frozen=True)
class FlashCache:
  origin: int              # the flash's address range
  size: int
  rd_wait: int
  lines: int = LINES
  line_bytes: int = LINE_BYTES

  @classmethod
  def of_board(cls, board, rd_wait: int) -> "FlashCache":
    """The cache in front of a firmware.Board's flash, at `rd_wait` read wait states."""
    return cls(board.flash_origin, board.flash_capacity_bytes, rd_wait)

  @property
  def miss_cycles(self) -> int:
    return 1 + self.rd_wait

  def holds(self, address: int) -> bool:
    return self.origin <= address < self.origin + self.size


class Simulator:
  """The cache's tags; `fetch` and `read` return the stall cycles of one access."""

  def __init__(self, config: FlashCache):
    self.config = config
    self.tags = [-1] * config.lines
    self.code_misses = self.data_misses = 0

  def _access(self, first: int, last: int) -> int:
    misses = 0
    shift = self.config.line_bytes.bit_length() - 1
    for line in range(first >> shift, (last >> shift) + 1):
      index = line % self.config.lines
      if self.tags[index] != line:
        self.tags[index] = line
        misses += 1
    return misses

  def fetch(self, address: int, size: int) -> int:
    """A basic block of `size` bytes executed from `address`."""
    misses = self._access(address, address + size - 1) if self.config.holds(address) else 0
    self.code_misses += misses
    return misses * self.config.miss_cycles

  def read(self, address: int, size: int) -> int:
    misses = self._access(address, address + size - 1) if self.config.holds(address) else 0
    self.data_misses += misses
    return misses * self.config.miss_cycles

  def reset_counts(self) -> None:
    self.code_misses = self.data_misses = 0
