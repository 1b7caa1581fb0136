"""The int8 kernels on the Cortex-M4's DSP instructions: SMLAD (two 16 x 16 multiply-accumulates a
cycle) fed by SXTB16 (two int8 -> two int16 in one instruction), written as TIR.

The scalar kernels (kernels.py's schedule of TVM's legalized ops) spend 3-4 cycles a MAC. These
spend 1.2-1.5 on the int8 convs, the way hand-tuned Cortex-M libraries do:
  * a pass takes 3 output pixels (2 for what is left: `pixel_passes`); their receptive fields
    are gathered once ("im2col") into a small int32 scratch buffer of int16 pairs: 4 input bytes
    are loaded as one word and SXTB16 splits them into (x0, x2) and (x1, x3); out-of-image taps
    are zeros (a field inside the map is copied without a test a tap);
  * per pair of output channels, one run over that buffer: each weight word (4 int8 weights,
    stored in flash as trained, only regrouped so a pair's words sit together) becomes (w0, w2)
    and (w1, w3) through SXTB16 (with an 8-bit rotation for the second), so the pairs meet their
    activations with no run-time shuffling; two SMLADs per word, channel and pixel. That loop is
    written by hand (called through call_extern on both routes): compiled from TIR, LLVM spreads
    the loads between the SMLADs (2 cycles each on the M4 instead of 1) and spilled
    accumulators, 1.56 cycles/MAC in the loop against ~1.15 by hand;
  * where the requantize chain is a conv's step and at most a batch norm's 32-bit one
    (requant.in_registers), the loop is the model's own (asm.conv_name: its shifts,
    channels and group count as immediates, instantiated in its dsp_layers.S) and requantizes
    the accumulators in registers, ~4 cycles an output; otherwise the generic loops of
    firmware/common/smile_dsp.S (`HAND_LOOPS`) leave the accumulators in a buffer and the TIR
    requantizes them (the same fixed-point step as everywhere, compile/quantize.py's Requant; a batch norm
    after ReLU on 32 bits: its multipliers are small, quantize.AFFINE_MULTIPLIER_BITS);
  * dense layers and one-pixel convs (one input row) take 4 (or 2) channels a pass by hand.
The first layer reads the int16 image (2p - 255, 9 bits): its weights are stored pre-widened to
int16 pairs (a few hundred bytes, paired as `image_pairs` says), so its pairs go to SMLAD as they
are; with only 9 MACs an output there, a batch norm after its ReLU is a per-channel lookup table
(requant.TABLE_MAX_TAPS) instead of a second multiply-shift-clip. A 3x3 one with a ReLU and
that table runs by hand (first_layer.py, rows a call); otherwise conv.py takes it one pixel and one
channel a pass with the pairs unrolled into registers.

Depthwise convs and the integer average pools (all-one depthwise convs) have their own kernel
(depthwise.py): four channels a word, each channel's taps paired by a pack after SXTB16, used
where most receptive fields lie inside the image (DEPTHWISE_MIN_INSIDE).

pack.py lays the weights out at compile time; the kernels' arithmetic is exactly the integer
reference's (quantize.run_int): every product and sum is the same integer, only the order of the
additions differs, and int32 additions do not overflow at these sizes (tested bit-exact).

The TIR kernels call `smile_smlad` / `smile_sxtb16`: on the C route, functions of compile/kernels.py's C_PRELUDE
(the instructions under GCC on an M4, portable C elsewhere); on the LLVM route compile/kernels.py maps
them to LLVM's `llvm.arm.smlad` / `llvm.arm.sxtb16` intrinsics, which become the instructions.

One module per op family: conv.py (convs), depthwise.py (depthwise convs and average pools),
dense.py (dense layers), first_layer.py (the 3x3 first layer on the int16 image, by hand); what
they share: instructions.py (the DSP calls and TIR helpers), pack.py (weight layouts),
requant.py (the requantize chain), asm.py (each model's own hand loops, dsp_layers.S).
"""
