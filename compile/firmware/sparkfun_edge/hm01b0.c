/* HM01B0 camera driver for the SparkFun Edge, bare registers, no SDK: DVDD power on pad 10, a
   6 MHz MCLK from CTIMER 0 segment B in pattern mode on pad 13, the register script over I2C
   bit-banged on pads 8 (SCL) and 9 (SDA) with the pads' 1.5 kOhm pull-ups, and frames read from
   the 8-bit parallel port: HSYNC and PCLK polled in GPIO RDA, the byte in one read of the fast-GPIO
   input register (data pads 24-28, 5-7 are its bits 0-7). Pads and registers:
   ../shared/notes/apollo3-sparkfun-edge.md sections 3.2 and 4. Compiles and links for the Edge
   and runs against a simulated sensor (compile/camera_sim.py); not yet run on a board. */
#include "hm01b0.h"
#include "edge.h"

#define PAD_SCL 8u
#define PAD_SDA 9u
#define PAD_DVDD 10u
#define PAD_TRIG 12u
#define PAD_MCLK 13u
#define PAD_VSYNC 15u
#define PAD_HSYNC 22u
#define PAD_PCLK 23u
static const uint8_t data_pads[8] = {24, 25, 26, 27, 28, 5, 6, 7};

#define GPIO_RDA 0x40010080u
#define GPIO_WTSA 0x40010090u
#define GPIO_WTCA 0x40010098u
#define GPIO_ENSA 0x400100A8u
#define GPIO_ENCA 0x400100B4u
#define GPIO_CTENCFG 0x40010118u
#define APBDMA_BBSETCLEAR 0x40011004u
#define APBDMA_BBINPUT 0x40011008u
/* CTIMER 0: CMPRB0 (compare 0 | compare 1 << 16: the pattern), CTRL0 (segment B in bits
   31:16: EN 16, CLK 21:17, FN 24:22, CLR 27), AUX0 (TMRB0LMT 21:16: pattern length - 1). */
#define CTIMER_CMPRB0 0x40008008u
#define CTIMER_CTRL0 0x4000800Cu
#define CTIMER_AUX0 0x4000801Cu
#define CTIMER_GLOBEN 0x40008100u
#define CTIMER_OUTCFG0 0x40008104u

#define PAD_I2C 0x1Fu          /* GPIO, input on, 12 mA, pull-up (bits 7:6 = 0: 1.5 kOhm) */
#define PAD_CT2 0x14u          /* FNCSEL 2 = CT2 (pad 13), 12 mA */

#define REG_MODEL_ID_H 0x0000u
#define REG_MODEL_ID_L 0x0001u
#define REG_MODE_SELECT 0x0100u
#define REG_GRP_PARAM_HOLD 0x0104u
#define REG_FRAME_COUNT 0x3020u
#define MODE_STREAMING_NFRAMES 0x03u

/* The sensor's set-up for 324 x 244 8-bit frames (register, value), in order. */
static const uint16_t script[][2] = {
    {0x0103, 0x00}, {0x0100, 0x00}, {0x1003, 0x08}, {0x1007, 0x08}, {0x3044, 0x0A},
    {0x3045, 0x00}, {0x3047, 0x0A}, {0x3050, 0xC0}, {0x3051, 0x42}, {0x3052, 0x50},
    {0x3053, 0x00}, {0x3054, 0x03}, {0x3055, 0xF7}, {0x3056, 0xF8}, {0x3057, 0x29},
    {0x3058, 0x1F}, {0x3059, 0x1E}, {0x3064, 0x00}, {0x3065, 0x04}, {0x1000, 0x43},
    {0x1001, 0x40}, {0x1002, 0x32}, {0x0350, 0x7F}, {0x1006, 0x01}, {0x1008, 0x00},
    {0x1009, 0xA0}, {0x100A, 0x60}, {0x100B, 0x90}, {0x100C, 0x40}, {0x3022, 0x01},
    {0x1012, 0x01}, {0x2000, 0x07}, {0x2003, 0x00}, {0x2004, 0x1C}, {0x2007, 0x00},
    {0x2008, 0x58}, {0x200B, 0x00}, {0x200C, 0x7A}, {0x200F, 0x00}, {0x2010, 0xB8},
    {0x2013, 0x00}, {0x2014, 0x58}, {0x2017, 0x00}, {0x2018, 0x9B}, {0x2100, 0x01},
    {0x2104, 0x07}, {0x2105, 0x0C}, {0x2106, 0x78}, {0x2108, 0x03}, {0x2109, 0x03},
    {0x210B, 0x80}, {0x210F, 0x00}, {0x2110, 0x85}, {0x2111, 0x00}, {0x2112, 0xA0},
    {0x2150, 0x03}, {0x0340, 0x0C}, {0x0341, 0x7A}, {0x0342, 0x01}, {0x0343, 0x77},
    {0x3010, 0x01}, {0x0383, 0x01}, {0x0387, 0x01}, {0x0390, 0x00}, {0x3011, 0x70},
    {0x3059, 0x02}, {0x3060, 0x20}, {0x0101, 0x01}, {0x0104, 0x01}, {0x0100, 0x00},
};

/* ---- I2C, bit-banged: open-drain pads, so writing 1 releases a line and the pull-up raises it */

#define I2C_HZ 100000u

static inline void release(uint32_t pad) { REG(GPIO_WTSA) = 1u << pad; }
static inline void pull_low(uint32_t pad) { REG(GPIO_WTCA) = 1u << pad; }
static inline uint32_t level(uint32_t pad) { return (REG(GPIO_RDA) >> pad) & 1u; }
static void half_bit(void) { edge_delay_cycles(edge_core_hz / (2u * I2C_HZ)); }

/* Releases SCL and waits while the sensor holds it low (clock stretching), at most 1 ms. */
static int scl_high(void) {
  uint32_t start = edge_cycles();
  release(PAD_SCL);
  while (!level(PAD_SCL)) {
    if (edge_cycles() - start > edge_core_hz / 1000u) return -1;
  }
  return 0;
}

static void i2c_start(void) {        /* also a repeated start: SCL is low between bytes */
  release(PAD_SDA);
  half_bit();
  scl_high();
  half_bit();
  pull_low(PAD_SDA);
  half_bit();
  pull_low(PAD_SCL);
}

static void i2c_stop(void) {
  pull_low(PAD_SDA);
  half_bit();
  scl_high();
  half_bit();
  release(PAD_SDA);
  half_bit();
}

/* Clocks out a byte, MSB first; returns 1 when the sensor acknowledged it. */
static int i2c_write_byte(uint32_t byte) {
  for (int bit = 7; bit >= 0; bit--) {
    if ((byte >> bit) & 1u) release(PAD_SDA); else pull_low(PAD_SDA);
    half_bit();
    if (scl_high()) return 0;
    half_bit();
    pull_low(PAD_SCL);
  }
  release(PAD_SDA);
  half_bit();
  if (scl_high()) return 0;
  int ack = !level(PAD_SDA);
  half_bit();
  pull_low(PAD_SCL);
  return ack;
}

/* Clocks in a byte and answers NACK: the driver reads one register at a time. */
static uint32_t i2c_read_byte(void) {
  uint32_t byte = 0;
  release(PAD_SDA);
  for (int bit = 0; bit < 8; bit++) {
    half_bit();
    scl_high();
    byte = (byte << 1) | level(PAD_SDA);
    half_bit();
    pull_low(PAD_SCL);
  }
  half_bit();                          /* the NACK: SDA stays released for the ninth clock */
  scl_high();
  half_bit();
  pull_low(PAD_SCL);
  return byte;
}

static int send_address(uint32_t reg, int read) {
  i2c_start();
  if (!i2c_write_byte(HM01B0_I2C_ADDRESS << 1) || !i2c_write_byte(reg >> 8) ||
      !i2c_write_byte(reg & 0xFFu))
    return 0;
  if (read) {
    i2c_start();
    return i2c_write_byte((HM01B0_I2C_ADDRESS << 1) | 1u);
  }
  return 1;
}

static int write_reg(uint32_t reg, uint32_t value) {
  int ok = send_address(reg, 0) && i2c_write_byte(value);
  i2c_stop();
  return ok ? CAMERA_OK : CAMERA_NO_ACK;
}

static int read_reg(uint32_t reg, uint32_t* value) {
  int ok = send_address(reg, 1);
  if (ok) *value = i2c_read_byte();
  i2c_stop();
  return ok ? CAMERA_OK : CAMERA_NO_ACK;
}

/* ---- Set-up */

static void mclk_start(void) {
  /* CTIMER 0 B: HFRC / 4 = 12 MHz, function 5 (pattern repeat), pattern 0x55555555 of 32 bits:
     the output toggles every 12 MHz tick, a 6 MHz clock. Pad 13 is CTX2; its OUTCFG0 field
     (bits 8:6) = 2 selects B0OUT; CTENCFG bit 2 cleared enables the CTX2 output. */
  REG(CTIMER_CTRL0) |= 1u << 27;
  REG(CTIMER_CTRL0) = (REG(CTIMER_CTRL0) & 0x0000FFFFu) | (1u << 27) | (5u << 22) | (1u << 17);
  REG(CTIMER_CMPRB0) = 0x55555555u;
  REG(CTIMER_AUX0) = (REG(CTIMER_AUX0) & 0x0000FFFFu) | (31u << 16);
  edge_set_field(CTIMER_OUTCFG0, 6, 3, 2);
  REG(CTIMER_GLOBEN) |= 1u << 1;
  REG(GPIO_CTENCFG) &= ~(1u << 2);
  edge_pad(PAD_MCLK, PAD_CT2, CFG_INPUT, 1u);
  REG(CTIMER_CTRL0) = (REG(CTIMER_CTRL0) & ~(1u << 27)) | (1u << 16);
}

static void pins_init(void) {
  release(PAD_SCL);                  /* the output latch first: the lines stay high */
  release(PAD_SDA);
  REG(GPIO_ENCA) = (1u << PAD_SCL) | (1u << PAD_SDA);
  edge_pad(PAD_SCL, PAD_I2C, CFG_OPEN_DRAIN, 1u);
  edge_pad(PAD_SDA, PAD_I2C, CFG_OPEN_DRAIN, 1u);
  edge_pad(PAD_VSYNC, PAD_GPIO_INPUT, CFG_INPUT, 0u);
  edge_pad(PAD_HSYNC, PAD_GPIO_INPUT, CFG_INPUT, 0u);
  edge_pad(PAD_PCLK, PAD_GPIO_INPUT, CFG_INPUT, 0u);
  REG(GPIO_WTCA) = 1u << PAD_TRIG;
  edge_pad(PAD_TRIG, PAD_GPIO_OUTPUT, CFG_PUSH_PULL, 0u);
  /* Fast GPIO inputs: disabled and cleared, configured as inputs, then enabled. */
  uint32_t pads = 0, bits = 0;
  for (int i = 0; i < 8; i++) {
    pads |= 1u << data_pads[i];
    bits |= 1u << (data_pads[i] & 7u);
  }
  REG(GPIO_ENCA) = pads;
  REG(APBDMA_BBSETCLEAR) = bits << 16;
  for (int i = 0; i < 8; i++) edge_pad(data_pads[i], PAD_GPIO_INPUT, CFG_INPUT, 0u);
  REG(GPIO_ENSA) = pads;
}

int camera_init(void) {
  REG(GPIO_WTSA) = 1u << PAD_DVDD;   /* the sensor's 1.8 V DVDD regulator on */
  edge_pad(PAD_DVDD, PAD_GPIO_OUTPUT_12MA, CFG_PUSH_PULL, 1u);
  edge_delay_cycles(edge_core_hz / 1000u);
  mclk_start();
  edge_delay_cycles(edge_core_hz / 1000u);
  pins_init();
  uint32_t high = 0, low = 0;
  if (read_reg(REG_MODEL_ID_H, &high) || read_reg(REG_MODEL_ID_L, &low)) return CAMERA_NO_ACK;
  if (((high << 8) | low) != HM01B0_MODEL_ID) return CAMERA_WRONG_ID;
  for (uint32_t i = 0; i < sizeof(script) / sizeof(script[0]); i++) {
    if (write_reg(script[i][0], script[i][1])) return CAMERA_NO_ACK;
  }
  return CAMERA_OK;
}

/* ---- Frames */

#define HSYNC (1u << PAD_HSYNC)
#define PCLK (1u << PAD_PCLK)
#define PIXEL_SPINS (1u << 20)   /* a stopped pixel clock ends the frame, never a hang */

int camera_capture(uint8_t* frame) {
  if (write_reg(REG_FRAME_COUNT, 1) || write_reg(REG_MODE_SELECT, MODE_STREAMING_NFRAMES) ||
      write_reg(REG_GRP_PARAM_HOLD, 1))
    return CAMERA_NO_ACK;
  uint8_t* out = frame;
  for (int line = 0; line < HM01B0_HEIGHT; line++) {
    uint32_t start = edge_cycles();
    while (!(REG(GPIO_RDA) & HSYNC)) {         /* up to a second: exposure, then the line */
      if (edge_cycles() - start > edge_core_hz) return CAMERA_TIMEOUT;
    }
    uint8_t* end = out + HM01B0_WIDTH;
    while (out < end && (REG(GPIO_RDA) & HSYNC)) {
      uint32_t spins = PIXEL_SPINS;
      while (!(REG(GPIO_RDA) & PCLK)) {
        if (!--spins) return CAMERA_TIMEOUT;
      }
      *out++ = (uint8_t)REG(APBDMA_BBINPUT);
      while (REG(GPIO_RDA) & PCLK) {
        if (!--spins) return CAMERA_TIMEOUT;
      }
    }
    while (out < end) *out++ = 0;               /* a short line: its tail is black */
    start = edge_cycles();
    while (REG(GPIO_RDA) & HSYNC) {             /* the rest of the line */
      if (edge_cycles() - start > edge_core_hz / 100u) return CAMERA_TIMEOUT;
    }
  }
  return CAMERA_OK;
}
