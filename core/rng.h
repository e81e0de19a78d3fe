/* rng.h — the one seedable random generator of rnnlua.
 *
 * xoshiro256** (Blackman and Vigna 2018), seeded by running splitmix64 over
 * a 64-bit seed. Uniform doubles take the top 53 bits, floats the top 24.
 * Normal draws use Marsaglia's polar method with a logarithm written in plain
 * IEEE arithmetic (no libm), so the same seed gives the same bits on every
 * machine. Tensors are filled in row-major order of their logical shape. */
#ifndef RL_RNG_H
#define RL_RNG_H

#include <stdint.h>

#include "tensor.h"

typedef struct {
    uint64_t s[4];
    double spare;        /* second value of the last polar pair */
    int has_spare;
} rl_rng;

#define RL_DEFAULT_SEED UINT64_C(67280421310721)

void rl_rng_seed(rl_rng *r, uint64_t seed);
uint64_t rl_rng_next(rl_rng *r);
double rl_rng_uniform(rl_rng *r);     /* [0, 1), 53 random bits */
float rl_rng_uniform_f(rl_rng *r);    /* [0, 1), 24 random bits */
double rl_rng_normal(rl_rng *r);      /* N(0, 1) */
/* An integer uniform in [0, n), n >= 1, without modulo bias. */
uint64_t rl_rng_below(rl_rng *r, uint64_t n);

/* The process-wide generator behind rnn.manual_seed. */
rl_rng *rl_rng_default(void);

/* Natural logarithm of x > 0 from IEEE +,-,*,/ only: bit-identical on every
 * conforming machine. Exposed for tests. */
double rl_portable_log(double x);

/* In place: uniform on [lo, hi), normal with mean and std. */
void rl_tensor_uniform_(rl_tensor *t, rl_rng *r, double lo, double hi);
void rl_tensor_normal_(rl_tensor *t, rl_rng *r, double mean, double std);

#endif
