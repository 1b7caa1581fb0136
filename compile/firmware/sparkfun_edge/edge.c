/* SparkFun Edge core set-up: see edge.h. */
#include "edge.h"

/* CLKGEN: CLKKEY 0x47 unlocks CCTRL; CORESEL = 0 selects HFRC = 48 MHz (reset value 1 = 24 MHz). */
#define CLKGEN_CLKKEY 0x40004014u
#define CLKGEN_CCTRL 0x40004018u
/* CACHECTRL CACHECFG: the HAL's defaults (1-way 128B x 1024, I+D), then ENABLE. */
#define CACHECTRL_CACHECFG 0x40018000u

void edge_core_init(void) {
  REG(CLKGEN_CLKKEY) = 0x47u;
  REG(CLKGEN_CCTRL) = 0u;
  REG(CLKGEN_CLKKEY) = 0u;
  REG(CACHECTRL_CACHECFG) = 0x00100780u;
  REG(CACHECTRL_CACHECFG) = 0x00100781u;
}

void edge_set_field(uint32_t addr, uint32_t shift, uint32_t width, uint32_t value) {
  uint32_t mask = ((1u << width) - 1u) << shift;
  REG(addr) = (REG(addr) & ~mask) | ((value << shift) & mask);
}
