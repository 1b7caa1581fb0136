/* ARM semihosting (bkpt 0xAB): file I/O and exit through the debugger/emulator (QEMU -semihosting). */
#ifndef SMILE_SEMIHOST_H_
#define SMILE_SEMIHOST_H_
#include <stdint.h>
int sh_open(const char* path, int mode);              /* mode 1 = "rb", 5 = "wb"; -1 on error */
int sh_read(int fd, void* buf, uint32_t len);         /* bytes NOT read (0 = all) */
int sh_write(int fd, const void* buf, uint32_t len);  /* bytes NOT written */
void sh_puts(const char* s);
void sh_close(int fd);
__attribute__((noreturn)) void sh_exit(int code);

/* The record firmwares' files: input.bin (read) and output.bin (written) in QEMU's working
   directory, or a message naming `who` and exit code 2. */
void sh_open_records(const char* who, int* in, int* out);
/* Both closed, then exit 0. */
__attribute__((noreturn)) void sh_close_records(int in, int out);
#endif
