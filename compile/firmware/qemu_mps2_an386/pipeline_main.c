/* QEMU mps2-an386 pipeline firmware: reads camera frames from input.bin through semihosting, runs
   the robot's whole pipeline (face_pipeline.h) on each and writes, per frame, the face count
   (int32), FACE_MAP_MAX_FACES boxes (int16 x, y, w, h), their logits, the SysTick ticks and the
   stack used to output.bin (compile/pipeline_firmware.py reads the records). */
#include <stdint.h>
#include <string.h>

#include "face_pipeline.h"
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

static uint8_t frame[FACE_MAP_FRAME_WIDTH * FACE_MAP_FRAME_HEIGHT];
static face_box boxes[FACE_MAP_MAX_FACES];
static smile_logit_t logits[FACE_MAP_MAX_FACES * SMILE_MODEL_NUM_CLASSES];

int main(void) {
  int in = sh_open("input.bin", 1);
  int out = sh_open("output.bin", 5);
  if (in < 0 || out < 0) {
    sh_puts("pipeline firmware: cannot open input.bin / output.bin in QEMU's working directory\n");
    sh_exit(2);
  }
  while (sh_read(in, frame, sizeof frame) == 0) {
    memset(boxes, 0, sizeof boxes);
    memset(logits, 0, sizeof logits);
    uint32_t* sp = smile_stack_pointer();
    smile_stack_paint(sp);
    uint32_t start = SYST_CVR;
    int32_t faces = smile_pipeline_run(frame, boxes, logits);
    uint32_t ticks = (start - SYST_CVR) & 0x00FFFFFFu;
    uint32_t stack = smile_stack_used(sp);
    sh_write(out, &faces, sizeof faces);
    sh_write(out, boxes, sizeof boxes);
    sh_write(out, logits, sizeof logits);
    sh_write(out, &ticks, sizeof ticks);
    sh_write(out, &stack, sizeof stack);
  }
  sh_close(in);
  sh_close(out);
  sh_exit(0);
}
