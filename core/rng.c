#include "rng.h"
#include "iter.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

void rl_rng_seed(rl_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    r->spare = 0;
    r->has_spare = 0;
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t rl_rng_next(rl_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rl_rng_uniform(rl_rng *r)
{
    return (double)(rl_rng_next(r) >> 11) * 0x1.0p-53;
}

float rl_rng_uniform_f(rl_rng *r)
{
    return (float)(rl_rng_next(r) >> 40) * 0x1.0p-24f;
}

uint64_t rl_rng_below(rl_rng *r, uint64_t n)
{
    /* reject the top partial block so every residue is equally likely */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = rl_rng_next(r);
    while (x >= limit);
    return x % n;
}

double rl_portable_log(double x)
{
    /* x = m * 2^e with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(s),
     * s = (m-1)/(m+1), |s| < 0.172, summed to 12 odd terms (error < 1e-19). */
    int e;
    double m = frexp(x, &e); /* exact: only rescales the exponent */
    if (m < 0.70710678118654752440) {
        m *= 2;
        e--;
    }
    double s = (m - 1) / (m + 1), s2 = s * s;
    double p = 1.0 / 23;
    for (int k = 21; k >= 1; k -= 2) p = p * s2 + 1.0 / k;
    const double ln2_hi = 0x1.62e42fefa3800p-1, ln2_lo = 0x1.ef35793c76730p-45;
    return (double)e * ln2_hi + ((double)e * ln2_lo + 2 * s * p);
}

double rl_rng_normal(rl_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u, v, s;
    do {
        u = 2 * rl_rng_uniform(r) - 1;
        v = 2 * rl_rng_uniform(r) - 1;
        s = u * u + v * v;
    } while (s >= 1 || s == 0);
    double f = sqrt(-2 * rl_portable_log(s) / s); /* sqrt is exactly rounded by IEEE 754 */
    r->spare = v * f;
    r->has_spare = 1;
    return u * f;
}

static rl_rng default_rng;
static int default_seeded;

rl_rng *rl_rng_default(void)
{
    if (!default_seeded) {
        rl_rng_seed(&default_rng, RL_DEFAULT_SEED);
        default_seeded = 1;
    }
    return &default_rng;
}

typedef struct {
    rl_rng *r;
    rl_dtype dt;
    double a, b;
    int normal;
} fill_ctx;

static void fill_random(void *vctx, int64_t n, char **p, const int64_t *s)
{
    fill_ctx *c = vctx;
    for (int64_t i = 0; i < n; i++) {
        char *q = p[0] + i * s[0];
        if (c->normal) {
            double v = c->a + c->b * rl_rng_normal(c->r);
            if (c->dt == RL_FLOAT32) *(float *)q = (float)v;
            else *(double *)q = v;
        } else if (c->dt == RL_FLOAT32) {
            float v = (float)c->a + (float)(c->b - c->a) * rl_rng_uniform_f(c->r);
            /* rounding can land on hi itself; keep the interval half-open */
            *(float *)q = v < (float)c->b ? v : nextafterf((float)c->b, (float)c->a);
        } else {
            *(double *)q = c->a + (c->b - c->a) * rl_rng_uniform(c->r);
        }
    }
}

static void fill(rl_tensor *t, fill_ctx *c)
{
    rl_iter it;
    const rl_tensor *ops[1] = {t};
    rl_iter_init(&it, "random", 1, ops, t->ndim, t->shape);
    /* the iterator may merge dims but keeps row-major order */
    rl_iter_run(&it, fill_random, c);
}

void rl_tensor_uniform_(rl_tensor *t, rl_rng *r, double lo, double hi)
{
    fill_ctx c = {r, t->dtype, lo, hi, 0};
    fill(t, &c);
}

void rl_tensor_normal_(rl_tensor *t, rl_rng *r, double mean, double std)
{
    fill_ctx c = {r, t->dtype, mean, std, 1};
    fill(t, &c);
}
