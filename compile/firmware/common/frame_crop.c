/* The device's crops (frame_crop.h; the reference: smile_jax/data/frame_crop.py). */
#include "frame_crop.h"

#include <string.h>

/* SIDE_TENTHS and SHIFT_HUNDREDTHS of smile_jax/data/frame_crop.py (faces.CROP_SIDE 0.9 and
   CROP_SHIFT_DOWN 0.08); tests/test_face_pipeline.py checks them against it. */
#define FRAME_CROP_SIDE_TENTHS 9
#define FRAME_CROP_SHIFT_HUNDREDTHS 8

static int clamp(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* Python's a // b for b > 0 (C's division truncates toward zero). */
static int floor_div(int a, int b) { return a / b - (a % b != 0 && a < 0); }

/* A window inside the frame whose bins are 4 pixels wide and `rows` high: each bin's row is one
   word, summed with USADA8 (|a - 0| over its bytes) where the core has the DSP extension. */
static void bins_of_four(const uint8_t* frame, int width, int x0, int y0, int rows,
                         uint8_t* out, int out_h, int out_w) {
  uint32_t count = (uint32_t)(4 * rows);
  for (int i = 0; i < out_h; i++) {
    const uint8_t* band = frame + (y0 + i * rows) * width + x0;
    for (int j = 0; j < out_w; j++) {
      uint32_t sum = 0;
      for (int r = 0; r < rows; r++) {
        const uint8_t* p = band + r * width + 4 * j;
#if defined(__ARM_FEATURE_SIMD32)
        uint32_t word;
        memcpy(&word, p, 4); /* an unaligned LDR on the M4 */
        __asm__("usada8 %0, %1, %2, %3" : "=r"(sum) : "r"(word), "r"(0u), "r"(sum));
#else
        sum += (uint32_t)p[0] + p[1] + p[2] + p[3];
#endif
      }
      out[i * out_w + j] = (uint8_t)((sum + count / 2) / count);
    }
  }
}

/* A window inside the frame, any bins: no pixel to clamp. */
static void bins_inside(const uint8_t* frame, int width, int x0, int y0, int w, int h,
                        uint8_t* out, int out_h, const int16_t* col0, const int16_t* col1,
                        int out_w) {
  const uint8_t* window = frame + y0 * width + x0;
  for (int i = 0; i < out_h; i++) {
    int r0 = i * h / out_h, r1 = (i + 1) * h / out_h;
    if (r1 <= r0) r1 = r0 + 1;
    const uint8_t* band = window + r0 * width;
    int rows = r1 - r0;
    for (int j = 0; j < out_w; j++) {
      int n = col1[j] - col0[j];
      const uint8_t* p = band + col0[j];
      uint32_t sum = 0;
      for (int r = 0; r < rows; r++, p += width) {
        for (int k = 0; k < n; k++) sum += p[k];
      }
      uint32_t count = (uint32_t)(rows * n);
      *out++ = (uint8_t)((sum + count / 2) / count);
    }
  }
}

void frame_bin_mean(const uint8_t* frame, int width, int height, int x0, int y0, int w, int h,
                    uint8_t* out, int out_h, int out_w) {
  int inside = x0 >= 0 && y0 >= 0 && x0 + w <= width && y0 + h <= height;
  if (inside && w == 4 * out_w && h % out_h == 0) {
    bins_of_four(frame, width, x0, y0, h / out_h, out, out_h, out_w);
    return;
  }
  int16_t col0[FRAME_CROP_MAX_OUT], col1[FRAME_CROP_MAX_OUT];   /* each column bin's [c0, c1) */
  if (out_w > FRAME_CROP_MAX_OUT) return;
  for (int j = 0; j < out_w; j++) {
    col0[j] = (int16_t)(j * w / out_w);
    col1[j] = (int16_t)((j + 1) * w / out_w);
    if (col1[j] <= col0[j]) col1[j] = (int16_t)(col0[j] + 1);
  }
  if (inside) {
    bins_inside(frame, width, x0, y0, w, h, out, out_h, col0, col1, out_w);
    return;
  }
  for (int i = 0; i < out_h; i++) {
    int r0 = i * h / out_h, r1 = (i + 1) * h / out_h;
    if (r1 <= r0) r1 = r0 + 1;
    for (int j = 0; j < out_w; j++) {
      int c0 = col0[j], c1 = col1[j];
      uint32_t sum = 0;
      for (int r = r0; r < r1; r++) {
        const uint8_t* row = frame + clamp(y0 + r, 0, height - 1) * width;
        for (int c = c0; c < c1; c++) sum += row[clamp(x0 + c, 0, width - 1)];
      }
      uint32_t count = (uint32_t)((r1 - r0) * (c1 - c0));
      out[i * out_w + j] = (uint8_t)((sum + count / 2) / count);
    }
  }
}

void frame_face_square(int x, int y, int w, int h, int* x0, int* y0, int* side) {
  int s = (FRAME_CROP_SIDE_TENTHS * w + 5) / 10;
  if (s < 1) s = 1;
  int centre_x2 = 2 * x + w;
  int centre_y2 = 2 * y + h + (2 * FRAME_CROP_SHIFT_HUNDREDTHS * h + 50) / 100;
  *x0 = floor_div(centre_x2 - s, 2);
  *y0 = floor_div(centre_y2 - s, 2);
  *side = s;
}
