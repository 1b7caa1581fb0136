/* QEMU mps2-an386 pipeline firmware: reads camera frames from input.bin through semihosting, runs
   the robot's whole pipeline (face_pipeline.h) on each and writes, per frame, the face count
   (int32), FACE_MAP_MAX_FACES boxes (int16 x, y, w, h), their logits, the SysTick ticks and the
   stack used to output.bin (compile/pipeline_firmware.py reads the records). */
#include <stdint.h>
#include <string.h>

#include "face_pipeline.h"
#include "semihost.h"
#include "stack_paint.h"
#include "systick.h"

void board_init(void) { systick_start(); }

static uint8_t frame[FACE_MAP_FRAME_WIDTH * FACE_MAP_FRAME_HEIGHT];
static face_box boxes[FACE_MAP_MAX_FACES];
static smile_logit_t logits[FACE_MAP_MAX_FACES * SMILE_MODEL_NUM_CLASSES];

int main(void) {
  int in, out;
  sh_open_records("pipeline firmware", &in, &out);
  while (sh_read(in, frame, sizeof frame) == 0) {
    memset(boxes, 0, sizeof boxes);
    memset(logits, 0, sizeof logits);
    uint32_t* sp = smile_stack_pointer();
    smile_stack_paint(sp);
    uint32_t start = SYST_CVR;
    int32_t faces = smile_pipeline_run(frame, boxes, logits);
    uint32_t ticks = systick_since(start);
    uint32_t stack = smile_stack_used(sp);
    sh_write(out, &faces, sizeof faces);
    sh_write(out, boxes, sizeof boxes);
    sh_write(out, logits, sizeof logits);
    sh_write(out, &ticks, sizeof ticks);
    sh_write(out, &stack, sizeof stack);
  }
  sh_close_records(in, out);
}
