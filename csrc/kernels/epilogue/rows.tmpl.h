/* The epilogue row loop of kernels/epilogue/epilogue.h, for FC_REAL, named FC_EPILOGUE_NAME,
 * compiled for the including file's target.  One loop per activation of FC_ACTIVATION_LIST
 * (common/epilogue.h), the switch outside them.
 *
 * no-trapping-math: the loops compute what a formula's branch guards (relu6's comparisons,
 * leaky_relu's product) for every element and select.  Under the default -ftrapping-math gcc
 * may not, as those operations can raise FP exceptions, and left relu6 and leaky_relu
 * branchy scalar loops that mispredicted on the signs of real data (leaky_relu on LeNet's c1
 * output: 4 ns an element, 64% of the convolution's time).  fastconv never reads the FP
 * exception flags and the option changes no result. */
#pragma GCC optimize("no-trapping-math")

#include "common/epilogue.h"

#define FC_EPI_ROW(NAME, name, fused, formula, grad)                                                \
    case FC_ACTIVATION_##NAME:                                                                  \
        if (res)                                                                                \
            for (size_t j = 0; j < n; j++) {                                                    \
                const FC_REAL v = t[j] + res[j];                                                \
                t[j] = formula;                                                                 \
            }                                                                                   \
        else                                                                                    \
            for (size_t j = 0; j < n; j++) {                                                    \
                const FC_REAL v = t[j];                                                         \
                t[j] = formula;                                                                 \
            }                                                                                   \
        break;

void FC_EPILOGUE_NAME(fc_activation activation, FC_REAL alpha, size_t n,
                      const FC_REAL *restrict res, FC_REAL *restrict t)
{
    (void)alpha; /* read by the formulas that have a parameter */
    switch (activation) { FC_ACTIVATION_LIST(FC_EPI_ROW) }
}
#undef FC_EPI_ROW
