#include "reduce.h"
#include "iter.h"
#include "ops.h"

#include <math.h>
#include <string.h>

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

static void walk_one(const walk_ctx *c, const char *p, char *out, char *out_index)
{
    if (c->dt == RL_INT64 && (c->op == RL_RSUM || c->op == RL_RPROD)) {
        uint64_t acc = c->op == RL_RSUM ? 0 : 1; /* wraps like PyTorch instead of overflowing */
        for (int64_t k = 0; k < c->len; k++) {
            uint64_t x = (uint64_t)*(const int64_t *)(p + k * c->step);
            acc = c->op == RL_RSUM ? acc + x : acc * x;
        }
        *(int64_t *)out = (int64_t)acc;
        return;
    }
    double r;
    int64_t at = 0;
    switch (c->op) {
    case RL_RSUM:
    case RL_RMEAN: {
        /* four partial sums: fewer dependent adds, a little less rounding */
        double s[4] = {0, 0, 0, 0};
        int64_t k = 0;
        for (; k + 4 <= c->len; k += 4)
            for (int j = 0; j < 4; j++) s[j] += load(p + (k + j) * c->step, c->dt);
        for (; k < c->len; k++) s[0] += load(p + k * c->step, c->dt);
        r = (s[0] + s[1]) + (s[2] + s[3]);
        if (c->op == RL_RMEAN) r /= (double)c->len;
        break;
    }
    case RL_RPROD:
        r = 1;
        for (int64_t k = 0; k < c->len; k++) r *= load(p + k * c->step, c->dt);
        break;
    default:
        if (c->dt == RL_INT64) {
            /* compare as integers: through doubles, values beyond 2^53 tie */
            int64_t best = *(const int64_t *)p;
            for (int64_t k = 1; k < c->len; k++) {
                int64_t x = *(const int64_t *)(p + k * c->step);
                if (c->op == RL_RMAX ? x > best : x < best) {
                    best = x;
                    at = k;
                }
            }
            if (out) *(int64_t *)out = best;
            if (out_index) *(int64_t *)out_index = c->base + at;
            return;
        }
        r = load(p, c->dt);
        for (int64_t k = 1; k < c->len; k++) {
            double x = load(p + k * c->step, c->dt);
            if (better(c->op, x, r)) {
                r = x;
                at = k;
            }
        }
        break;
    }
    if (out) {
        switch (c->dt) {
        case RL_FLOAT32: *(float *)out = (float)r; break;
        case RL_FLOAT64: *(double *)out = r; break;
        case RL_INT64: *(int64_t *)out = rl_to_int64(r); break;
        }
    }
    if (out_index) *(int64_t *)out_index = c->base + at;
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

static rl_status reduce_by_slices(rl_tensor *values, rl_reduce_op op, const rl_tensor *a, int dim)
{
    rl_tensor *acc = NULL, *slice = NULL;
    rl_status st = rl_tensor_zeros(&acc, RL_FLOAT64, values->ndim, values->shape);
    slice_ctx c = {a->dtype};
    for (int64_t k = 0; st == RL_OK && k < a->shape[dim]; k++) {
        rl_iter it;
        if ((st = rl_tensor_narrow(&slice, a, dim, k, 1))) break;
        const rl_tensor *ops[2] = {acc, slice};
        if ((st = rl_iter_init(&it, names[op], 2, ops, acc->ndim, acc->shape)) == RL_OK)
            rl_iter_run(&it, add_slice_run, &c);
        rl_tensor_release(slice);
        slice = NULL;
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
    const rl_tensor *ops[3] = {shape_of, indices ? indices : shape_of, first};
    rl_iter it;
    if ((st = rl_iter_init(&it, names[op], 3, ops, shape_of->ndim, shape_of->shape)) == RL_OK)
        rl_iter_run(&it, walk_run, &c);
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
