/* The board side of the serial protocol (compile/serial_protocol.py has the format): framed
   HELLO and INFER requests in, HELLO_REPLY / RESULT / ERROR frames out, each with a CRC-32. */
#ifndef SMILE_PROTOCOL_H_
#define SMILE_PROTOCOL_H_
#include <stdint.h>

/* What a board provides: blocking byte I/O on its UART, and a counter for one inference (cycles
   on the Apollo3's DWT; on QEMU, SysTick ticks x 40 = instructions under -icount). */
int board_getc(void);
/* The next byte, or -1 when none comes within the board's inter-byte timeout (~10 ms). */
int board_getc_timeout(void);
void board_putc(uint8_t byte);
void board_timer_start(void);
uint32_t board_timer_elapsed(void);

uint32_t smile_crc32(uint32_t crc, const uint8_t* data, uint32_t len);
/* Serves requests forever. `model_hash`: 8 bytes naming the model; `version`: free text. */
__attribute__((noreturn)) void smile_serve(const uint8_t model_hash[8], const char* version);
#endif
