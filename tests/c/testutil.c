#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void tu_seed(tu_rng *r, uint64_t seed) { r->s = seed; }

uint64_t tu_next_u64(tu_rng *r)
{
    uint64_t z = (r->s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

double tu_uniform(tu_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * ((double)(tu_next_u64(r) >> 11) * 0x1.0p-53);
}

rl_tensor *tu_empty(rl_dtype dt, int ndim, const int64_t *shape)
{
    rl_tensor *t = NULL;
    rl_status st = rl_tensor_empty(&t, dt, ndim, shape);
    if (st) {
        th_fail(__FILE__, __LINE__, "rl_tensor_empty failed: %s", rl_last_error());
        return NULL;
    }
    return t;
}

rl_tensor *tu_rand(rl_dtype dt, int ndim, const int64_t *shape, uint64_t seed, double lo, double hi, double quantum)
{
    rl_tensor *t = tu_empty(dt, ndim, shape);
    if (!t) return NULL;
    tu_rng r;
    tu_seed(&r, seed);
    int64_t idx[RL_MAX_DIMS] = {0};
    if (tu_numel(ndim, shape) == 0) return t;
    do {
        double v = tu_uniform(&r, lo, hi);
        if (quantum > 0) v = floor(v / quantum) * quantum;
        if (dt == RL_FLOAT32) v = (float)v;
        tu_set(t, idx, v);
    } while (tu_next(ndim, shape, idx));
    return t;
}

rl_tensor *tu_from(rl_dtype dt, int ndim, const int64_t *shape, const double *vals)
{
    rl_tensor *t = tu_empty(dt, ndim, shape);
    if (!t) return NULL;
    int64_t idx[RL_MAX_DIMS] = {0};
    int64_t i = 0;
    if (tu_numel(ndim, shape) == 0) return t;
    do tu_set(t, idx, vals[i++]);
    while (tu_next(ndim, shape, idx));
    return t;
}

static char *elem(const rl_tensor *t, const int64_t *idx)
{
    int64_t off = t->offset;
    for (int d = 0; d < t->ndim; d++) off += idx[d] * t->stride[d];
    size_t es = t->dtype == RL_FLOAT32 ? 4 : 8;
    return (char *)t->storage->data + (size_t)off * es;
}

double tu_get(const rl_tensor *t, const int64_t *idx)
{
    const char *p = elem(t, idx);
    switch (t->dtype) {
    case RL_FLOAT32: return *(const float *)p;
    case RL_FLOAT64: return *(const double *)p;
    case RL_INT64: return (double)*(const int64_t *)p;
    }
    return NAN;
}

int64_t tu_get_i64(const rl_tensor *t, const int64_t *idx)
{
    return *(const int64_t *)elem(t, idx);
}

void tu_set(rl_tensor *t, const int64_t *idx, double v)
{
    char *p = elem(t, idx);
    switch (t->dtype) {
    case RL_FLOAT32: *(float *)p = (float)v; break;
    case RL_FLOAT64: *(double *)p = v; break;
    case RL_INT64: *(int64_t *)p = (int64_t)v; break;
    }
}

bool tu_next(int ndim, const int64_t *shape, int64_t *idx)
{
    for (int d = ndim - 1; d >= 0; d--) {
        if (++idx[d] < shape[d]) return true;
        idx[d] = 0;
    }
    return false;
}

int64_t tu_numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    return n;
}

void tu_bcast_index(const rl_tensor *t, int ndim, const int64_t *idx, int64_t *tidx)
{
    for (int d = 0; d < t->ndim; d++) {
        int od = ndim - t->ndim + d;
        tidx[d] = t->shape[d] == 1 ? 0 : idx[od];
    }
}

static uint64_t ordered_bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    /* sign-magnitude onto unsigned order: negatives reversed below positives */
    return (u >> 63) ? ~u : u | UINT64_C(0x8000000000000000);
}

uint64_t tu_ulp_diff(double a, double b)
{
    uint64_t x = ordered_bits(a), y = ordered_bits(b);
    return x > y ? x - y : y - x;
}

const char *tu_status_name(rl_status st)
{
    switch (st) {
    case RL_OK: return "RL_OK";
    case RL_ERR_ARG: return "RL_ERR_ARG";
    case RL_ERR_SHAPE: return "RL_ERR_SHAPE";
    case RL_ERR_DTYPE: return "RL_ERR_DTYPE";
    case RL_ERR_INDEX: return "RL_ERR_INDEX";
    case RL_ERR_NOMEM: return "RL_ERR_NOMEM";
    case RL_ERR_IO: return "RL_ERR_IO";
    case RL_ERR_STATE: return "RL_ERR_STATE";
    }
    return "?";
}

void tu_check_status(const char *file, int line, const char *expr, rl_status got, rl_status want)
{
    if (got != want)
        th_fail(file, line, "%s: got %s, want %s (last error: \"%s\")", expr, tu_status_name(got),
                tu_status_name(want), rl_last_error());
}

void tu_check_shape(const char *file, int line, const rl_tensor *t, int ndim, const int64_t *shape)
{
    char s1[RL_SHAPE_BUF], s2[RL_SHAPE_BUF];
    if (!t) {
        th_fail(file, line, "shape check on a NULL tensor");
        return;
    }
    bool same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
    if (!same)
        th_fail(file, line, "shape %s, want %s", rl_shape_str(s1, sizeof s1, t->ndim, t->shape),
                rl_shape_str(s2, sizeof s2, ndim, shape));
}
