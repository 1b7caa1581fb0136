/* SparkFun Edge serial firmware: the board protocol (common/protocol.c) on UART0 (the USB-serial
   header, pads 48/49, 115200 8N1), the inference counted in core cycles by the DWT. Register
   facts: ../shared/notes/apollo3-sparkfun-edge.md sections 2 and 5.1. Compiles and links for the
   Edge; not yet run on a board. */
#include <stdint.h>
#include "edge.h"
#include "protocol.h"

/* PWRCTRL: DEVPWREN bit 7 powers UART0; DEVPWRSTATUS bit 2 (HCPA) says it is up. */
#define PWRCTRL_DEVPWREN 0x40021008u
#define PWRCTRL_DEVPWRSTATUS 0x40021018u
/* Pads 48 (UART0TX, FNCSEL 0) and 49 (UART0RX, FNCSEL 0 + input enable). */
/* UART0 (PL011-style) at 0x4001C000. */
#define UART0_DR 0x4001C000u
#define UART0_FR 0x4001C018u
#define UART0_IBRD 0x4001C024u
#define UART0_FBRD 0x4001C028u
#define UART0_LCRH 0x4001C02Cu
#define UART0_CR 0x4001C030u
#define FR_RXFE (1u << 4)
#define FR_TXFF (1u << 5)
#define CORE_HZ 48000000u
#define BYTE_TIMEOUT_CYCLES (CORE_HZ / 100u) /* 10 ms: 100 bytes' time at 115200 baud */

#ifndef SMILE_MODEL_HASH
#define SMILE_MODEL_HASH {0, 0, 0, 0, 0, 0, 0, 0}
#endif

static uint32_t timer_start;

void board_init(void) {
  edge_core_init();
  REG(PWRCTRL_DEVPWREN) |= 1u << 7;
  while (!(REG(PWRCTRL_DEVPWRSTATUS) & (1u << 2))) {
  }
  edge_pad(48, 0x00u, CFG_INPUT, 0u);
  edge_pad(49, 0x02u, CFG_INPUT, 0u);
  /* The HAL's order: clock first (CLKEN, CLKSEL 24 MHz), baud 115200 (IBRD 13, FBRD 1), 8 bits
     with FIFOs, then UARTEN | TXE | RXE. */
  REG(UART0_CR) = 0u;
  REG(UART0_CR) = (1u << 3) | (1u << 4);
  REG(UART0_IBRD) = 13u;
  REG(UART0_FBRD) = 1u;
  REG(UART0_LCRH) = 0x70u;
  REG(UART0_CR) = (1u << 3) | (1u << 4) | (1u << 0) | (1u << 8) | (1u << 9);
  __asm volatile("cpsie i");
}

int board_getc(void) {
  while (REG(UART0_FR) & FR_RXFE) {
  }
  return (int)(REG(UART0_DR) & 0xFFu);
}

int board_getc_timeout(void) {
  uint32_t start = edge_cycles();
  while (REG(UART0_FR) & FR_RXFE) {
    if (edge_cycles() - start > BYTE_TIMEOUT_CYCLES) return -1;
  }
  return (int)(REG(UART0_DR) & 0xFFu);
}

void board_putc(uint8_t byte) {
  while (REG(UART0_FR) & FR_TXFF) {
  }
  REG(UART0_DR) = byte;
}

void board_timer_start(void) { timer_start = edge_cycles(); }

uint32_t board_timer_elapsed(void) { return edge_cycles() - timer_start; }

int main(void) {
  static const uint8_t hash[8] = SMILE_MODEL_HASH;
  smile_serve(hash, "smile_jax sparkfun-edge uart0");
}
