// The polynomial cores of exp, expm1 and log on float SIMD registers (Cephes
// expf / logf), shared by the AVX2 and AVX-512 twins of softmax, the RNN gates
// and the activations.
// V supplies the register ops: set1, add, mul, fmadd, fnmadd, round (to nearest).
// Range clamps and the 2^n scaling are the caller's, as they differ by ISA.
#pragma once

namespace nnc::simd {

// e^x = 2^n e^r: returns e^r - 1 = r + r^2 P(r) (~1 ulp, no cancellation for
// small r) and n = round(x / ln2); r = x - n ln2 with ln2 split in two so n ln2
// is exact, |r| <= ln2 / 2.
template <class V, class R>
R expm1_reduced(R x, R* n) {
  *n = V::round(V::mul(x, V::set1(1.44269504088896341f)));
  R r = V::fnmadd(*n, V::set1(0.693359375f), x);
  r = V::fnmadd(*n, V::set1(-2.12194440e-4f), r);
  R p = V::set1(1.9875691500e-4f);
  p = V::fmadd(p, r, V::set1(1.3981999507e-3f));
  p = V::fmadd(p, r, V::set1(8.3334519073e-3f));
  p = V::fmadd(p, r, V::set1(4.1665795894e-2f));
  p = V::fmadd(p, r, V::set1(1.6666665459e-1f));
  p = V::fmadd(p, r, V::set1(5.0000001201e-1f));
  return V::fmadd(p, V::mul(r, r), r);
}

// e^x = 2^n e^r: returns e^r = 1 + r + r^2 P(r) (~1 ulp) and n, as expm1_reduced.
template <class V, class R>
R exp_reduced(R x, R* n) {
  return V::add(expm1_reduced<V>(x, n), V::set1(1.0f));
}

// log(x) = e ln2 + log(1 + f) for x = 2^e (1 + f), 1 + f in [sqrt(1/2), sqrt(2)):
// the polynomial for log(1 + f) - f + f^2 / 2, ln2 split in two as above.
template <class V, class R>
R log_reduced(R f, R e) {
  R z = V::mul(f, f);
  R p = V::set1(7.0376836292e-2f);
  p = V::fmadd(p, f, V::set1(-1.1514610310e-1f));
  p = V::fmadd(p, f, V::set1(1.1676998740e-1f));
  p = V::fmadd(p, f, V::set1(-1.2420140846e-1f));
  p = V::fmadd(p, f, V::set1(1.4249322787e-1f));
  p = V::fmadd(p, f, V::set1(-1.6668057665e-1f));
  p = V::fmadd(p, f, V::set1(2.0000714765e-1f));
  p = V::fmadd(p, f, V::set1(-2.4999993993e-1f));
  p = V::fmadd(p, f, V::set1(3.3333331174e-1f));
  R y = V::mul(V::mul(p, f), z);
  y = V::fmadd(e, V::set1(-2.12194440e-4f), y);
  y = V::fnmadd(V::set1(0.5f), z, y);
  return V::fmadd(e, V::set1(0.693359375f), V::add(f, y));
}

}  // namespace nnc::simd
