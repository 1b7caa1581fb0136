/* Stack high-water mark by painting: every free word between the end of .bss and a margin below
   the caller's stack pointer is set to a pattern before a run; afterwards the lowest word no
   longer holding it is as deep as the run's stack went. Inline, so no frame of its own. */
#ifndef SMILE_STACK_PAINT_H_
#define SMILE_STACK_PAINT_H_
#include <stdint.h>

#define SMILE_PAINT 0x5AC3A55Au
#define SMILE_PAINT_MARGIN_WORDS 32u /* below the caller's SP, left alone: its own calls use it */
extern uint32_t _ebss;              /* the stack region starts after .bss (link_common.ld) */

static inline uint32_t* smile_stack_pointer(void) {
  uint32_t* sp;
  __asm volatile("mov %0, sp" : "=r"(sp));
  return sp;
}

static inline void smile_stack_paint(uint32_t* sp) {
  for (volatile uint32_t* p = &_ebss; p < sp - SMILE_PAINT_MARGIN_WORDS; ++p) *p = SMILE_PAINT;
}

/* Bytes of stack used below `sp` since smile_stack_paint(sp). */
static inline uint32_t smile_stack_used(uint32_t* sp) {
  volatile uint32_t* low = &_ebss;
  while (low < sp - SMILE_PAINT_MARGIN_WORDS && *low == SMILE_PAINT) ++low;
  return (uint32_t)((uintptr_t)sp - (uintptr_t)low);
}
#endif
