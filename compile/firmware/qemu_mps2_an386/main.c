/* QEMU mps2-an386 test firmware: reads images from input.bin through semihosting, runs the model
   on each and writes, per image, its logits, the SysTick ticks the inference took and the stack
   it used to output.bin. Under `-icount shift=0` QEMU's virtual time is one nanosecond per
   instruction and SysTick counts the 25 MHz board clock, so one tick is 40 executed
   instructions. The stack is measured by painting (common/stack_paint.h). */
#include <stdint.h>
#include "model.h"
#include "semihost.h"
#include "stack_paint.h"
#include "systick.h"

void board_init(void) { systick_start(); }

static uint8_t image[SMILE_MODEL_INPUT_SIZE];
static smile_logit_t logits[SMILE_MODEL_OUTPUT_SIZE];

int main(void) {
  int in, out;
  sh_open_records("smile firmware", &in, &out);
  while (sh_read(in, image, sizeof image) == 0) {
    uint32_t* sp = smile_stack_pointer();
    smile_stack_paint(sp);
    uint32_t start = SYST_CVR;
    smile_model_run(image, logits);
    uint32_t ticks = systick_since(start);
    uint32_t stack = smile_stack_used(sp);
    sh_write(out, logits, sizeof logits);
    sh_write(out, &ticks, sizeof ticks);
    sh_write(out, &stack, sizeof stack);
  }
  sh_close_records(in, out);
}
