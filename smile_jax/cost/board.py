"""What a net costs on the SparkFun Edge, from its spec alone: the figures the search constrains
and the front shows (int8 build, 48 MHz).

  * MACs, the report's unit (cost/ops.py);
  * flash: an ESTIMATE of the int8 firmware's flash: the weights (one byte each, biases folded
    in), the requantize tables (an int32 multiplier and an int64 offset per output channel of
    every conv, depthwise conv, dense, batch norm and average pool), and the code. The code size
    is a constant plus a per-kernel share, read off five compiled nets (RESULTS.md):
    their code and start-up took 12.1-21.6 KB against 17-23 KB estimated, so the estimate errs
    high, as a limit should;
  * peak RAM: the largest input + output activation pair live at once (int8), as the arena is
    planned (compile/model_source.py), without the stack;
  * latency: the apollo3-emulated profile's estimate (None until `experiments.fit_latency` has
    fitted it).
"""

from __future__ import annotations

import dataclasses

from smile_jax.cost import emulated, ops
from smile_jax.models import spec as spec_lib

CODE_BASE_BYTES = 8 * 1024           # start-up, the run function, the C library's memcpy/memset
CODE_BYTES_PER_KERNEL = 1536
REQUANT_BYTES_PER_CHANNEL = 4 + 8    # int32 multiplier + int64 offset
_REQUANTIZED = (spec_lib.Conv, spec_lib.DepthwiseConv, spec_lib.Dense, spec_lib.BatchNorm,
                spec_lib.AvgPool, spec_lib.GlobalAvgPool)


@dataclasses.dataclass(frozen=True)
class BoardCost:
  macs: int
  est_flash_bytes: int              # estimate (module docstring)
  peak_ram_bytes: int
  latency_ms: float | None          # estimate at 48 MHz; None without the emulated profile

  def to_dict(self) -> dict:
    return {"macs": self.macs, "est_flash_bytes": self.est_flash_bytes,
            "peak_ram_bytes": self.peak_ram_bytes, "est_latency_ms_48mhz": self.latency_ms}


def estimated_flash_bytes(spec: spec_lib.ModelSpec) -> int:
  shapes = spec_lib.infer_shapes(spec)
  channels = sum(shape[-1] for layer, shape in zip(spec.layers, shapes)
                 if isinstance(layer, _REQUANTIZED))
  kernels = len(emulated.kernel_groups(spec))
  return (ops.folded_params(spec) + REQUANT_BYTES_PER_CHANNEL * channels + CODE_BASE_BYTES
          + CODE_BYTES_PER_KERNEL * kernels)


def estimated_latency_ms(spec: spec_lib.ModelSpec) -> float | None:
  """int8 latency at 48 MHz by the apollo3-emulated profile (None until it is fitted)."""
  profile = emulated.load()
  return None if profile is None else 1e3 * profile.latency_s(spec, "int8")


def board_cost(spec: spec_lib.ModelSpec) -> BoardCost:
  """From the spec's arithmetic alone (no trace: the search prices hundreds of specs); its MACs,
  parameters and activations equal the jaxpr counter's (tests/test_cost.py)."""
  return BoardCost(spec_lib.total_macs(spec), estimated_flash_bytes(spec),
                   ops.peak_activation_elements(spec), estimated_latency_ms(spec))
