#include "semihost.h"

static int call(int op, void* arg) {
  register int r0 __asm__("r0") = op;
  register void* r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

static uint32_t length(const char* s) {
  uint32_t n = 0;
  while (s[n]) n++;
  return n;
}

int sh_open(const char* path, int mode) {
  uint32_t args[3] = {(uint32_t)path, (uint32_t)mode, length(path)};
  return call(0x01, args);
}

int sh_read(int fd, void* buf, uint32_t len) {
  uint32_t args[3] = {(uint32_t)fd, (uint32_t)buf, len};
  return call(0x06, args);
}

int sh_write(int fd, const void* buf, uint32_t len) {
  uint32_t args[3] = {(uint32_t)fd, (uint32_t)buf, len};
  return call(0x05, args);
}

void sh_puts(const char* s) { call(0x04, (void*)s); }

void sh_close(int fd) {
  uint32_t args[1] = {(uint32_t)fd};
  call(0x02, args);
}

void sh_exit(int code) {
  uint32_t args[2] = {0x20026u /* ADP_Stopped_ApplicationExit */, (uint32_t)code};
  call(0x20 /* SYS_EXIT_EXTENDED */, args);
  for (;;) {
  }
}

void sh_open_records(const char* who, int* in, int* out) {
  *in = sh_open("input.bin", 1);
  *out = sh_open("output.bin", 5);
  if (*in < 0 || *out < 0) {
    sh_puts(who);
    sh_puts(": cannot open input.bin / output.bin in QEMU's working directory\n");
    sh_exit(2);
  }
}

void sh_close_records(int in, int out) {
  sh_close(in);
  sh_close(out);
  sh_exit(0);
}
