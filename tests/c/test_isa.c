/* test_isa.c — core/isa.c: RNNLUA_ISA's values and errors, the level in use
 * following it, and the copies of the vectorised loops (core/vmath.h)
 * giving the same bits at every level the CPU has. */
#include "suites.h"
#include "testutil.h"
#include "../../core/blas.h"
#include "../../core/gemm.h"
#include "../../core/isa.h"
#include "../../core/status.h"
#include "../../core/vmath.h"

#include <stdlib.h>
#include <string.h>

static void test_isa_choose_values_and_errors(void)
{
    rl_isa_level l;
    CHECK(rl_isa_choose(NULL, RL_ISA_AVX2, &l) == RL_OK && l == RL_ISA_AVX2);
    CHECK(rl_isa_choose("", RL_ISA_AVX512, &l) == RL_OK && l == RL_ISA_AVX512);
    CHECK(rl_isa_choose("generic", RL_ISA_AVX512, &l) == RL_OK && l == RL_ISA_GENERIC);
    CHECK(rl_isa_choose("avx2", RL_ISA_AVX512, &l) == RL_OK && l == RL_ISA_AVX2);
    CHECK(rl_isa_choose("avx512", RL_ISA_AVX512, &l) == RL_OK && l == RL_ISA_AVX512);
    CHECK(rl_isa_choose("generic", RL_ISA_GENERIC, &l) == RL_OK && l == RL_ISA_GENERIC);

    /* a level the CPU lacks: refused (its code would stop on SIGILL) */
    CHECK(rl_isa_choose("avx512", RL_ISA_AVX2, &l) == RL_ERR_ARG);
    const char *e = rl_last_error();
    CHECK_MSG(strstr(e, "RNNLUA_ISA=avx512") && strstr(e, "only avx2") && strstr(e, "generic, avx2"), "message: %s", e);
    CHECK(rl_isa_choose("avx2", RL_ISA_GENERIC, &l) == RL_ERR_ARG);

    /* unknown values, including other spellings */
    const char *bad[] = {"sse9", "AVX2", "avx-512", " avx2", "avx512f"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(rl_isa_choose(bad[i], RL_ISA_AVX512, &l) == RL_ERR_ARG);
        e = rl_last_error();
        CHECK_MSG(strstr(e, "RNNLUA_ISA=") && strstr(e, bad[i]) && strstr(e, "generic, avx2, avx512") &&
                      strstr(e, "this CPU has avx512"),
                  "message: %s", e);
    }
    char long_value[300];
    memset(long_value, 'x', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = 0;
    CHECK(rl_isa_choose(long_value, RL_ISA_AVX2, &l) == RL_ERR_ARG);
    CHECK_MSG(strlen(rl_last_error()) < 200, "message of %zu bytes", strlen(rl_last_error()));
}

/* the level in use is RNNLUA_ISA's (main.c has refused a bad value), else
 * the CPU's: tests/run.sh runs this binary under each level */
static void test_isa_in_use_follows_environment(void)
{
    const char *v = getenv("RNNLUA_ISA");
    CHECK(rl_isa_init() == RL_OK);
    if (v && *v) CHECK_MSG(strcmp(rl_isa_name(rl_isa()), v) == 0, "RNNLUA_ISA=%s, in use %s", v, rl_isa_name(rl_isa()));
    else CHECK(rl_isa() == rl_isa_cpu());
    CHECK(rl_isa() <= rl_isa_cpu());
#if !defined(__x86_64__)
    CHECK(rl_isa_cpu() == RL_ISA_GENERIC);
#endif
}

/* rnnlua's own matrix product runs at avx512 only: at a forced lower level
 * the product goes to BLAS (rl_gemm_f32 declines) */
static void test_isa_fast_gemm_follows_level(void)
{
    rl_tensor *a = tu_rand(RL_FLOAT32, DIMS(32, 24), 1, -1, 1, 0);
    rl_tensor *b = tu_rand(RL_FLOAT32, DIMS(24, 40), 2, -1, 1, 0);
    rl_tensor *c = tu_empty(RL_FLOAT32, DIMS(32, 40));
    REQUIRE(a && b && c);
    bool ran = rl_gemm_f32(32, 40, 24, rl_tensor_data(a), 24, 1, rl_tensor_data(b), 40, 1, rl_tensor_data(c), 40, false);
#if defined(__x86_64__) && defined(__GNUC__)
    CHECK_MSG(ran == (rl_isa() == RL_ISA_AVX512), "level %s: rl_gemm_f32 ran: %d", rl_isa_name(rl_isa()), ran);
#else
    CHECK(!ran);
#endif
    rl_tensor_release(a);
    rl_tensor_release(b);
    rl_tensor_release(c);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define CHUNK 4099 /* odd: the vector loops' tails run too */

/* y of every copy the CPU runs against the generic one, bit for bit */
#define SAME_BITS(T, FN, x, n, bad)                                                            \
    do {                                                                                       \
        T y0[CHUNK], y1[CHUNK];                                                                \
        FN##_generic(y0, x, n);                                                                \
        for (int lv = RL_ISA_AVX2; lv <= (int)rl_isa_cpu(); lv++) {                            \
            if (lv == RL_ISA_AVX2) FN##_avx2(y1, x, n);                                        \
            else FN##_avx512(y1, x, n);                                                        \
            for (int64_t i = 0; i < n; i++)                                                    \
                if (memcmp(&y0[i], &y1[i], sizeof(T)) != 0 && (bad)++ < 3)                   \
                    th_fail(__FILE__, __LINE__, #FN " at %s, x = %a: %a, generic %a",          \
                            rl_isa_name((rl_isa_level)lv), (double)x[i], (double)y1[i], (double)y0[i]); \
        }                                                                                      \
    } while (0)

/* float32: every 509th bit pattern (8.4M values: every exponent, both
 * signs, NaNs, infinities, denormals); float64: 2M random bit patterns and
 * 2M values spread over [-800, 800] (exp's range and tanh's cut-offs) */
static void test_isa_vmath_same_bits_at_every_level(void)
{
    int bad = 0;
    float xf[CHUNK];
    uint64_t u = 0;
    while (u < ((uint64_t)1 << 32)) {
        int64_t n = 0;
        for (; n < CHUNK && u < ((uint64_t)1 << 32); n++, u += 509) {
            uint32_t b = (uint32_t)u;
            memcpy(&xf[n], &b, sizeof b);
        }
        SAME_BITS(float, rl_vsigmoid_f32, xf, n, bad);
        SAME_BITS(float, rl_vtanh_f32, xf, n, bad);
    }
    double xd[CHUNK];
    tu_rng r;
    tu_seed(&r, 15);
    for (int k = 0; k < 1000; k++) {
        for (int64_t i = 0; i < CHUNK; i++) {
            if (k % 2) {
                uint64_t b = tu_next_u64(&r);
                memcpy(&xd[i], &b, sizeof b);
            } else {
                xd[i] = tu_uniform(&r, -800, 800) / (double)(1 << (i % 12));
            }
        }
        SAME_BITS(double, rl_vsigmoid_f64, xd, CHUNK, bad);
        SAME_BITS(double, rl_vtanh_f64, xd, CHUNK, bad);
    }
    CHECK_MSG(bad == 0, "%d values differ between levels", bad);
}
#endif

void suite_isa(void)
{
    TH_RUN(test_isa_choose_values_and_errors);
    TH_RUN(test_isa_in_use_follows_environment);
    TH_RUN(test_isa_fast_gemm_follows_level);
#if defined(__x86_64__) && defined(__GNUC__)
    TH_RUN(test_isa_vmath_same_bits_at_every_level);
#endif
}
