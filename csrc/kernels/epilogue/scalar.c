/* The scalar members: the loop compiled for the baseline target (SSE2 on x86-64, NEON on
 * aarch64, which the compiler vectorises it for). */
#include "kernels/epilogue/epilogue.h"

#include "simd/dtype_f32.h"
#define FC_EPILOGUE_NAME fc_f32_epilogue_ukernel__scalar
#include "kernels/epilogue/rows.tmpl.h"
#undef FC_EPILOGUE_NAME
#include "simd/dtype_end.h"

#include "simd/dtype_f64.h"
#define FC_EPILOGUE_NAME fc_f64_epilogue_ukernel__scalar
#include "kernels/epilogue/rows.tmpl.h"
#undef FC_EPILOGUE_NAME
#include "simd/dtype_end.h"
