/* vmath.h — sigmoid and tanh over arrays, for the recurrent kernels.
 *
 * float32: exp from Cephes' expf (range reduction by ln 2 in two parts, a
 * degree-5 polynomial, the exponent set by bit arithmetic) and tanh from
 * Cephes' tanhf (an odd polynomial below |x| = 0.625, 1 - 2/(e^2|x| + 1)
 * above), written without branches or calls so that the compiler
 * vectorises the loops; both within 2 ulp of the exact values. libm's
 * tanhf goes through expm1f, one call per element, and was a fifth of an
 * LSTM step. float64 uses libm as it is. */
#ifndef RL_VMATH_H
#define RL_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float rl_expf_fast(float x)
{
    x = x > 88.0f ? 88.0f : x;
    x = x < -87.0f ? -87.0f : x;
    /* n = round(x / ln 2) by the 1.5·2^23 trick: exact, branch-free; a NaN x
     * gives a NaN n, whose bits are then replaced (x carries the NaN) */
    float fn = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    fn = fn == fn ? fn : 0.0f;
    x = x - fn * 0.693359375f;
    x = x - fn * -2.12194440e-4f;
    float z = x * x;
    float y = 1.9875691500E-4f;
    y = y * x + 1.3981999507E-3f;
    y = y * x + 8.3334519073E-3f;
    y = y * x + 4.1665795894E-2f;
    y = y * x + 1.6666665459E-1f;
    y = y * x + 5.0000001201E-1f;
    y = y * z + x + 1.0f;
    int32_t bits = ((int32_t)fn + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return y * scale;
}

static inline float rl_tanhf_fast(float x)
{
    float ax = x < 0 ? -x : x;
    float z = x * x;
    float p = -5.70498872745E-3f;
    p = p * z + 2.06390887954E-2f;
    p = p * z - 5.37397155531E-2f;
    p = p * z + 1.33314422036E-1f;
    p = p * z - 3.33332819422E-1f;
    float small = x + x * z * p;
    float large = 1.0f - 2.0f / (rl_expf_fast(2.0f * ax) + 1.0f);
    large = x < 0 ? -large : large;
    small = ax < 1e-30f ? x : small; /* keeps the sign of -0 */
    return ax < 0.625f ? small : large;
}

/* Compiled for AVX2 and for any x86-64, chosen when the program loads; the
 * same operations in wider lanes give the same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__)
#define RL_VMATH_CLONES __attribute__((target_clones("avx2", "default"), noinline))
#else
#define RL_VMATH_CLONES
#endif

RL_VMATH_CLONES static void rl_vsigmoid_f32(float *y, const float *x, int64_t n)
{
    /* below -88 the result is under 6e-39 (float32's denormals): 0 */
    for (int64_t i = 0; i < n; i++) y[i] = x[i] < -88.0f ? 0.0f : 1.0f / (1.0f + rl_expf_fast(-x[i]));
}

RL_VMATH_CLONES static void rl_vtanh_f32(float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = rl_tanhf_fast(x[i]);
}

static inline void rl_vsigmoid_f64(double *y, const double *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        if (v >= 0) {
            y[i] = 1 / (1 + exp(-v));
        } else {
            double e = exp(v);
            y[i] = e / (1 + e);
        }
    }
}

static inline void rl_vtanh_f64(double *y, const double *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = tanh(x[i]);
}

#endif
