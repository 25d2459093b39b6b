// Measures this machine's fp32 FMA peak (GFLOP/s) for AVX2 and AVX-512, on 1
// and on all threads: the denominator of every "% of peak" in BENCHMARKS.md.
// Build and run: g++ -O3 -mavx512f -mfma -fopenmp scripts/fma_peak.cpp -o /tmp/fma_peak && /tmp/fma_peak
#include <immintrin.h>
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <initializer_list>

template <typename V, V (*Fma)(V, V, V), V (*Set)(float)>
double gflops(int threads, int lanes) {
  const long iters = 100'000'000 / threads * 2;
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    float sink = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    {
      // 12 independent accumulators hide the FMA latency on both pipes
      V acc[12];
      for (auto& a : acc) a = Set(1.0f);
      V x = Set(0.999999f), y = Set(1e-7f);
      for (long i = 0; i < iters / 12; ++i) {
#pragma GCC unroll 12
        for (int j = 0; j < 12; ++j) acc[j] = Fma(acc[j], x, y);
      }
      for (auto& a : acc) sink += reinterpret_cast<float*>(&a)[0];
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double g = 2.0 * lanes * double(iters / 12 * 12) * threads / s / 1e9;
    if (g > best) best = g;
    if (sink == 12345.f) std::printf(" ");
  }
  return best;
}

static __m256 fma256(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
static __m256 set256(float v) { return _mm256_set1_ps(v); }
static __m512 fma512(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
static __m512 set512(float v) { return _mm512_set1_ps(v); }

int main() {
  int all = omp_get_num_procs();
  for (int t : {1, all}) {
    std::printf("threads %d: AVX2 %.1f GFLOP/s", t, gflops<__m256, fma256, set256>(t, 8));
    if (__builtin_cpu_supports("avx512f")) std::printf(", AVX-512 %.1f GFLOP/s", gflops<__m512, fma512, set512>(t, 16));
    std::printf("\n");
  }
}
