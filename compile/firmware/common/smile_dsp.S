/* The int8 conv kernels' inner loops (compile/simd.py), scheduled by hand for the Cortex-M4.

   int32_t smile_dsp_mac_3x2(const int32_t *col, const int32_t *w, int32_t words,
                             int32_t tiles, int32_t *acc, const int64_t *bias);
   int32_t smile_dsp_mac_2x2(...the same...);

   P output pixels (3 or 2) x two output channels a pass, `tiles` passes over the same gathered
   receptive fields:
     col  `words` groups of 2P words: the P pixels' (x0, x2) int16 pairs of 4 taps (SXTB16 of
          an activation word), then their (x1, x3) pairs (SXTB16 of it rotated by 8);
     w    `tiles` x `words` x 2 words: per tile, each word of 4 int8 weights of channel 0
          then of channel 1 (simd.pack_int8's layout, as trained);
     acc  out: `tiles` x 2 x P int32 accumulators (channel 0's pixels, then channel 1's);
     bias each channel's first value of its accumulators (int64, small: the low words are read).
   Both return 0.

   Why by hand: compiled from TIR, LLVM spreads the loads between the SMLADs, and on the M4 a
   load costs 2 cycles unless it follows another load. Here a group's words come in LDMs, and
   the live values fill r0-r12 and lr: per group of 4 taps, 3x2 takes 3 LDMs (11 cycles),
   4 SXTB16 and 12 SMLAD for 24 MACs; 2x2 2 LDMs (8), 4 SXTB16 and 8 SMLAD for 16. The loop is
   unrolled four times (a count of 4k + r enters at copy 5 - r); its end pointer lives on the
   stack for 3x2 (no register left) and in r2 for 2x2. */

  .syntax unified
  .thumb

/* 3 pixels: r0 col, r1 w; r2-r4 activations, r5-r6 weights, r7 the split weight; r8-r10 channel
   0's pixels, r11, r12, lr channel 1's. */
  .macro GROUP3
  ldmia r0!, {r2, r3, r4}
  ldmia r1!, {r5, r6}
  sxtb16 r7, r5
  smlad r8, r2, r7, r8
  smlad r9, r3, r7, r9
  smlad r10, r4, r7, r10
  sxtb16 r7, r6
  smlad r11, r2, r7, r11
  smlad r12, r3, r7, r12
  smlad lr, r4, r7, lr
  ldmia r0!, {r2, r3, r4}
  sxtb16 r7, r5, ror #8
  smlad r8, r2, r7, r8
  smlad r9, r3, r7, r9
  smlad r10, r4, r7, r10
  sxtb16 r7, r6, ror #8
  smlad r11, r2, r7, r11
  smlad r12, r3, r7, r12
  smlad lr, r4, r7, lr
  .endm

/* 2 pixels: r0 col, r1 w, r2 the end of col; r4-r7 activations, r8-r9 weights, r3 the split
   weight; r10, r11 channel 0's pixels, r12, lr channel 1's. */
  .macro GROUP2
  ldmia r0!, {r4, r5, r6, r7}
  ldmia r1!, {r8, r9}
  sxtb16 r3, r8
  smlad r10, r4, r3, r10
  smlad r11, r5, r3, r11
  sxtb16 r3, r8, ror #8
  smlad r10, r6, r3, r10
  smlad r11, r7, r3, r11
  sxtb16 r3, r9
  smlad r12, r4, r3, r12
  smlad lr, r5, r3, lr
  sxtb16 r3, r9, ror #8
  smlad r12, r6, r3, r12
  smlad lr, r7, r3, lr
  .endm

/* Frame: [sp] col, [sp+4] tiles left, [sp+8] where the next accumulators go, [sp+12] the end
   of col, [sp+16] the next tile's biases, [sp+20] the count of groups modulo 4. */
  .macro PROLOGUE group_bytes
  push {r4-r11, lr}
  ldr r12, [sp, #36]          @ acc, the fifth argument
  ldr r5, [sp, #40]           @ bias, the sixth
  and r6, r2, #3
  mov r4, #\group_bytes
  mla r2, r2, r4, r0          @ the end of col
  sub sp, sp, #24
  str r0, [sp, #0]
  str r3, [sp, #4]
  str r12, [sp, #8]
  str r2, [sp, #12]
  str r5, [sp, #16]
  str r6, [sp, #20]
  .endm

/* The group four times, entered at the copy that leaves a multiple of 4 groups. */
  .macro UNROLLED group, tmp, first, second, third, fourth
  ldr \tmp, [sp, #20]
  cmp \tmp, #1
  beq \fourth
  cmp \tmp, #2
  beq \third
  cmp \tmp, #3
  beq \second
\first:
  \group
\second:
  \group
\third:
  \group
\fourth:
  \group
  .endm

  .macro FUNCTION name
  .section .text.\name, "ax", %progbits
  .global \name
  .type \name, %function
  .p2align 2
  .thumb_func
\name:
  .endm

  .macro NEXT_TILE first_acc, tile_loop
  ldr r3, [sp, #8]
  stmia r3!, {\first_acc-r12, lr}
  str r3, [sp, #8]
  ldr r3, [sp, #4]
  subs r3, r3, #1
  str r3, [sp, #4]
  bne \tile_loop
  add sp, sp, #24
  movs r0, #0
  pop {r4-r11, pc}
  .endm

  FUNCTION smile_dsp_mac_3x2
  PROLOGUE 24
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
  UNROLLED GROUP3, r7, .L3first, .L3second, .L3third, .L3fourth
  ldr r7, [sp, #12]
  cmp r0, r7
  bne .L3first
  NEXT_TILE r8, .L3tile
  .size smile_dsp_mac_3x2, . - smile_dsp_mac_3x2

  FUNCTION smile_dsp_mac_2x2
  PROLOGUE 16
.L2tile:
  ldr r0, [sp, #0]
  ldr r3, [sp, #16]
  ldr r10, [r3], #8
  ldr r12, [r3], #8
  str r3, [sp, #16]
  mov r11, r10
  mov lr, r12
  UNROLLED GROUP2, r3, .L2first, .L2second, .L2third, .L2fourth
  cmp r0, r2
  bne .L2first
  NEXT_TILE r10, .L2tile
  .size smile_dsp_mac_2x2, . - smile_dsp_mac_2x2

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
