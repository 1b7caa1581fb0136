"""The flash and its cache as the Edge firmware sets them (compile/flash_cache.py, edge.c) and
where the weights go (compile/weights_placement.py): misses counted exactly for a direct-mapped
16 KB cache, the wait states the firmware writes from SRAM, and both placements measured."""

import numpy as np
import pytest

from compile import camera_sim, firmware, flash_cache, profile
from compile import quantize, weights_placement
from smile_jax.models import zoo
from tests.test_deploy import compile_smlad, images_for

SPEC = zoo.compact().with_input_shape((32, 32, 1))     # 24.9 KB of int8 weights: > the cache
EDGE = firmware.BOARDS["sparkfun-edge"]


def cache(rd_wait=1):
  return flash_cache.Simulator(flash_cache.FlashCache(EDGE.flash_origin, EDGE.flash_capacity_bytes, rd_wait))


def test_a_direct_mapped_cache_of_16_byte_lines():
  sim = cache(rd_wait=1)
  assert sim.read(0xC000, 4) == 2 and sim.read(0xC004, 4) == 0      # one line, then a hit
  assert sim.fetch(0xC00E, 4) == 2 and sim.code_misses == 1          # straddles into line 2
  alias = 0xC000 + flash_cache.LINES * flash_cache.LINE_BYTES        # same index, 16 KB on
  assert [sim.read(a, 4) for a in (alias, 0xC000, alias)] == [2, 2, 2]
  assert sim.read(0x10000000, 4) == 0 and sim.fetch(0x10000000, 64) == 0   # SRAM: not cached
  assert (sim.code_misses, sim.data_misses) == (1, 4)
  assert cache(rd_wait=3).read(0xC000, 4) == 4


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
  directory = str(tmp_path_factory.mktemp("placement"))
  model, built = compile_smlad(SPEC, directory)
  image = images_for(SPEC, 1, seed=4)
  constants = [np.asarray(v).nbytes for v in built.program.constants.values()]
  return directory, image[0], quantize.run_int(model, image)[0], constants


def test_weights_in_sram_remove_the_flash_misses_at_their_size_in_ram(compiled):
  directory, image, logits, constants = compiled
  placed = weights_placement.place(directory, "llvm", image, logits, 0.0, np.int32, 2, "auto")
  flash, sram = placed["flash"], placed["sram"]
  assert flash["flash_line_misses"]["data"] > 0 and flash["stall_cycles_48mhz"] > 0
  assert flash["stall_cycles_96mhz"] > flash["stall_cycles_48mhz"]       # RD_WAIT 3 vs 1
  # What flash data is left: the code's literal pools (smile_model_run's addresses of the
  # weights), lines the code's own fetches can evict; the weights' 150+ lines are gone.
  assert sram["flash_line_misses"]["data"] <= 8 < flash["flash_line_misses"]["data"]
  assert sram["stall_cycles_48mhz"] < flash["stall_cycles_48mhz"]
  grown = sram["edge_linked_ram_bytes"] - flash["edge_linked_ram_bytes"]         # weights, tables, biases
  assert sum(constants) <= grown <= sum(constants) + 8 * len(constants)  # + their alignment
  assert placed["weights_in_sram"] and placed["firmware"].elf.endswith("sparkfun_edge/firmware.elf")
  assert placed["sram_weights_bytes"] == grown
  # A robot that grants the model less RAM than the weights take: they stay in flash.
  tight = weights_placement.place(directory, "llvm", image, logits, 0.0, np.int32, 2, "auto",
                                  sram_room_bytes=grown - 1)
  assert not tight["weights_in_sram"] and tight["sram"] == sram
  assert weights_placement.place(directory, "llvm", image, logits, 0.0, np.int32, 2, "auto",
                                 sram_room_bytes=grown)["weights_in_sram"]
  assert camera_sim.self_test(placed["firmware"].elf)                     # the kept build runs
  kept = weights_placement.place(directory, "llvm", image, logits, 0.0, np.int32, 2, "never")
  assert not kept["weights_in_sram"] and kept["sram"] is None
  with pytest.raises(ValueError, match="weights_in_sram must be one of"):
    weights_placement.place(directory, "llvm", image, logits, 0.0, np.int32, 2, "sometimes")


def test_the_stalls_are_charged_to_the_kernels_that_miss(compiled):
  directory, image, logits, _ = compiled
  fw = firmware.build(directory, "sparkfun-edge", f"{directory}/edge_check", test_image=image,
                      test_logits=logits)
  cold = profile.profile_elf(fw.elf, image, np.int32, 2)
  warm = weights_placement.flash_profile(fw.elf, image, np.int32, 2, rd_wait=1)
  assert warm.cycles == cold.cycles and cold.stall_cycles == 0      # the core's count unchanged
  np.testing.assert_array_equal(warm.logits, logits)
  assert warm.stall_cycles == 2 * sum(warm.flash_misses)
  assert sum(k.stall_cycles > 0 for k in warm.kernels) >= 2


def test_the_firmware_sets_the_wait_states_from_sram(compiled):
  directory, image, logits, _ = compiled
  fw = firmware.build(directory, "sparkfun-edge", f"{directory}/edge_boot", test_image=image,
                      test_logits=logits)
  symbols = profile.load_elf(fw.elf)[1]
  assert EDGE.ram_origin <= symbols.addresses["flash_config"] < EDGE.ram_origin + EDGE.ram_capacity_bytes
  board, hz = camera_sim.boot(fw.elf)
  assert hz == 48_000_000 and board.word(0x40018004) == 0x1751   # RD_WAIT 1, SEDELAY 5
  assert board.word(0x40018000) == 0x00100781                     # the cache on, I + D
  board, hz = camera_sim.boot(fw.elf, burst_acks=True)
  assert hz == 96_000_000 and board.word(0x40018004) == 0x0873   # the reset wait states


def test_weights_too_large_for_sram_stay_in_flash_unless_forced(tmp_path):
  spec = zoo.embedded()                  # 350 KB of int8 weights: not beside the frame buffer
  model, _ = compile_smlad(spec, str(tmp_path))
  image = images_for(spec, 1, seed=4)
  logits = quantize.run_int(model, image)[0]
  placed = weights_placement.place(str(tmp_path), "llvm", image[0], logits, 0.0, np.int32, 2)
  assert not placed["weights_in_sram"] and placed["sram"] is None
  assert placed["flash"]["stall_cycles_48mhz"] > 0
  with pytest.raises(firmware.DoesNotFit, match=r"RAM.*weights_in_sram=always.*auto or never"):
    weights_placement.place(str(tmp_path), "llvm", image[0], logits, 0.0, np.int32, 2, "always")
