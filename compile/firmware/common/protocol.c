/* The board side of the serial protocol: see protocol.h and compile/serial_protocol.py. */
#include "protocol.h"

#include "model.h"
#include "stack_paint.h"

enum { HELLO = 0x01, INFER = 0x02, HELLO_REPLY = 0x81, RESULT = 0x82, ERROR = 0xEE };
enum { BAD_CRC = 1, BAD_LENGTH = 2, BAD_TYPE = 3 };
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
    uint32_t crc = tail[0] | (tail[1] << 8) | (tail[2] << 16) | ((uint32_t)tail[3] << 24);
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
    } else {
      error(BAD_TYPE, "unknown request type");
    }
  }
}
