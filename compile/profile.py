"""Instruction and cycle counts of one inference, per kernel, by running the firmware ELF in
unicorn.

unicorn executes the same Thumb-2 + FPU code as QEMU. The ELF's sections are loaded as linked,
`smile_model_run(image, logits)` is called directly (no start-up, no semihosting) and a basic-block
hook counts every executed instruction exactly; each block is disassembled once (capstone) and
attributed to the kernel that was running (helpers such as memcpy count for their caller).

Cycles are an estimate from a per-instruction-class Cortex-M4 timing table, taken from the ARM
Cortex-M4 Processor Technical Reference Manual (ARM DDI 0439B), Table 3-1 "Cortex-M4 instruction
set summary" (integer, DSP, load/store, branch cycle counts) and Table 7-1 "FPU instruction set"
(floating point). Simplifications, all documented here: a taken branch costs 1 + P with pipeline
refill P = 2 (the TRM gives 1-3); a load or store directly after another load or store costs 1
(the TRM's pipelining of neighbouring single loads/stores), otherwise 2; SDIV/UDIV cost 7 (the
TRM's 2-12, data dependent); TBB/TBH 2 + P. Memory at zero wait states; with `flash=`, flash
misses are charged separately as stall cycles (compile/flash_cache.py).
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import re

import capstone
import numpy as np
import unicorn
from elftools.elf.elffile import ELFFile
from unicorn import arm_const

from compile import flash_cache

SCRATCH = 0x30000000  # I/O buffers and the return sentinel (outside 0x4000_0000+: XN space)
SCRATCH_BYTES = 1 << 20
STACK_BYTES = 64 * 1024
KERNEL = re.compile(r"^smile_\d\d_")

# Cycles per instruction class (ARM DDI 0439B, Tables 3-1 and 7-1).
_FIXED = {
    "mla": 2, "mls": 2, "sdiv": 7, "udiv": 7, "tbb": 2, "tbh": 2,
    "vmla": 3, "vmls": 3, "vnmla": 3, "vnmls": 3, "vfma": 3, "vfms": 3, "vfnma": 3, "vfnms": 3,
    "vdiv": 14, "vsqrt": 14,
}
_LOAD_STORE = ("ldr", "str", "vldr", "vstr")
_MULTIPLE = ("ldm", "stm", "push", "pop", "vldm", "vstm", "vpush", "vpop", "ldrd", "strd")
_BRANCH = ("b", "bl", "blx", "bx", "cbz", "cbnz", "tbb", "tbh")
PIPELINE_REFILL = 2


@dataclasses.dataclass(frozen=True)
class KernelProfile:
  name: str
  instructions: int
  cycles: int                 # the core's, every memory access at zero wait states
  stall_cycles: int = 0       # flash misses' stalls (compile/flash_cache.py), when modelled


@dataclasses.dataclass(frozen=True)
class Profile:
  kernels: tuple  # KernelProfile in first-run order ("glue": smile_model_run itself)
  logits: np.ndarray
  outputs: dict = dataclasses.field(default_factory=dict)   # watched kernel -> its output bytes
  flash_misses: tuple = (0, 0)     # (code, data) line misses of the warm inference

  @property
  def instructions(self) -> int:
    return sum(k.instructions for k in self.kernels)

  @property
  def cycles(self) -> int:
    return sum(k.cycles for k in self.kernels)

  @property
  def stall_cycles(self) -> int:
    return sum(k.stall_cycles for k in self.kernels)


def _base(mnemonic: str) -> str:
  mnem = mnemonic.split(".")[0]
  for suffix in ("eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt",
                 "gt", "le", "al"):
    if len(mnem) > len(suffix) + 1 and mnem.endswith(
        suffix) and mnem[:-len(suffix)] in _BRANCH + ("it",):
      return mnem[:-len(suffix)]
  return mnem


def _count_registers(op_str: str) -> int:
  inside = op_str[op_str.find("{") + 1:op_str.find("}")] if "{" in op_str else ""
  count = 0
  for part in filter(None, (p.strip() for p in inside.split(","))):
    if "-" in part:
      lo, hi = (int(re.sub(r"\D", "", x)) for x in part.split("-"))
      count += hi - lo + 1
    else:
      count += 1
  return max(count, 1)


def instruction_cycles(mnemonic: str, op_str: str, after_load_store: bool) -> int:
  """Cycles of one instruction, not counting a taken branch's refill (added per block)."""
  mnem = _base(mnemonic)
  if mnem.startswith(_MULTIPLE):
    return 1 + (2 if mnem in ("ldrd", "strd") else _count_registers(op_str))
  if mnem.startswith(_LOAD_STORE):
    return 1 if after_load_store else 2
  for prefix, cycles in _FIXED.items():
    if mnem.startswith(prefix):
      return cycles
  return 1


def _is_load_store(mnemonic: str) -> bool:
  mnem = _base(mnemonic)
  return mnem.startswith(_LOAD_STORE) and not mnem.startswith(_MULTIPLE)


@dataclasses.dataclass
class _Block:
  instructions: int
  cycles: int           # its first instruction not after a load or store
  ends_in_branch: bool
  end: int
  starts_with_load_store: bool = False
  ends_with_load_store: bool = False


class _Symbols:
  def __init__(self, elf: ELFFile):
    funcs = []
    for sym in elf.get_section_by_name(".symtab").iter_symbols():
      if sym["st_info"]["type"] == "STT_FUNC" and sym["st_size"] > 0:
        start = sym["st_value"] & ~1      # the Thumb bit
        funcs.append((start, start + sym["st_size"], sym.name))
    funcs.sort()
    self.starts = [f[0] for f in funcs]
    self.funcs = funcs
    self.addresses = {
        sym.name: sym["st_value"] for sym in elf.get_section_by_name(".symtab").iter_symbols()
    }

  def name_at(self, address: int) -> str:
    position = bisect.bisect_right(self.starts, address) - 1
    if position >= 0 and address < self.funcs[position][1]:
      return self.funcs[position][2]
    return "?"


def load_elf(elf_path: str) -> tuple[unicorn.Uc, _Symbols]:
  """A Cortex-M4 in unicorn with the ELF's loadable segments mapped and written, as linked."""
  uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS)
  uc.ctl_set_cpu_model(unicorn.arm_const.UC_CPU_ARM_CORTEX_M4)
  with open(elf_path, "rb") as file:
    elf = ELFFile(file)
    symbols = _Symbols(elf)
    mapped = []
    for seg in elf.iter_segments():
      if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
        continue
      lo = seg["p_vaddr"] & ~0xFFF
      hi = (seg["p_vaddr"] + seg["p_memsz"] + 0xFFF) & ~0xFFF
      for map_lo, map_hi in mapped:            # merge with an existing mapping
        lo, hi = (map_hi, hi) if map_lo <= lo < map_hi else (lo, hi)
      if hi > lo:
        uc.mem_map(lo, hi - lo)
        mapped.append((lo, hi))
      uc.mem_write(seg["p_vaddr"], seg.data() + bytes(seg["p_memsz"] - seg["p_filesz"]))
  return uc, symbols


def call_function(uc: unicorn.Uc, symbols: _Symbols, name: str, *args: int) -> int:
  """Calls the ELF's function `name` with integer `args` (AAPCS: four in registers, the rest on
  the stack, at the top of SCRATCH, which the caller has mapped) and returns r0."""
  address = symbols.addresses.get(name)
  if address is None:
    raise ValueError(f"the firmware has no {name}: not the build that defines it?")
  for register, value in zip((arm_const.UC_ARM_REG_R0, arm_const.UC_ARM_REG_R1,
                              arm_const.UC_ARM_REG_R2, arm_const.UC_ARM_REG_R3), args):
    uc.reg_write(register, value)
  stack = SCRATCH + SCRATCH_BYTES - 16
  extra = args[4:]
  for i, value in enumerate(extra):
    uc.mem_write(stack - 4 * len(extra) + 4 * i, int(value).to_bytes(4, "little"))
  uc.reg_write(arm_const.UC_ARM_REG_SP, stack - 4 * len(extra))
  uc.reg_write(arm_const.UC_ARM_REG_LR, SCRATCH | 1)
  uc.emu_start(address | 1, SCRATCH)
  return uc.reg_read(arm_const.UC_ARM_REG_R0)


def _decode_block(md, code: bytes, address: int, size: int) -> _Block:
  """A basic block's instructions and estimated cycles, and how it begins and ends."""
  count = cycles = 0
  after_ls = first_ls = False
  last = ""
  for ins in md.disasm(code, address):
    count += 1
    cycles += instruction_cycles(ins.mnemonic, ins.op_str, after_ls)
    after_ls = _is_load_store(ins.mnemonic)
    first_ls = first_ls or (count == 1 and after_ls)
    last = ins.mnemonic
  return _Block(count, cycles, _base(last) in _BRANCH or last.startswith("pop"), address + size,
                first_ls, after_ls)


def kernel_region(name: str) -> str | None:
  """A model's kernels count under their names, its smile_model_run as glue."""
  return name if KERNEL.match(name) else "glue" if name == "smile_model_run" else None


class Counter:
  """unicorn's hooks: per kernel, the instructions and estimated cycles of every block run (the
  flash cache's stalls when given one), and the watched kernels' output buffers on return."""

  def __init__(self, symbols: _Symbols, watch: dict | None = None, cache=None, region=None):
    """`region(name)`: what a function counts under when the run enters it (None: whatever was
    running); by default a model's kernels under their own names, smile_model_run as "glue"."""
    self.symbols, self.watch, self.cache = symbols, watch or {}, cache
    self.region = region or kernel_region
    self.md = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
    self.blocks: dict[int, _Block] = {}
    self.outputs = {}
    self.reset()

  def reset(self) -> None:
    self.counts = collections.OrderedDict()
    self.kernel, self.prev = "glue", None
    if self.cache is not None:
      self.cache.reset_counts()

  def total(self) -> tuple[int, int]:
    """(instructions, estimated cycles) counted since the last reset, all kernels together."""
    return (sum(v[0] for v in self.counts.values()), sum(v[1] for v in self.counts.values()))

  def on_block(self, uc_, address, size, _):
    block = self.blocks.get(address)
    if block is None:
      block = _decode_block(self.md, bytes(uc_.mem_read(address, size)), address, size)
      self.blocks[address] = block
    prev = self.prev
    if prev is not None and prev.ends_in_branch and address != prev.end:
      _add(self.counts, self.kernel, 0, PIPELINE_REFILL)
    elif (prev is not None and address == prev.end and prev.ends_with_load_store and
          block.starts_with_load_store):
      # Straight-line code the emulator split into blocks (at its 1 KB pages, say): the load
      # or store pipelines with the one before it, as anywhere else.
      _add(self.counts, self.kernel, 0, -1)
    name = self.symbols.name_at(address)
    running = self.region(name) or self.kernel
    if running != self.kernel and self.kernel in self.watch:
      symbol, offset, nbytes = self.watch[self.kernel]
      self.outputs[self.kernel] = bytes(
          uc_.mem_read(self.symbols.addresses[symbol] + offset, nbytes))
    self.kernel = running
    _add(self.counts, self.kernel, block.instructions, block.cycles)
    if self.cache is not None:
      _add(self.counts, self.kernel, 0, 0, self.cache.fetch(address, size))
    self.prev = block

  def on_read(self, uc_, access, address, size, value, _):
    _add(self.counts, self.kernel, 0, 0, self.cache.read(address, size))

  def attach(self, uc: unicorn.Uc) -> None:
    """Hooks the counter into `uc`: every block run and, with a cache, every read of its flash."""
    uc.hook_add(unicorn.UC_HOOK_BLOCK, self.on_block)
    if self.cache is not None:
      flash = self.cache.config
      uc.hook_add(unicorn.UC_HOOK_MEM_READ, self.on_read, begin=flash.origin,
                  end=flash.origin + flash.size - 1)


def profile_elf(elf_path: str, image: np.ndarray, logit_dtype, outputs: int,
                watch: dict | None = None,
                flash: flash_cache.FlashCache | None = None) -> Profile:
  """Runs one inference of the firmware's model in unicorn and counts it per kernel.

  `watch` maps kernel symbols to (symbol, offset, nbytes) of the buffer each writes: that buffer is
  read the moment the kernel returns (before a later kernel may reuse the memory) into
  `Profile.outputs`, so a wrong result can be traced to the kernel that first produced it.
  `flash`: the flash and its cache to charge misses for; the inference then runs twice and the
  second (warm cache) is counted.
  """
  uc, symbols = load_elf(elf_path)
  uc.mem_map(SCRATCH, SCRATCH_BYTES)
  image = np.ascontiguousarray(image, np.uint8).reshape(-1)
  in_addr, out_addr = SCRATCH + 0x1000, SCRATCH + 0x1000 + ((image.size + 0xFFF) & ~0xFFF)
  uc.mem_write(in_addr, image.tobytes())
  cache = flash_cache.Simulator(flash) if flash is not None else None
  counter = Counter(symbols, watch, cache)
  counter.attach(uc)
  entry = symbols.addresses.get("smile_model_run")
  if entry is None:
    raise ValueError(f"{elf_path} has no smile_model_run symbol")
  for _ in range(2 if cache is not None else 1):     # with a cache: warm it, then count
    counter.reset()
    uc.reg_write(arm_const.UC_ARM_REG_SP, SCRATCH + SCRATCH_BYTES - 16)
    uc.reg_write(arm_const.UC_ARM_REG_R0, in_addr)
    uc.reg_write(arm_const.UC_ARM_REG_R1, out_addr)
    uc.reg_write(arm_const.UC_ARM_REG_LR, SCRATCH | 1)
    uc.emu_start(entry | 1, SCRATCH)
  dtype = np.dtype(logit_dtype)
  logits = np.frombuffer(bytes(uc.mem_read(out_addr, outputs * dtype.itemsize)), dtype).copy()
  kernels = tuple(KernelProfile(k, *v) for k, v in counter.counts.items())
  misses = (cache.code_misses, cache.data_misses) if cache is not None else (0, 0)
  return Profile(kernels, logits, counter.outputs, misses)


def _add(counts, kernel, instructions, cycles, stall_cycles=0):
  total = counts.setdefault(kernel, [0, 0, 0])
  total[0] += instructions
  total[1] += cycles
  total[2] += stall_cycles
