#include "index.h"
#include "ops.h"

#include <string.h>

static rl_status check_index_tensor(const char *op, const rl_tensor *index)
{
    if (index->dtype != RL_INT64)
        return rl_fail(RL_ERR_DTYPE, "%s: indices must be an int64 tensor, got %s", op, rl_dtype_name(index->dtype));
    return RL_OK;
}

/* Every entry of index (any shape) in [base, base + size). */
static rl_status check_range(const char *op, const rl_tensor *index, int64_t size, int64_t base, int dim)
{
    int64_t n = rl_tensor_numel(index);
    int64_t pos[RL_MAX_DIMS] = {0};
    for (int64_t i = 0; i < n; i++) {
        int64_t v = *(const int64_t *)rl_tensor_ptr(index, pos);
        if (v < base || v >= base + size)
            return rl_fail(RL_ERR_INDEX, "%s: index %lld out of range for dimension %d of size %lld", op,
                           (long long)v, dim + 1, (long long)size);
        for (int d = index->ndim - 1; d >= 0; d--) {
            if (++pos[d] < index->shape[d]) break;
            pos[d] = 0;
        }
    }
    return RL_OK;
}

rl_status rl_index_select(rl_tensor **out, const rl_tensor *t, int dim, const rl_tensor *index, int64_t base)
{
    rl_status st;
    if (dim < 0 || dim >= t->ndim)
        return rl_fail(RL_ERR_INDEX, "index_select: dimension %d out of range for a %d-d tensor", dim + 1, t->ndim);
    if ((st = check_index_tensor("index_select", index))) return st;
    if (index->ndim != 1) {
        char sb[RL_SHAPE_BUF];
        return rl_fail(RL_ERR_SHAPE, "index_select: indices must be 1-d, got shape %s",
                       rl_shape_str(sb, sizeof sb, index->ndim, index->shape));
    }
    if ((st = check_range("index_select", index, t->shape[dim], base, dim))) return st;
    int64_t shape[RL_MAX_DIMS];
    memcpy(shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
    shape[dim] = index->shape[0];
    if ((st = rl_tensor_empty(out, t->dtype, t->ndim, shape))) return st;
    for (int64_t i = 0; i < index->shape[0]; i++) {
        int64_t src = *(const int64_t *)((const char *)rl_tensor_data(index) + i * index->stride[0] * 8) - base;
        rl_tensor *from, *to;
        rl_tensor_select(&from, t, dim, src); /* in range: cannot fail but for memory */
        if ((st = rl_tensor_select(&to, *out, dim, i)) == RL_OK) {
            st = rl_tensor_copy_(to, from);
            rl_tensor_release(to);
        }
        rl_tensor_release(from);
        if (st) {
            rl_tensor_release(*out);
            *out = NULL;
            return st;
        }
    }
    return RL_OK;
}

rl_status rl_gather(rl_tensor **out, const rl_tensor *t, int dim, const rl_tensor *index, int64_t base)
{
    char s1[RL_SHAPE_BUF], s2[RL_SHAPE_BUF];
    rl_status st;
    if (dim < 0 || dim >= t->ndim)
        return rl_fail(RL_ERR_INDEX, "gather: dimension %d out of range for a %d-d tensor", dim + 1, t->ndim);
    if ((st = check_index_tensor("gather", index))) return st;
    bool fits = index->ndim == t->ndim;
    for (int d = 0; fits && d < t->ndim; d++)
        if (d != dim && index->shape[d] > t->shape[d]) fits = false;
    if (!fits)
        return rl_fail(RL_ERR_SHAPE, "gather: index shape %s does not fit input shape %s along dimension %d",
                       rl_shape_str(s1, sizeof s1, index->ndim, index->shape),
                       rl_shape_str(s2, sizeof s2, t->ndim, t->shape), dim + 1);
    if ((st = check_range("gather", index, t->shape[dim], base, dim))) return st;
    if ((st = rl_tensor_empty(out, t->dtype, index->ndim, index->shape))) return st;
    size_t es = rl_dtype_size(t->dtype);
    int64_t n = rl_tensor_numel(index);
    int64_t pos[RL_MAX_DIMS] = {0};
    char *o = rl_tensor_data(*out);
    for (int64_t i = 0; i < n; i++) {
        int64_t src[RL_MAX_DIMS];
        memcpy(src, pos, sizeof src);
        src[dim] = *(const int64_t *)rl_tensor_ptr(index, pos) - base;
        memcpy(o + (size_t)i * es, rl_tensor_ptr(t, src), es);
        for (int d = index->ndim - 1; d >= 0; d--) {
            if (++pos[d] < index->shape[d]) break;
            pos[d] = 0;
        }
    }
    return RL_OK;
}

rl_status rl_cat(rl_tensor **out, const rl_tensor *const *ts, int n, int dim)
{
    char s1[RL_SHAPE_BUF], s2[RL_SHAPE_BUF];
    if (n < 1) return rl_fail(RL_ERR_ARG, "cat: expected at least one tensor");
    const rl_tensor *t0 = ts[0];
    if (dim < 0 || dim >= t0->ndim)
        return rl_fail(RL_ERR_INDEX, "cat: dimension %d out of range for a %d-d tensor", dim + 1, t0->ndim);
    int64_t shape[RL_MAX_DIMS];
    memcpy(shape, t0->shape, sizeof(int64_t) * (size_t)t0->ndim);
    shape[dim] = 0;
    for (int i = 0; i < n; i++) {
        const rl_tensor *t = ts[i];
        if (t->dtype != t0->dtype)
            return rl_fail(RL_ERR_DTYPE, "cat: tensor %d is %s, tensor 1 is %s", i + 1, rl_dtype_name(t->dtype),
                           rl_dtype_name(t0->dtype));
        bool ok = t->ndim == t0->ndim;
        for (int d = 0; ok && d < t->ndim; d++)
            if (d != dim && t->shape[d] != t0->shape[d]) ok = false;
        if (!ok)
            return rl_fail(RL_ERR_SHAPE, "cat: tensor %d has shape %s, which does not match %s outside dimension %d",
                           i + 1, rl_shape_str(s1, sizeof s1, t->ndim, t->shape),
                           rl_shape_str(s2, sizeof s2, t0->ndim, t0->shape), dim + 1);
        if (t->shape[dim] > (INT64_C(1) << 62) - shape[dim])
            return rl_fail(RL_ERR_SHAPE, "cat: the result would have more than 2^62 entries along dimension %d", dim + 1);
        shape[dim] += t->shape[dim];
    }
    rl_status st = rl_tensor_empty(out, t0->dtype, t0->ndim, shape);
    if (st) return st;
    int64_t at = 0;
    for (int i = 0; i < n && st == RL_OK; i++) {
        rl_tensor *part;
        if ((st = rl_tensor_narrow(&part, *out, dim, at, ts[i]->shape[dim]))) break;
        st = rl_tensor_copy_(part, ts[i]);
        rl_tensor_release(part);
        at += ts[i]->shape[dim];
    }
    if (st) {
        rl_tensor_release(*out);
        *out = NULL;
    }
    return st;
}

rl_status rl_stack(rl_tensor **out, const rl_tensor *const *ts, int n, int dim)
{
    char s1[RL_SHAPE_BUF], s2[RL_SHAPE_BUF];
    if (n < 1) return rl_fail(RL_ERR_ARG, "stack: expected at least one tensor");
    const rl_tensor *t0 = ts[0];
    if (dim < 0 || dim > t0->ndim)
        return rl_fail(RL_ERR_INDEX, "stack: dimension %d out of range for %d-d tensors (allowed 1..%d)", dim + 1,
                       t0->ndim, t0->ndim + 1);
    if (t0->ndim >= RL_MAX_DIMS)
        return rl_fail(RL_ERR_SHAPE, "stack: result would have more than %d dimensions", RL_MAX_DIMS);
    for (int i = 1; i < n; i++) {
        if (ts[i]->dtype != t0->dtype)
            return rl_fail(RL_ERR_DTYPE, "stack: tensor %d is %s, tensor 1 is %s", i + 1,
                           rl_dtype_name(ts[i]->dtype), rl_dtype_name(t0->dtype));
        if (!rl_tensor_same_shape(ts[i], t0))
            return rl_fail(RL_ERR_SHAPE, "stack: tensor %d has shape %s, tensor 1 has %s", i + 1,
                           rl_shape_str(s1, sizeof s1, ts[i]->ndim, ts[i]->shape),
                           rl_shape_str(s2, sizeof s2, t0->ndim, t0->shape));
    }
    int64_t shape[RL_MAX_DIMS];
    for (int d = 0, k = 0; d <= t0->ndim; d++) shape[d] = d == dim ? n : t0->shape[k++];
    *out = NULL;
    rl_status st = rl_tensor_empty(out, t0->dtype, t0->ndim + 1, shape);
    for (int i = 0; i < n && st == RL_OK; i++) {
        rl_tensor *slot;
        if ((st = rl_tensor_select(&slot, *out, dim, i))) break;
        st = rl_tensor_copy_(slot, ts[i]);
        rl_tensor_release(slot);
    }
    if (st && *out) {
        rl_tensor_release(*out);
        *out = NULL;
    }
    return st;
}

rl_status rl_index_add_(rl_tensor *dst, int dim, const rl_tensor *index, const rl_tensor *src, int64_t base)
{
    rl_status st;
    if (dim < 0 || dim >= dst->ndim)
        return rl_fail(RL_ERR_INDEX, "index_add: dimension %d out of range for a %d-d tensor", dim + 1, dst->ndim);
    if ((st = check_index_tensor("index_add", index))) return st;
    if (index->ndim != 1 || src->ndim != dst->ndim || src->shape[dim] != index->shape[0] || src->dtype != dst->dtype) {
        char s1[RL_SHAPE_BUF], s2[RL_SHAPE_BUF];
        return rl_fail(RL_ERR_SHAPE, "index_add: source %s (%s) does not fit destination %s (%s) with %lld indices",
                       rl_shape_str(s1, sizeof s1, src->ndim, src->shape), rl_dtype_name(src->dtype),
                       rl_shape_str(s2, sizeof s2, dst->ndim, dst->shape), rl_dtype_name(dst->dtype),
                       (long long)rl_tensor_numel(index));
    }
    if ((st = check_range("index_add", index, dst->shape[dim], base, dim))) return st;
    for (int64_t i = 0; i < index->shape[0]; i++) {
        int64_t at = *(const int64_t *)((const char *)rl_tensor_data(index) + i * index->stride[0] * 8) - base;
        rl_tensor *to = NULL, *from = NULL;
        st = rl_tensor_select(&to, dst, dim, at);
        if (st == RL_OK) st = rl_tensor_select(&from, src, dim, i);
        if (st == RL_OK) st = rl_binary_into(to, RL_ADD, to, from);
        rl_tensor_release(to);
        rl_tensor_release(from);
        if (st) return st;
    }
    return RL_OK;
}

rl_status rl_scatter_add_(rl_tensor *dst, int dim, const rl_tensor *index, const rl_tensor *src, int64_t base)
{
    rl_status st;
    if (dim < 0 || dim >= dst->ndim)
        return rl_fail(RL_ERR_INDEX, "scatter_add: dimension %d out of range for a %d-d tensor", dim + 1, dst->ndim);
    if ((st = check_index_tensor("scatter_add", index))) return st;
    bool fits = index->ndim == dst->ndim && rl_tensor_same_shape(index, src) && src->dtype == dst->dtype;
    for (int d = 0; fits && d < dst->ndim; d++)
        if (d != dim && index->shape[d] > dst->shape[d]) fits = false;
    if (!fits) {
        char s1[RL_SHAPE_BUF], s2[RL_SHAPE_BUF];
        return rl_fail(RL_ERR_SHAPE, "scatter_add: index/source %s do not fit destination %s along dimension %d",
                       rl_shape_str(s1, sizeof s1, index->ndim, index->shape),
                       rl_shape_str(s2, sizeof s2, dst->ndim, dst->shape), dim + 1);
    }
    if ((st = check_range("scatter_add", index, dst->shape[dim], base, dim))) return st;
    int64_t n = rl_tensor_numel(index);
    int64_t pos[RL_MAX_DIMS] = {0};
    for (int64_t i = 0; i < n; i++) {
        int64_t to[RL_MAX_DIMS];
        memcpy(to, pos, sizeof to);
        to[dim] = *(const int64_t *)rl_tensor_ptr(index, pos) - base;
        void *d = rl_tensor_ptr(dst, to);
        const void *s = rl_tensor_ptr(src, pos);
        if (dst->dtype == RL_FLOAT32) *(float *)d += *(const float *)s;
        else if (dst->dtype == RL_FLOAT64) *(double *)d += *(const double *)s;
        else *(int64_t *)d = (int64_t)((uint64_t)*(int64_t *)d + (uint64_t)*(const int64_t *)s);
        for (int k = index->ndim - 1; k >= 0; k--) {
            if (++pos[k] < index->shape[k]) break;
            pos[k] = 0;
        }
    }
    return RL_OK;
}
