#include "blas.h"
#include "gemm.h"
#include "iter.h"
#include "pool.h"

#include <cblas.h>
#include <limits.h>
#include <string.h>

/* One count for both: the core's own pool (pool.h) and OpenBLAS's
 * threads, which serve the products our kernels leave to BLAS. */
void rl_set_num_threads(int n)
{
    openblas_set_num_threads(n);
    rl_pool_set_threads(n);
}

int rl_get_num_threads(void)
{
    return rl_pool_threads();
}

/* The pool starts at OpenBLAS's count (OPENBLAS_NUM_THREADS, else the
 * cores it sees). */
__attribute__((constructor)) static void threads_init(void)
{
    rl_pool_set_threads(openblas_get_num_threads());
}

/* How BLAS can read a (rows, cols) view with element strides (sr, sc):
 * row-major as is (trans = false) or as the transpose of a row-major
 * matrix (trans = true), with leading dimension *ld. False when neither. */
static bool blas_layout(int64_t rows, int64_t cols, int64_t sr, int64_t sc, bool *trans, int64_t *ld)
{
    int64_t rmax = rows > 1 ? rows : 1, cmax = cols > 1 ? cols : 1;
    if ((sc == 1 || cols == 1) && (rows == 1 || sr >= cmax)) {
        *trans = false;
        *ld = rows == 1 ? cmax : sr;
        return true;
    }
    if ((sr == 1 || rows == 1) && (cols == 1 || sc >= rmax)) {
        *trans = true;
        *ld = cols == 1 ? rmax : sc;
        return true;
    }
    return false;
}

typedef struct {
    const void *ptr;
    bool trans;
    int ld;
} blas_operand;

/* Describes a 2-D view for BLAS; copies it into *copy when it must. */
static rl_status operand(blas_operand *op, const rl_tensor *t, rl_tensor **copy)
{
    bool tr;
    int64_t ld;
    *copy = NULL;
    if (!blas_layout(t->shape[0], t->shape[1], t->stride[0], t->stride[1], &tr, &ld)) {
        rl_status st = rl_tensor_clone(copy, t);
        if (st) return st;
        t = *copy;
        tr = false;
        ld = t->shape[1] > 1 ? t->shape[1] : 1;
    }
    if (ld > INT_MAX) return rl_fail(RL_ERR_SHAPE, "matmul: leading dimension %lld exceeds the BLAS limit", (long long)ld);
    op->ptr = rl_tensor_data(t);
    op->trans = tr;
    op->ld = (int)ld;
    return RL_OK;
}

/* Stride in elements of dim d of op(t), where op transposes a 2-d t when tr. */
static int64_t op_stride(const rl_tensor *t, bool tr, int d) { return t->stride[tr ? 1 - d : d]; }

/* c (n,m) = alpha op(a) op(b) + beta c when n == 1 or m == 1, as one matrix
 * times a vector: GEMM would first pack (copy) the whole matrix, which for
 * one row costs as much as the product (a cell looped over time with batch
 * 1 does this at every step, forward and backward). Returns false, having
 * done nothing, when the case does not apply or BLAS cannot read the
 * operands as they lie. The dims were checked by rl_gemm. */
static bool gemv_fits(rl_tensor *c, const rl_tensor *a, bool ta, const rl_tensor *b, bool tb,
                      int64_t n, int64_t m, int64_t k, double alpha, double beta)
{
    if (n != 1 && m != 1) return false;
    /* y = alpha E^T x + beta y (n == 1: x the row of op(a), E = op(b) (k,m))
     * or y = alpha E x + beta y (m == 1: x the column of op(b), E = op(a) (n,k)) */
    const rl_tensor *mat = n == 1 ? b : a, *vec = n == 1 ? a : b;
    bool tmat = n == 1 ? tb : ta, tvec = n == 1 ? ta : tb;
    int64_t rows = n == 1 ? k : n, cols = n == 1 ? m : k;
    int64_t incx = n == 1 ? op_stride(vec, tvec, 1) : op_stride(vec, tvec, 0);
    int64_t incy = n == 1 ? c->stride[1] : c->stride[0];
    if (k == 1) incx = 1;
    if ((n == 1 ? m : n) == 1) incy = 1;
    bool stored_t;
    int64_t ld;
    if (incx <= 0 || incx > INT_MAX || incy <= 0 || incy > INT_MAX ||
        !blas_layout(rows, cols, op_stride(mat, tmat, 0), op_stride(mat, tmat, 1), &stored_t, &ld) || ld > INT_MAX)
        return false;
    /* E as stored: row-major (rows, cols), or its transpose row-major */
    bool use_t = (n == 1) != stored_t;
    int sr = (int)(stored_t ? cols : rows), sc = (int)(stored_t ? rows : cols);
    if (beta == 0) rl_tensor_fill_(c, 0); /* y may hold anything, NaN included */
    if (c->dtype == RL_FLOAT32)
        cblas_sgemv(CblasRowMajor, use_t ? CblasTrans : CblasNoTrans, sr, sc, (float)alpha, rl_tensor_data(mat),
                    (int)ld, rl_tensor_data(vec), (int)incx, beta == 0 ? 0.0f : (float)beta, rl_tensor_data(c),
                    (int)incy);
    else
        cblas_dgemv(CblasRowMajor, use_t ? CblasTrans : CblasNoTrans, sr, sc, alpha, rl_tensor_data(mat), (int)ld,
                    rl_tensor_data(vec), (int)incx, beta, rl_tensor_data(c), (int)incy);
    return true;
}

/* c (n,m) = op(a) op(b), or c += when accumulate, by gemm.h: any strides
 * for a and b. False when it did nothing (see rl_gemm_f32). */
static bool own_gemm(rl_tensor *c, int64_t ldc, const rl_tensor *a, bool ta, const rl_tensor *b, bool tb,
                     bool accumulate)
{
    int64_t M = c->shape[0], N = c->shape[1], K = ta ? a->shape[0] : a->shape[1];
    int64_t ar = ta ? a->stride[1] : a->stride[0], ak = ta ? a->stride[0] : a->stride[1];
    int64_t bk = tb ? b->stride[1] : b->stride[0], bn = tb ? b->stride[0] : b->stride[1];
    if (c->dtype == RL_FLOAT32)
        return rl_gemm_f32(M, N, K, rl_tensor_data(a), ar, ak, rl_tensor_data(b), bk, bn, rl_tensor_data(c), ldc,
                           accumulate);
    return rl_gemm_f64(M, N, K, rl_tensor_data(a), ar, ak, rl_tensor_data(b), bk, bn, rl_tensor_data(c), ldc,
                       accumulate);
}

rl_status rl_gemm(rl_tensor *c, const rl_tensor *a, bool ta, const rl_tensor *b, bool tb,
                  double alpha, double beta)
{
    char s1[RL_SHAPE_BUF], s2[RL_SHAPE_BUF], s3[RL_SHAPE_BUF];
    if (a->ndim != 2 || b->ndim != 2 || c->ndim != 2)
        return rl_fail(RL_ERR_SHAPE, "gemm: expected 2-d operands, got %s, %s and %s",
                       rl_shape_str(s1, sizeof s1, a->ndim, a->shape), rl_shape_str(s2, sizeof s2, b->ndim, b->shape),
                       rl_shape_str(s3, sizeof s3, c->ndim, c->shape));
    if (a->dtype != b->dtype || a->dtype != c->dtype || a->dtype == RL_INT64)
        return rl_fail(RL_ERR_DTYPE, "gemm: dtypes %s, %s and %s (need all float32 or all float64)",
                       rl_dtype_name(a->dtype), rl_dtype_name(b->dtype), rl_dtype_name(c->dtype));
    int64_t n = ta ? a->shape[1] : a->shape[0], k = ta ? a->shape[0] : a->shape[1];
    int64_t k2 = tb ? b->shape[1] : b->shape[0], m = tb ? b->shape[0] : b->shape[1];
    if (k != k2 || c->shape[0] != n || c->shape[1] != m)
        return rl_fail(RL_ERR_SHAPE, "matmul: shapes %s%s and %s%s do not match (into %s)",
                       rl_shape_str(s1, sizeof s1, a->ndim, a->shape), ta ? "^T" : "",
                       rl_shape_str(s2, sizeof s2, b->ndim, b->shape), tb ? "^T" : "",
                       rl_shape_str(s3, sizeof s3, c->ndim, c->shape));
    if (n > INT_MAX || m > INT_MAX || k > INT_MAX)
        return rl_fail(RL_ERR_SHAPE, "matmul: dimensions beyond the BLAS limit of %d", INT_MAX);
    if (c->stride[1] != 1 && m > 1)
        return rl_fail(RL_ERR_ARG, "gemm: the output must be unit-stride in its last dimension");
    if (n == 0 || m == 0) return RL_OK;
    int64_t ldc = n == 1 ? (m > 1 ? m : 1) : c->stride[0];
    if (ldc < (m > 1 ? m : 1) || ldc > INT_MAX)
        return rl_fail(RL_ERR_ARG, "gemm: the output rows overlap (stride %lld for %lld columns)",
                       (long long)c->stride[0], (long long)m);
    if (k == 0) {
        /* BLAS rejects k = 0 on some builds; the product is empty: c = beta c */
        if (beta == 0) rl_tensor_fill_(c, 0);
        else if (beta != 1) {
            rl_tensor *scaled = NULL;
            rl_status st = rl_tensor_clone(&scaled, c);
            if (st) return st;
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < m; j++) {
                    int64_t idx[2] = {i, j};
                    rl_tensor_set(c, idx, beta * rl_tensor_get(scaled, idx));
                }
            rl_tensor_release(scaled);
        }
        return RL_OK;
    }

    if (gemv_fits(c, a, ta, b, tb, n, m, k, alpha, beta)) return RL_OK;
    /* the product of gemm.h where the machine has it (split over the
     * pool's threads when the size pays, the same bits at every count) */
    if (alpha == 1 && (beta == 0 || beta == 1) && own_gemm(c, ldc, a, ta, b, tb, beta == 1)) return RL_OK;

    blas_operand A, B;
    rl_tensor *ca = NULL, *cb = NULL;
    rl_status st = operand(&A, a, &ca);
    if (st == RL_OK) st = operand(&B, b, &cb);
    if (st == RL_OK) {
        enum CBLAS_TRANSPOSE tA = (A.trans != ta) ? CblasTrans : CblasNoTrans;
        enum CBLAS_TRANSPOSE tB = (B.trans != tb) ? CblasTrans : CblasNoTrans;
        if (c->dtype == RL_FLOAT32)
            cblas_sgemm(CblasRowMajor, tA, tB, (int)n, (int)m, (int)k, (float)alpha, A.ptr, A.ld, B.ptr, B.ld,
                        (float)beta, rl_tensor_data(c), (int)ldc);
        else
            cblas_dgemm(CblasRowMajor, tA, tB, (int)n, (int)m, (int)k, alpha, A.ptr, A.ld, B.ptr, B.ld, beta,
                        rl_tensor_data(c), (int)ldc);
    }
    rl_tensor_release(ca);
    rl_tensor_release(cb);
    return st;
}

/* matmul of operands of at least 2-d each: batch dims broadcast */
static rl_status matmul_batched(rl_tensor **out, const rl_tensor *a, const rl_tensor *b)
{
    char s1[RL_SHAPE_BUF], s2[RL_SHAPE_BUF];
    int an = a->ndim, bn = b->ndim;
    int64_t n = a->shape[an - 2], k = a->shape[an - 1], m = b->shape[bn - 1];
    if (b->shape[bn - 2] != k)
        return rl_fail(RL_ERR_SHAPE, "matmul: shapes %s and %s do not match (inner dims %lld != %lld)",
                       rl_shape_str(s1, sizeof s1, an, a->shape), rl_shape_str(s2, sizeof s2, bn, b->shape),
                       (long long)k, (long long)b->shape[bn - 2]);
    int bd;
    int64_t batch[RL_MAX_DIMS];
    rl_status st = rl_broadcast_shape("matmul", an - 2, a->shape, bn - 2, b->shape, &bd, batch);
    if (st)
        return rl_fail(st, "matmul: shapes %s and %s do not match (batch dims cannot be broadcast together)",
                       rl_shape_str(s1, sizeof s1, an, a->shape), rl_shape_str(s2, sizeof s2, bn, b->shape));
    if (bd + 2 > RL_MAX_DIMS) return rl_fail(RL_ERR_SHAPE, "matmul: result would have more than %d dims", RL_MAX_DIMS);
    int64_t shape[RL_MAX_DIMS];
    memcpy(shape, batch, sizeof(int64_t) * (size_t)bd);
    shape[bd] = n;
    shape[bd + 1] = m;
    if ((st = rl_tensor_empty(out, a->dtype, bd + 2, shape))) return st;
    rl_tensor *c = *out;

    /* (…,n,k) × (k,m): when a's rows stack into one (N·n, k) matrix, one GEMM */
    if (bn == 2 && an > 2) {
        rl_tensor *a2 = NULL, *c2 = NULL;
        int64_t a2shape[2] = {rl_tensor_numel(a) / (k ? k : 1), k};
        int64_t c2shape[2] = {a2shape[0], m};
        if (k > 0 && rl_tensor_view(&a2, a, 2, a2shape) == RL_OK && rl_tensor_view(&c2, c, 2, c2shape) == RL_OK) {
            st = rl_gemm(c2, a2, false, b, false, 1, 0);
            rl_tensor_release(a2);
            rl_tensor_release(c2);
            if (st) goto fail;
            return RL_OK;
        }
        rl_tensor_release(a2);
        rl_tensor_release(c2);
    }

    /* one GEMM per batch element; operands indexed with broadcasting */
    int64_t nb = rl_shape_numel(bd, batch);
    for (int64_t i = 0; i < nb; i++) {
        int64_t rem = i, aoff = a->offset, boff = b->offset, coff = c->offset;
        for (int d = bd - 1; d >= 0; d--) {
            int64_t idx = rem % batch[d];
            rem /= batch[d];
            int ad = an - 2 - bd + d, bdd = bn - 2 - bd + d;
            if (ad >= 0 && a->shape[ad] != 1) aoff += idx * a->stride[ad];
            if (bdd >= 0 && b->shape[bdd] != 1) boff += idx * b->stride[bdd];
            coff += idx * c->stride[d];
        }
        rl_tensor as = *a, bs = *b, cs = *c;
        as.ndim = bs.ndim = cs.ndim = 2;
        as.offset = aoff; bs.offset = boff; cs.offset = coff;
        memcpy(as.shape, a->shape + an - 2, 2 * sizeof(int64_t));
        memcpy(as.stride, a->stride + an - 2, 2 * sizeof(int64_t));
        memcpy(bs.shape, b->shape + bn - 2, 2 * sizeof(int64_t));
        memcpy(bs.stride, b->stride + bn - 2, 2 * sizeof(int64_t));
        memcpy(cs.shape, c->shape + bd, 2 * sizeof(int64_t));
        memcpy(cs.stride, c->stride + bd, 2 * sizeof(int64_t));
        if ((st = rl_gemm(&cs, &as, false, &bs, false, 1, 0))) goto fail;
    }
    return RL_OK;
fail:
    rl_tensor_release(*out);
    *out = NULL;
    return st;
}

rl_status rl_matmul(rl_tensor **out, const rl_tensor *a, const rl_tensor *b)
{
    char s1[RL_SHAPE_BUF], s2[RL_SHAPE_BUF];
    if (a->dtype != b->dtype)
        return rl_fail(RL_ERR_DTYPE, "matmul: dtypes %s and %s do not match (convert one with :to('%s'))",
                       rl_dtype_name(a->dtype), rl_dtype_name(b->dtype),
                       rl_dtype_name(a->dtype == RL_INT64 ? b->dtype : a->dtype));
    if (a->dtype == RL_INT64) return rl_fail(RL_ERR_DTYPE, "matmul: not defined for int64 tensors");
    if (a->ndim == 0 || b->ndim == 0)
        return rl_fail(RL_ERR_SHAPE, "matmul: shapes %s and %s: both operands need at least 1 dimension",
                       rl_shape_str(s1, sizeof s1, a->ndim, a->shape), rl_shape_str(s2, sizeof s2, b->ndim, b->shape));
    int64_t ka = a->shape[a->ndim - 1], kb = b->shape[b->ndim == 1 ? 0 : b->ndim - 2];
    if (ka != kb)
        return rl_fail(RL_ERR_SHAPE, "matmul: shapes %s and %s do not match (inner dims %lld != %lld)",
                       rl_shape_str(s1, sizeof s1, a->ndim, a->shape), rl_shape_str(s2, sizeof s2, b->ndim, b->shape),
                       (long long)ka, (long long)kb);
    /* vectors become (1,k) rows or (k,1) columns, and the added dim is dropped after */
    rl_tensor *a2 = NULL, *b2 = NULL, *r = NULL;
    rl_status st = RL_OK;
    bool squeeze_a = a->ndim == 1, squeeze_b = b->ndim == 1;
    if (squeeze_a) st = rl_tensor_unsqueeze(&a2, a, 0);
    if (st == RL_OK && squeeze_b) st = rl_tensor_unsqueeze(&b2, b, 1);
    if (st == RL_OK) {
        st = matmul_batched(&r, a2 ? a2 : a, b2 ? b2 : b);
        if (st == RL_OK && (squeeze_a || squeeze_b)) {
            rl_tensor *v = r, *w = NULL;
            if (squeeze_b) {
                st = rl_tensor_squeeze(&w, v, v->ndim - 1);
                rl_tensor_release(v);
                v = w;
            }
            if (st == RL_OK && squeeze_a) {
                st = rl_tensor_squeeze(&w, v, squeeze_b ? v->ndim - 1 : v->ndim - 2);
                rl_tensor_release(v);
                v = w;
            }
            r = v;
        }
    }
    rl_tensor_release(a2);
    rl_tensor_release(b2);
    if (st == RL_OK) *out = r;
    return st;
}
