/* The face locator (haar_locator.h; the arithmetic: smile_jax/data/viola_jones.py). Each pyramid
   level is streamed row by row from the frame: a level row is box-averaged from the frame, and
   the level's integral and squared integral rows are kept in rings of FACE_WINDOW + 1 rows, all
   a window needs. Sums wrap in uint32; a window's difference of four is exact. */
#include "haar_locator.h"

#include <math.h>

#define RING (FACE_WINDOW + 1)
#define ROW_WORDS (FACE_MAX_LEVEL_WIDTH + 1)

static uint32_t ring_sum[RING][ROW_WORDS];
static uint32_t ring_square[RING][ROW_WORDS];
static uint8_t level_pixels[FACE_MAX_LEVEL_WIDTH];
static haar_box hit[FACE_MAX_HITS];
static int hits;

/* Bin `i` of `out` over `side` source pixels: [start, end), at least one pixel. */
static inline void bin(int i, int side, int out, int* start, int* end) {
  *start = i * side / out;
  *end = (i + 1) * side / out;
  if (*end <= *start) *end = *start + 1;
}

/* Level row `i` (of a width x height level) box-averaged from the frame. */
static void level_row(const uint8_t* frame, int width, int height, int i, uint8_t* out) {
  int r0, r1;
  bin(i, FACE_FRAME_HEIGHT, height, &r0, &r1);
  for (int j = 0; j < width; j++) {
    int c0, c1;
    bin(j, FACE_FRAME_WIDTH, width, &c0, &c1);
    uint32_t sum = 0;
    for (int r = r0; r < r1; r++) {
      const uint8_t* p = frame + r * FACE_FRAME_WIDTH;
      for (int c = c0; c < c1; c++) sum += p[c];
    }
    uint32_t count = (uint32_t)((r1 - r0) * (c1 - c0));
    out[j] = (uint8_t)((sum + count / 2) / count);
  }
}

/* Integral row `r` (1..height) from row r - 1 and level row r - 1. */
static void integral_row(int r, const uint8_t* pixels, int width) {
  const uint32_t* above = ring_sum[(r - 1) % RING];
  const uint32_t* above_sq = ring_square[(r - 1) % RING];
  uint32_t* sum = ring_sum[r % RING];
  uint32_t* square = ring_square[r % RING];
  uint32_t run = 0, run_sq = 0;
  sum[0] = square[0] = 0;
  for (int x = 0; x < width; x++) {
    uint32_t p = pixels[x];
    run += p;
    run_sq += p * p;
    sum[x + 1] = above[x + 1] + run;
    square[x + 1] = above_sq[x + 1] + run_sq;
  }
}

static inline uint32_t rect(const uint32_t* const* rows, int x, int rx, int ry, int rw, int rh) {
  const uint32_t* top = rows[ry];
  const uint32_t* bottom = rows[ry + rh];
  return bottom[x + rx + rw] - top[x + rx + rw] - bottom[x + rx] + top[x + rx];
}

static uint32_t isqrt64(int64_t v) {
  uint32_t r = (uint32_t)sqrtf((float)v);
  while ((int64_t)r * r > v) r--;
  while ((int64_t)(r + 1) * (r + 1) <= v) r++;
  return r;
}

/* 1 when the window at column x (its rows in `rows`, `squares`) passes every stage. */
static int passes(const uint32_t* const* rows, const uint32_t* const* squares, int x) {
  const int inner = FACE_WINDOW - 2;
  int32_t s = (int32_t)rect(rows, x, 1, 1, inner, inner);
  uint32_t q = rect(squares, x, 1, 1, inner, inner);
  int64_t nf2 = (int64_t)(inner * inner) * q - (int64_t)s * s;
  if (nf2 <= 0) return 0; /* a flat window: no face */
  int64_t nf = isqrt64(nf2);
  for (int stage = 0; stage < FACE_STAGES; stage++) {
    int32_t total = 0;
    for (int tree = face_stage_trees[stage]; tree < face_stage_trees[stage + 1]; tree++) {
      int node = 0;
      for (;;) {
        int n = tree * FACE_NODES_PER_TREE + node;
        const face_rect* r = &face_rects[3 * face_node_feature[n]];
        int32_t value = 0;
        for (int k = 0; k < 3 && r[k].weight; k++) {
          value += r[k].weight * (int32_t)rect(rows, x, r[k].x, r[k].y, r[k].w, r[k].h);
        }
        int left = (int64_t)value * (1 << FACE_THRESHOLD_BITS) < face_node_threshold[n] * nf;
        int child = left ? face_node_left[n] : face_node_right[n];
        if (child <= 0) {
          total += face_leaf[tree * (FACE_NODES_PER_TREE + 1) - child];
          break;
        }
        node = child;
      }
    }
    if (total < face_stage_threshold[stage]) return 0;
  }
  return 1;
}

/* Every passing window of one level, appended to `hit` in row and column order; 0 when full. */
static int scan_level(const uint8_t* frame, int level) {
  const int width = face_level_width[level], height = face_level_height[level];
  const int step = face_level_step[level];
  const int side = FACE_WINDOW * FACE_FRAME_WIDTH / width;
  int done = 0; /* integral rows made so far (row 0 is zeros) */
  for (int x = 0; x <= width; x++) ring_sum[0][x] = ring_square[0][x] = 0;
  for (int y = 0; y + FACE_WINDOW <= height; y += step) {
    while (done < y + FACE_WINDOW) {
      level_row(frame, width, height, done, level_pixels);
      done++;
      integral_row(done, level_pixels, width);
    }
    const uint32_t* rows[RING];
    const uint32_t* squares[RING];
    for (int k = 0; k < RING; k++) {
      rows[k] = ring_sum[(y + k) % RING];
      squares[k] = ring_square[(y + k) % RING];
    }
    for (int x = 0; x + FACE_WINDOW <= width; x += step) {
      if (!passes(rows, squares, x)) continue;
      haar_box* b = &hit[hits++];
      b->x = (int16_t)(x * FACE_FRAME_WIDTH / width);
      b->y = (int16_t)(y * FACE_FRAME_HEIGHT / height);
      b->w = b->h = (int16_t)side;
      if (hits == FACE_MAX_HITS) return 0;
    }
  }
  return 1;
}

static inline int absi(int v) { return v < 0 ? -v : v; }
static inline int mini(int a, int b) { return a < b ? a : b; }

static int similar(const haar_box* a, const haar_box* b) {
  int limit = mini(a->w, b->w) + mini(a->h, b->h);
  return 10 * absi(a->x - b->x) <= limit && 10 * absi(a->y - b->y) <= limit &&
         10 * absi(a->x + a->w - b->x - b->w) <= limit &&
         10 * absi(a->y + a->h - b->y - b->h) <= limit;
}

static int16_t parent[FACE_MAX_HITS];
static int16_t group_of[FACE_MAX_HITS];
static haar_box group_box[FACE_MAX_HITS];
static int16_t group_count[FACE_MAX_HITS];
static int32_t group_sum[FACE_MAX_HITS][4];

static int root(int i) {
  while (parent[i] != i) {
    parent[i] = parent[parent[i]];
    i = parent[i];
  }
  return i;
}

/* 1 when group a sorts before group b: more support, then wider, then higher, then lefter. */
static int before(int a, int b) {
  if (group_count[a] != group_count[b]) return group_count[a] > group_count[b];
  if (group_box[a].w != group_box[b].w) return group_box[a].w > group_box[b].w;
  if (group_box[a].y != group_box[b].y) return group_box[a].y < group_box[b].y;
  return group_box[a].x < group_box[b].x;
}

/* viola_jones.group: similar hits joined, means kept when supported and not nested. */
static int group(haar_box* faces) {
  for (int i = 0; i < hits; i++) parent[i] = (int16_t)i;
  for (int i = 0; i < hits; i++) {
    for (int j = 0; j < i; j++) {
      if (similar(&hit[i], &hit[j])) parent[root(i)] = (int16_t)root(j);
    }
  }
  int groups = 0;
  for (int i = 0; i < hits; i++) group_of[i] = -1;
  for (int i = 0; i < hits; i++) {
    int r = root(i);
    if (group_of[r] < 0) {
      group_of[r] = (int16_t)groups;
      group_count[groups] = 0;
      for (int k = 0; k < 4; k++) group_sum[groups][k] = 0;
      groups++;
    }
    int g = group_of[r];
    group_count[g]++;
    group_sum[g][0] += hit[i].x;
    group_sum[g][1] += hit[i].y;
    group_sum[g][2] += hit[i].w;
    group_sum[g][3] += hit[i].h;
  }
  for (int g = 0; g < groups; g++) {
    int n = group_count[g];
    group_box[g].x = (int16_t)((group_sum[g][0] + n / 2) / n);
    group_box[g].y = (int16_t)((group_sum[g][1] + n / 2) / n);
    group_box[g].w = (int16_t)((group_sum[g][2] + n / 2) / n);
    group_box[g].h = (int16_t)((group_sum[g][3] + n / 2) / n);
  }
  int kept[FACE_MAX_HITS], nkept = 0;
  for (int i = 0; i < groups; i++) {
    int n1 = group_count[i];
    if (n1 <= FACE_MIN_NEIGHBORS) continue;
    const haar_box* r1 = &group_box[i];
    int inside = 0;
    for (int j = 0; j < groups && !inside; j++) {
      int n2 = group_count[j];
      if (j == i || n2 <= FACE_MIN_NEIGHBORS) continue;
      const haar_box* r2 = &group_box[j];
      int dx = (r2->w + 2) / 5, dy = (r2->h + 2) / 5;
      inside = r1->x >= r2->x - dx && r1->y >= r2->y - dy &&
               r1->x + r1->w <= r2->x + r2->w + dx && r1->y + r1->h <= r2->y + r2->h + dy &&
               (n2 > (n1 > 3 ? n1 : 3) || n1 < 3);
    }
    if (inside) continue;
    int at = nkept++; /* insertion sort: `before` order */
    while (at > 0 && before(i, kept[at - 1])) {
      kept[at] = kept[at - 1];
      at--;
    }
    kept[at] = i;
  }
  int out = nkept < FACE_MAX_FACES ? nkept : FACE_MAX_FACES;
  for (int k = 0; k < out; k++) faces[k] = group_box[kept[k]];
  return out;
}

int haar_locate(const uint8_t* frame, haar_box* faces) {
  hits = 0;
  for (int level = 0; level < FACE_LEVELS; level++) {
    if (!scan_level(frame, level)) break;
  }
  return group(faces);
}

int haar_locator_hits(const haar_box** out) {
  *out = hit;
  return hits;
}
