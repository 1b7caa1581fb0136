/* SparkFun Edge (Apollo3 Blue) set-up shared by its firmwares. Register addresses and values:
   ../shared/notes/apollo3-sparkfun-edge.md (AmbiqSuite SDK 2.4.2 register docs, SparkFun Edge
   BSP), each cited there. */
#ifndef SMILE_EDGE_H_
#define SMILE_EDGE_H_
#include <stdint.h>

#define REG(addr) (*(volatile uint32_t*)(addr))
#define GPIO_PADKEY 0x40010060u

/* PADREG bytes (FNCSEL bits 5:3, STRNG bit 2, INPEN bit 1, PULL bit 0) and CFG nibbles (OUTCFG
   bits 2:1: 0 off, 1 push-pull, 2 open drain). */
#define PAD_GPIO_INPUT 0x1Au
#define PAD_GPIO_OUTPUT 0x18u
#define PAD_GPIO_OUTPUT_12MA 0x1Cu
#define CFG_INPUT 0x0u
#define CFG_PUSH_PULL 0x2u
#define CFG_OPEN_DRAIN 0x4u

/* 48 MHz core clock, the flash cache as the HAL's defaults configure it, the flash's recommended
   read wait states, the DWT cycle counter. */
void edge_core_init(void);
/* TurboSPOT: the core at 96 MHz where the part allows it (the flash back at its reset wait
   states); returns the core clock in Hz. */
uint32_t edge_burst_enable(void);
/* The core clock edge_core_init / edge_burst_enable left (for delays). */
extern uint32_t edge_core_hz;
/* Sets `width` bits of the register at `addr` from bit `shift` to `value`. */
void edge_set_field(uint32_t addr, uint32_t shift, uint32_t width, uint32_t value);
/* One pad: its PADREG byte, CFG nibble and high drive bit (DS1: 8/12 mA), under PADKEY; a
   push-pull pad's ENABLE bit is cleared first (set, it would turn on fast GPIO). */
void edge_pad(uint32_t pad, uint32_t padreg, uint32_t cfg, uint32_t high_drive);
/* Core cycles from the DWT counter, and a busy wait of `cycles`. */
uint32_t edge_cycles(void);
void edge_delay_cycles(uint32_t cycles);
#endif
