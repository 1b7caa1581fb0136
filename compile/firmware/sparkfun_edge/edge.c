/* SparkFun Edge core set-up: see edge.h. */
#include "edge.h"

/* CLKGEN: CLKKEY 0x47 unlocks CCTRL; CORESEL = 0 selects HFRC = 48 MHz (reset value 1 = 24 MHz). */
#define CLKGEN_CLKKEY 0x40004014u
#define CLKGEN_CCTRL 0x40004018u
#define CLKGEN_FREQCTRL 0x40004034u      /* bit 0 BURSTREQ, bit 1 BURSTACK, bit 2 BURSTSTATUS */
/* CACHECTRL CACHECFG: the HAL's defaults (1-way 128B x 1024, I+D), then ENABLE. FLASHCFG: the
   register documentation's recommendation (RD_WAIT 1, SEDELAY 5) in the HAL's "recommended"
   low-power mode (LPMMODE 1 = standby, LPM_RD_WAIT 7) at 48 MHz; the reset value (RD_WAIT 3,
   SEDELAY 7, LPM_RD_WAIT 8) before 96 MHz. compile/flash_cache.py models what they cost. */
#define CACHECTRL_CACHECFG 0x40018000u
#define CACHECTRL_FLASHCFG 0x40018004u
#define FLASHCFG_48MHZ 0x00001751u
#define FLASHCFG_RESET 0x00000873u
/* TurboSPOT: SKU bit 0 ALLOWBURST; DEVPWREVENTEN bit 31 BURSTEVEN; SUPPLYSRC bit 0 BLEBUCKEN;
   FEATUREENABLE bit 4 BURSTREQ, bit 5 BURSTACK, bit 6 BURSTAVAIL. */
#define MCUCTRL_SKU 0x40020014u
#define MCUCTRL_FEATUREENABLE 0x40020018u
#define PWRCTRL_SUPPLYSRC 0x40021000u
#define PWRCTRL_DEVPWREVENTEN 0x40021028u
/* DWT cycle counter: DEMCR.TRCENA, then DWT_CTRL.CYCCNTENA. */
#define DEMCR 0xE000EDFCu
#define DWT_CTRL 0xE0001000u
#define DWT_CYCCNT 0xE0001004u
/* GPIO per-pad registers: PADREG bytes, CFG nibbles, ALTPADCFG bytes (bit 0 DS1); ENCA/ENCB. */
#define GPIO_PADREG 0x40010000u
#define GPIO_CFG 0x40010040u
#define GPIO_ALTPADCFG 0x400100E0u
#define GPIO_ENCA 0x400100B4u

uint32_t edge_core_hz = 48000000u;

/* Code running from flash must not change the flash's timing (the HAL stores FLASHCFG from
   SRAM): this function sits in .data, which start-up copies to SRAM. */
__attribute__((section(".data.ramfunc"), noinline, long_call)) static void flash_config(
    uint32_t value) {
  REG(CACHECTRL_FLASHCFG) = value;
  (void)REG(CACHECTRL_FLASHCFG);
}

void edge_core_init(void) {
  REG(CLKGEN_CLKKEY) = 0x47u;
  REG(CLKGEN_CCTRL) = 0u;
  REG(CLKGEN_CLKKEY) = 0u;
  REG(CACHECTRL_CACHECFG) = 0x00100780u;
  REG(CACHECTRL_CACHECFG) = 0x00100781u;
  flash_config(FLASHCFG_48MHZ);
  REG(DEMCR) |= 1u << 24;
  REG(DWT_CYCCNT) = 0u;
  REG(DWT_CTRL) |= 1u;
  edge_core_hz = 48000000u;
}

static int wait_bit(uint32_t addr, uint32_t bit, uint32_t cycles) {
  uint32_t start = edge_cycles();
  while (!(REG(addr) & bit)) {
    if (edge_cycles() - start > cycles) return 0;
  }
  return 1;
}

uint32_t edge_burst_enable(void) {
  /* The HAL trims the BLE buck before burst when it supplies the core; without that trim, stay
     at 48 MHz. */
  if (!(REG(MCUCTRL_SKU) & 1u) || (REG(PWRCTRL_SUPPLYSRC) & 1u)) return edge_core_hz;
  flash_config(FLASHCFG_RESET);   /* no source says RD_WAIT 1 holds at 96 MHz */
  REG(PWRCTRL_DEVPWREVENTEN) |= 1u << 31;
  REG(MCUCTRL_FEATUREENABLE) |= 1u << 4;
  if (!wait_bit(MCUCTRL_FEATUREENABLE, 1u << 5, edge_core_hz / 100u) ||
      !(REG(MCUCTRL_FEATUREENABLE) & (1u << 6)))
    return edge_core_hz;
  REG(CLKGEN_FREQCTRL) |= 1u;
  if (wait_bit(CLKGEN_FREQCTRL, 1u << 2, edge_core_hz / 100u) && (REG(CLKGEN_FREQCTRL) & 2u))
    edge_core_hz = 96000000u;
  return edge_core_hz;
}

void edge_set_field(uint32_t addr, uint32_t shift, uint32_t width, uint32_t value) {
  uint32_t mask = ((1u << width) - 1u) << shift;
  REG(addr) = (REG(addr) & ~mask) | ((value << shift) & mask);
}

void edge_pad(uint32_t pad, uint32_t padreg, uint32_t cfg, uint32_t high_drive) {
  if (cfg == CFG_PUSH_PULL) REG(GPIO_ENCA + ((pad & 0x20u) >> 3)) = 1u << (pad & 31u);
  REG(GPIO_PADKEY) = 0x73u;
  edge_set_field(GPIO_PADREG + (pad & ~3u), (pad & 3u) * 8u, 8u, padreg);
  edge_set_field(GPIO_CFG + ((pad >> 1) & ~3u), (pad & 7u) * 4u, 4u, cfg);
  edge_set_field(GPIO_ALTPADCFG + (pad & ~3u), (pad & 3u) * 8u, 1u, high_drive);
  REG(GPIO_PADKEY) = 0u;
}

uint32_t edge_cycles(void) { return REG(DWT_CYCCNT); }

void edge_delay_cycles(uint32_t cycles) {
  uint32_t start = edge_cycles();
  while (edge_cycles() - start < cycles) {
  }
}
