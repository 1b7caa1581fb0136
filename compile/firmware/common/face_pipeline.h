/* The robot's whole pipeline on one camera frame (face_pipeline.c): face locator -> crops ->
   smile net. compile/face_pipeline.py's DevicePipeline is its host reference, bit for bit. */
#ifndef SMILE_FACE_PIPELINE_H_
#define SMILE_FACE_PIPELINE_H_
#include <stdint.h>

#include "face_map.h"
#include "model.h"

/* The frame's faces: up to FACE_MAP_MAX_FACES boxes, in the locator's order, and the smile net's
   SMILE_MODEL_NUM_CLASSES logits of each (logits[face * classes + class]); returns how many.
   `frame` is FACE_MAP_FRAME_WIDTH x FACE_MAP_FRAME_HEIGHT uint8, row-major; it is only read. */
int smile_pipeline_run(const uint8_t* frame, face_box* boxes, smile_logit_t* logits);

/* The best face's smile score (a real logit difference, as smile_model_score), or -INFINITY for
   a frame with no face: the robot smiles when any face does. */
float smile_pipeline_score(int faces, const smile_logit_t* logits, int* best);
#endif
