/* test_rng.c — the seedable generator: reproducibility, a known-answer test
 * for xoshiro256** seeded by splitmix64, the portable logarithm, uniform and
 * normal draws, unbiased bounded integers, tensor fills (core/rng.c). */
#include "suites.h"
#include "testutil.h"
#include "../../core/rng.h"

#include <float.h>
#include <math.h>

/* ---- an independent reference: Vigna's published algorithms, written out
 * from their definitions ---- */

typedef struct { uint64_t s0, s1, s2, s3; } ref_xoshiro;

static uint64_t ref_splitmix_step(uint64_t *state)
{
    *state += 0x9e3779b97f4a7c15ull;
    uint64_t z = *state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void ref_seed(ref_xoshiro *x, uint64_t seed)
{
    uint64_t sm = seed;
    x->s0 = ref_splitmix_step(&sm);
    x->s1 = ref_splitmix_step(&sm);
    x->s2 = ref_splitmix_step(&sm);
    x->s3 = ref_splitmix_step(&sm);
}

static uint64_t ref_rotl(uint64_t v, unsigned k) { return (v << k) | (v >> (64u - k)); }

static uint64_t ref_next(ref_xoshiro *x)
{
    const uint64_t out = ref_rotl(x->s1 * 5u, 7) * 9u;
    const uint64_t t = x->s1 << 17;
    x->s2 ^= x->s0;
    x->s3 ^= x->s1;
    x->s1 ^= x->s2;
    x->s0 ^= x->s3;
    x->s2 ^= t;
    x->s3 = ref_rotl(x->s3, 45);
    return out;
}

static void test_same_seed_same_sequence(void)
{
    rl_rng a, b, c;
    rl_rng_seed(&a, 12345);
    rl_rng_seed(&b, 12345);
    rl_rng_seed(&c, 12346);
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = rl_rng_next(&a), y = rl_rng_next(&b), z = rl_rng_next(&c);
        CHECK_EQ_U64(x, y);
        differ += x != z;
    }
    CHECK(differ > 990);
    /* reseeding restarts the stream and drops a cached normal */
    rl_rng_seed(&a, 7);
    double n1 = rl_rng_normal(&a);
    (void)rl_rng_normal(&a);
    (void)rl_rng_normal(&a); /* leaves a spare behind */
    rl_rng_seed(&a, 7);
    CHECK_CLOSE(rl_rng_normal(&a), n1, 0);
    /* the default generator is one object, seeded with RL_DEFAULT_SEED */
    rl_rng *d = rl_rng_default();
    CHECK(d == rl_rng_default());
    rl_rng save = *d, fresh;
    rl_rng_seed(&fresh, RL_DEFAULT_SEED);
    rl_rng_seed(d, RL_DEFAULT_SEED);
    CHECK_EQ_U64(rl_rng_next(d), rl_rng_next(&fresh));
    *d = save;
}

static void test_known_answer_seed_42(void)
{
    /* xoshiro256** seeded with splitmix64(42); computed independently (a
     * Python transcription of the published algorithms) */
    const uint64_t want[4] = {0x15780b2e0c2ec716ull, 0x6104d9866d113a7eull, 0xae17533239e499a1ull,
                              0xecb8ad4703b360a1ull};
    rl_rng r;
    ref_xoshiro x;
    rl_rng_seed(&r, 42);
    ref_seed(&x, 42);
    for (int i = 0; i < 4; i++) {
        uint64_t got = rl_rng_next(&r);
        CHECK_EQ_U64(got, want[i]);
        CHECK_EQ_U64(ref_next(&x), want[i]);
    }
    /* and far along the stream, for several seeds incl. 0 and all ones */
    const uint64_t seeds[4] = {0, 1, 42, UINT64_MAX};
    for (int k = 0; k < 4; k++) {
        rl_rng_seed(&r, seeds[k]);
        ref_seed(&x, seeds[k]);
        int bad = 0;
        for (int i = 0; i < 10000; i++) bad += rl_rng_next(&r) != ref_next(&x);
        CHECK_MSG(bad == 0, "seed %llu: %d of 10000 outputs differ from the reference",
                  (unsigned long long)seeds[k], bad);
    }
    /* the uniform conversions take the top bits */
    rl_rng_seed(&r, 42);
    CHECK_CLOSE(rl_rng_uniform(&r), (double)(want[0] >> 11) * 0x1p-53, 0);
    CHECK_CLOSE(rl_rng_uniform_f(&r), (double)(want[1] >> 40) * 0x1p-24, 0);
}

#define SQRT2 1.4142135623730951
#define SQRT1_2 0.70710678118654757 /* the double nearest sqrt(1/2), as in the core */

static void check_log(double x, uint64_t *worst, double *worst_x)
{
    double got = rl_portable_log(x), want = log(x);
    uint64_t d = tu_ulp_diff(got, want);
    if (d > *worst) {
        *worst = d;
        *worst_x = x;
    }
}

static void test_portable_log_within_2_ulp(void)
{
    uint64_t worst = 0;
    double worst_x = 0;
    tu_rng r;
    tu_seed(&r, 2024);
    for (int i = 0; i < 200000; i++) {
        double u = (double)((tu_next_u64(&r) >> 11) + 1) * 0x1p-53; /* (0, 1] */
        check_log(u, &worst, &worst_x);
    }
    /* across the exponent range: (0,1] scaled by 2^e, and large values */
    for (int i = 0; i < 100000; i++) {
        int e = (int)(tu_next_u64(&r) % 2098) - 1074;
        double m = 1 + (double)(tu_next_u64(&r) >> 12) * 0x1p-52;
        double x = ldexp(m, e);
        if (x > 0 && isfinite(x)) check_log(x, &worst, &worst_x);
    }
    /* near 1, where log is small and cancellation bites */
    for (int i = -2000; i <= 2000; i++) {
        check_log(1 + i * DBL_EPSILON, &worst, &worst_x);
        check_log(1 + i * 1e-9, &worst, &worst_x);
    }
    const double special[] = {1, 2, 0.5, SQRT2, SQRT1_2, nextafter(SQRT1_2, 0), nextafter(SQRT1_2, 1),
                              DBL_MIN, DBL_TRUE_MIN, DBL_MAX, 1e300, 1e-300, 10, 0.1, 2.718281828459045};
    for (size_t i = 0; i < sizeof special / sizeof *special; i++) check_log(special[i], &worst, &worst_x);
    CHECK_MSG(worst <= 2, "rl_portable_log is %llu ulp from log at x = %.17g", (unsigned long long)worst, worst_x);
    CHECK_CLOSE(rl_portable_log(1), 0, 0);
}

static void test_normal_moments(void)
{
    rl_rng r;
    rl_rng_seed(&r, 99);
    const int n = 1000000;
    double s = 0, s2 = 0, s4 = 0;
    int within1 = 0;
    for (int i = 0; i < n; i++) {
        double z = rl_rng_normal(&r);
        s += z;
        s2 += z * z;
        s4 += z * z * z * z;
        within1 += fabs(z) < 1;
    }
    double mean = s / n, var = s2 / n - mean * mean;
    /* standard errors: 0.001 for the mean, 0.0014 for the variance */
    CHECK_CLOSE(mean, 0, 0.005);
    CHECK_CLOSE(var, 1, 0.01);
    CHECK_CLOSE(s4 / n, 3, 0.05); /* the fourth moment of N(0,1) */
    CHECK_CLOSE((double)within1 / n, 0.682689, 0.003);
}

static void test_uniform_range_and_mean(void)
{
    rl_rng r;
    rl_rng_seed(&r, 5);
    double s = 0, sf = 0, lo = 1, lof = 1;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double u = rl_rng_uniform(&r);
        float f = rl_rng_uniform_f(&r);
        CHECK(u >= 0 && u < 1);
        CHECK(f >= 0 && f < 1);
        s += u;
        sf += f;
        if (u < lo) lo = u;
        if (f < lof) lof = f;
    }
    CHECK_CLOSE(s / n, 0.5, 0.005);
    CHECK_CLOSE(sf / n, 0.5, 0.005);
    CHECK(lo < 1e-4 && lof < 1e-4);
}

static void test_tensor_uniform_float32_never_hi(void)
{
    rl_rng r;
    rl_rng_seed(&r, 11);
    rl_tensor *t;
    REQUIRE_OK(rl_tensor_empty(&t, RL_FLOAT32, DIMS(100000)));
    /* an interval one float wide: lo + (hi-lo)*u rounds to hi for u > 1/2 */
    const float lo = 1.0f, hi = nextafterf(1.0f, 2.0f);
    rl_tensor_uniform_(t, &r, lo, hi);
    int at_hi = 0, out = 0;
    for (int64_t i = 0; i < 100000; i++) {
        double v = tu_get(t, &i);
        at_hi += v == hi;
        out += !(v >= lo && v < hi);
    }
    CHECK_EQ_INT(at_hi, 0);
    CHECK_EQ_INT(out, 0);
    /* a wide interval */
    rl_tensor_uniform_(t, &r, -3, 5);
    double s = 0;
    for (int64_t i = 0; i < 100000; i++) {
        double v = tu_get(t, &i);
        CHECK(v >= -3 && v < 5);
        s += v;
    }
    CHECK_CLOSE(s / 100000, 1, 0.05);
    /* near hi = 0 from below, where float spacing is finest */
    rl_tensor_uniform_(t, &r, -1e-30, 0);
    for (int64_t i = 0; i < 100000; i++) CHECK(tu_get(t, &i) < 0);
    rl_tensor_release(t);
    /* float64 too */
    REQUIRE_OK(rl_tensor_empty(&t, RL_FLOAT64, DIMS(1000)));
    rl_tensor_uniform_(t, &r, 2, 3);
    for (int64_t i = 0; i < 1000; i++) CHECK(tu_get(t, &i) >= 2 && tu_get(t, &i) < 3);
    rl_tensor_release(t);
}

static void test_tensor_fills_row_major_of_logical_shape(void)
{
    const rl_dtype dts[2] = {RL_FLOAT32, RL_FLOAT64};
    for (int k = 0; k < 2; k++) {
        rl_tensor *a, *buf, *v;
        REQUIRE_OK(rl_tensor_empty(&a, dts[k], DIMS(4, 3)));
        REQUIRE_OK(rl_tensor_empty(&buf, dts[k], DIMS(3, 4)));
        REQUIRE_OK(rl_tensor_transpose(&v, buf, 0, 1)); /* (4,3), non-contiguous */
        rl_rng r1, r2;
        rl_rng_seed(&r1, 31);
        rl_rng_seed(&r2, 31);
        rl_tensor_normal_(a, &r1, 1, 2);
        rl_tensor_normal_(v, &r2, 1, 2);
        for (int64_t i = 0; i < 4; i++)
            for (int64_t j = 0; j < 3; j++) CHECK_CLOSE(tu_get(v, IDX(i, j)), tu_get(a, IDX(i, j)), 0);
        rl_tensor_uniform_(a, &r1, -1, 1);
        rl_tensor_uniform_(v, &r2, -1, 1);
        for (int64_t i = 0; i < 4; i++)
            for (int64_t j = 0; j < 3; j++) CHECK_CLOSE(tu_get(v, IDX(i, j)), tu_get(a, IDX(i, j)), 0);
        /* normal_ values: mean + std * the generator's draws, in order */
        rl_rng r3;
        rl_rng_seed(&r3, 8);
        rl_tensor_normal_(a, &r3, 1, 2);
        rl_rng_seed(&r3, 8);
        for (int64_t i = 0; i < 4; i++)
            for (int64_t j = 0; j < 3; j++) {
                double want = 1 + 2 * rl_rng_normal(&r3);
                if (dts[k] == RL_FLOAT32) want = (float)want;
                CHECK_CLOSE(tu_get(a, IDX(i, j)), want, 0);
            }
        rl_tensor_release(v);
        rl_tensor_release(buf);
        rl_tensor_release(a);
    }
}

static void test_normal_fill_moments(void)
{
    rl_rng r;
    rl_rng_seed(&r, 123);
    rl_tensor *t;
    REQUIRE_OK(rl_tensor_empty(&t, RL_FLOAT64, DIMS(200, 500)));
    rl_tensor_normal_(t, &r, -3, 0.5);
    double s = 0, s2 = 0;
    double *d = t->storage->data;
    for (int i = 0; i < 100000; i++) {
        s += d[i];
        s2 += d[i] * d[i];
    }
    double mean = s / 100000, sd = sqrt(s2 / 100000 - mean * mean);
    CHECK_CLOSE(mean, -3, 0.01);
    CHECK_CLOSE(sd, 0.5, 0.01);
    rl_tensor_release(t);
}

static void test_rng_below_in_range_and_unbiased(void)
{
    rl_rng r;
    rl_rng_seed(&r, 77);
    for (int i = 0; i < 100; i++) CHECK_EQ_U64(rl_rng_below(&r, 1), 0);
    /* n = 7: chi-square over 70,000 draws, 6 degrees of freedom; 35 is
     * beyond the 1e-5 tail */
    int64_t count[7] = {0};
    for (int i = 0; i < 70000; i++) {
        uint64_t v = rl_rng_below(&r, 7);
        CHECK(v < 7);
        if (v < 7) count[v]++;
    }
    double chi2 = 0;
    for (int i = 0; i < 7; i++) chi2 += (double)(count[i] - 10000) * (double)(count[i] - 10000) / 10000;
    CHECK_MSG(chi2 < 35, "chi-square %.1f over 7 buckets", chi2);
    /* n = 3 * 2^62: plain x % n would put half of all draws below 2^62,
     * the unbiased draw a third */
    const uint64_t n = 3 * (UINT64_C(1) << 62);
    int low = 0;
    for (int i = 0; i < 30000; i++) {
        uint64_t v = rl_rng_below(&r, n);
        CHECK(v < n);
        low += v < (UINT64_C(1) << 62);
    }
    CHECK_CLOSE(low / 30000.0, 1.0 / 3, 0.015);
    /* powers of two and the largest n */
    for (int i = 0; i < 1000; i++) {
        CHECK(rl_rng_below(&r, 64) < 64);
        CHECK(rl_rng_below(&r, UINT64_MAX) < UINT64_MAX);
        CHECK(rl_rng_below(&r, (UINT64_C(1) << 63) + 1) <= (UINT64_C(1) << 63));
    }
}

void suite_rng(void)
{
    TH_RUN(test_same_seed_same_sequence);
    TH_RUN(test_known_answer_seed_42);
    TH_RUN(test_portable_log_within_2_ulp);
    TH_RUN(test_normal_moments);
    TH_RUN(test_uniform_range_and_mean);
    TH_RUN(test_tensor_uniform_float32_never_hi);
    TH_RUN(test_tensor_fills_row_major_of_logical_shape);
    TH_RUN(test_normal_fill_moments);
    TH_RUN(test_rng_below_in_range_and_unbiased);
}
