/* vmath.h — sigmoid and tanh over arrays, for the recurrent kernels.
 *
 * float32: exp from Cephes' expf (range reduction by ln 2 in two parts, a
 * degree-5 polynomial, the exponent set by bit arithmetic) and tanh from
 * Cephes' tanhf (an odd polynomial below |x| = 0.625, 1 - 2/(e^2|x| + 1)
 * above), written without branches or calls so that the compiler
 * vectorises the loops; both within 2 ulp of the exact values. libm's
 * tanhf goes through expm1f, one call per element, and was a fifth of an
 * LSTM step.
 *
 * float64: the same scheme with Cephes' double routines: exp of a
 * non-positive argument by a (2,3) Padé form of e^r on |r| <= ln2/2, tanh
 * by its rational form below |x| = 0.625 and (1 - e)/(1 + e), e = e^-2|x|,
 * above; sigmoid as 1/(1 + e) or e/(1 + e) with e = e^-|x| (libm's form).
 * Within 2 ulp; libm's exp and tanh, one call per element, were a tenth
 * of a float64 LSTM step. */
#ifndef RL_VMATH_H
#define RL_VMATH_H

#include "isa.h"

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

/* Compiled for AVX-512, AVX2 and any x86-64, chosen at each call from the
 * level in use (core/isa.h: RNNLUA_ISA); the same operations in wider lanes
 * give the same bits (tests/c/test_isa.c compares them). */
RL_ISA_BODY void rl_vsigmoid_f32_body(float *y, const float *x, int64_t n)
{
    /* below -88 the result is under 6e-39 (float32's denormals): 0 */
    for (int64_t i = 0; i < n; i++) y[i] = x[i] < -88.0f ? 0.0f : 1.0f / (1.0f + rl_expf_fast(-x[i]));
}
RL_ISA_DISPATCH(rl_vsigmoid_f32, (float *y, const float *x, int64_t n), (y, x, n))

RL_ISA_BODY void rl_vtanh_f32_body(float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = rl_tanhf_fast(x[i]);
}
RL_ISA_DISPATCH(rl_vtanh_f32, (float *y, const float *x, int64_t n), (y, x, n))

/* e^x for x <= 0 (larger x are taken as 0; NaN gives NaN). Results below
 * 2^-1022 come out as denormals rounded once, as libm's, down to 0 below
 * about -745. */
static inline double rl_exp_neg_fast(double x)
{
    x = x > 0.0 ? 0.0 : x;
    x = x < -746.0 ? -746.0 : x;
    /* n = round(x / ln 2) by the 1.5·2^52 trick, which also leaves n in the
     * low bits of kd; a NaN x gives a NaN n, replaced here (x carries it) */
    double kd = x * 1.4426950408889634074 + 6755399441055744.0;
    double fn = kd - 6755399441055744.0;
    fn = fn == fn ? fn : 0.0;
    kd = fn + 6755399441055744.0;
    x = x - fn * 6.93145751953125E-1;
    x = x - fn * 1.42860682030941723212E-6;
    double xx = x * x;
    double px = 1.26177193074810590878E-4;
    px = px * xx + 3.02994407707441961300E-2;
    px = px * xx + 9.99999999999999999910E-1;
    px = px * x;
    double qx = 3.00198505138664455042E-6;
    qx = qx * xx + 2.52448340349684104192E-3;
    qx = qx * xx + 2.27265548208155028766E-1;
    qx = qx * xx + 2.00000000000000000009E0;
    double e = 1.0 + 2.0 * (px / (qx - px));
    /* 2^(n+60), a normal number for n >= -1076, then times 2^-60: one
     * rounding, into the denormals when the result is that small */
    uint64_t kb;
    memcpy(&kb, &kd, sizeof kb);
    uint64_t bits = (kb - UINT64_C(0x4338000000000000) + 1023 + 60) << 52;
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    return e * scale * 0x1p-60;
}

static inline double rl_tanh_fast(double x)
{
    double ax = x < 0 ? -x : x;
    double z = x * x;
    double p = -9.64399179425052238628E-1;
    p = p * z - 9.92877231001918586564E1;
    p = p * z - 1.61468768441708447952E3;
    double q = z + 1.12811678491632931402E2;
    q = q * z + 2.23548839060100448583E3;
    q = q * z + 4.84406305325125486048E3;
    double small = x + x * (z * p / q);
    small = ax < 1e-300 ? x : small; /* keeps the sign of -0 */
    double e = rl_exp_neg_fast(-2.0 * ax);
    double large = (1.0 - e) / (1.0 + e);
    large = x < 0 ? -large : large;
    return ax < 0.625 ? small : large;
}

RL_ISA_BODY void rl_vsigmoid_f64_body(double *y, const double *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        double e = rl_exp_neg_fast(v < 0 ? v : -v);
        y[i] = v >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    }
}
RL_ISA_DISPATCH(rl_vsigmoid_f64, (double *y, const double *x, int64_t n), (y, x, n))

RL_ISA_BODY void rl_vtanh_f64_body(double *y, const double *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = rl_tanh_fast(x[i]);
}
RL_ISA_DISPATCH(rl_vtanh_f64, (double *y, const double *x, int64_t n), (y, x, n))

#endif
