#include "reduce.h"
#include "iter.h"
#include "ops.h"
#include "pool.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define REDUCE_BLOCK RL_REDUCE_BLOCK

static const char *names[] = {"sum", "mean", "max", "min", "prod"};

const char *rl_reduce_name(rl_reduce_op op) { return names[op]; }

static double load(const char *p, rl_dtype dt)
{
    switch (dt) {
    case RL_FLOAT32: return *(const float *)p;
    case RL_FLOAT64: return *(const double *)p;
    case RL_INT64: return (double)*(const int64_t *)p;
    }
    return 0;
}

/* Walks `len` elements from p in steps of `step` bytes; for max/min also
 * reports the position of the winner. Sums and products run in double
 * (int64 sums in int64, exact). */
typedef struct {
    rl_reduce_op op;
    rl_dtype dt;
    int64_t len, step;   /* the reduced dimension */
    int64_t base;
    bool want_values, want_index;
} walk_ctx;

static bool better(rl_reduce_op op, double x, double best)
{
    if (best != best) return false;           /* a NaN already won */
    if (x != x) return true;
    return op == RL_RMAX ? x > best : x < best;
}

/* The reduction of one run, before rounding to the dtype: v (floats: the
 * sum, product or extremum in double; a mean's sum, not yet divided), iv
 * (int64: the wrapped sum or product, or the extremum) and at (the
 * extremum's position in the run). */
typedef struct {
    double v;
    int64_t iv, at;
} partial;

static void reduce_run(const walk_ctx *c, const char *p, int64_t len, partial *r)
{
    r->at = 0;
    if (c->dt == RL_INT64 && (c->op == RL_RSUM || c->op == RL_RPROD)) {
        uint64_t acc = c->op == RL_RSUM ? 0 : 1; /* wraps like PyTorch instead of overflowing */
        for (int64_t k = 0; k < len; k++) {
            uint64_t x = (uint64_t)*(const int64_t *)(p + k * c->step);
            acc = c->op == RL_RSUM ? acc + x : acc * x;
        }
        r->iv = (int64_t)acc;
        return;
    }
    switch (c->op) {
    case RL_RSUM:
    case RL_RMEAN: {
        /* four partial sums: fewer dependent adds, a little less rounding
         * (typed loops: a load through the dtype switch cost 1.5 ns) */
        double s[4] = {0, 0, 0, 0};
        int64_t k = 0;
#define SUM4(T)                                                                        \
        for (; k + 4 <= len; k += 4)                                                   \
            for (int j = 0; j < 4; j++) s[j] += *(const T *)(p + (k + j) * c->step);   \
        for (; k < len; k++) s[0] += *(const T *)(p + k * c->step);
        if (c->dt == RL_FLOAT32) {
            SUM4(float)
        } else {
            SUM4(double)
        }
#undef SUM4
        r->v = (s[0] + s[1]) + (s[2] + s[3]);
        return;
    }
    case RL_RPROD:
        r->v = 1;
        for (int64_t k = 0; k < len; k++) r->v *= load(p + k * c->step, c->dt);
        return;
    default:
        if (c->dt == RL_INT64) {
            /* compare as integers: through doubles, values beyond 2^53 tie */
            int64_t best = *(const int64_t *)p;
            for (int64_t k = 1; k < len; k++) {
                int64_t x = *(const int64_t *)(p + k * c->step);
                if (c->op == RL_RMAX ? x > best : x < best) {
                    best = x;
                    r->at = k;
                }
            }
            r->iv = best;
            return;
        }
        r->v = load(p, c->dt);
        for (int64_t k = 1; k < len; k++) {
            double x = load(p + k * c->step, c->dt);
            if (better(c->op, x, r->v)) {
                r->v = x;
                r->at = k;
            }
        }
        return;
    }
}

/* Folds r, the run that follows acc's, into acc; offset: r's first
 * position. In run order: the first of equal extrema (or NaNs) stays. */
static void combine(const walk_ctx *c, partial *acc, const partial *r, int64_t offset)
{
    bool wrapped = c->dt == RL_INT64 && (c->op == RL_RSUM || c->op == RL_RPROD);
    switch (c->op) {
    case RL_RSUM:
    case RL_RMEAN:
        if (wrapped) acc->iv = (int64_t)((uint64_t)acc->iv + (uint64_t)r->iv);
        else acc->v += r->v;
        return;
    case RL_RPROD:
        if (wrapped) acc->iv = (int64_t)((uint64_t)acc->iv * (uint64_t)r->iv);
        else acc->v *= r->v;
        return;
    default:
        if (c->dt == RL_INT64 ? (c->op == RL_RMAX ? r->iv > acc->iv : r->iv < acc->iv) : better(c->op, r->v, acc->v)) {
            *acc = *r;
            acc->at += offset;
        }
        return;
    }
}

/* Writes r, the reduction of len elements, as the dtype (and the position
 * plus c->base); either pointer may be NULL. */
static void store(const walk_ctx *c, const partial *r, int64_t len, char *out, char *out_index)
{
    if (out) {
        bool integral = c->dt == RL_INT64 && c->op != RL_RMEAN;
        double v = c->op == RL_RMEAN ? r->v / (double)len : r->v;
        switch (c->dt) {
        case RL_FLOAT32: *(float *)out = (float)v; break;
        case RL_FLOAT64: *(double *)out = v; break;
        case RL_INT64: *(int64_t *)out = integral ? r->iv : rl_to_int64(v); break;
        }
    }
    if (out_index) *(int64_t *)out_index = c->base + r->at;
}

static void walk_one(const walk_ctx *c, const char *p, char *out, char *out_index)
{
    partial r;
    reduce_run(c, p, c->len, &r);
    store(c, &r, c->len, out, out_index);
}

/* One output of a long run: blocks of REDUCE_BLOCK elements, reduced on
 * the pool's threads, combined in block order here. */
typedef struct {
    const walk_ctx *c;
    const char *p;
    partial *part;
} blocks_job;

static void blocks_chunk(void *arg, int64_t lo, int64_t hi, int chunk)
{
    (void)chunk;
    const blocks_job *j = arg;
    for (int64_t b = lo; b < hi; b++) {
        int64_t first = b * REDUCE_BLOCK, len = j->c->len - first;
        reduce_run(j->c, j->p + first * j->c->step, len < REDUCE_BLOCK ? len : REDUCE_BLOCK, &j->part[b]);
    }
}

static rl_status reduce_blocks(const walk_ctx *c, const char *p, char *out, char *out_index)
{
    int64_t nb = (c->len + REDUCE_BLOCK - 1) / REDUCE_BLOCK;
    partial *part = malloc(sizeof *part * (size_t)nb);
    if (!part)
        return rl_fail(RL_ERR_NOMEM, "%s: out of memory for the results of %lld blocks", names[c->op], (long long)nb);
    blocks_job j = {c, p, part};
    /* a block of a float32 sum is ~5 us on one thread here, of a max ~10 */
    rl_parallel_for(nb, RL_GRAIN_MEDIUM / REDUCE_BLOCK, blocks_chunk, &j);
    partial acc = part[0];
    for (int64_t b = 1; b < nb; b++) combine(c, &acc, &part[b], b * REDUCE_BLOCK);
    free(part);
    store(c, &acc, c->len, out, out_index);
    return RL_OK;
}

/* iterator over (values, indices, input narrowed to one slot of dim) */
static void walk_run(void *vctx, int64_t n, char **p, const int64_t *s)
{
    const walk_ctx *c = vctx;
    for (int64_t i = 0; i < n; i++)
        walk_one(c, p[2] + i * s[2], c->want_values ? p[0] + i * s[0] : NULL,
                 c->want_index ? p[1] + i * s[1] : NULL);
}

static rl_status check_dim(const char *op, const rl_tensor *a, int dim)
{
    if (dim < 0 || dim >= a->ndim)
        return rl_fail(RL_ERR_INDEX, "%s: dimension %d out of range for a %d-d tensor", op, dim + 1, a->ndim);
    return RL_OK;
}

static rl_status check_nonempty(const char *op, int64_t len, const rl_tensor *a)
{
    if (len == 0) {
        char sb[RL_SHAPE_BUF];
        return rl_fail(RL_ERR_SHAPE, "%s: cannot reduce an empty tensor of shape %s (no identity)", op,
                       rl_shape_str(sb, sizeof sb, a->ndim, a->shape));
    }
    return RL_OK;
}

/* Sums along a dim that is not the innermost in memory (a column sum of a
 * row-major matrix, a bias gradient): adding whole slices, one after the
 * other, into double accumulators reads memory in order, where walking
 * each output's column would stride across it. */
typedef struct {
    rl_dtype dt;
} slice_ctx;

static void add_slice_run(void *vctx, int64_t n, char **p, const int64_t *s)
{
    const slice_ctx *c = vctx;
    for (int64_t i = 0; i < n; i++) {
        double *acc = (double *)(p[0] + i * s[0]);
        const char *x = p[1] + i * s[1];
        *acc += c->dt == RL_FLOAT32 ? *(const float *)x : *(const double *)x;
    }
}

static bool sum_by_slices(rl_reduce_op op, const rl_tensor *a, int dim)
{
    if ((op != RL_RSUM && op != RL_RMEAN) || a->dtype == RL_INT64 || a->shape[dim] < 2) return false;
    if (rl_tensor_numel(a) / a->shape[dim] < 16) return false; /* slices too small to pay their way */
    for (int d = 0; d < a->ndim; d++)
        if (d != dim && a->shape[d] > 1 && a->stride[d] < a->stride[dim]) return true;
    return false;
}

/* Threads split the accumulators; each adds every slice into its own, in
 * slice order: the same sums as one thread. */
typedef struct {
    const rl_iter *it;    /* (acc, slice 0) */
    int64_t len, step;    /* slices, and bytes from one to the next */
    slice_ctx c;
} slices_job;

static void slices_chunk(void *arg, int64_t lo, int64_t hi, int chunk)
{
    (void)chunk;
    const slices_job *j = arg;
    rl_iter it = *j->it;
    for (int64_t k = 0; k < j->len; k++) {
        rl_iter_run_range(&it, lo, hi, add_slice_run, (void *)&j->c);
        it.base[1] += j->step;
    }
}

static rl_status reduce_by_slices(rl_tensor *values, rl_reduce_op op, const rl_tensor *a, int dim)
{
    rl_tensor *acc = NULL, *slice = NULL;
    rl_status st = rl_tensor_zeros(&acc, RL_FLOAT64, values->ndim, values->shape);
    if (st == RL_OK) st = rl_tensor_narrow(&slice, a, dim, 0, 1);
    if (st == RL_OK) {
        rl_iter it;
        const rl_tensor *ops[2] = {acc, slice};
        if ((st = rl_iter_init(&it, names[op], 2, ops, acc->ndim, acc->shape)) == RL_OK) {
            int64_t len = a->shape[dim];
            slices_job j = {&it, len, a->stride[dim] * (int64_t)rl_dtype_size(a->dtype), {a->dtype}};
            rl_parallel_for_aligned(rl_iter_numel(&it), RL_GRAIN_LIGHT / len + 1, RL_ITER_ALIGN, slices_chunk, &j);
        }
        rl_tensor_release(slice);
    }
    if (st == RL_OK && op == RL_RMEAN) st = rl_binary_scalar_into(acc, RL_DIV, acc, (double)a->shape[dim], false);
    if (st == RL_OK) st = rl_tensor_copy_(values, acc);
    rl_tensor_release(acc);
    return st;
}

/* The shared walk: reduce `a` along dim into keepdim-shaped outputs. */
static rl_status reduce_along(rl_tensor *values, rl_tensor *indices, rl_reduce_op op, const rl_tensor *a,
                              int dim, int64_t base)
{
    if (!indices && sum_by_slices(op, a, dim)) return reduce_by_slices(values, op, a, dim);
    walk_ctx c = {op, a->dtype, a->shape[dim], a->stride[dim] * (int64_t)rl_dtype_size(a->dtype), base,
                  values != NULL, indices != NULL};
    rl_tensor *first;
    /* one slot of the reduced dim: the walk starts there and steps along dim */
    rl_status st = rl_tensor_narrow(&first, a, dim, 0, a->shape[dim] ? 1 : 0);
    if (st) return st;
    if (a->shape[dim] == 0) {
        /* sum/mean/prod of nothing: fill with the identity (mean: NaN) */
        rl_tensor_fill_(values, op == RL_RSUM ? 0 : op == RL_RPROD ? 1 : NAN);
        rl_tensor_release(first);
        return RL_OK;
    }
    /* a missing output takes the other's place in the walk and is not written */
    rl_tensor *shape_of = values ? values : indices;
    if (rl_tensor_numel(shape_of) == 1 && c.len > REDUCE_BLOCK) {
        /* every element into one (sum(), max()): in blocks, whatever the thread count */
        st = reduce_blocks(&c, rl_tensor_data(first), values ? rl_tensor_data(values) : NULL,
                           indices ? rl_tensor_data(indices) : NULL);
        rl_tensor_release(first);
        return st;
    }
    const rl_tensor *ops[3] = {shape_of, indices ? indices : shape_of, first};
    rl_iter it;
    /* one output per walk of len elements, each on one thread */
    int64_t grain = RL_GRAIN_LIGHT / c.len + 1;
    if ((st = rl_iter_init(&it, names[op], 3, ops, shape_of->ndim, shape_of->shape)) == RL_OK)
        rl_iter_run_parallel(&it, 2, grain, walk_run, &c);
    rl_tensor_release(first);
    return st;
}

static void keep_shape(const rl_tensor *a, int dim, int64_t *shape)
{
    memcpy(shape, a->shape, sizeof(int64_t) * (size_t)a->ndim);
    shape[dim] = 1;
}

static rl_status drop_dim(rl_tensor **t, int dim)
{
    rl_tensor *v;
    rl_status st = rl_tensor_squeeze(&v, *t, dim);
    rl_tensor_release(*t);
    *t = st ? NULL : v;
    return st;
}

rl_status rl_reduce_dim(rl_tensor **out, rl_reduce_op op, const rl_tensor *a, int dim, bool keepdim)
{
    rl_status st = check_dim(names[op], a, dim);
    if (st) return st;
    if ((op == RL_RMAX || op == RL_RMIN) && (st = check_nonempty(names[op], a->shape[dim], a))) return st;
    if (op == RL_RMEAN && a->dtype == RL_INT64)
        return rl_fail(RL_ERR_DTYPE, "mean: not defined for int64 tensors (convert with :to('float64'))");
    int64_t shape[RL_MAX_DIMS];
    keep_shape(a, dim, shape);
    if ((st = rl_tensor_empty(out, a->dtype, a->ndim, shape))) return st;
    if ((st = reduce_along(*out, NULL, op, a, dim, 0))) {
        rl_tensor_release(*out);
        *out = NULL;
        return st;
    }
    return keepdim ? RL_OK : drop_dim(out, dim);
}

rl_status rl_reduce_arg_dim(rl_tensor **values, rl_tensor **indices, rl_reduce_op op,
                            const rl_tensor *a, int dim, bool keepdim, int64_t base)
{
    const char *name = op == RL_RMAX ? "argmax" : "argmin";
    rl_status st = check_dim(name, a, dim);
    if (st || (st = check_nonempty(name, a->shape[dim], a))) return st;
    int64_t shape[RL_MAX_DIMS];
    keep_shape(a, dim, shape);
    rl_tensor *v = NULL, *ix = NULL;
    if (values && (st = rl_tensor_empty(&v, a->dtype, a->ndim, shape))) return st;
    if ((st = rl_tensor_empty(&ix, RL_INT64, a->ndim, shape))) goto fail;
    if ((st = reduce_along(v, ix, op, a, dim, base))) goto fail;
    if (!keepdim && ((v && (st = drop_dim(&v, dim))) || (st = drop_dim(&ix, dim)))) goto fail;
    if (values) *values = v;
    if (indices) *indices = ix;
    else rl_tensor_release(ix);
    return RL_OK;
fail:
    rl_tensor_release(v);
    rl_tensor_release(ix);
    return st;
}

/* all elements as one flat dimension (copying only when not viewable) */
static rl_status flat(rl_tensor **out, const rl_tensor *a)
{
    int64_t n = rl_tensor_numel(a);
    return rl_tensor_reshape(out, a, 1, &n);
}

rl_status rl_reduce_all(rl_tensor **out, rl_reduce_op op, const rl_tensor *a)
{
    rl_tensor *f;
    rl_status st = flat(&f, a);
    if (st) return st;
    if ((op == RL_RMAX || op == RL_RMIN) && (st = check_nonempty(names[op], f->shape[0], a))) goto done;
    if ((st = rl_reduce_dim(out, op, f, 0, false))) goto done;
done:
    rl_tensor_release(f);
    return st;
}

rl_status rl_reduce_arg_all(rl_tensor **index, rl_reduce_op op, const rl_tensor *a, int64_t base)
{
    rl_tensor *f;
    rl_status st = flat(&f, a);
    if (st) return st;
    st = rl_reduce_arg_dim(NULL, index, op, f, 0, false, base);
    rl_tensor_release(f);
    return st;
}
