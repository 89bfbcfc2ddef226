/* The one definition of ReLU every kernel, epilogue and reference uses: x for x > 0 and for NaN
 * (NaN propagates, as in PyTorch), +0 otherwise — including for -0, so that relu(-0.0) is +0.0
 * exactly as max(x, 0) in PyTorch and the NumPy oracle. */
#ifndef FC_COMMON_RELU_H
#define FC_COMMON_RELU_H

#define FC_RELU(v) (((v) > 0 || (v) != (v)) ? (v) : 0)

#endif
