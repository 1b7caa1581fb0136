/* Cortex-M4F start-up shared by every board: vector table, .data copy, .bss zeroing, FPU on.
   The linker script of each board provides the symbols; board_init() (per board) runs before main. */
#include <stdint.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
extern int main(void);
extern void board_init(void);

void Reset_Handler(void);
void Default_Handler(void);

__attribute__((section(".isr_vector"), used))
const void* const smile_vectors[16 + 32] = {
    &_estack, Reset_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, 0, 0, 0, 0, Default_Handler, Default_Handler, 0, Default_Handler,
    Default_Handler,
    /* 32 peripheral interrupts (Apollo3 has 32; QEMU's MPS2 board needs none here) */
    Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler};

#define SCB_VTOR (*(volatile uint32_t*)0xE000ED08u)
#define SCB_CPACR (*(volatile uint32_t*)0xE000ED88u)

static void __attribute__((noreturn, used)) reset_c(void);

/* A loader (SparkFun's SVL) may jump here without loading SP or VTOR: set both ourselves. */
__attribute__((naked, noreturn)) void Reset_Handler(void) {
  __asm volatile("ldr sp, =_estack\n b reset_c");
}

static void reset_c(void) {
  SCB_VTOR = (uint32_t)smile_vectors;
  SCB_CPACR |= (0xFu << 20);  /* CP10/CP11 full access: the FPU */
  __asm volatile("dsb\n isb");
  for (uint32_t *src = &_sidata, *dst = &_sdata; dst < &_edata;) *dst++ = *src++;
  for (uint32_t* dst = &_sbss; dst < &_ebss;) *dst++ = 0;
  board_init();
  main();
  for (;;) {
  }
}

void Default_Handler(void) {
  for (;;) {
  }
}
