"""The Edge camera firmware run against a simulated HM01B0 on a simulated Apollo3, in unicorn.

The SparkFun Edge firmware (compile/firmware/sparkfun_edge: hm01b0.c, frame_scale.c, main.c) is
loaded as linked and its functions are called directly. Around the core, the peripherals it
touches are modelled from their register descriptions (../shared/notes/apollo3-sparkfun-edge.md):

- GPIO: pad, CFG and ALTPADCFG registers that ignore writes while PADKEY is locked (as the chip
  does), the output latch (WTS/WTC), output enables (ENS/ENC) and the input register RDA;
- the sensor's I2C slave on pads 8/9, decoding the open-drain lines bit by bit (START, address,
  ACK, register pointer, data, repeated START, reads, STOP) and answering as the HM01B0 would;
- the sensor's parallel port: once streaming is started over I2C, the frame is served line by
  line on HSYNC (RDA pad 22), PCLK (RDA pad 23) and the fast-GPIO input register (the byte);
- CTIMER, clock, cache and power registers as plain memory, read back to decode the MCLK;
- the DWT cycle counter, advancing a fixed step per read, so busy waits end.

What this checks is the firmware's side of each protocol, exactly. What it cannot: the sensor's
real timing (the port serves the next pixel only once the firmware has read the last one: a
pixel loop too slow for the real PCLK passes here), analogue levels, and exposure.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import unicorn

from compile import firmware as firmware_lib
from compile import profile
from smile_jax.data import frame_crop

WIDTH, HEIGHT = 324, 244
ADDRESS = 0x24
MODEL_ID = 0x01B0
PAD_SCL, PAD_SDA, PAD_VSYNC, PAD_HSYNC, PAD_PCLK = 8, 9, 15, 22, 23
DATA_PADS = (24, 25, 26, 27, 28, 5, 6, 7)        # data bits 0..7: fast-GPIO bits pad & 7
REG_MODE_SELECT, STREAMING = 0x0100, (0x01, 0x03)
GPIO, APBDMA, DWT, SCB = 0x40010000, 0x40011000, 0xE0001000, 0xE000E000
CTIMER = 0x40008000
PLAIN = (0x40004000, CTIMER, 0x40018000, 0x40020000, 0x40021000)   # CLKGEN .. PWRCTRL
CYCLES_PER_READ = 20
SCRATCH, SCRATCH_BYTES = profile.SCRATCH, profile.SCRATCH_BYTES
SCRIPT_LINE = re.compile(r"\{0x([0-9A-Fa-f]{4}), 0x([0-9A-Fa-f]{2})\}")


def centre_square(frame: np.ndarray, out_h: int, out_w: int, channels: int = 1) -> np.ndarray:
  """frame_scale.c in numpy: the centre square, box-averaged (data/frame_crop.py)."""
  height, width = frame.shape
  out = frame_crop.box_average(frame, *frame_crop.centre_square(width, height), out_h, out_w)
  return np.repeat(out[:, :, None], channels, axis=2)


def register_script() -> list[tuple[int, int]]:
  """The (register, value) pairs hm01b0.c writes at start-up, read from its source."""
  with open(f"{firmware_lib.FIRMWARE_DIR}/sparkfun_edge/hm01b0.c") as file:
    return [(int(r, 16), int(v, 16)) for r, v in SCRIPT_LINE.findall(file.read())]


class I2CSensor:
  """The HM01B0's I2C slave: 7-bit address, 16-bit register pointer, auto-increment."""

  def __init__(self, address: int = ADDRESS, model_id: int = MODEL_ID, on_write=None):
    self.address = address
    self.registers = {0x0000: model_id >> 8, 0x0001: model_id & 0xFF}
    self.writes, self.reads = [], []
    self.on_write = on_write or (lambda reg, value: None)
    self.scl = self.master_sda = self.out = 1          # open drain: 1 = released
    self.state, self.next_state, self.count, self.bits = "idle", "idle", 0, 0
    self.pointer, self.index, self.byte, self.master_ack = 0, 0, 0, False

  @property
  def sda(self) -> int:
    return self.master_sda & self.out

  def lines(self, scl: int, master_sda: int) -> None:
    """The master's latch changed: decode what the bus did."""
    old_scl, old_sda = self.scl, self.sda
    self.scl, self.master_sda = scl, master_sda
    if old_scl and scl and old_sda != self.sda:
      self.out = 1
      self.state, self.count, self.bits = ("address" if not self.sda else "idle"), 0, 0
    elif not old_scl and scl:
      self._rising()
    elif old_scl and not scl:
      self._falling()

  def _rising(self) -> None:
    if self.state in ("address", "write") and self.count < 8:
      self.bits = (self.bits << 1) | self.sda
    if self.state != "idle":
      self.count += 1
      if self.state == "read" and self.count == 9:
        self.master_ack = not self.sda

  def _falling(self) -> None:
    if self.state in ("address", "write"):
      if self.count == 8:                           # a whole byte: ACK it or not
        ack, self.next_state = self._take(self.bits)
        self.out = 0 if ack else 1
      elif self.count == 9:
        self.out, self.count, self.bits, self.state = 1, 0, 0, self.next_state
        if self.state == "read":
          self._load()
    elif self.state == "read":
      if self.count < 8:
        self.out = (self.byte >> (7 - self.count)) & 1
      elif self.count == 8:
        self.out = 1                               # the master's ACK or NACK
      elif self.master_ack:
        self.pointer += 1
        self._load()
      else:
        self.state, self.out = "idle", 1

  def _take(self, byte: int) -> tuple[bool, str]:
    """A whole byte was clocked in: (ACK it, the state after its ACK clock)."""
    if self.state == "address":
      if byte >> 1 != self.address:
        return False, "idle"
      self.index = 0
      return True, "read" if byte & 1 else "write"
    if self.index < 2:
      self.pointer = self.pointer | byte if self.index else byte << 8
    else:
      self.registers[self.pointer] = byte
      self.writes.append((self.pointer, byte))
      self.on_write(self.pointer, byte)
      self.pointer += 1
    self.index += 1
    return True, "write"

  def _load(self) -> None:
    self.byte = self.registers.get(self.pointer, 0)
    self.reads.append((self.pointer, self.byte))
    self.count = 0
    self.out = (self.byte >> 7) & 1


class PixelPort:
  """The sensor's parallel port, paced by the reader: PCLK rises on a new pixel, falls once the
  firmware has read the byte and looked at PCLK again; HSYNC drops for a few reads between lines."""
  BLANK_READS = 3

  def __init__(self, frame: np.ndarray, lines: int = HEIGHT):
    self.frame, self.lines = frame, lines      # lines < HEIGHT: the sensor stops mid-frame
    self.streaming = False
    self.line = self.x = self.blank = 0
    self.available = self.taken = False
    self.reads_without_pclk = 0

  def start(self) -> None:
    self.streaming, self.line, self.blank = True, 0, self.BLANK_READS

  def rda_bits(self) -> int:
    if not self.streaming or self.line >= self.lines:
      return 0
    if self.blank:
      self.blank -= 1
      if not self.blank:
        self.x, self.available, self.taken = 0, True, False
      return 1 << PAD_VSYNC
    bits = (1 << PAD_VSYNC) | (1 << PAD_HSYNC) | (self.available << PAD_PCLK)
    if self.taken:                          # PCLK seen low after the read: the next pixel
      self.x, self.taken, self.available = self.x + 1, False, True
      if self.x == WIDTH:
        self.line, self.available, self.blank = self.line + 1, False, self.BLANK_READS
    return bits

  def byte(self) -> int:
    if not self.available:
      self.reads_without_pclk += 1
      return 0
    self.available, self.taken = False, True
    return int(self.frame[self.line, self.x])


class Apollo3:
  """GPIO, fast-GPIO input and DWT of the Apollo3 around the sensor; the rest plain memory."""

  def __init__(self, uc: unicorn.Uc, sensor: I2CSensor, port: PixelPort,
               cycles_per_read: int = CYCLES_PER_READ):
    self.uc, self.sensor, self.port = uc, sensor, port
    self.gpio: dict[int, int] = {}
    self.cycles, self.cycles_per_read = 0, cycles_per_read
    self.locked_writes = 0
    uc.mmio_map(GPIO, 0x1000, self._gpio_read, None, self._gpio_write, None)
    uc.mmio_map(APBDMA, 0x1000, self._apbdma_read, None, lambda *a: None, None)
    uc.mmio_map(DWT, 0x1000, self._dwt_read, None, self._dwt_write, None)
    uc.mem_map(SCB, 0x1000)
    for base in PLAIN:
      uc.mem_map(base, 0x1000)

  def pad_field(self, kind: str, pad: int) -> int:
    """A pad's PADREG byte, CFG nibble or ALTPADCFG byte as last written under PADKEY."""
    base, per_reg, bits = {"padreg": (0x00, 4, 8), "cfg": (0x40, 8, 4),
                           "altpad": (0xE0, 4, 8)}[kind]
    word = self.gpio.get(base + 4 * (pad // per_reg), 0)
    return (word >> ((pad % per_reg) * bits)) & ((1 << bits) - 1)

  def bit(self, offset: int, pad: int) -> int:
    return (self.gpio.get(offset + 4 * (pad >= 32), 0) >> (pad % 32)) & 1

  def _gpio_read(self, uc, offset, size, data):
    if offset == 0x80:                      # RDA
      latch = self.gpio.get(0x88, 0)
      value = latch & ~((1 << PAD_SCL) | (1 << PAD_SDA))
      value |= (self.sensor.scl << PAD_SCL) | (self.sensor.sda << PAD_SDA)
      return value | self.port.rda_bits()
    return self.gpio.get(offset, 0)

  def _gpio_write(self, uc, offset, size, value, data):
    keyed = offset < 0x60 or 0xE0 <= offset < 0x118      # PADREG, CFG, ALTPADCFG
    if keyed and self.gpio.get(0x60, 0) != 0x73:
      self.locked_writes += 1
      return
    set_clear = {0x90: (0x88, 1), 0x94: (0x8C, 1), 0x98: (0x88, 0), 0x9C: (0x8C, 0),
                 0xA8: (0xA0, 1), 0xAC: (0xA4, 1), 0xB4: (0xA0, 0), 0xB8: (0xA4, 0)}
    if offset in set_clear:
      target, on = set_clear[offset]
      old = self.gpio.get(target, 0)
      self.gpio[target] = old | value if on else old & ~value
    else:
      self.gpio[offset] = value
    latch = self.gpio.get(0x88, 0)
    self.sensor.lines((latch >> PAD_SCL) & 1, (latch >> PAD_SDA) & 1)

  def _apbdma_read(self, uc, offset, size, data):
    return self.port.byte() if offset == 0x08 else 0

  def _dwt_read(self, uc, offset, size, data):
    if offset == 0x04:
      self.cycles += self.cycles_per_read
      return self.cycles & 0xFFFFFFFF
    return 0

  def _dwt_write(self, uc, offset, size, value, data):
    if offset == 0x04:
      self.cycles = value

  def word(self, address: int) -> int:
    return int.from_bytes(self.uc.mem_read(address, 4), "little")

  def mclk_hz(self) -> float:
    """The clock CTIMER 0 segment B drives out, decoded from its registers (pattern mode only):
    0 when it is not running or not routed to pad 13 (CTX2)."""
    ctrl, cmpr, aux = (self.word(CTIMER + o) for o in (0x0C, 0x08, 0x1C))
    enabled, clock, function, clear = ((ctrl >> 16) & 1, (ctrl >> 17) & 0x1F, (ctrl >> 22) & 7,
                                        (ctrl >> 27) & 1)
    routed = ((self.word(CTIMER + 0x104) >> 6) & 7 == 2 and not (self.gpio.get(0x118, 0) >> 2) & 1
              and (self.pad_field("padreg", 13) >> 3) & 7 == 2)
    if not (enabled and not clear and function == 5 and routed):
      return 0.0
    tick_hz = {1: 12e6, 2: 3e6, 3: 187.5e3}[clock]
    length = ((aux >> 16) & 0x3F) + 1
    pattern = [(cmpr >> i) & 1 for i in range(length)]
    edges = sum(pattern[i] != pattern[i - 1] for i in range(length))   # around the loop
    return tick_hz * edges / (2 * length)


@dataclasses.dataclass(frozen=True)
class CameraRun:
  init_status: int
  capture_status: int | None
  frame: np.ndarray | None          # what camera_capture stored (HEIGHT, WIDTH)
  writes: list                      # (register, value) the sensor received, in order
  reads: list
  board: Apollo3
  port: PixelPort


def _firmware(elf_path: str):
  uc, symbols = profile.load_elf(elf_path)
  uc.mem_map(SCRATCH, SCRATCH_BYTES)
  return uc, symbols


def boot(elf_path: str, burst_acks: bool = False) -> tuple[Apollo3, int]:
  """edge_core_init() then edge_burst_enable(): the registers they leave, and the core clock the
  latter returns. `burst_acks`: the part allows TurboSPOT and acknowledges every request."""
  uc, symbols = _firmware(elf_path)
  board = Apollo3(uc, I2CSensor(), PixelPort(np.zeros((HEIGHT, WIDTH), np.uint8)))
  if burst_acks:
    for address, value in ((0x40020014, 1), (0x40020018, 0x60), (0x40004034, 0x6)):
      uc.mem_write(address, value.to_bytes(4, "little"))   # SKU, FEATUREENABLE, FREQCTRL
  profile.call_function(uc, symbols, "edge_core_init")
  return board, profile.call_function(uc, symbols, "edge_burst_enable")


def run_camera(elf_path: str, frame: np.ndarray, sensor: I2CSensor | None = None,
               lines: int = HEIGHT, cycles_per_read: int = CYCLES_PER_READ) -> CameraRun:
  """camera_init(), then (when it succeeds) camera_capture() of `frame` (HEIGHT, WIDTH) uint8, of
  which the sensor sends `lines` lines. A larger `cycles_per_read` makes the DWT run faster, so
  that a timeout of a second is reached in fewer emulated reads."""
  uc, symbols = _firmware(elf_path)
  port = PixelPort(np.asarray(frame, np.uint8), lines)
  sensor = sensor or I2CSensor()
  sensor.on_write = lambda reg, value: port.start() if (
      reg == REG_MODE_SELECT and value in STREAMING) else None
  board = Apollo3(uc, sensor, port, cycles_per_read)
  status = profile.call_function(uc, symbols, "camera_init")
  captured, capture_status = None, None
  if status == 0:
    buffer = SCRATCH + 0x1000
    capture_status = profile.call_function(uc, symbols, "camera_capture", buffer)
    captured = np.frombuffer(bytes(uc.mem_read(buffer, WIDTH * HEIGHT)),
                             np.uint8).reshape(HEIGHT, WIDTH)
  return CameraRun(status, capture_status, captured, sensor.writes, sensor.reads, board, port)


def scale_on_firmware(elf_path: str, frame: np.ndarray, out_h: int, out_w: int,
                      channels: int = 1) -> np.ndarray:
  """frame_centre_square() of the firmware on `frame` (any height x width)."""
  uc, symbols = _firmware(elf_path)
  frame = np.ascontiguousarray(frame, np.uint8)
  source, target = SCRATCH + 0x1000, SCRATCH + 0x40000
  uc.mem_write(source, frame.tobytes())
  profile.call_function(uc, symbols, "frame_centre_square", source, frame.shape[1],
                        frame.shape[0], target, out_h, out_w, channels)
  size = out_h * out_w * channels
  return np.frombuffer(bytes(uc.mem_read(target, size)), np.uint8).reshape(out_h, out_w, channels)


def self_test(elf_path: str) -> bool:
  """main.c's boot self-test (the compiled-in face against the host's logits), run in unicorn."""
  uc, symbols = _firmware(elf_path)
  return bool(profile.call_function(uc, symbols, "self_test"))
