// NNC_HD marks per-element math shared by the CPU and CUDA twins: host and
// device inline under nvcc, plain inline for the C++ compiler.
#pragma once

#if defined(__CUDACC__)
#define NNC_HD __host__ __device__ __forceinline__
#else
#define NNC_HD inline
#endif
