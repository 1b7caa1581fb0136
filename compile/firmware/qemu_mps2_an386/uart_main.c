/* QEMU mps2-an386 serial firmware: the board protocol (common/protocol.c) on the CMSDK APB UART0,
   the same loop the SparkFun Edge runs on its UART0. The counter is SysTick under `-icount
   shift=0`: one tick is 40 executed instructions (see main.c). */
#include <stdint.h>
#include "protocol.h"
#include "systick.h"

#define UART0_DATA (*(volatile uint32_t*)0x40004000u)
#define UART0_STATE (*(volatile uint32_t*)0x40004004u)
#define UART0_CTRL (*(volatile uint32_t*)0x40004008u)
#define UART0_BAUDDIV (*(volatile uint32_t*)0x40004010u)

#ifndef SMILE_MODEL_HASH
#define SMILE_MODEL_HASH {0, 0, 0, 0, 0, 0, 0, 0}
#endif

static uint32_t timer_start;

void board_init(void) {
  UART0_BAUDDIV = 217u; /* 25 MHz / 115200 */
  UART0_CTRL = 3u;      /* TX and RX enabled */
  systick_start();
}

int board_getc(void) {
  while (!(UART0_STATE & 2u)) {
  }
  return (int)(UART0_DATA & 0xFFu);
}

int board_getc_timeout(void) {
  uint32_t start = SYST_CVR; /* 10 ms of the 25 MHz SysTick (virtual time under -icount) */
  while (!(UART0_STATE & 2u)) {
    if (systick_since(start) > 250000u) return -1;
  }
  return (int)(UART0_DATA & 0xFFu);
}

void board_putc(uint8_t byte) {
  while (UART0_STATE & 1u) {
  }
  UART0_DATA = byte;
}

void board_timer_start(void) { timer_start = SYST_CVR; }

uint32_t board_timer_elapsed(void) { return systick_since(timer_start) * 40u; }

int main(void) {
  static const uint8_t hash[8] = SMILE_MODEL_HASH;
  smile_serve(hash, "smile_jax qemu-mps2-an386 uart");
}
