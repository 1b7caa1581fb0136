/* QEMU mps2-an386 test firmware: reads images from input.bin through semihosting, runs the model
   on each and writes, per image, its logits, the SysTick ticks the inference took and the stack
   it used to output.bin. Under `-icount shift=0` QEMU's virtual time is one nanosecond per
   instruction and SysTick counts the 25 MHz board clock, so one tick is 40 executed
   instructions. The stack is measured by painting (common/stack_paint.h). */
#include <stdint.h>
#include "model.h"
#include "semihost.h"
#include "stack_paint.h"

#define SYST_CSR (*(volatile uint32_t*)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t*)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t*)0xE000E018u)

void board_init(void) {
  SYST_RVR = 0x00FFFFFFu;
  SYST_CVR = 0;
  SYST_CSR = 5u; /* enable, processor clock, no interrupt */
}

static uint8_t image[SMILE_MODEL_INPUT_SIZE];
static smile_logit_t logits[SMILE_MODEL_OUTPUT_SIZE];

int main(void) {
  int in = sh_open("input.bin", 1);
  int out = sh_open("output.bin", 5);
  if (in < 0 || out < 0) {
    sh_puts("smile firmware: cannot open input.bin / output.bin in QEMU's working directory\n");
    sh_exit(2);
  }
  while (sh_read(in, image, sizeof image) == 0) {
    uint32_t* sp = smile_stack_pointer();
    smile_stack_paint(sp);
    uint32_t start = SYST_CVR;
    smile_model_run(image, logits);
    uint32_t ticks = (start - SYST_CVR) & 0x00FFFFFFu;
    uint32_t stack = smile_stack_used(sp);
    sh_write(out, logits, sizeof logits);
    sh_write(out, &ticks, sizeof ticks);
    sh_write(out, &stack, sizeof stack);
  }
  sh_close(in);
  sh_close(out);
  sh_exit(0);
}
