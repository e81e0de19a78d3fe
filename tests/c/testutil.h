/* testutil.h — helpers shared by the core tests: deterministic test data
 * (independent of core/rng.c), naive element access by direct stride
 * arithmetic, row-major index walking, and status/shape checks. */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include "harness.h"
#include "../../core/tensor.h"

/* "ndim, shape" for a literal shape: rl_tensor_zeros(&t, RL_FLOAT64, DIMS(2, 3)) */
#define DIMS(...) (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]){__VA_ARGS__}
#define IDX(...) ((const int64_t[]){__VA_ARGS__})

/* splitmix64: test data only */
typedef struct { uint64_t s; } tu_rng;
void tu_seed(tu_rng *r, uint64_t seed);
uint64_t tu_next_u64(tu_rng *r);
double tu_uniform(tu_rng *r, double lo, double hi);

/* New tensors; on failure a check fails and NULL is returned. */
rl_tensor *tu_empty(rl_dtype dt, int ndim, const int64_t *shape);
/* uniform in [lo, hi), filled in row-major order; quantum > 0 rounds each
 * value to a multiple of it (to provoke ties) */
rl_tensor *tu_rand(rl_dtype dt, int ndim, const int64_t *shape, uint64_t seed, double lo, double hi, double quantum);
/* from row-major values */
rl_tensor *tu_from(rl_dtype dt, int ndim, const int64_t *shape, const double *vals);

/* Element access by direct arithmetic on offset, strides and dtype. */
double tu_get(const rl_tensor *t, const int64_t *idx);
void tu_set(rl_tensor *t, const int64_t *idx, double v);
int64_t tu_get_i64(const rl_tensor *t, const int64_t *idx);

/* Advances idx through shape in row-major order; false after the last one
 * (and at once for an empty shape). Start from all zeros. */
bool tu_next(int ndim, const int64_t *shape, int64_t *idx);
int64_t tu_numel(int ndim, const int64_t *shape);
/* idx of a (ndim)-shape maps to tidx of t broadcast to it (right-aligned,
 * size-1 dims stay 0) */
void tu_bcast_index(const rl_tensor *t, int ndim, const int64_t *idx, int64_t *tidx);
/* distance in units in the last place between two finite doubles */
uint64_t tu_ulp_diff(double a, double b);

void tu_check_status(const char *file, int line, const char *expr, rl_status got, rl_status want);
void tu_check_shape(const char *file, int line, const rl_tensor *t, int ndim, const int64_t *shape);
const char *tu_status_name(rl_status st);

#define CHECK_OK(expr) tu_check_status(__FILE__, __LINE__, #expr, (expr), RL_OK)
#define CHECK_STATUS(expr, want) tu_check_status(__FILE__, __LINE__, #expr, (expr), (want))
#define REQUIRE_OK(expr)                                                               \
    do {                                                                               \
        int th_before_ = th_failures();                                                \
        tu_check_status(__FILE__, __LINE__, #expr, (expr), RL_OK);                     \
        if (th_failures() != th_before_) return;                                       \
    } while (0)
/* CHECK_SHAPE(t, DIMS(2, 3)) or CHECK_SHAPE(t, 0, NULL) for 0-d */
#define CHECK_SHAPE(t, ...) tu_check_shape(__FILE__, __LINE__, (t), __VA_ARGS__)

#endif
