/* The board side of the serial protocol: see protocol.h and compile/serial_protocol.py. */
#include "protocol.h"

#include "model.h"
#include "stack_paint.h"
#ifdef SMILE_PIPELINE
#include "face_pipeline.h"
#endif

enum { HELLO = 0x01, INFER = 0x02, FRAME_CHUNK = 0x03, LOCATE = 0x04 };
enum { HELLO_REPLY = 0x81, RESULT = 0x82, CHUNK_OK = 0x83, FACES = 0x84, ERROR = 0xEE };
enum { BAD_CRC = 1, BAD_LENGTH = 2, BAD_TYPE = 3, BAD_OFFSET = 4 };
#define MAX_PAYLOAD (16u * 1024u)

static uint8_t payload[MAX_PAYLOAD];
static smile_logit_t logits[SMILE_MODEL_NUM_CLASSES];

uint32_t smile_crc32(uint32_t crc, const uint8_t* data, uint32_t len) {
  crc = ~crc;
  for (uint32_t i = 0; i < len; ++i) {
    crc ^= data[i];
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

static void put_bytes(const uint8_t* data, uint32_t len, uint32_t* crc) {
  for (uint32_t i = 0; i < len; ++i) board_putc(data[i]);
  *crc = smile_crc32(*crc, data, len);
}

/* One frame out: magic, type, length, the parts of the payload in order, CRC. */
static void reply(uint8_t type, const uint8_t* a, uint32_t a_len, const uint8_t* b,
                  uint32_t b_len) {
  uint32_t len = a_len + b_len, crc = 0;
  uint8_t header[3] = {type, (uint8_t)len, (uint8_t)(len >> 8)};
  board_putc('S');
  board_putc('M');
  put_bytes(header, 3, &crc);
  put_bytes(a, a_len, &crc);
  put_bytes(b, b_len, &crc);
  uint8_t tail[4] = {(uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16), (uint8_t)(crc >> 24)};
  for (int i = 0; i < 4; ++i) board_putc(tail[i]);
}

static void error(uint8_t code, const char* message) {
  uint32_t n = 0;
  while (message[n]) ++n;
  reply(ERROR, &code, 1, (const uint8_t*)message, n);
}

/* `len` bytes, or 0 (and an error reply) when the link goes quiet first. */
static int read_bytes(uint8_t* out, uint32_t len) {
  for (uint32_t i = 0; i < len; ++i) {
    int c = board_getc_timeout();
    if (c < 0) {
      error(BAD_LENGTH, "frame cut short (no byte within the timeout)");
      return 0;
    }
    out[i] = (uint8_t)c;
  }
  return 1;
}

static void put_u32(uint8_t* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t* in) {
  return in[0] | (in[1] << 8) | (in[2] << 16) | ((uint32_t)in[3] << 24);
}

#ifdef SMILE_PIPELINE
#define FRAME_BYTES (FACE_MAP_FRAME_WIDTH * FACE_MAP_FRAME_HEIGHT)
static uint8_t frame[FRAME_BYTES];
static uint32_t frame_filled; /* bytes of `frame` written in order since the last LOCATE */

/* FRAME_CHUNK: offset (u32) + bytes, in order from offset 0 (which starts a new frame). */
static void frame_chunk(uint32_t len) {
  if (len < 4) {
    error(BAD_LENGTH, "FRAME_CHUNK payload shorter than its offset");
    return;
  }
  uint32_t offset = get_u32(payload), n = len - 4;
  if (offset != 0 && offset != frame_filled) {
    error(BAD_OFFSET, "FRAME_CHUNK out of order (offset is not the bytes received)");
    return;
  }
  if (n == 0 || n > FRAME_BYTES - offset) {
    error(BAD_LENGTH, "FRAME_CHUNK empty or past the frame's end");
    return;
  }
  for (uint32_t i = 0; i < n; ++i) frame[offset + i] = payload[4 + i];
  frame_filled = offset + n;
  uint8_t filled[4];
  put_u32(filled, frame_filled);
  reply(CHUNK_OK, filled, 4, 0, 0);
}

/* LOCATE: the whole frame's CRC-32 (u32); the pipeline on it, faces back. */
static void locate(uint32_t len) {
  static face_box boxes[FACE_MAP_MAX_FACES];
  static smile_logit_t face_logits[FACE_MAP_MAX_FACES * SMILE_MODEL_NUM_CLASSES];
  if (len != 4) {
    error(BAD_LENGTH, "LOCATE payload is not the frame's CRC-32");
    return;
  }
  if (frame_filled != FRAME_BYTES) {
    error(BAD_LENGTH, "LOCATE before the whole frame arrived");
    return;
  }
  frame_filled = 0;
  if (get_u32(payload) != smile_crc32(0, frame, FRAME_BYTES)) {
    error(BAD_CRC, "frame CRC mismatch");
    return;
  }
  for (int i = 0; i < FACE_MAP_MAX_FACES; ++i) boxes[i] = (face_box){0, 0, 0, 0};
  for (int i = 0; i < FACE_MAP_MAX_FACES * SMILE_MODEL_NUM_CLASSES; ++i) face_logits[i] = 0;
  uint32_t* sp = smile_stack_pointer();
  smile_stack_paint(sp);
  board_timer_start();
  int32_t faces = smile_pipeline_run(frame, boxes, face_logits);
  uint32_t counters[3] = {(uint32_t)faces, board_timer_elapsed(), 0};
  counters[2] = smile_stack_used(sp);
  static uint8_t out[sizeof boxes + sizeof face_logits + sizeof counters];
  uint8_t* at = out;
  put_u32(at, counters[0]);
  at += 4;
  for (int i = 0; i < FACE_MAP_MAX_FACES; ++i) {
    const int16_t v[4] = {boxes[i].x, boxes[i].y, boxes[i].w, boxes[i].h};
    for (int k = 0; k < 4; ++k) {
      *at++ = (uint8_t)v[k];
      *at++ = (uint8_t)((uint16_t)v[k] >> 8);
    }
  }
  const uint8_t* raw = (const uint8_t*)face_logits;
  for (uint32_t i = 0; i < sizeof face_logits; ++i) *at++ = raw[i];
  put_u32(at, counters[1]);
  put_u32(at + 4, counters[2]);
  at += 8;
  reply(FACES, out, (uint32_t)(at - out), 0, 0);
}
#endif

void smile_serve(const uint8_t model_hash[8], const char* version) {
  for (;;) {
    /* Hunt for the magic, then read the header, the payload and the CRC. */
    if (board_getc() != 'S') continue;
    int c = board_getc();
    while (c == 'S') c = board_getc();
    if (c != 'M') continue;
    /* Header, payload and CRC: a byte that does not come in time (a cut frame, or a length
       corrupted upwards) ends the frame with an error instead of waiting for ever. */
    uint8_t header[3], tail[4];
    if (!read_bytes(header, 3)) continue;
    uint32_t len = header[1] | ((uint32_t)header[2] << 8);
    if (len > MAX_PAYLOAD) {
      error(BAD_LENGTH, "payload over 16 KB");
      continue;
    }
    if (!read_bytes(payload, len) || !read_bytes(tail, 4)) continue;
    uint32_t crc = get_u32(tail);
    if (crc != smile_crc32(smile_crc32(0, header, 3), payload, len)) {
      error(BAD_CRC, "request CRC mismatch");
      continue;
    }
    if (header[0] == HELLO) {
      uint8_t info[13];
      for (int i = 0; i < 8; ++i) info[i] = model_hash[i];
      info[8] = SMILE_MODEL_INPUT_HEIGHT;
      info[9] = SMILE_MODEL_INPUT_WIDTH;
      info[10] = SMILE_MODEL_INPUT_CHANNELS;
      info[11] = SMILE_MODEL_NUM_CLASSES;
      info[12] = sizeof(smile_logit_t);
      uint32_t n = 0;
      while (version[n]) ++n;
      reply(HELLO_REPLY, info, sizeof info, (const uint8_t*)version, n);
    } else if (header[0] == INFER) {
      if (len != SMILE_MODEL_INPUT_SIZE) {
        error(BAD_LENGTH, "INFER payload is not one input frame");
        continue;
      }
      uint32_t* sp = smile_stack_pointer();
      smile_stack_paint(sp);
      board_timer_start();
      smile_model_run(payload, logits);
      uint32_t counters[2] = {board_timer_elapsed(), 0};
      counters[1] = smile_stack_used(sp);
      reply(RESULT, (const uint8_t*)logits, sizeof logits, (const uint8_t*)counters,
            sizeof counters);
#ifdef SMILE_PIPELINE
    } else if (header[0] == FRAME_CHUNK) {
      frame_chunk(len);
    } else if (header[0] == LOCATE) {
      locate(len);
#endif
    } else {
      error(BAD_TYPE, "unknown request type");
    }
  }
}
