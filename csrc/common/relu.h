/* The one definition of ReLU every kernel, epilogue and reference uses: x for x > 0 and for NaN
 * (NaN propagates, as in PyTorch), +0 otherwise — including for -0: relu(-0.0) is +0.0, so
 * the output never carries a sign bit on a zero (PyTorch 2.13 returns -0.0 there). */
#ifndef FC_COMMON_RELU_H
#define FC_COMMON_RELU_H

#define FC_RELU(v) (((v) > 0 || (v) != (v)) ? (v) : 0)

#endif
