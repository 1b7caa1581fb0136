/* The int8 conv and dense kernels' inner loops (compile/simd.py), scheduled by hand for the
   Cortex-M4.

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
          channel 0, then of channel 1 (, 2, 3) (simd.pack_int8's layout, as trained);
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
   weight; r10, r11 channel 0's pixels, r12, lr channel 1's. A channel: its weight word against
   both pixels' pairs. */
  .macro CHANNEL2 weight, acc0, acc1
  sxtb16 r3, \weight
  smlad \acc0, r4, r3, \acc0
  smlad \acc1, r5, r3, \acc1
  sxtb16 r3, \weight, ror #8
  smlad \acc0, r6, r3, \acc0
  smlad \acc1, r7, r3, \acc1
  .endm

  .macro GROUP2
  ldmia r0!, {r4, r5, r6, r7}
  ldmia r1!, {r8, r9}
  CHANNEL2 r8, r10, r11
  CHANNEL2 r9, r12, lr
  .endm

/* One input row: r0 col, r1 w, r2 the end of col; r3-r4 activations, r5-r8 weights, r9 the
   split weight. A channel: its weight word against the row's two pairs. */
  .macro CHANNEL weight, acc
  sxtb16 r9, \weight
  smlad \acc, r3, r9, \acc
  sxtb16 r9, \weight, ror #8
  smlad \acc, r4, r9, \acc
  .endm

/* 4 channels (dense layers): r10, r11, r12, lr. */
  .macro GROUP1
  ldmia r0!, {r3, r4}
  ldmia r1!, {r5, r6, r7, r8}
  CHANNEL r5, r10
  CHANNEL r6, r11
  CHANNEL r7, r12
  CHANNEL r8, lr
  .endm

/* 2 channels (the logits): r12, lr. */
  .macro GROUP1X2
  ldmia r0!, {r3, r4}
  ldmia r1!, {r5, r6}
  CHANNEL r5, r12
  CHANNEL r6, lr
  .endm

/* Frame: [sp] col, [sp+4] the end of the accumulators (the tile loop's end), [sp+8] where the
   next accumulators go, [sp+12] the end of col, [sp+16] the next tile's biases, [sp+20] the count
   of groups modulo 8. */
  .macro PROLOGUE group_bytes, tile_bytes
  push {r4-r11, lr}
  ldr r12, [sp, #36]          @ acc, the fifth argument
  ldr r5, [sp, #40]           @ bias, the sixth
  and r6, r2, #7
  mov r4, #\group_bytes
  mla r2, r2, r4, r0          @ the end of col
  mov r4, #\tile_bytes
  mla r3, r3, r4, r12         @ the end of the accumulators
  sub sp, sp, #24
  str r0, [sp, #0]
  str r3, [sp, #4]
  str r12, [sp, #8]
  str r2, [sp, #12]
  str r5, [sp, #16]
  str r6, [sp, #20]
  .endm

/* The group eight times, entered (TBH) at the copy that leaves a multiple of 8 groups: the loop's
   end test (a load from the frame, a compare and a taken branch, 6 cycles) then comes once per
   8 groups; 4 copies left it 0.75 cycles a group more (3% of the 3x2 loop). */
  .macro UNROLLED group, tmp, prefix
  ldr \tmp, [sp, #20]
  tbh [pc, \tmp, lsl #1]
\prefix\()_table:
  .irp copy, 0, 7, 6, 5, 4, 3, 2, 1
  .hword (\prefix\()_\copy - \prefix\()_table) / 2
  .endr
  .irp copy, 0, 1, 2, 3, 4, 5, 6, 7
\prefix\()_\copy:
  \group
  .endr
  .endm

  .macro FUNCTION name
  .section .text.\name, "ax", %progbits
  .global \name
  .type \name, %function
  .p2align 2
  .thumb_func
\name:
  .endm

  .macro NEXT_TILE tile_loop, accumulators:vararg
  ldr r3, [sp, #8]
  stmia r3!, {\accumulators}
  str r3, [sp, #8]
  ldr r4, [sp, #4]
  cmp r3, r4
  bne \tile_loop
  add sp, sp, #24
  movs r0, #0
  pop {r4-r11, pc}
  .endm

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

/* The loops whose end of col stays in r2 (the 3x2 one has no register for it): each tile's
   accumulators start at their biases, read from r3 by `start`. */
  .macro END_IN_R2 name, group_bytes, tile_bytes, group, start, accumulators:vararg
  FUNCTION \name
  PROLOGUE \group_bytes, \tile_bytes
.L\name\()_tile:
  ldr r0, [sp, #0]
  ldr r3, [sp, #16]
  \start
  str r3, [sp, #16]
  UNROLLED \group, r3, .L\name
  cmp r0, r2
  bne .L\name\()_0
  NEXT_TILE .L\name\()_tile, \accumulators
  .size \name, . - \name
  .endm

  .macro START2
  ldr r10, [r3], #8
  ldr r12, [r3], #8
  mov r11, r10
  mov lr, r12
  .endm

  .macro START1X4
  ldr r10, [r3], #8
  ldr r11, [r3], #8
  ldr r12, [r3], #8
  ldr lr, [r3], #8
  .endm

  .macro START1X2
  ldr r12, [r3], #8
  ldr lr, [r3], #8
  .endm

  END_IN_R2 smile_dsp_mac_2x2, 16, 16, GROUP2, START2, r10-r12, lr
  END_IN_R2 smile_dsp_mac_1x4, 8, 16, GROUP1, START1X4, r10-r12, lr
  END_IN_R2 smile_dsp_mac_1x2, 8, 8, GROUP1X2, START1X2, r12, lr

/* The image as int16, the integer reference's input (2p - 255), 8 pixels a loop:

   int32_t smile_dsp_image_int16(const uint8_t *image, int16_t *out, int32_t pixels);

   image any alignment (LDR, not LDM); out word-aligned (an arena tensor); pixels a multiple of 8.
   UXTAB16 adds a pixel to each half-word twice, onto -255; PKH puts the pairs back in order.
   ~2.8 cycles a pixel (LLVM's byte loop: 4.6). Returns 0. */
  FUNCTION smile_dsp_image_int16
  push {r4-r11, lr}
  add r2, r0, r2
  movw r3, #0xff01
  movt r3, #0xff01
.Lwiden:
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
  cmp r0, r2
  bne .Lwiden
  movs r0, #0
  pop {r4-r11, pc}
  .size smile_dsp_image_int16, . - smile_dsp_image_int16

/* The first layer (compile/simd_image.py): a 3x3 conv on the int16 image, rows of pixels a call.

   int32_t smile_dsp_image_3x3_k<K>_c<C>(const int32_t *col, const int32_t *w, int8_t *out,
                                         int32_t channels, const int64_t *bias,
                                         const int32_t *mult, const int8_t *table,
                                         int32_t entries, int32_t pixels);

     col    5 words a pixel (int16 pairs, simd.image_pairs' order), the last pixel's fifth word
            with bit 16 set (its padding half, which meets a zero weight);
     w      5 words a channel (the same pairs of its int16 weights);
     out    the first pixel's first output (C = channels bytes a pixel);
     bias   each channel's accumulator start (int64, the low word read); mult its multiplier;
     table  each channel's `entries` int8 outputs of the batch norm for inputs 0, 1, ...
   Per channel and pixel: acc = bias + the 5 SMLADs; v = usat7((smmul(acc, mult) + 2^(K-1))
   >> K) (dsp_requant's high stage with its ReLU's clip at 0); out = table[v]. One channel at a
   time, its constants in r4-r10, the pixels four times a loop.

   The shift K and the output stride C are immediates (one function per pair, each in its own
   section; the link keeps the one called): the store's post-increment steps over the other
   channels and r2 holds the rounding for SMMLA, ~17.5 cycles an output. The pixel loop is
   entered (TBB) at the copy that leaves the flagged last pixel in the fourth, so the flag is
   tested once per four pixels. */
  .macro IMAGE_PIXEL k, c
  ldmia r0!, {r11, r12, lr}
  smlad r11, r11, r4, r9
  smlad r11, r12, r5, r11
  smlad r11, lr, r6, r11
  ldmia r0!, {r12, lr}
  smlad r11, r12, r7, r11
  smlad r11, lr, r8, r11
  smmla r11, r11, r10, r2
  usat r11, #7, r11, asr #\k
  ldrsb r11, [r3, r11]
  strb r11, [r1], #\c
  .endm

/* Frame: [sp] col, [sp+4] the next channel's weights, [sp+8] its first output, [sp+12] channels
   left, [sp+16] the next bias, [sp+20] the next multiplier, [sp+24] pixels modulo 4; the
   arguments past r3 at sp+64. */
  .macro IMAGE_3X3 k, c
  FUNCTION smile_dsp_image_3x3_k\k\()_c\c
  push {r4-r11, lr}
  sub sp, sp, #28
  str r0, [sp]
  str r1, [sp, #4]
  str r2, [sp, #8]
  str r3, [sp, #12]
  ldr r4, [sp, #64]
  ldr r5, [sp, #68]
  ldr r3, [sp, #72]
  ldr r6, [sp, #80]
  str r4, [sp, #16]
  str r5, [sp, #20]
  and r6, r6, #3
  str r6, [sp, #24]
  mov r2, #(1 << (\k - 1))
.Limage\k\()_\c\()_channel:
  ldr r1, [sp, #16]
  ldr r9, [r1], #8
  str r1, [sp, #16]
  ldr r1, [sp, #20]
  ldr r10, [r1], #4
  str r1, [sp, #20]
  ldr r1, [sp, #4]
  ldmia r1!, {r4-r8}
  str r1, [sp, #4]
  ldr r0, [sp]
  ldr r12, [sp, #24]
  ldr r1, [sp, #8]
  tbb [pc, r12]
.Limage\k\()_\c\()_table:
  .irp copy, 0, 3, 2, 1
  .byte (.Limage\k\()_\c\()_\copy - .Limage\k\()_\c\()_table) / 2
  .endr
  .irp copy, 0, 1, 2, 3
.Limage\k\()_\c\()_\copy:
  IMAGE_PIXEL \k, \c
  .endr
  tst lr, #0x10000
  beq .Limage\k\()_\c\()_0
  ldr r1, [sp, #8]
  adds r1, r1, #1
  str r1, [sp, #8]
  ldr r1, [sp, #76]
  add r3, r3, r1
  ldr r1, [sp, #12]
  subs r1, r1, #1
  str r1, [sp, #12]
  bne .Limage\k\()_\c\()_channel
  add sp, sp, #28
  movs r0, #0
  pop {r4-r11, pc}
  .size smile_dsp_image_3x3_k\k\()_c\c, . - smile_dsp_image_3x3_k\k\()_c\c
  .endm

  .macro IMAGE_3X3_SHIFTS c
  .irp k, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16
  IMAGE_3X3 \k, \c
  .endr
  .irp k, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
  IMAGE_3X3 \k, \c
  .endr
  .endm

/* The output strides (the layer's channels) defined: simd_image.CHANNELS. */
  .irp c, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64
  IMAGE_3X3_SHIFTS \c
  .endr

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
