/* SysTick on QEMU's mps2-an386: under `-icount shift=0` QEMU's virtual time is one nanosecond per
   instruction and SysTick counts the 25 MHz board clock, so one tick is 40 executed
   instructions. Included by the semihosting firmwares (main.c, pipeline_main.c). */
#ifndef SMILE_SYSTICK_H_
#define SMILE_SYSTICK_H_
#include <stdint.h>

#define SYST_CSR (*(volatile uint32_t*)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t*)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t*)0xE000E018u)

/* The 24-bit SysTick free-running from the processor clock, no interrupt. */
static inline void systick_start(void) {
  SYST_RVR = 0x00FFFFFFu;
  SYST_CVR = 0;
  SYST_CSR = 5u;
}

/* Ticks since `start` (a SYST_CVR reading): it counts down and wraps at 24 bits. */
static inline uint32_t systick_since(uint32_t start) { return (start - SYST_CVR) & 0x00FFFFFFu; }
#endif
