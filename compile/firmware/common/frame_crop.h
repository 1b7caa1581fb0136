/* The device's crops of the camera frame (frame_crop.c): smile_jax/data/frame_crop.py's integer
   arithmetic, bit for bit. */
#ifndef SMILE_FRAME_CROP_H_
#define SMILE_FRAME_CROP_H_
#include <stdint.h>

/* The w x h window at (x0, y0) of a width x height grey frame, box-averaged to out_h x out_w:
   output pixel (i, j) is the rounded mean of the window's rows [i*h/out_h, (i+1)*h/out_h) and
   columns [j*w/out_w, (j+1)*w/out_w) (integer division, each bin at least one pixel); a pixel
   outside the frame reads the nearest edge pixel. Reads only frame[0 .. width*height); writes
   nothing when out_w > FRAME_CROP_MAX_OUT. */
#define FRAME_CROP_MAX_OUT 128
void frame_bin_mean(const uint8_t* frame, int width, int height, int x0, int y0, int w, int h,
                    uint8_t* out, int out_h, int out_w);

/* The square (x0, y0, side) a face box (x, y, w, h) frames by the host crop's policy
   (frame_crop.face_square: side 0.9 w, centred 0.08 h below the box's centre). */
void frame_face_square(int x, int y, int w, int h, int* x0, int* y0, int* side);
#endif
