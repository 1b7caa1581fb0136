/* The robot's pipeline (face_pipeline.h). The locator's model is linked beside the smile net's
   under the prefix locator_ (compile/pipeline_firmware.py renames its symbols). */
#include "face_pipeline.h"

#include <math.h>

#include "frame_crop.h"

int locator_smile_model_run(const uint8_t* image, int32_t* map);

#if SMILE_MODEL_INPUT_CHANNELS != 1
#error "the pipeline crops grey faces: the smile net must take one channel"
#endif

static uint8_t locator_input[FACE_MAP_INPUT_HEIGHT * FACE_MAP_INPUT_WIDTH];
static int32_t locator_map[FACE_MAP_ROWS * FACE_MAP_COLS * FACE_MAP_CHANNELS];
static uint8_t crop[SMILE_MODEL_INPUT_SIZE];

int smile_pipeline_run(const uint8_t* frame, face_box* boxes, smile_logit_t* logits) {
  frame_bin_mean(frame, FACE_MAP_FRAME_WIDTH, FACE_MAP_FRAME_HEIGHT, 0, 0, FACE_MAP_FRAME_WIDTH,
                 FACE_MAP_FRAME_HEIGHT, locator_input, FACE_MAP_INPUT_HEIGHT,
                 FACE_MAP_INPUT_WIDTH);
  locator_smile_model_run(locator_input, locator_map);
  int faces = face_map_decode(locator_map, boxes);
  for (int k = 0; k < faces; k++) {
    int x0, y0, side;
    frame_face_square(boxes[k].x, boxes[k].y, boxes[k].w, boxes[k].h, &x0, &y0, &side);
    frame_bin_mean(frame, FACE_MAP_FRAME_WIDTH, FACE_MAP_FRAME_HEIGHT, x0, y0, side, side, crop,
                   SMILE_MODEL_INPUT_HEIGHT, SMILE_MODEL_INPUT_WIDTH);
    smile_model_run(crop, logits + k * SMILE_MODEL_NUM_CLASSES);
  }
  return faces;
}

float smile_pipeline_score(int faces, const smile_logit_t* logits, int* best) {
  float top = -INFINITY;
  *best = -1;
  for (int k = 0; k < faces; k++) {
    float score = smile_model_score(logits + k * SMILE_MODEL_NUM_CLASSES);
    if (score > top) {
      top = score;
      *best = k;
    }
  }
  return top;
}
