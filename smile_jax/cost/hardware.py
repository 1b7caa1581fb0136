"""Hardware profiles: turn op counts into estimated latency and energy per inference.

  * `apollo3-report`: the report's own estimate (its section 1.2): 0.46 M ops/s on the Apollo3
    at 48 MHz (one float load-add-store per op, extrapolated from an Arduino measurement), so
    the Table 2 "Est. runtime" column is reproduced: 1.38 M ops -> 3.0 s.
  * `apollo3-measured`: cycles per layer fitted on compiled firmware profiled in emulation
    (`python -m experiments.calibrate`, see measured.py); absent, not faked, until that has run.

Energy uses the Apollo3's published active current (~6 uA/MHz at 3.3 V, Ambiq's datasheet).
"""

from __future__ import annotations

import dataclasses

from smile_jax.cost import measured
from smile_jax.cost.ops import ModelCost

APOLLO3_ACTIVE_A_PER_MHZ = 6e-6
APOLLO3_VOLTS = 3.3


@dataclasses.dataclass(frozen=True)
class HardwareProfile:
  name: str
  description: str
  clock_hz: float
  ops_per_second: float          # "ops" = MACs (see cost.ops)
  active_power_w: float

  def latency_s(self, cost: ModelCost) -> float:
    return cost.ops / self.ops_per_second

  def energy_j(self, cost: ModelCost) -> float:
    return self.latency_s(cost) * self.active_power_w


PROFILES = {
    "apollo3-report": HardwareProfile(
        "apollo3-report", "the report's estimate: 0.46 M ops/s at 48 MHz", 48e6, 0.46e6,
        APOLLO3_ACTIVE_A_PER_MHZ * 48 * APOLLO3_VOLTS),
}


def get(name: str):
  """A profile by name: a `HardwareProfile` (ops -> time) or the `measured.MeasuredProfile`."""
  if name == "apollo3-measured" and measured.load() is not None:
    return measured.load()
  if name not in PROFILES:
    hint = (" (it is fitted from emulator cycles by `python -m experiments.calibrate`, which has "
            "not been run here)" if name == "apollo3-measured" else "")
    raise KeyError(f"no hardware profile {name!r}{hint}; available: {sorted(PROFILES)}")
  return PROFILES[name]
