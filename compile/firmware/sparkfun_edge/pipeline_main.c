/* SparkFun Edge firmware: the smiling robot that finds the face itself. At boot a self-test runs
   the compiled-in test frame (pipeline_test_frame.c, generated: a camera frame with a face off
   the centre) through the whole pipeline and compares the faces' boxes and int8 logits with the
   host reference's; a mismatch lights red alone and stops. Then, forever: take an HM01B0 frame,
   find its faces, score each and light the smile pattern when the best face's score passes the
   threshold (no face: no smile). Without a working camera the loop runs on the test frame with
   blue held on. */
#include <stdint.h>
#include "edge.h"
#include "face_pipeline.h"
#include "hm01b0.h"
#include "leds.h"

#if HM01B0_WIDTH != FACE_MAP_FRAME_WIDTH || HM01B0_HEIGHT != FACE_MAP_FRAME_HEIGHT
#error "the pipeline's frame must be the camera's"
#endif

extern const uint8_t pipeline_test_frame[FACE_MAP_FRAME_WIDTH * FACE_MAP_FRAME_HEIGHT];
extern const int32_t pipeline_test_faces;
extern const int16_t pipeline_test_boxes[FACE_MAP_MAX_FACES * 4];
extern const smile_logit_t pipeline_test_logits[FACE_MAP_MAX_FACES * SMILE_MODEL_NUM_CLASSES];

static uint8_t frame[HM01B0_WIDTH * HM01B0_HEIGHT];
static face_box boxes[FACE_MAP_MAX_FACES];
static smile_logit_t logits[FACE_MAP_MAX_FACES * SMILE_MODEL_NUM_CLASSES];

void board_init(void) { leds_board_init(); }

/* 1 when the pipeline finds the host's boxes on the test frame and scores them to its logits. */
int self_test(void) {
  int faces = smile_pipeline_run(pipeline_test_frame, boxes, logits);
  if (faces != pipeline_test_faces) return 0;
  for (int k = 0; k < faces; k++) {
    const int16_t* want = pipeline_test_boxes + 4 * k;
    if (boxes[k].x != want[0] || boxes[k].y != want[1] || boxes[k].w != want[2] ||
        boxes[k].h != want[3])
      return 0;
  }
  for (int i = 0; i < faces * SMILE_MODEL_NUM_CLASSES; i++) {
    if (logits[i] != pipeline_test_logits[i]) return 0;
  }
  return 1;
}

int main(void) {
  leds_boot(self_test());
  int camera = camera_init();
  for (;;) {
    const uint8_t* image = pipeline_test_frame;
    if (camera == CAMERA_OK && camera_capture(frame) == CAMERA_OK) image = frame;
    leds(LED_BIT(LED_BLUE), 0);
    int faces = smile_pipeline_run(image, boxes, logits);
    if (image == frame) leds(0, LED_BIT(LED_BLUE));
    int best;
    leds_smile(faces > 0 && smile_pipeline_score(faces, logits, &best) > smile_model_threshold);
  }
}
