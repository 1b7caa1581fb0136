/* The board's frame source. Until an HM01B0 driver exists, camera.c (generated) returns a
   compiled-in test image of the model's input size, so the whole loop runs on the board. */
#ifndef SMILE_CAMERA_H_
#define SMILE_CAMERA_H_
#include <stdint.h>
const uint8_t* camera_frame(void);
#endif
