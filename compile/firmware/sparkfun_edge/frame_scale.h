/* A camera frame to the net's input (frame_scale.c). */
#ifndef SMILE_FRAME_SCALE_H_
#define SMILE_FRAME_SCALE_H_
#include <stdint.h>

/* The centre square of a width x height grey frame, box-averaged to out_h x out_w x channels
   (the grey value repeated over the channels). */
void frame_centre_square(const uint8_t* frame, int width, int height, uint8_t* out, int out_h,
                         int out_w, int channels);
#endif
