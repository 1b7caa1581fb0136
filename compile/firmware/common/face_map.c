/* The face map's decode (face_map.h). Peaks: cells whose heat reaches the threshold and is a
   maximum of its 3 x 3 neighbourhood (strictly above the neighbours before it in raster order),
   hottest first (raster order among equals); each gives a square box from the cell's anchor,
   its offsets in half pixels and its size step's side, clipped to the frame. */
#include "face_map.h"

#define CELLS (FACE_MAP_ROWS * FACE_MAP_COLS)

static int32_t heat(const int32_t* map, int r, int c) {
  return map[(r * FACE_MAP_COLS + c) * FACE_MAP_CHANNELS];
}

static int is_peak(const int32_t* map, int r, int c) {
  int32_t value = heat(map, r, c);
  for (int dr = -1; dr <= 1; dr++) {
    for (int dc = -1; dc <= 1; dc++) {
      int rr = r + dr, cc = c + dc;
      if ((dr == 0 && dc == 0) || rr < 0 || rr >= FACE_MAP_ROWS || cc < 0 || cc >= FACE_MAP_COLS)
        continue;
      int earlier = dr < 0 || (dr == 0 && dc < 0);
      int32_t other = heat(map, rr, cc);
      if (other > value || (earlier && other == value)) return 0;
    }
  }
  return 1;
}

/* round(value * multiplier / 2^FACE_MAP_FIXED_SHIFT), half up; >> floors as Python's does. */
static int32_t fixed(int32_t value, int32_t multiplier) {
  int64_t product = (int64_t)value * multiplier + (1LL << (FACE_MAP_FIXED_SHIFT - 1));
  return (int32_t)(product >> FACE_MAP_FIXED_SHIFT);
}

static int floor_half(int v) { return v / 2 - (v % 2 != 0 && v < 0); }

/* camera_frames.clip_box: cut to the frame; 0 when less than a quarter of it is inside. */
static int clip(int x, int y, int w, int h, face_box* out) {
  int x0 = x > 0 ? x : 0, y0 = y > 0 ? y : 0;
  int x1 = x + w < FACE_MAP_FRAME_WIDTH ? x + w : FACE_MAP_FRAME_WIDTH;
  int y1 = y + h < FACE_MAP_FRAME_HEIGHT ? y + h : FACE_MAP_FRAME_HEIGHT;
  if (x1 <= x0 || y1 <= y0 || 4 * (x1 - x0) * (y1 - y0) < w * h) return 0;
  out->x = (int16_t)x0;
  out->y = (int16_t)y0;
  out->w = (int16_t)(x1 - x0);
  out->h = (int16_t)(y1 - y0);
  return 1;
}

int face_map_decode(const int32_t* map, face_box* boxes) {
  int16_t cell[CELLS];
  int found = 0;
  for (int r = 0; r < FACE_MAP_ROWS; r++) {
    for (int c = 0; c < FACE_MAP_COLS; c++) {
      if (heat(map, r, c) < FACE_MAP_HEAT_THRESHOLD || !is_peak(map, r, c)) continue;
      /* Insertion by falling heat, after its equals: a stable sort of raster order. */
      int at = found++;
      int32_t value = heat(map, r, c);
      while (at > 0 && heat(map, cell[at - 1] / FACE_MAP_COLS, cell[at - 1] % FACE_MAP_COLS) < value) {
        cell[at] = cell[at - 1];
        at--;
      }
      cell[at] = (int16_t)(r * FACE_MAP_COLS + c);
    }
  }
  if (found > FACE_MAP_MAX_FACES) found = FACE_MAP_MAX_FACES;
  int kept = 0;
  for (int k = 0; k < found; k++) {
    int r = cell[k] / FACE_MAP_COLS, c = cell[k] % FACE_MAP_COLS;
    const int32_t* v = map + cell[k] * FACE_MAP_CHANNELS;
    int anchor_x = c * FACE_MAP_CELL + FACE_MAP_CELL / 2, anchor_y = r * FACE_MAP_CELL + FACE_MAP_CELL / 2;
    int centre_x2 = 2 * anchor_x + fixed(v[1], FACE_MAP_OFFSET_MULTIPLIER_X);
    int centre_y2 = 2 * anchor_y + fixed(v[2], FACE_MAP_OFFSET_MULTIPLIER_Y);
    int64_t step = ((int64_t)v[3] * FACE_MAP_SIZE_MULTIPLIER + FACE_MAP_SIZE_OFFSET) >> FACE_MAP_FIXED_SHIFT;
    if (step < 0) step = 0;
    if (step > FACE_MAP_SIZE_STEPS - 1) step = FACE_MAP_SIZE_STEPS - 1;
    int side = face_map_sides[step];
    kept += clip(floor_half(centre_x2 - side), floor_half(centre_y2 - side), side, side, &boxes[kept]);
  }
  return kept;
}
