/* SparkFun Edge firmware: the smiling robot. At boot a self-test runs the compiled-in test face
   (test_frame.c, generated) through the model and compares the logits with the host's; a
   mismatch lights red alone and stops. Then, forever: take an HM01B0 frame, take its centre
   square down to the net's input, run the model and light the smile pattern when the score
   passes the threshold. Without a working camera the loop runs on the test face with blue held
   on. 48 MHz core, 96 MHz (TurboSPOT) where the part allows, for the camera's pixel loop. */
#include <math.h>
#include <stdint.h>
#include "edge.h"
#include "frame_scale.h"
#include "hm01b0.h"
#include "leds.h"
#include "model.h"

/* The generated test frame: the model's input, the host's logits on it, and how close the
   firmware's must be (absolute; 0: bit-exact, the int8 builds). */
extern const uint8_t test_frame[SMILE_MODEL_INPUT_SIZE];
extern const smile_logit_t test_frame_logits[SMILE_MODEL_NUM_CLASSES];
extern const float test_frame_tolerance;

static uint8_t frame[HM01B0_WIDTH * HM01B0_HEIGHT];
static uint8_t input[SMILE_MODEL_INPUT_SIZE];
static smile_logit_t logits[SMILE_MODEL_NUM_CLASSES];

void board_init(void) { leds_board_init(); }

/* 1 when the model reproduces the host's logits on the test frame. */
int self_test(void) {
  smile_model_run(test_frame, logits);
  for (int c = 0; c < SMILE_MODEL_NUM_CLASSES; c++) {
    int same = test_frame_tolerance == 0.0f
                   ? logits[c] == test_frame_logits[c]
                   : fabsf((float)logits[c] - (float)test_frame_logits[c]) <= test_frame_tolerance;
    if (!same) return 0;
  }
  return 1;
}

int main(void) {
  leds_boot(self_test());
  int camera = camera_init();
  for (;;) {
    const uint8_t* image = test_frame;
    if (camera == CAMERA_OK && camera_capture(frame) == CAMERA_OK) {
      frame_centre_square(frame, HM01B0_WIDTH, HM01B0_HEIGHT, input, SMILE_MODEL_INPUT_HEIGHT,
                          SMILE_MODEL_INPUT_WIDTH, SMILE_MODEL_INPUT_CHANNELS);
      image = input;
    }
    leds(LED_BIT(LED_BLUE), 0);
    smile_model_run(image, logits);
    if (image == input) leds(0, LED_BIT(LED_BLUE));
    leds_smile(smile_model_score(logits) > smile_model_threshold);
  }
}
