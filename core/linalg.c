/* linalg.c — QR, singular values and eigenvalues through LAPACKE.
 *
 * Every routine works on a contiguous row-major copy of its input (LAPACK
 * overwrites the matrix it is given) in the input's precision. QR and
 * eigenvalues go through LAPACKE's row-major interface; singular values
 * read the buffer as the column-major transpose (same values). */
#include "linalg.h"

#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <string.h>

/* a must be a 2-d float matrix whose sizes LAPACK's int can hold; square
 * when `square`. */
static rl_status check_matrix(const char *op, const rl_tensor *a, bool square)
{
    char sb[RL_SHAPE_BUF];
    if (!rl_dtype_is_float(a->dtype))
        return rl_fail(RL_ERR_DTYPE, "%s: expected a float32 or float64 matrix, got %s %s", op,
                       rl_dtype_name(a->dtype), rl_shape_str(sb, sizeof sb, a->ndim, a->shape));
    if (a->ndim != 2)
        return rl_fail(RL_ERR_SHAPE, "%s: expected a 2-d matrix (m,n), got %s (%d-d)", op,
                       rl_shape_str(sb, sizeof sb, a->ndim, a->shape), a->ndim);
    if (square && a->shape[0] != a->shape[1])
        return rl_fail(RL_ERR_SHAPE, "%s: matrix %s is not square", op, rl_shape_str(sb, sizeof sb, a->ndim, a->shape));
    if (a->shape[0] > INT_MAX || a->shape[1] > INT_MAX || a->shape[0] * a->shape[1] > INT_MAX)
        return rl_fail(RL_ERR_SHAPE, "%s: matrix %s is too large for LAPACK (32-bit sizes)", op,
                       rl_shape_str(sb, sizeof sb, a->ndim, a->shape));
    return RL_OK;
}

/* A contiguous copy of a (m,n), refused if it holds NaN or Inf. */
static rl_status work_copy(const char *op, const rl_tensor *a, rl_tensor **w)
{
    rl_status st = rl_tensor_clone(w, a);
    if (st) return st;
    int64_t n = rl_tensor_numel(*w);
    bool finite = true;
    if ((*w)->dtype == RL_FLOAT32) {
        const float *p = rl_tensor_data(*w);
        for (int64_t i = 0; i < n && finite; i++) finite = isfinite(p[i]);
    } else {
        const double *p = rl_tensor_data(*w);
        for (int64_t i = 0; i < n && finite; i++) finite = isfinite(p[i]);
    }
    if (!finite) {
        char sb[RL_SHAPE_BUF];
        rl_tensor_release(*w);
        *w = NULL;
        return rl_fail(RL_ERR_ARG, "%s: the %s matrix %s contains NaN or Inf", op, rl_dtype_name(a->dtype),
                       rl_shape_str(sb, sizeof sb, a->ndim, a->shape));
    }
    return RL_OK;
}

/* A LAPACKE info code other than 0 as a status. `routine` is the LAPACK
 * routine's name (sgeqrf...). */
static rl_status lapack_fail(const char *op, const char *routine, lapack_int info)
{
    if (info == LAPACK_WORK_MEMORY_ERROR || info == LAPACK_TRANSPOSE_MEMORY_ERROR)
        return rl_fail(RL_ERR_NOMEM, "%s: out of memory for LAPACK workspace (%s)", op, routine);
    if (info > 0) return rl_fail(RL_ERR_STATE, "%s: did not converge (LAPACK %s info %d)", op, routine, (int)info);
    return rl_fail(RL_ERR_STATE, "%s: LAPACK %s rejected its argument %d (an internal error)", op, routine, (int)-info);
}

rl_status rl_qr(rl_tensor **q, rl_tensor **r, const rl_tensor *a)
{
    rl_status st = check_matrix("qr", a, false);
    if (st) return st;
    int64_t m = a->shape[0], n = a->shape[1], k = m < n ? m : n;
    rl_tensor *w = NULL, *tau = NULL, *qt = NULL, *rt = NULL;
    if ((st = rl_tensor_zeros(&qt, a->dtype, 2, (int64_t[]){m, k}))) goto done;
    if ((st = rl_tensor_zeros(&rt, a->dtype, 2, (int64_t[]){k, n}))) goto done;
    if (k > 0) {
        if ((st = work_copy("qr", a, &w))) goto done;
        if ((st = rl_tensor_empty(&tau, a->dtype, 1, &k))) goto done;
        lapack_int M = (lapack_int)m, N = (lapack_int)n, K = (lapack_int)k, info;
        bool f32 = a->dtype == RL_FLOAT32;
        info = f32 ? LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, M, N, rl_tensor_data(w), N, rl_tensor_data(tau))
                   : LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, M, N, rl_tensor_data(w), N, rl_tensor_data(tau));
        if (info) { st = lapack_fail("qr", f32 ? "sgeqrf" : "dgeqrf", info); goto done; }
        /* r: the upper triangle of the first k rows */
        size_t es = rl_dtype_size(a->dtype);
        char *src = rl_tensor_data(w), *dst = rl_tensor_data(rt);
        for (int64_t i = 0; i < k; i++)
            memcpy(dst + (size_t)(i * n + i) * es, src + (size_t)(i * n + i) * es, (size_t)(n - i) * es);
        /* q: the first k columns of the product of the reflectors */
        info = f32 ? LAPACKE_sorgqr(LAPACK_ROW_MAJOR, M, K, K, rl_tensor_data(w), N, rl_tensor_data(tau))
                   : LAPACKE_dorgqr(LAPACK_ROW_MAJOR, M, K, K, rl_tensor_data(w), N, rl_tensor_data(tau));
        if (info) { st = lapack_fail("qr", f32 ? "sorgqr" : "dorgqr", info); goto done; }
        dst = rl_tensor_data(qt);
        for (int64_t i = 0; i < m; i++) memcpy(dst + (size_t)(i * k) * es, src + (size_t)(i * n) * es, (size_t)k * es);
    }
done:
    rl_tensor_release(w);
    rl_tensor_release(tau);
    if (st) {
        rl_tensor_release(qt);
        rl_tensor_release(rt);
        return st;
    }
    *q = qt;
    *r = rt;
    return RL_OK;
}

rl_status rl_svdvals(rl_tensor **s, const rl_tensor *a)
{
    rl_status st = check_matrix("svdvals", a, false);
    if (st) return st;
    int64_t m = a->shape[0], n = a->shape[1], k = m < n ? m : n;
    rl_tensor *w = NULL, *out = NULL;
    if ((st = rl_tensor_zeros(&out, a->dtype, 1, &k))) goto done;
    if (k > 0) {
        if ((st = work_copy("svdvals", a, &w))) goto done;
        lapack_int M = (lapack_int)m, N = (lapack_int)n, info;
        /* The row-major (m,n) buffer is the column-major (n,m) matrix A',
         * whose singular values are A's: LAPACK reads it in place, with no
         * transposed copy (and no check of the unused ldvt, which
         * LAPACKE's row-major path wants >= n even for jobz 'N'). jobz 'N':
         * u and vt are not referenced. */
        if (a->dtype == RL_FLOAT32) {
            float u[1], vt[1];
            info = LAPACKE_sgesdd(LAPACK_COL_MAJOR, 'N', N, M, rl_tensor_data(w), N, rl_tensor_data(out), u, 1, vt, 1);
        } else {
            double u[1], vt[1];
            info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', N, M, rl_tensor_data(w), N, rl_tensor_data(out), u, 1, vt, 1);
        }
        if (info) st = lapack_fail("svdvals", a->dtype == RL_FLOAT32 ? "sgesdd" : "dgesdd", info);
    }
done:
    rl_tensor_release(w);
    if (st) {
        rl_tensor_release(out);
        return st;
    }
    *s = out;
    return RL_OK;
}

rl_status rl_eigvals(rl_tensor **re, rl_tensor **im, const rl_tensor *a)
{
    rl_status st = check_matrix("eigvals", a, true);
    if (st) return st;
    int64_t n = a->shape[0];
    rl_tensor *w = NULL, *wr = NULL, *wi = NULL;
    if ((st = rl_tensor_zeros(&wr, a->dtype, 1, &n))) goto done;
    if ((st = rl_tensor_zeros(&wi, a->dtype, 1, &n))) goto done;
    if (n > 0) {
        if ((st = work_copy("eigvals", a, &w))) goto done;
        lapack_int N = (lapack_int)n, info;
        /* jobvl = jobvr = 'N': vl and vr are not referenced; ldvl = ldvr = 1 */
        if (a->dtype == RL_FLOAT32) {
            float vl[1], vr[1];
            info = LAPACKE_sgeev(LAPACK_ROW_MAJOR, 'N', 'N', N, rl_tensor_data(w), N, rl_tensor_data(wr),
                                 rl_tensor_data(wi), vl, 1, vr, 1);
        } else {
            double vl[1], vr[1];
            info = LAPACKE_dgeev(LAPACK_ROW_MAJOR, 'N', 'N', N, rl_tensor_data(w), N, rl_tensor_data(wr),
                                 rl_tensor_data(wi), vl, 1, vr, 1);
        }
        if (info) st = lapack_fail("eigvals", a->dtype == RL_FLOAT32 ? "sgeev" : "dgeev", info);
    }
done:
    rl_tensor_release(w);
    if (st) {
        rl_tensor_release(wr);
        rl_tensor_release(wi);
        return st;
    }
    *re = wr;
    *im = wi;
    return RL_OK;
}
