"""What a searched net must fit: the op budget and the board's limits, and the report's cut-off.

Quality cut-off (report section 4.1): beta = 0.5 + keep x (AUC0 - 0.5), AUC0 the baseline's val
AUC. A candidate is *feasible* when it meets every constraint that is set: MACs <= budget (the
report's 1.38 M "ops"), and the board's estimated latency, flash and peak activation RAM
(smile_jax/cost/board.py).
"""

from __future__ import annotations

import dataclasses

from smile_jax.cost import board, ops as ops_lib
from smile_jax.models import spec as spec_lib


def quality_cutoff(baseline_auc: float, keep: float) -> float:
  return 0.5 + keep * (baseline_auc - 0.5)


@dataclasses.dataclass(frozen=True)
class Constraints:
  budget_macs: int
  max_peak_ram_bytes: int = 0       # 0 = unconstrained
  max_flash_bytes: int = 0          # against the estimated int8 flash (board.estimated_flash_bytes)
  max_latency_ms: float = 0.0       # 0 = unconstrained; else by the apollo3-emulated profile
  # The profile's estimate is raised by this fraction before it meets max_latency_ms, so a net it
  # under-predicts still ships within the limit once compiled (configs/search.py).
  latency_margin: float = 0.0

  @classmethod
  def from_config(cls, search_config) -> Constraints:
    return cls(search_config.budget_macs, search_config.max_peak_ram_bytes,
               search_config.max_flash_bytes, search_config.max_latency_ms,
               search_config.latency_margin)

  def violations(self, cost: ops_lib.ModelCost, spec: spec_lib.ModelSpec) -> list[str]:
    """Why a net does not fit the constraints (empty when it does)."""
    out = []
    if self.max_latency_ms:
      latency = board.estimated_latency_ms(spec)
      if latency is None:
        raise KeyError(
            "max_latency_ms needs the apollo3-emulated profile: run `python -m "
            "experiments.fit_latency`"
        )
      if latency * (1 + self.latency_margin) > self.max_latency_ms:
        margin = f" (+{self.latency_margin:.0%} margin)" if self.latency_margin else ""
        out.append(f"est. latency {latency:.1f} ms{margin} > {self.max_latency_ms:.1f} ms")
    if cost.macs > self.budget_macs:
      out.append(f"MACs {cost.macs:,} > {self.budget_macs:,}")
    ram = cost.peak_activation_bytes("int8")
    if self.max_peak_ram_bytes and ram > self.max_peak_ram_bytes:
      out.append(f"peak RAM {ram:,} B > {self.max_peak_ram_bytes:,} B")
    flash = board.estimated_flash_bytes(spec)
    if self.max_flash_bytes and flash > self.max_flash_bytes:
      out.append(f"est. flash {flash:,} B > {self.max_flash_bytes:,} B")
    return out

  def overshoot(self, spec: spec_lib.ModelSpec) -> float:
    """How far past its tightest limit a net is: the largest of cost / limit over MACs and the
    limits that are set (estimated latency, flash, peak RAM; cost/board.py); below 1 it fits."""
    costs = board.board_cost(spec)
    ratios = [costs.macs / self.budget_macs]
    latency = None if costs.latency_ms is None else costs.latency_ms * (1 + self.latency_margin)
    for value, limit in ((latency, self.max_latency_ms),
                         (costs.est_flash_bytes, self.max_flash_bytes),
                         (costs.peak_ram_bytes, self.max_peak_ram_bytes)):
      if limit and value is not None:
        ratios.append(value / limit)
    return max(ratios)
