/* The int8 conv and dense kernels' generic inner loops (compile/dsp/conv.py, dense.py), scheduled by hand for
   the Cortex-M4, from the macros of smile_dsp_macros.inc. A model's own loops (its shifts,
   channels and group counts as immediates: the first layer, conv passes that requantize in
   registers) are instantiated from the same macros in its dsp_layers.S (compile/dsp_asm.py);
   these serve the rest (requantize chains the model's loops do not take, dense layers).

   int32_t smile_dsp_mac_3x2(const int32_t *col, const int32_t *w, int32_t words,
                             int32_t tiles, int32_t *acc, const int64_t *bias);
   int32_t smile_dsp_mac_2x2(...the same...);
   int32_t smile_dsp_mac_1x4(...the same...);
   int32_t smile_dsp_mac_1x2(...the same...);

   P output pixels (3 or 2) x two output channels a pass (1 x 4 or 1 x 2: dense layers), `tiles`
   passes over the same gathered receptive fields:
     col  `words` groups of 2P words: the P pixels' (x0, x2) int16 pairs of 4 taps (SXTB16 of
          an activation word), then their (x1, x3) pairs (SXTB16 of it rotated by 8);
     w    `tiles` x `words` x 2 (1x4: 4) words: per tile, each word of 4 int8 weights of
          channel 0, then of channel 1 (, 2, 3) (dsp/pack.py's layout, as trained);
     acc  out: `tiles` x 2 x P (1x4: 4) int32 accumulators (channel 0's pixels, then channel
          1's ...);
     bias each channel's first value of its accumulators (int64, small: the low words are read).
   All return 0.

   Why by hand: compiled from TIR, LLVM spreads the loads between the SMLADs, and on the M4 a
   load costs 2 cycles unless it follows another load. Here a group's words come in LDMs, and
   the live values fill r0-r12 and lr: per group of 4 taps, 3x2 takes 3 LDMs (11 cycles),
   4 SXTB16 and 12 SMLAD for 24 MACs; 2x2 2 LDMs (8), 4 SXTB16 and 8 SMLAD for 16; 1x4 2 LDMs
   (8), 8 SXTB16 (each weight meets one pixel) and 8 SMLAD for 16. The loop is unrolled eight
   times (a count of 8k + r enters at copy 8 - r, TBH); its end pointer lives on the
   stack for 3x2 (no register left) and in r2 for the others. */

  .syntax unified
  .thumb


#include "smile_dsp_macros.inc"

  FUNCTION smile_dsp_mac_3x2
  PROLOGUE 24, 24
.L3tile:
  ldr r0, [sp, #0]
  ldr r7, [sp, #16]
  ldr r8, [r7], #8
  ldr r11, [r7], #8
  str r7, [sp, #16]
  mov r9, r8
  mov r10, r8
  mov r12, r11
  mov lr, r11
  UNROLLED GROUP3, r7, .L3
  ldr r7, [sp, #12]
  cmp r0, r7
  bne .L3_0
  NEXT_TILE .L3tile, r8-r12, lr
  .size smile_dsp_mac_3x2, . - smile_dsp_mac_3x2

  END_IN_R2 smile_dsp_mac_2x2, 16, 16, GROUP2, START2, r10-r12, lr
  END_IN_R2 smile_dsp_mac_1x4, 8, 16, GROUP1, START1X4, r10-r12, lr
  END_IN_R2 smile_dsp_mac_1x2, 8, 8, GROUP1X2, START1X2, r12, lr

/* The image as int16, the integer reference's input (2p - 255), 16 pixels a loop:

   int32_t smile_dsp_image_int16(const uint8_t *image, int16_t *out, int32_t pixels);

   image any alignment (LDR, not LDM); out word-aligned (an arena tensor); pixels a multiple of
   16. UXTAB16 adds a pixel to each half-word twice, onto -255; PKH puts the pairs back in
   order. ~2.6 cycles a pixel (LLVM's byte loop: 4.6). Returns 0. */
  .macro WIDEN8
  ldr r4, [r0], #4
  ldr r5, [r0], #4
  uxtab16 r10, r3, r4
  uxtab16 r10, r10, r4
  uxtab16 r11, r3, r4, ror #8
  uxtab16 r11, r11, r4, ror #8
  uxtab16 r12, r3, r5
  uxtab16 r12, r12, r5
  uxtab16 lr, r3, r5, ror #8
  uxtab16 lr, lr, r5, ror #8
  pkhbt r6, r10, r11, lsl #16
  pkhtb r7, r11, r10, asr #16
  pkhbt r8, r12, lr, lsl #16
  pkhtb r9, lr, r12, asr #16
  stmia r1!, {r6-r9}
  .endm

  FUNCTION smile_dsp_image_int16
  push {r4-r11, lr}
  add r2, r0, r2
  movw r3, #0xff01
  movt r3, #0xff01
.Lwiden:
  WIDEN8
  WIDEN8
  cmp r0, r2
  bne .Lwiden
  movs r0, #0
  pop {r4-r11, pc}
  .size smile_dsp_image_int16, . - smile_dsp_image_int16
/* LLVM gives its kernels that call out (here) an exception-table entry naming the EHABI
   personality routine, and libgcc's would drag in its unwinder (and its linker symbols). Nothing
   on these boards throws or unwinds: a routine that is never called satisfies the reference. */
  .section .text.__aeabi_unwind_cpp_pr0, "ax", %progbits
  .weak __aeabi_unwind_cpp_pr0
  .type __aeabi_unwind_cpp_pr0, %function
  .thumb_func
__aeabi_unwind_cpp_pr0:
  b __aeabi_unwind_cpp_pr0
  .size __aeabi_unwind_cpp_pr0, . - __aeabi_unwind_cpp_pr0
