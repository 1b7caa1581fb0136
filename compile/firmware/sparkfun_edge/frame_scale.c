/* The camera's frame to the net's input: the centre square (the robot looks straight ahead; the
   nets were trained on square face crops), box-averaged down: output pixel (i, j) is the rounded
   mean of rows [i*S/H, (i+1)*S/H) and columns [j*S/W, (j+1)*S/W) of the S x S square, integer
   division throughout, so every input pixel counts exactly once. compile/camera_sim.py holds the
   same arithmetic in numpy and checks this file against it. */
#include "frame_scale.h"

void frame_centre_square(const uint8_t* frame, int width, int height, uint8_t* out, int out_h,
                         int out_w, int channels) {
  int side = width < height ? width : height;
  const uint8_t* square = frame + ((height - side) / 2) * width + (width - side) / 2;
  for (int i = 0; i < out_h; i++) {
    int r0 = i * side / out_h, r1 = (i + 1) * side / out_h;
    for (int j = 0; j < out_w; j++) {
      int c0 = j * side / out_w, c1 = (j + 1) * side / out_w;
      uint32_t sum = 0;
      for (int r = r0; r < r1; r++) {
        for (int c = c0; c < c1; c++) sum += square[r * width + c];
      }
      uint32_t count = (uint32_t)((r1 - r0) * (c1 - c0));
      uint8_t grey = (uint8_t)((sum + count / 2) / count);
      for (int k = 0; k < channels; k++) *out++ = grey;
    }
  }
}
