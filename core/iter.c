#include "iter.h"
#include "pool.h"

#include <string.h>

rl_status rl_broadcast_shape(const char *op, int andim, const int64_t *ashape,
                             int bndim, const int64_t *bshape,
                             int *out_ndim, int64_t *out_shape)
{
    int n = andim > bndim ? andim : bndim;
    for (int i = 0; i < n; i++) {
        int ai = andim - n + i, bi = bndim - n + i;
        int64_t a = ai >= 0 ? ashape[ai] : 1;
        int64_t b = bi >= 0 ? bshape[bi] : 1;
        if (a != b && a != 1 && b != 1) {
            char sa[RL_SHAPE_BUF], sb[RL_SHAPE_BUF];
            return rl_fail(RL_ERR_SHAPE, "%s: shapes %s and %s cannot be broadcast together", op,
                           rl_shape_str(sa, sizeof sa, andim, ashape),
                           rl_shape_str(sb, sizeof sb, bndim, bshape));
        }
        out_shape[i] = a == 1 ? b : a;
    }
    *out_ndim = n;
    return RL_OK;
}

/* The common case in one flat run: every operand contiguous with the
 * output's shape, or a single element repeated. */
static bool init_flat(rl_iter *it, int nops, const rl_tensor *const *ops, int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    for (int k = 0; k < nops; k++) {
        const rl_tensor *t = ops[k];
        int64_t es = (int64_t)rl_dtype_size(t->dtype);
        if (rl_tensor_numel(t) == 1 && n != 1) {
            it->stride[k][0] = 0;
        } else if (t->ndim == ndim && (ndim == 0 || !memcmp(t->shape, shape, sizeof(int64_t) * (size_t)ndim)) &&
                   rl_tensor_is_contiguous(t)) {
            it->stride[k][0] = es;
        } else {
            return false;
        }
        it->base[k] = (char *)rl_tensor_data(t);
    }
    it->nops = nops;
    it->ndim = 1;
    it->shape[0] = n;
    return true;
}

rl_status rl_iter_init(rl_iter *it, const char *op, int nops, const rl_tensor *const *ops,
                       int ndim, const int64_t *shape)
{
    if (init_flat(it, nops, ops, ndim, shape)) return RL_OK;
    int64_t full_stride[RL_ITER_MAX_OPS][RL_MAX_DIMS];
    memset(it, 0, sizeof *it);
    it->nops = nops;
    for (int k = 0; k < nops; k++) {
        const rl_tensor *t = ops[k];
        int64_t es = (int64_t)rl_dtype_size(t->dtype);
        if (t->ndim > ndim) goto mismatch;
        for (int i = 0; i < ndim; i++) {
            int ti = t->ndim - ndim + i;
            if (ti < 0) {
                full_stride[k][i] = 0;
            } else if (t->shape[ti] == shape[i]) {
                full_stride[k][i] = t->stride[ti] * es;
            } else if (t->shape[ti] == 1) {
                full_stride[k][i] = 0;
            } else {
                goto mismatch;
            }
        }
        it->base[k] = (char *)rl_tensor_data(t);
    }

    /* Drop size-1 dims, then merge each dim into the one outside it when
     * every operand steps across the pair as one run. */
    int m = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == 1) continue;
        if (m > 0) {
            bool merge = true;
            for (int k = 0; k < nops; k++)
                if (it->stride[k][m - 1] != full_stride[k][i] * shape[i]) merge = false;
            if (merge) {
                it->shape[m - 1] *= shape[i];
                for (int k = 0; k < nops; k++) it->stride[k][m - 1] = full_stride[k][i];
                continue;
            }
        }
        it->shape[m] = shape[i];
        for (int k = 0; k < nops; k++) it->stride[k][m] = full_stride[k][i];
        m++;
    }
    if (m == 0) {
        /* a single element, or the empty shape of a 0-d tensor */
        it->shape[0] = 1;
        for (int i = 0; i < ndim; i++)
            if (shape[i] == 0) it->shape[0] = 0;
        for (int k = 0; k < nops; k++) it->stride[k][0] = 0;
        m = 1;
    }
    it->ndim = m;
    return RL_OK;

mismatch: {
        char s1[RL_SHAPE_BUF], s2[RL_SHAPE_BUF];
        int k = 0;
        for (; k < nops; k++) {
            const rl_tensor *t = ops[k];
            bool ok = t->ndim <= ndim;
            for (int i = 0; ok && i < t->ndim; i++) {
                int64_t s = shape[ndim - t->ndim + i];
                if (t->shape[i] != s && t->shape[i] != 1) ok = false;
            }
            if (!ok) break;
        }
        return rl_fail(RL_ERR_SHAPE, "%s: shape %s cannot be broadcast to %s", op,
                       rl_shape_str(s1, sizeof s1, ops[k]->ndim, ops[k]->shape),
                       rl_shape_str(s2, sizeof s2, ndim, shape));
    }
}

void rl_iter_run(const rl_iter *it, rl_iter_fn fn, void *ctx)
{
    int nd = it->ndim, nops = it->nops;
    for (int i = 0; i < nd; i++)
        if (it->shape[i] == 0) return;
    int64_t count[RL_MAX_DIMS] = {0};
    char *ptr[RL_ITER_MAX_OPS];
    int64_t inner_stride[RL_ITER_MAX_OPS];
    for (int k = 0; k < nops; k++) {
        ptr[k] = it->base[k];
        inner_stride[k] = it->stride[k][nd - 1];
    }
    int64_t inner = it->shape[nd - 1];
    for (;;) {
        fn(ctx, inner, ptr, inner_stride);
        int d = nd - 2;
        for (; d >= 0; d--) {
            count[d]++;
            for (int k = 0; k < nops; k++) ptr[k] += it->stride[k][d];
            if (count[d] < it->shape[d]) break;
            for (int k = 0; k < nops; k++) ptr[k] -= it->stride[k][d] * it->shape[d];
            count[d] = 0;
        }
        if (d < 0) return;
    }
}

int64_t rl_iter_numel(const rl_iter *it)
{
    int64_t n = 1;
    for (int d = 0; d < it->ndim; d++) n *= it->shape[d];
    return n;
}

void rl_iter_run_range(const rl_iter *it, int64_t lo, int64_t hi, rl_iter_fn fn, void *ctx)
{
    int nd = it->ndim, nops = it->nops;
    if (lo >= hi) return;
    /* the position of element lo, innermost dim fastest */
    int64_t count[RL_MAX_DIMS] = {0}, rest = lo;
    for (int d = nd - 1; d >= 0; d--) {
        count[d] = rest % it->shape[d];
        rest /= it->shape[d];
    }
    char *ptr[RL_ITER_MAX_OPS];
    int64_t inner_stride[RL_ITER_MAX_OPS];
    for (int k = 0; k < nops; k++) {
        ptr[k] = it->base[k];
        for (int d = 0; d < nd; d++) ptr[k] += count[d] * it->stride[k][d];
        inner_stride[k] = it->stride[k][nd - 1];
    }
    int64_t inner = it->shape[nd - 1], left = hi - lo;
    for (;;) {
        /* the rest of this innermost run, or less at the end of the range */
        int64_t n = inner - count[nd - 1];
        if (n > left) n = left;
        fn(ctx, n, ptr, inner_stride);
        left -= n;
        if (left == 0) return;
        /* back to the start of the run, then one step in the dims outside */
        for (int k = 0; k < nops; k++) ptr[k] -= count[nd - 1] * inner_stride[k];
        count[nd - 1] = 0;
        for (int d = nd - 2; d >= 0; d--) {
            count[d]++;
            for (int k = 0; k < nops; k++) ptr[k] += it->stride[k][d];
            if (count[d] < it->shape[d]) break;
            for (int k = 0; k < nops; k++) ptr[k] -= it->stride[k][d] * it->shape[d];
            count[d] = 0;
        }
    }
}

typedef struct {
    const rl_iter *it;
    rl_iter_fn fn;
    void *ctx;
} range_job;

static void range_chunk(void *arg, int64_t lo, int64_t hi, int chunk)
{
    (void)chunk;
    const range_job *j = arg;
    rl_iter_run_range(j->it, lo, hi, j->fn, j->ctx);
}

/* Operands 0..nwrite-1 have no dim of stride 0 (an expanded dim repeats
 * one element: two chunks would write it at once). */
static bool writes_distinct(const rl_iter *it, int nwrite)
{
    for (int k = 0; k < nwrite; k++)
        for (int d = 0; d < it->ndim; d++)
            if (it->shape[d] > 1 && it->stride[k][d] == 0) return false;
    return true;
}

void rl_iter_run_parallel(const rl_iter *it, int nwrite, int64_t grain, rl_iter_fn fn, void *ctx)
{
    int64_t n = rl_iter_numel(it);
    if (n == 0) return;
    if (rl_parallel_chunks(n, grain) < 2 || !writes_distinct(it, nwrite)) {
        rl_iter_run(it, fn, ctx);
        return;
    }
    range_job j = {it, fn, ctx};
    rl_parallel_for_aligned(n, grain, RL_ITER_ALIGN, range_chunk, &j);
}
