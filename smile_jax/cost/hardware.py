"""Hardware profiles: turn op counts into estimated latency and energy per inference.

  * `apollo3-report`: the report's own estimate (its section 1.2): 0.46 M ops/s on the Apollo3
    at 48 MHz (one float load-add-store per op, extrapolated from an Arduino measurement), so
    the Table 2 "Est. runtime" column is reproduced: 1.38 M ops -> 3.0 s.
  * `apollo3-emulated`: cycles per layer fitted on compiled firmware profiled in emulation
    (`python -m experiments.fit_latency`, see emulated.py); absent, not faked, until that has run.

Energy uses the Apollo3's published active current (~6 uA/MHz, Ambiq's datasheet) at the robot's
supply, a CR2032 coin cell (3.0 V nominal). These two constants are the only copies: the deploy
config's energy model reads them too.
"""

from __future__ import annotations

import dataclasses

from smile_jax.cost import emulated
from smile_jax.cost.ops import ModelCost

# Ambiq's "< 6 uA/MHz" (seen second-hand only; ../shared/notes/apollo3-sparkfun-edge.md, 5.3).
APOLLO3_ACTIVE_UA_PER_MHZ = 6.0
SUPPLY_VOLTS = 3.0   # a CR2032's nominal voltage, which powers the robot


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
        APOLLO3_ACTIVE_UA_PER_MHZ * 1e-6 * 48 * SUPPLY_VOLTS),
}


def get(name: str):
  """A profile by name: a `HardwareProfile` (ops -> time) or the `emulated.EmulatedProfile`."""
  if name == "apollo3-emulated" and emulated.load() is not None:
    return emulated.load()
  if name not in PROFILES:
    hint = (" (it is fitted from emulator cycles by `python -m experiments.fit_latency`, which has "
            "not been run here)" if name == "apollo3-emulated" else "")
    raise KeyError(f"no hardware profile {name!r}{hint}; available: {sorted(PROFILES)}")
  return PROFILES[name]
