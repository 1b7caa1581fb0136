/* SparkFun Edge (Apollo3 Blue) set-up shared by its firmwares. Register addresses and values:
   ../shared/notes/apollo3-sparkfun-edge.md (AmbiqSuite SDK 2.4.2 register docs, SparkFun Edge
   BSP), each cited there. */
#ifndef SMILE_EDGE_H_
#define SMILE_EDGE_H_
#include <stdint.h>

#define REG(addr) (*(volatile uint32_t*)(addr))
#define GPIO_PADKEY 0x40010060u

/* 48 MHz core clock and the flash cache as the HAL's defaults configure it. */
void edge_core_init(void);
/* Sets `width` bits of the register at `addr` from bit `shift` to `value`. */
void edge_set_field(uint32_t addr, uint32_t shift, uint32_t width, uint32_t value);
#endif
