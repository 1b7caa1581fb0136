/* The SparkFun Edge's LEDs (active high: red 46, blue 37, green 44, yellow 47) and the smile
   pattern: green and yellow on either side with red in the middle; blue marks an inference.
   Included by the camera firmwares (main.c, pipeline_main.c). */
#ifndef SMILE_EDGE_LEDS_H_
#define SMILE_EDGE_LEDS_H_
#include <stdint.h>
#include "edge.h"

#define GPIO_WTSB 0x40010094u
#define GPIO_WTCB 0x4001009Cu
#define LED_BIT(pad) (1u << ((pad)-32))
#define LED_RED 46
#define LED_BLUE 37
#define LED_GREEN 44
#define LED_YELLOW 47
#define SMILE_PATTERN (LED_BIT(LED_GREEN) | LED_BIT(LED_RED) | LED_BIT(LED_YELLOW))
#define ALL_LEDS (SMILE_PATTERN | LED_BIT(LED_BLUE))

/* The core and the LEDs' pads; interrupts on (the SVL leaves PRIMASK set). */
static inline void leds_board_init(void) {
  edge_core_init();
  edge_pad(LED_GREEN, PAD_GPIO_OUTPUT, CFG_PUSH_PULL, 0u);
  edge_pad(LED_RED, PAD_GPIO_OUTPUT, CFG_PUSH_PULL, 0u);
  edge_pad(LED_YELLOW, PAD_GPIO_OUTPUT, CFG_PUSH_PULL, 0u);
  edge_pad(LED_BLUE, PAD_GPIO_OUTPUT, CFG_PUSH_PULL, 0u);
  __asm volatile("cpsie i");
}

static inline void leds(uint32_t on_bits, uint32_t off_bits) {
  REG(GPIO_WTSB) = on_bits;
  REG(GPIO_WTCB) = off_bits;
}

/* A failed self-test: red alone, for ever. */
static inline void leds_fail_forever(void) {
  leds(LED_BIT(LED_RED), ALL_LEDS & ~LED_BIT(LED_RED));
  for (;;) {
  }
}

/* After the self-test: red alone for ever when it failed; else every LED for a quarter second,
   then the burst clock for the camera's pixel loop. */
static inline void leds_boot(int self_test_passed) {
  if (!self_test_passed) leds_fail_forever();
  leds(ALL_LEDS, 0);
  edge_delay_cycles(edge_core_hz / 4u);
  leds(0, ALL_LEDS);
  edge_burst_enable();
}

/* The smile pattern on or off. */
static inline void leds_smile(int smiling) {
  if (smiling) {
    leds(SMILE_PATTERN, 0);
  } else {
    leds(0, SMILE_PATTERN);
  }
}
#endif
