/* SparkFun Edge (Apollo3 Blue) firmware: 48 MHz, flash cache on, then forever: take a frame,
   run the model, light the "smile" LED pattern when the score passes the threshold (edge.h). */
#include <stdint.h>
#include "camera.h"
#include "edge.h"
#include "model.h"

/* GPIO */
#define GPIO_PADREGJ 0x40010024u
#define GPIO_PADREGL 0x4001002Cu
#define GPIO_CFGE 0x40010050u
#define GPIO_CFGF 0x40010054u
#define GPIO_WTSB 0x40010094u
#define GPIO_WTCB 0x4001009Cu
#define GPIO_ENCB 0x400100B8u

/* Edge LEDs (active high): red 46, blue 37, green 44, yellow 47. The smile: green and yellow on
   either side with red in the middle; blue blinks once per inference. */
#define LED_BIT(pad) (1u << ((pad)-32))
#define LED_RED 46
#define LED_BLUE 37
#define LED_GREEN 44
#define LED_YELLOW 47
#define SMILE_PATTERN (LED_BIT(LED_GREEN) | LED_BIT(LED_RED) | LED_BIT(LED_YELLOW))

static void led_output(uint32_t padreg, uint32_t cfg, int pad) {
  /* FNCSEL 3 (GPIO) with 2 mA drive: PADREG byte 0x18; CFG nibble 0x2: push-pull output. */
  REG(GPIO_ENCB) = LED_BIT(pad); /* push-pull: the pad's ENABLE bit must be clear */
  edge_set_field(padreg, (pad & 3) * 8, 8, 0x18);
  edge_set_field(cfg, (pad & 7) * 4, 4, 0x2);
}

void board_init(void) {
  edge_core_init();
  REG(GPIO_PADKEY) = 0x73u;
  led_output(GPIO_PADREGL, GPIO_CFGF, LED_GREEN);
  led_output(GPIO_PADREGL, GPIO_CFGF, LED_RED);
  led_output(GPIO_PADREGL, GPIO_CFGF, LED_YELLOW);
  led_output(GPIO_PADREGJ, GPIO_CFGE, LED_BLUE);
  REG(GPIO_PADKEY) = 0u;
  __asm volatile("cpsie i"); /* the SVL leaves PRIMASK set */
}

static void leds(uint32_t on_bits, uint32_t off_bits) {
  REG(GPIO_WTSB) = on_bits;
  REG(GPIO_WTCB) = off_bits;
}

static smile_logit_t logits[SMILE_MODEL_NUM_CLASSES];

int main(void) {
  for (;;) {
    const uint8_t* frame = camera_frame();
    leds(LED_BIT(LED_BLUE), 0);
    smile_model_run(frame, logits);
    leds(0, LED_BIT(LED_BLUE));
    if (smile_model_score(logits) > smile_model_threshold) {
      leds(SMILE_PATTERN, 0);
    } else {
      leds(0, SMILE_PATTERN);
    }
  }
}
