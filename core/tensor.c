#include "tensor.h"
#include "iter.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- lifetime ---- */

/* Released tensor headers are kept for reuse (a bounded number): a
 * hand-written recurrent loop makes and drops several per step. */
/* Under AddressSanitizer nothing is recycled, so that a use after free is
 * still caught rather than landing in a pooled block. */
#ifdef __SANITIZE_ADDRESS__
#define HEADER_KEEP 0
#else
#define HEADER_KEEP 65536
#endif
static rl_tensor *free_headers;
static int free_header_count;
static long tensors_alive; /* headers handed out and not yet freed */

static bool anomaly_on;

long rl_tensors_alive(void) { return tensors_alive; }
bool rl_anomaly_enabled(void) { return anomaly_on; }
void rl_set_anomaly_enabled(bool on) { anomaly_on = on; }

static rl_tensor *header_alloc(void)
{
    rl_tensor *t = free_headers;
    if (t) {
        free_headers = t->grad; /* the free list is threaded through grad */
        free_header_count--;
    } else if (!(t = malloc(sizeof *t))) {
        return NULL;
    }
    rl_storage_note_overhead(sizeof(rl_tensor));
    tensors_alive++;
    return t;
}

static void header_free(rl_tensor *t)
{
    rl_storage_note_overhead_freed(sizeof(rl_tensor));
    tensors_alive--;
    if (free_header_count < HEADER_KEEP) {
        t->grad = free_headers;
        free_headers = t;
        free_header_count++;
        return;
    }
    free(t);
}

/* Set by the tape (tape.c), the only unit that gives a tensor a grad_fn,
 * before it gives one: this unit sits below the tape and does not call into
 * it by name. */
static rl_grad_fn_drop grad_fn_drop;

void rl_tensor_set_grad_fn_drop(rl_grad_fn_drop fn) { grad_fn_drop = fn; }

void rl_tensor_retain(rl_tensor *t)
{
    if (t) t->refcount++;
}

void rl_tensor_release(rl_tensor *t)
{
    if (t && --t->refcount == 0) {
        if (t->grad_fn) grad_fn_drop(t->grad_fn, t);
        rl_tensor_release(t->grad);
        rl_storage_release(t->storage);
        header_free(t);
    }
}

static void set_contiguous_strides(rl_tensor *t)
{
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        t->stride[i] = s;
        s *= t->shape[i] ? t->shape[i] : 1;
    }
}

/* A new tensor header sharing t's storage, with t's geometry. */
static rl_status header_like(rl_tensor **out, const rl_tensor *t)
{
    rl_tensor *v = header_alloc();
    if (!v) return rl_fail(RL_ERR_NOMEM, "out of memory allocating a tensor view");
    *v = *t;
    v->refcount = 1;
    v->requires_grad = v->retains_grad = false;
    v->output_nr = 0;
    v->grad_fn = NULL;
    v->grad = NULL;
    v->storage->refcount++;
    *out = v;
    return RL_OK;
}

rl_status rl_tensor_alias(rl_tensor **out, const rl_tensor *t)
{
    return header_like(out, t);
}

rl_status rl_tensor_empty(rl_tensor **out, rl_dtype dt, int ndim, const int64_t *shape)
{
    char sb[RL_SHAPE_BUF];
    if (ndim < 0 || ndim > RL_MAX_DIMS)
        return rl_fail(RL_ERR_SHAPE, "tensor: %d dimensions requested, at most %d supported", ndim, RL_MAX_DIMS);
    int64_t n = rl_shape_numel(ndim, shape);
    /* the non-zero sizes bound the strides, in bytes too, even when empty */
    int64_t span = 1;
    for (int i = 0; n >= 0 && i < ndim; i++)
        if (shape[i] > 0) span *= shape[i]; /* <= 2^62: checked by rl_shape_numel */
    if (n < 0 || (uint64_t)n > SIZE_MAX / 16 || (uint64_t)span > SIZE_MAX / 16)
        return rl_fail(RL_ERR_SHAPE, "tensor: invalid shape %s (sizes must be >= 0 and the product must fit in memory)",
                       rl_shape_str(sb, sizeof sb, ndim, shape));
    rl_tensor *t = header_alloc();
    if (!t) return rl_fail(RL_ERR_NOMEM, "out of memory allocating a tensor");
    memset(t, 0, sizeof *t);
    rl_status st = rl_storage_new(&t->storage, (size_t)n * rl_dtype_size(dt));
    if (st) {
        header_free(t);
        return rl_fail(st, "tensor: out of memory allocating shape %s (%s)",
                       rl_shape_str(sb, sizeof sb, ndim, shape), rl_dtype_name(dt));
    }
    t->ndim = ndim;
    t->dtype = dt;
    t->refcount = 1;
    if (ndim > 0) memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
    set_contiguous_strides(t);
    *out = t;
    return RL_OK;
}

rl_status rl_tensor_zeros(rl_tensor **out, rl_dtype dt, int ndim, const int64_t *shape)
{
    rl_status st = rl_tensor_empty(out, dt, ndim, shape);
    if (st == RL_OK) memset((*out)->storage->data, 0, (*out)->storage->nbytes);
    return st;
}

rl_status rl_tensor_full(rl_tensor **out, rl_dtype dt, int ndim, const int64_t *shape, double value)
{
    if (dt == RL_INT64 && !rl_fits_int64(value)) {
        char vb[64];
        return rl_fail(RL_ERR_ARG, "full: value %s cannot be stored in an int64 tensor",
                       rl_int64_misfit(vb, sizeof vb, value));
    }
    rl_status st = rl_tensor_empty(out, dt, ndim, shape);
    if (st == RL_OK) rl_tensor_fill_(*out, value);
    return st;
}

static void store(void *p, rl_dtype dt, double v)
{
    switch (dt) {
    case RL_FLOAT32: *(float *)p = (float)v; break;
    case RL_FLOAT64: *(double *)p = v; break;
    case RL_INT64: *(int64_t *)p = rl_to_int64(v); break;
    }
}

static double load(const void *p, rl_dtype dt)
{
    switch (dt) {
    case RL_FLOAT32: return *(const float *)p;
    case RL_FLOAT64: return *(const double *)p;
    case RL_INT64: return (double)*(const int64_t *)p;
    }
    return 0;
}

rl_status rl_tensor_arange(rl_tensor **out, rl_dtype dt, double start, double stop, double step)
{
    if (!(step != 0) || !isfinite(step) || !isfinite(start) || !isfinite(stop))
        return rl_fail(RL_ERR_ARG, "arange: start, stop and step must be finite and step non-zero (got %g, %g, %g)",
                       start, stop, step);
    double count = ceil((stop - start) / step);
    if (count < 0) count = 0;
    if (count > 1e15) return rl_fail(RL_ERR_ARG, "arange: %g elements is too many", count);
    int64_t n = (int64_t)count;
    if (dt == RL_INT64 && n > 0) {
        /* the values run monotonically from start to the last one */
        double last = start + (double)(n - 1) * step;
        double bad = !rl_fits_int64(start) ? start : !rl_fits_int64(last) ? last : 0;
        if (bad != 0) {
            char vb[64];
            return rl_fail(RL_ERR_ARG, "arange: value %s cannot be stored in an int64 tensor",
                           rl_int64_misfit(vb, sizeof vb, bad));
        }
    }
    rl_status st = rl_tensor_empty(out, dt, 1, &n);
    if (st) return st;
    size_t es = rl_dtype_size(dt);
    for (int64_t i = 0; i < n; i++)
        store((char *)(*out)->storage->data + (size_t)i * es, dt, start + (double)i * step);
    return RL_OK;
}

rl_status rl_tensor_linspace(rl_tensor **out, rl_dtype dt, double start, double stop, int64_t n)
{
    if (n < 0) return rl_fail(RL_ERR_ARG, "linspace: number of points must be >= 0, got %lld", (long long)n);
    if (dt == RL_INT64 && n > 0 && (!rl_fits_int64(start) || (n > 1 && !rl_fits_int64(stop)))) {
        char vb[64];
        return rl_fail(RL_ERR_ARG, "linspace: value %s cannot be stored in an int64 tensor",
                       rl_int64_misfit(vb, sizeof vb, rl_fits_int64(start) ? stop : start));
    }
    rl_status st = rl_tensor_empty(out, dt, 1, &n);
    if (st) return st;
    size_t es = rl_dtype_size(dt);
    double step = n > 1 ? (stop - start) / (double)(n - 1) : 0;
    /* Like NumPy and PyTorch: fill the two halves from their own ends so
     * both endpoints are exact. */
    for (int64_t i = 0; i < n; i++) {
        double v = n == 1 ? start : i < n / 2 ? start + (double)i * step : stop - (double)(n - 1 - i) * step;
        store((char *)(*out)->storage->data + (size_t)i * es, dt, v);
    }
    return RL_OK;
}

rl_status rl_tensor_eye(rl_tensor **out, rl_dtype dt, int64_t rows, int64_t cols)
{
    int64_t shape[2] = {rows, cols};
    rl_status st = rl_tensor_zeros(out, dt, 2, shape);
    if (st) return st;
    int64_t n = rows < cols ? rows : cols;
    for (int64_t i = 0; i < n; i++) {
        int64_t idx[2] = {i, i};
        rl_tensor_set(*out, idx, 1.0);
    }
    return RL_OK;
}

/* ---- queries ---- */

void *rl_tensor_ptr(const rl_tensor *t, const int64_t *index)
{
    int64_t off = t->offset;
    for (int i = 0; i < t->ndim; i++) off += index[i] * t->stride[i];
    return (char *)t->storage->data + (size_t)off * rl_dtype_size(t->dtype);
}

bool rl_tensor_same_shape(const rl_tensor *a, const rl_tensor *b)
{
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

double rl_tensor_get(const rl_tensor *t, const int64_t *index)
{
    return load(rl_tensor_ptr(t, index), t->dtype);
}

void rl_tensor_set(rl_tensor *t, const int64_t *index, double v)
{
    store(rl_tensor_ptr(t, index), t->dtype, v);
}

rl_status rl_tensor_item(const rl_tensor *t, double *out)
{
    if (rl_tensor_numel(t) != 1) {
        char sb[RL_SHAPE_BUF];
        return rl_fail(RL_ERR_SHAPE, "item: tensor of shape %s has %lld elements, expected exactly 1",
                       rl_shape_str(sb, sizeof sb, t->ndim, t->shape), (long long)rl_tensor_numel(t));
    }
    int64_t zero[RL_MAX_DIMS] = {0};
    *out = rl_tensor_get(t, zero);
    return RL_OK;
}

/* ---- views ---- */

static rl_status check_dim(const char *op, const rl_tensor *t, int dim)
{
    if (dim < 0 || dim >= t->ndim)
        return rl_fail(RL_ERR_INDEX, "%s: dimension %d out of range for a %d-d tensor", op, dim + 1, t->ndim);
    return RL_OK;
}

/* Strides for viewing t with a new shape without copying, as PyTorch's
 * computeStride: possible when each group of merged or split dims is
 * contiguous within itself. Returns false when a copy is needed. */
static bool view_strides(const rl_tensor *t, int ndim, const int64_t *shape, int64_t *stride)
{
    int64_t numel = rl_tensor_numel(t);
    if (numel == 0) {
        int64_t span = 1;
        for (int i = 0; i < ndim; i++)
            if (shape[i] > 0) span *= shape[i]; /* <= 2^62: checked by the caller */
        if ((uint64_t)span > SIZE_MAX / 16) return false; /* as rl_tensor_empty */
        int64_t s = 1;
        for (int i = ndim - 1; i >= 0; i--) {
            stride[i] = s;
            s *= shape[i] ? shape[i] : 1;
        }
        return true;
    }
    int vi = ndim - 1;
    int64_t chunk = 1;
    int64_t base_stride = t->ndim ? t->stride[t->ndim - 1] : 1;
    for (int ti = t->ndim - 1; ti >= 0; ti--) {
        chunk *= t->shape[ti];
        /* close the group at ti when ti-1 does not continue it */
        if (ti == 0 || (t->shape[ti - 1] != 1 && t->stride[ti - 1] != chunk * base_stride)) {
            int64_t acc = 1;
            while (vi >= 0 && (acc < chunk || shape[vi] == 1)) {
                stride[vi] = base_stride * acc;
                acc *= shape[vi];
                vi--;
            }
            if (acc != chunk) return false;
            if (ti > 0) {
                base_stride = t->stride[ti - 1];
                chunk = 1;
            }
        } else if (t->shape[ti - 1] == 1) {
            /* a size-1 dim continues the group with any stride */
        }
    }
    while (vi >= 0) stride[vi--] = 1; /* trailing size-1 dims */
    return true;
}

static rl_status check_same_numel(const char *op, const rl_tensor *t, int ndim, const int64_t *shape)
{
    char s1[RL_SHAPE_BUF], s2[RL_SHAPE_BUF];
    if (ndim < 0 || ndim > RL_MAX_DIMS)
        return rl_fail(RL_ERR_SHAPE, "%s: %d dimensions requested, at most %d supported", op, ndim, RL_MAX_DIMS);
    int64_t n = rl_shape_numel(ndim, shape);
    if (n != rl_tensor_numel(t))
        return rl_fail(RL_ERR_SHAPE, "%s: shape %s is invalid for a tensor of shape %s (%lld elements)", op,
                       rl_shape_str(s1, sizeof s1, ndim, shape),
                       rl_shape_str(s2, sizeof s2, t->ndim, t->shape), (long long)rl_tensor_numel(t));
    return RL_OK;
}

rl_status rl_tensor_view(rl_tensor **out, const rl_tensor *t, int ndim, const int64_t *shape)
{
    rl_status st = check_same_numel("view", t, ndim, shape);
    if (st) return st;
    int64_t stride[RL_MAX_DIMS];
    if (!view_strides(t, ndim, shape, stride)) {
        char s1[RL_SHAPE_BUF], s2[RL_SHAPE_BUF];
        return rl_fail(RL_ERR_SHAPE,
                       "view: a tensor of shape %s with these strides cannot be viewed as %s without a copy; use reshape",
                       rl_shape_str(s1, sizeof s1, t->ndim, t->shape), rl_shape_str(s2, sizeof s2, ndim, shape));
    }
    if ((st = header_like(out, t))) return st;
    (*out)->ndim = ndim;
    if (ndim > 0) memcpy((*out)->shape, shape, sizeof(int64_t) * (size_t)ndim); /* shape may be NULL for 0-d */
    memcpy((*out)->stride, stride, sizeof(int64_t) * (size_t)ndim);
    return RL_OK;
}

rl_status rl_tensor_reshape(rl_tensor **out, const rl_tensor *t, int ndim, const int64_t *shape)
{
    rl_status st = check_same_numel("reshape", t, ndim, shape);
    if (st) return st;
    int64_t stride[RL_MAX_DIMS];
    if (view_strides(t, ndim, shape, stride)) return rl_tensor_view(out, t, ndim, shape);
    rl_tensor *c;
    if ((st = rl_tensor_clone(&c, t))) return st;
    st = rl_tensor_view(out, c, ndim, shape);
    rl_tensor_release(c);
    return st;
}

rl_status rl_tensor_transpose(rl_tensor **out, const rl_tensor *t, int d0, int d1)
{
    rl_status st;
    if ((st = check_dim("transpose", t, d0)) || (st = check_dim("transpose", t, d1))) return st;
    if ((st = header_like(out, t))) return st;
    rl_tensor *v = *out;
    int64_t s = v->shape[d0]; v->shape[d0] = v->shape[d1]; v->shape[d1] = s;
    s = v->stride[d0]; v->stride[d0] = v->stride[d1]; v->stride[d1] = s;
    return RL_OK;
}

rl_status rl_tensor_permute(rl_tensor **out, const rl_tensor *t, const int *perm)
{
    bool seen[RL_MAX_DIMS] = {false};
    for (int i = 0; i < t->ndim; i++) {
        if (perm[i] < 0 || perm[i] >= t->ndim || seen[perm[i]])
            return rl_fail(RL_ERR_ARG, "permute: the order must list each of the %d dimensions exactly once", t->ndim);
        seen[perm[i]] = true;
    }
    rl_status st = header_like(out, t);
    if (st) return st;
    for (int i = 0; i < t->ndim; i++) {
        (*out)->shape[i] = t->shape[perm[i]];
        (*out)->stride[i] = t->stride[perm[i]];
    }
    return RL_OK;
}

rl_status rl_tensor_narrow(rl_tensor **out, const rl_tensor *t, int dim, int64_t start, int64_t length)
{
    rl_status st = check_dim("narrow", t, dim);
    if (st) return st;
    if (start < 0 || length < 0 || start > t->shape[dim] || length > t->shape[dim] - start) {
        char sb[RL_SHAPE_BUF];
        return rl_fail(RL_ERR_INDEX, "narrow: start %lld and length %lld out of range for dimension %d of size %lld (shape %s)",
                       (long long)start + 1, (long long)length, dim + 1, (long long)t->shape[dim],
                       rl_shape_str(sb, sizeof sb, t->ndim, t->shape));
    }
    if ((st = header_like(out, t))) return st;
    (*out)->offset += start * t->stride[dim];
    (*out)->shape[dim] = length;
    return RL_OK;
}

rl_status rl_tensor_select(rl_tensor **out, const rl_tensor *t, int dim, int64_t index)
{
    rl_status st = check_dim("select", t, dim);
    if (st) return st;
    if (index < 0 || index >= t->shape[dim]) {
        char sb[RL_SHAPE_BUF];
        return rl_fail(RL_ERR_INDEX, "select: index %lld out of range for dimension %d of size %lld (shape %s)",
                       (long long)index + 1, dim + 1, (long long)t->shape[dim],
                       rl_shape_str(sb, sizeof sb, t->ndim, t->shape));
    }
    if ((st = header_like(out, t))) return st;
    rl_tensor *v = *out;
    v->offset += index * t->stride[dim];
    for (int i = dim; i < t->ndim - 1; i++) {
        v->shape[i] = t->shape[i + 1];
        v->stride[i] = t->stride[i + 1];
    }
    v->ndim--;
    return RL_OK;
}

rl_status rl_tensor_expand(rl_tensor **out, const rl_tensor *t, int ndim, const int64_t *shape)
{
    char s1[RL_SHAPE_BUF], s2[RL_SHAPE_BUF];
    if (ndim < t->ndim || ndim > RL_MAX_DIMS) goto bad;
    int64_t stride[RL_MAX_DIMS];
    for (int i = 0; i < ndim; i++) {
        int ti = t->ndim - ndim + i;
        if (shape[i] < 0) goto bad;
        if (ti < 0) stride[i] = 0;
        else if (t->shape[ti] == shape[i]) stride[i] = t->stride[ti];
        else if (t->shape[ti] == 1) stride[i] = 0;
        else goto bad;
    }
    rl_status st = header_like(out, t);
    if (st) return st;
    (*out)->ndim = ndim;
    if (ndim > 0) memcpy((*out)->shape, shape, sizeof(int64_t) * (size_t)ndim); /* shape may be NULL for 0-d */
    memcpy((*out)->stride, stride, sizeof(int64_t) * (size_t)ndim);
    return RL_OK;
bad:
    return rl_fail(RL_ERR_SHAPE, "expand: shape %s cannot be expanded to %s",
                   rl_shape_str(s1, sizeof s1, t->ndim, t->shape), rl_shape_str(s2, sizeof s2, ndim, shape));
}

rl_status rl_tensor_squeeze(rl_tensor **out, const rl_tensor *t, int dim)
{
    rl_status st;
    if (dim >= 0 && (st = check_dim("squeeze", t, dim))) return st;
    if ((st = header_like(out, t))) return st;
    rl_tensor *v = *out;
    int m = 0;
    for (int i = 0; i < t->ndim; i++) {
        bool drop = t->shape[i] == 1 && (dim < 0 || dim == i);
        if (drop) continue;
        v->shape[m] = t->shape[i];
        v->stride[m] = t->stride[i];
        m++;
    }
    v->ndim = m;
    return RL_OK;
}

rl_status rl_tensor_unsqueeze(rl_tensor **out, const rl_tensor *t, int dim)
{
    if (dim < 0 || dim > t->ndim)
        return rl_fail(RL_ERR_INDEX, "unsqueeze: dimension %d out of range for a %d-d tensor (allowed 1..%d)",
                       dim + 1, t->ndim, t->ndim + 1);
    if (t->ndim >= RL_MAX_DIMS)
        return rl_fail(RL_ERR_SHAPE, "unsqueeze: a tensor already has the maximum of %d dimensions", RL_MAX_DIMS);
    rl_status st = header_like(out, t);
    if (st) return st;
    rl_tensor *v = *out;
    for (int i = t->ndim; i > dim; i--) {
        v->shape[i] = t->shape[i - 1];
        v->stride[i] = t->stride[i - 1];
    }
    v->shape[dim] = 1;
    v->stride[dim] = dim < t->ndim ? t->shape[dim] * t->stride[dim] : 1;
    v->ndim = t->ndim + 1;
    return RL_OK;
}

/* ---- copies ---- */

typedef struct {
    rl_dtype dst, src;
} copy_ctx;

/* element conversion; float -> int64 goes through rl_to_int64 (no UB on NaN
 * or out-of-range values), int64 -> int64 stays exact */
#define CONVERT(TD, x)                                                               \
    _Generic((x), int64_t: (TD)(x),                                                  \
             default: _Generic((TD)0, int64_t: rl_to_int64((double)(x)), default: (TD)(x)))
#define COPY_LOOP(TD, TS)                                                            \
    for (int64_t i = 0; i < n; i++)                                                  \
        *(TD *)(p[0] + i * s[0]) = CONVERT(TD, *(const TS *)(p[1] + i * s[1]));

static void copy_run(void *vctx, int64_t n, char **p, const int64_t *s)
{
    const copy_ctx *c = vctx;
    size_t es = rl_dtype_size(c->dst);
    if (c->dst == c->src && s[0] == (int64_t)es && s[1] == (int64_t)es) {
        memmove(p[0], p[1], (size_t)n * es);
        return;
    }
#define FROM(TD)                                                                     \
    switch (c->src) {                                                                \
    case RL_FLOAT32: COPY_LOOP(TD, float) break;                                     \
    case RL_FLOAT64: COPY_LOOP(TD, double) break;                                    \
    case RL_INT64: COPY_LOOP(TD, int64_t) break;                                     \
    }
    switch (c->dst) {
    case RL_FLOAT32: FROM(float) break;
    case RL_FLOAT64: FROM(double) break;
    case RL_INT64: FROM(int64_t) break;
    }
#undef FROM
}

static void elem_range(const rl_tensor *t, int64_t *lo, int64_t *hi)
{
    *lo = *hi = t->offset;
    for (int i = 0; i < t->ndim; i++) *hi += (t->shape[i] - 1) * t->stride[i];
}

bool rl_tensor_overlaps(const rl_tensor *a, const rl_tensor *b)
{
    if (a->storage != b->storage || rl_tensor_numel(a) == 0 || rl_tensor_numel(b) == 0) return false;
    int64_t alo, ahi, blo, bhi;
    elem_range(a, &alo, &ahi);
    elem_range(b, &blo, &bhi);
    size_t ea = rl_dtype_size(a->dtype), eb = rl_dtype_size(b->dtype);
    return (alo * (int64_t)ea < (bhi + 1) * (int64_t)eb) && (blo * (int64_t)eb < (ahi + 1) * (int64_t)ea);
}

bool rl_tensor_same_view(const rl_tensor *a, const rl_tensor *b)
{
    if (a->storage != b->storage || a->offset != b->offset || a->dtype != b->dtype || a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i] || (a->shape[i] > 1 && a->stride[i] != b->stride[i])) return false;
    return true;
}

typedef struct {
    rl_dtype dt;
    bool bad;
    double value; /* the first value that does not fit */
} fits_ctx;

static void fits_run(void *vctx, int64_t n, char **p, const int64_t *s)
{
    fits_ctx *c = vctx;
    if (c->bad) return;
    for (int64_t i = 0; i < n; i++) {
        double v = c->dt == RL_FLOAT32 ? *(const float *)(p[0] + i * s[0]) : *(const double *)(p[0] + i * s[0]);
        if (!rl_fits_int64(v)) {
            c->bad = true;
            c->value = v;
            return;
        }
    }
}

typedef struct {
    rl_dtype dt;
    bool bad;
    double value;
} finite_ctx;

static void finite_run(void *vctx, int64_t n, char **p, const int64_t *s)
{
    finite_ctx *c = vctx;
    if (c->bad) return;
    for (int64_t i = 0; i < n; i++) {
        double v = c->dt == RL_FLOAT32 ? *(const float *)(p[0] + i * s[0]) : *(const double *)(p[0] + i * s[0]);
        if (!isfinite(v)) {
            c->bad = true;
            c->value = v;
            return;
        }
    }
}

bool rl_tensor_has_nonfinite(const rl_tensor *t, double *bad)
{
    if (!t || t->dtype == RL_INT64 || rl_tensor_numel(t) == 0) return false;
    rl_iter it;
    const rl_tensor *ops[1] = {t};
    if (rl_iter_init(&it, "anomaly", 1, ops, t->ndim, t->shape)) return false;
    finite_ctx c = {t->dtype, false, 0};
    rl_iter_run(&it, finite_run, &c);
    if (c.bad && bad) *bad = c.value;
    return c.bad;
}

/* A float tensor converts to int64 only when every value is finite and in
 * range: NaN, infinities and |v| >= 2^63 are errors, not 0 or INT64_MAX. */
static rl_status check_fits_int64(const rl_tensor *src)
{
    rl_iter it;
    const rl_tensor *ops[1] = {src};
    rl_status st = rl_iter_init(&it, "copy", 1, ops, src->ndim, src->shape);
    if (st) return st;
    fits_ctx c = {src->dtype, false, 0};
    rl_iter_run(&it, fits_run, &c);
    if (!c.bad) return RL_OK;
    char vb[64];
    return rl_fail(RL_ERR_ARG, "cannot convert %s from %s to int64", rl_int64_misfit(vb, sizeof vb, c.value),
                   rl_dtype_name(src->dtype));
}

rl_status rl_tensor_copy_(rl_tensor *dst, const rl_tensor *src)
{
    if (rl_tensor_overlaps(dst, src) && !rl_tensor_same_view(dst, src)) {
        /* x:copy_(x:t()), a shifted narrow: read everything before writing */
        rl_tensor *tmp;
        rl_status st = rl_tensor_clone(&tmp, src);
        if (st) return st;
        st = rl_tensor_copy_(dst, tmp);
        rl_tensor_release(tmp);
        return st;
    }
    rl_iter it;
    const rl_tensor *ops[2] = {dst, src};
    rl_status st = rl_iter_init(&it, "copy", 2, ops, dst->ndim, dst->shape);
    if (st) return st;
    if (dst->dtype == RL_INT64 && src->dtype != RL_INT64 && (st = check_fits_int64(src))) return st;
    copy_ctx c = {dst->dtype, src->dtype};
    rl_iter_run_parallel(&it, 1, RL_GRAIN_LIGHT, copy_run, &c);
    return RL_OK;
}

rl_status rl_tensor_clone(rl_tensor **out, const rl_tensor *t)
{
    return rl_tensor_to_dtype(out, t, t->dtype);
}

rl_status rl_tensor_to_dtype(rl_tensor **out, const rl_tensor *t, rl_dtype dt)
{
    rl_status st = rl_tensor_empty(out, dt, t->ndim, t->shape);
    if (st) return st;
    st = rl_tensor_copy_(*out, t); /* same shape: fails only on values int64 cannot hold */
    if (st) {
        rl_tensor_release(*out);
        *out = NULL;
    }
    return st;
}

rl_status rl_tensor_contiguous(rl_tensor **out, rl_tensor *t)
{
    if (rl_tensor_is_contiguous(t)) {
        rl_tensor_retain(t);
        *out = t;
        return RL_OK;
    }
    return rl_tensor_clone(out, t);
}

typedef struct {
    rl_dtype dt;
    double v;
} fill_ctx;

static void fill_run(void *vctx, int64_t n, char **p, const int64_t *s)
{
    const fill_ctx *c = vctx;
    switch (c->dt) {
    case RL_FLOAT32: { float v = (float)c->v; for (int64_t i = 0; i < n; i++) *(float *)(p[0] + i * s[0]) = v; } break;
    case RL_FLOAT64: for (int64_t i = 0; i < n; i++) *(double *)(p[0] + i * s[0]) = c->v; break;
    case RL_INT64: { int64_t v = rl_to_int64(c->v); for (int64_t i = 0; i < n; i++) *(int64_t *)(p[0] + i * s[0]) = v; } break;
    }
}

void rl_tensor_fill_(rl_tensor *t, double value)
{
    rl_iter it;
    const rl_tensor *ops[1] = {t};
    rl_iter_init(&it, "fill", 1, ops, t->ndim, t->shape);
    fill_ctx c = {t->dtype, value};
    rl_iter_run_parallel(&it, 1, RL_GRAIN_LIGHT, fill_run, &c);
}
