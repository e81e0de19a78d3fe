/* test_linalg.c — rl_qr, rl_svdvals, rl_eigvals (core/linalg.c) checked
 * directly: QR by reconstruction, orthonormality and triangularity;
 * singular values and eigenvalues on matrices whose answers are known in
 * closed form, and by invariants (sum of squares = Frobenius², sum of
 * eigenvalues = trace).
 *
 * Tolerances, relative to the scale of the entries involved: float64 1e-12,
 * float32 2e-5 (40x40 at most: a few hundred ulps of accumulated rounding). */
#include "suites.h"
#include "testutil.h"
#include "../../core/linalg.h"

#include <math.h>
#include <stdlib.h>

static const rl_dtype FLOATS[2] = {RL_FLOAT32, RL_FLOAT64};

static double tol_of(rl_dtype dt) { return dt == RL_FLOAT32 ? 2e-5 : 1e-12; }

/* a (m,n) = q (m,k) r (k,n), q'q = I, r upper-triangular */
static void check_qr(int line, const rl_tensor *a, const rl_tensor *q, const rl_tensor *r)
{
    int64_t m = a->shape[0], n = a->shape[1], k = m < n ? m : n;
    if (q->ndim != 2 || q->shape[0] != m || q->shape[1] != k || r->ndim != 2 || r->shape[0] != k || r->shape[1] != n) {
        th_fail(__FILE__, line, "qr of (%lld,%lld): q (%lld,%lld), r (%lld,%lld)", (long long)m, (long long)n,
                (long long)q->shape[0], (long long)q->shape[1], (long long)r->shape[0], (long long)r->shape[1]);
        return;
    }
    if (q->dtype != a->dtype || r->dtype != a->dtype) th_fail(__FILE__, line, "qr: result dtype differs from input");
    double tol = tol_of(a->dtype);
    int bad = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0, scale = 0;
            for (int64_t p = 0; p < k; p++) {
                double x = tu_get(q, IDX(i, p)) * tu_get(r, IDX(p, j));
                s += x;
                scale += fabs(x);
            }
            double want = tu_get(a, IDX(i, j));
            if (!(fabs(s - want) <= tol * (1 + scale)) && bad++ < 3)
                th_fail(__FILE__, line, "qr (%lld,%lld) %s: (QR)[%lld][%lld] = %.17g, A = %.17g", (long long)m,
                        (long long)n, rl_dtype_name(a->dtype), (long long)i, (long long)j, s, want);
        }
    for (int64_t i = 0; i < k; i++)
        for (int64_t j = 0; j < k; j++) {
            double s = 0;
            for (int64_t p = 0; p < m; p++) s += tu_get(q, IDX(p, i)) * tu_get(q, IDX(p, j));
            if (!(fabs(s - (i == j)) <= tol) && bad++ < 6)
                th_fail(__FILE__, line, "qr (%lld,%lld) %s: (Q'Q)[%lld][%lld] = %.17g", (long long)m, (long long)n,
                        rl_dtype_name(a->dtype), (long long)i, (long long)j, s);
        }
    for (int64_t i = 0; i < k; i++)
        for (int64_t j = 0; j < i && j < n; j++)
            if (tu_get(r, IDX(i, j)) != 0 && bad++ < 9)
                th_fail(__FILE__, line, "qr: r[%lld][%lld] = %g below the diagonal", (long long)i, (long long)j,
                        tu_get(r, IDX(i, j)));
    CHECK(rl_tensor_is_contiguous(q) && rl_tensor_is_contiguous(r));
    CHECK(!q->requires_grad && !r->requires_grad && !q->grad_fn && !r->grad_fn);
}

static void test_qr_shapes(void)
{
    const int64_t sizes[][2] = {{1, 1}, {5, 5}, {7, 3}, {3, 7}, {1, 6}, {6, 1}, {40, 25}, {25, 40}};
    for (int d = 0; d < 2; d++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            rl_tensor *a = tu_rand(FLOATS[d], DIMS(sizes[s][0], sizes[s][1]), 10 + s, -1, 1, 0), *q, *r;
            REQUIRE(a);
            REQUIRE_OK(rl_qr(&q, &r, a));
            check_qr(__LINE__, a, q, r);
            rl_tensor_release(a);
            rl_tensor_release(q);
            rl_tensor_release(r);
        }
}

/* a strided (transposed) input is read through its strides and left as it was */
static void test_qr_strided_input_untouched(void)
{
    for (int d = 0; d < 2; d++) {
        rl_tensor *base = tu_rand(FLOATS[d], DIMS(4, 9), 77, -2, 2, 0), *copy, *a, *q, *r;
        REQUIRE(base);
        REQUIRE_OK(rl_tensor_clone(&copy, base));
        REQUIRE_OK(rl_tensor_transpose(&a, base, 0, 1)); /* (9,4), not contiguous */
        CHECK(!rl_tensor_is_contiguous(a));
        REQUIRE_OK(rl_qr(&q, &r, a));
        check_qr(__LINE__, a, q, r);
        int64_t idx[2] = {0, 0};
        do CHECK(tu_get(base, idx) == tu_get(copy, idx));
        while (tu_next(2, base->shape, idx));
        rl_tensor_release(base);
        rl_tensor_release(copy);
        rl_tensor_release(a);
        rl_tensor_release(q);
        rl_tensor_release(r);
    }
}

/* an upper-triangular input: Q = diag(+-1), R = +-A */
static void test_qr_triangular(void)
{
    const double v[] = {2, 1, -1, 0, 3, 4, 0, 0, -5};
    rl_tensor *a = tu_from(RL_FLOAT64, DIMS(3, 3), v), *q, *r;
    REQUIRE(a);
    REQUIRE_OK(rl_qr(&q, &r, a));
    check_qr(__LINE__, a, q, r);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            CHECK_CLOSE(fabs(tu_get(q, IDX(i, j))), i == j ? 1.0 : 0.0, 1e-15);
            CHECK_CLOSE(fabs(tu_get(r, IDX(i, j))), fabs(v[i * 3 + j]), 1e-14);
        }
    rl_tensor_release(a);
    rl_tensor_release(q);
    rl_tensor_release(r);
}

static void test_linalg_empty(void)
{
    rl_tensor *a, *q, *r, *s, *re, *im;
    REQUIRE_OK(rl_tensor_zeros(&a, RL_FLOAT64, DIMS(0, 3)));
    REQUIRE_OK(rl_qr(&q, &r, a));
    CHECK_SHAPE(q, DIMS(0, 0));
    CHECK_SHAPE(r, DIMS(0, 3));
    REQUIRE_OK(rl_svdvals(&s, a));
    CHECK_SHAPE(s, DIMS(0));
    rl_tensor_release(a);
    rl_tensor_release(q);
    rl_tensor_release(r);
    rl_tensor_release(s);
    REQUIRE_OK(rl_tensor_zeros(&a, RL_FLOAT32, DIMS(0, 0)));
    REQUIRE_OK(rl_eigvals(&re, &im, a));
    CHECK_SHAPE(re, DIMS(0));
    CHECK_SHAPE(im, DIMS(0));
    rl_tensor_release(a);
    rl_tensor_release(re);
    rl_tensor_release(im);
}

static void check_values(int line, const rl_tensor *s, const double *want, int64_t n, double tol)
{
    if (s->ndim != 1 || s->shape[0] != n) {
        th_fail(__FILE__, line, "expected %lld values, got a %d-d tensor of %lld", (long long)n, s->ndim,
                (long long)(s->ndim ? s->shape[0] : 1));
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        double got = tu_get(s, IDX(i));
        if (!(fabs(got - want[i]) <= tol * (1 + fabs(want[i]))))
            th_fail(__FILE__, line, "value %lld: got %.17g, want %.17g", (long long)i, got, want[i]);
    }
}

static void test_svdvals_diagonal(void)
{
    for (int d = 0; d < 2; d++) {
        /* square diag(3, -5, 1, 0.5): |d| descending */
        rl_tensor *a, *s;
        REQUIRE_OK(rl_tensor_zeros(&a, FLOATS[d], DIMS(4, 4)));
        const double dv[] = {3, -5, 1, 0.5};
        for (int i = 0; i < 4; i++) tu_set(a, IDX(i, i), dv[i]);
        REQUIRE_OK(rl_svdvals(&s, a));
        check_values(__LINE__, s, (const double[]){5, 3, 1, 0.5}, 4, tol_of(FLOATS[d]));
        CHECK(s->dtype == FLOATS[d]);
        rl_tensor_release(a);
        rl_tensor_release(s);
        /* rectangular (3,5) and (5,3) with a diagonal 2, 7, 4 */
        for (int tr = 0; tr < 2; tr++) {
            REQUIRE_OK(rl_tensor_zeros(&a, FLOATS[d], 2, tr ? (int64_t[]){5, 3} : (int64_t[]){3, 5}));
            tu_set(a, IDX(0, 0), 2);
            tu_set(a, IDX(1, 1), 7);
            tu_set(a, IDX(2, 2), -4);
            REQUIRE_OK(rl_svdvals(&s, a));
            check_values(__LINE__, s, (const double[]){7, 4, 2}, 3, tol_of(FLOATS[d]));
            rl_tensor_release(a);
            rl_tensor_release(s);
        }
    }
}

/* u v' has one singular value |u| |v|, the rest 0 */
static void test_svdvals_rank_one(void)
{
    for (int d = 0; d < 2; d++) {
        const double u[] = {1, -2, 0.5, 3, 1}, v[] = {2, 0, -1, 1};
        rl_tensor *a, *s;
        REQUIRE_OK(rl_tensor_zeros(&a, FLOATS[d], DIMS(5, 4)));
        double nu = 0, nv = 0;
        for (int i = 0; i < 5; i++) nu += u[i] * u[i];
        for (int j = 0; j < 4; j++) nv += v[j] * v[j];
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 4; j++) tu_set(a, IDX(i, j), u[i] * v[j]);
        REQUIRE_OK(rl_svdvals(&s, a));
        double want = sqrt(nu * nv);
        check_values(__LINE__, s, (const double[]){want, 0, 0, 0}, 4, tol_of(FLOATS[d]) * want);
        rl_tensor_release(a);
        rl_tensor_release(s);
    }
}

/* c Q with Q orthogonal (from rl_qr): every singular value is |c| */
static void test_svdvals_scaled_orthogonal(void)
{
    for (int d = 0; d < 2; d++) {
        rl_tensor *a = tu_rand(FLOATS[d], DIMS(6, 6), 5, -1, 1, 0), *q, *r, *s;
        REQUIRE(a);
        REQUIRE_OK(rl_qr(&q, &r, a));
        int64_t idx[2] = {0, 0};
        do tu_set(q, idx, 2.5 * tu_get(q, idx));
        while (tu_next(2, q->shape, idx));
        REQUIRE_OK(rl_svdvals(&s, q));
        check_values(__LINE__, s, (const double[]){2.5, 2.5, 2.5, 2.5, 2.5, 2.5}, 6, tol_of(FLOATS[d]));
        rl_tensor_release(a);
        rl_tensor_release(q);
        rl_tensor_release(r);
        rl_tensor_release(s);
    }
}

/* random matrices: descending, >= 0, sum of squares = Frobenius², A and A' agree */
static void test_svdvals_invariants(void)
{
    const int64_t sizes[][2] = {{1, 1}, {8, 8}, {12, 5}, {5, 12}, {30, 17}};
    for (int d = 0; d < 2; d++)
        for (size_t z = 0; z < sizeof sizes / sizeof *sizes; z++) {
            rl_tensor *a = tu_rand(FLOATS[d], DIMS(sizes[z][0], sizes[z][1]), 30 + z, -1, 1, 0), *at, *s, *st;
            REQUIRE(a);
            REQUIRE_OK(rl_svdvals(&s, a));
            REQUIRE_OK(rl_tensor_transpose(&at, a, 0, 1));
            REQUIRE_OK(rl_svdvals(&st, at));
            int64_t k = s->shape[0];
            CHECK_EQ_INT(k, sizes[z][0] < sizes[z][1] ? sizes[z][0] : sizes[z][1]);
            double fro = 0, sq = 0;
            int64_t idx[2] = {0, 0};
            do fro += tu_get(a, idx) * tu_get(a, idx);
            while (tu_next(2, a->shape, idx));
            for (int64_t i = 0; i < k; i++) {
                double v = tu_get(s, IDX(i));
                sq += v * v;
                CHECK(v >= 0);
                if (i > 0) CHECK(v <= tu_get(s, IDX(i - 1)));
                CHECK_CLOSE(tu_get(st, IDX(i)), v, tol_of(FLOATS[d]) * 4 * (1 + v));
            }
            CHECK_CLOSE(sq, fro, tol_of(FLOATS[d]) * 4 * fro);
            rl_tensor_release(a);
            rl_tensor_release(at);
            rl_tensor_release(s);
            rl_tensor_release(st);
        }
}

static void test_eigvals_rotation(void)
{
    const double th = 0.3;
    for (int d = 0; d < 2; d++) {
        rl_tensor *a = tu_from(FLOATS[d], DIMS(2, 2), (const double[]){cos(th), -sin(th), sin(th), cos(th)}), *re, *im;
        REQUIRE(a);
        REQUIRE_OK(rl_eigvals(&re, &im, a));
        CHECK(re->dtype == FLOATS[d] && im->dtype == FLOATS[d]);
        check_values(__LINE__, re, (const double[]){cos(th), cos(th)}, 2, tol_of(FLOATS[d]));
        /* a conjugate pair, positive imaginary part first */
        check_values(__LINE__, im, (const double[]){sin(th), -sin(th)}, 2, tol_of(FLOATS[d]));
        rl_tensor_release(a);
        rl_tensor_release(re);
        rl_tensor_release(im);
    }
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* symmetric and triangular matrices: real eigenvalues known in closed form */
static void test_eigvals_real(void)
{
    for (int d = 0; d < 2; d++) {
        struct { int64_t n; double a[9]; double want[3]; } cases[] = {
            {2, {2, 1, 1, 2}, {1, 3}},
            {3, {4, 1, 0, 1, 4, 1, 0, 1, 4}, {4 - sqrt(2), 4, 4 + sqrt(2)}}, /* tridiagonal Toeplitz */
            {3, {1, 5, -2, 0, 2, 7, 0, 0, 3}, {1, 2, 3}},                    /* upper-triangular */
            {1, {-7}, {-7}},
        };
        for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
            int64_t n = cases[c].n;
            rl_tensor *a = tu_from(FLOATS[d], 2, (int64_t[]){n, n}, cases[c].a), *re, *im;
            REQUIRE(a);
            REQUIRE_OK(rl_eigvals(&re, &im, a));
            double got[3];
            for (int64_t i = 0; i < n; i++) {
                got[i] = tu_get(re, IDX(i));
                CHECK_CLOSE(tu_get(im, IDX(i)), 0, 0);
            }
            qsort(got, (size_t)n, sizeof *got, cmp_double);
            for (int64_t i = 0; i < n; i++) CHECK_CLOSE(got[i], cases[c].want[i], tol_of(FLOATS[d]) * 10);
            rl_tensor_release(a);
            rl_tensor_release(re);
            rl_tensor_release(im);
        }
    }
}

/* a random matrix: sum of eigenvalues = trace, sum of squares = trace(A²),
 * imaginary parts come in conjugate pairs */
static void test_eigvals_invariants(void)
{
    for (int d = 0; d < 2; d++) {
        int64_t n = 9;
        rl_tensor *a = tu_rand(FLOATS[d], DIMS(n, n), 91, -1, 1, 0), *re, *im;
        REQUIRE(a);
        REQUIRE_OK(rl_eigvals(&re, &im, a));
        double tr = 0, tr2 = 0, sre = 0, sim = 0, ssq = 0;
        for (int64_t i = 0; i < n; i++) {
            tr += tu_get(a, IDX(i, i));
            for (int64_t j = 0; j < n; j++) tr2 += tu_get(a, IDX(i, j)) * tu_get(a, IDX(j, i));
            double x = tu_get(re, IDX(i)), y = tu_get(im, IDX(i));
            sre += x;
            sim += y;
            ssq += x * x - y * y;
            if (y > 0) {
                REQUIRE(i + 1 < n);
                CHECK(tu_get(re, IDX(i + 1)) == x);
                CHECK(tu_get(im, IDX(i + 1)) == -y);
            }
        }
        double tol = tol_of(d == 0 ? RL_FLOAT32 : RL_FLOAT64) * 10 * n;
        CHECK_CLOSE(sre, tr, tol);
        CHECK_CLOSE(sim, 0, tol);
        CHECK_CLOSE(ssq, tr2, tol * 4);
        rl_tensor_release(a);
        rl_tensor_release(re);
        rl_tensor_release(im);
    }
}

static void test_linalg_errors(void)
{
    rl_tensor *a, *x = NULL, *y = NULL;
    REQUIRE_OK(rl_tensor_zeros(&a, RL_INT64, DIMS(3, 3)));
    CHECK_STATUS(rl_qr(&x, &y, a), RL_ERR_DTYPE);
    CHECK_CONTAINS(rl_last_error(), "qr: ");
    CHECK_CONTAINS(rl_last_error(), "int64 (3,3)");
    CHECK_STATUS(rl_svdvals(&x, a), RL_ERR_DTYPE);
    CHECK_STATUS(rl_eigvals(&x, &y, a), RL_ERR_DTYPE);
    CHECK_CONTAINS(rl_last_error(), "eigvals: ");
    rl_tensor_release(a);

    REQUIRE_OK(rl_tensor_zeros(&a, RL_FLOAT32, DIMS(4)));
    CHECK_STATUS(rl_svdvals(&x, a), RL_ERR_SHAPE);
    CHECK_CONTAINS(rl_last_error(), "svdvals: expected a 2-d matrix (m,n), got (4)");
    CHECK_STATUS(rl_qr(&x, &y, a), RL_ERR_SHAPE);
    rl_tensor_release(a);

    REQUIRE_OK(rl_tensor_zeros(&a, RL_FLOAT64, DIMS(2, 3, 3)));
    CHECK_STATUS(rl_eigvals(&x, &y, a), RL_ERR_SHAPE);
    CHECK_CONTAINS(rl_last_error(), "(2,3,3)");
    rl_tensor_release(a);

    REQUIRE_OK(rl_tensor_zeros(&a, RL_FLOAT64, DIMS(3, 4)));
    CHECK_STATUS(rl_eigvals(&x, &y, a), RL_ERR_SHAPE);
    CHECK_CONTAINS(rl_last_error(), "eigvals: matrix (3,4) is not square");
    tu_set(a, IDX(1, 2), NAN);
    CHECK_STATUS(rl_svdvals(&x, a), RL_ERR_ARG);
    CHECK_CONTAINS(rl_last_error(), "NaN or Inf");
    CHECK_STATUS(rl_qr(&x, &y, a), RL_ERR_ARG);
    tu_set(a, IDX(1, 2), INFINITY);
    CHECK_STATUS(rl_qr(&x, &y, a), RL_ERR_ARG);
    rl_tensor_release(a);
    REQUIRE_OK(rl_tensor_zeros(&a, RL_FLOAT32, DIMS(3, 3)));
    tu_set(a, IDX(0, 0), NAN);
    CHECK_STATUS(rl_eigvals(&x, &y, a), RL_ERR_ARG);
    rl_tensor_release(a);
    CHECK(x == NULL && y == NULL); /* outputs untouched on failure */
}

void suite_linalg(void)
{
    TH_RUN(test_qr_shapes);
    TH_RUN(test_qr_strided_input_untouched);
    TH_RUN(test_qr_triangular);
    TH_RUN(test_linalg_empty);
    TH_RUN(test_svdvals_diagonal);
    TH_RUN(test_svdvals_rank_one);
    TH_RUN(test_svdvals_scaled_orthogonal);
    TH_RUN(test_svdvals_invariants);
    TH_RUN(test_eigvals_rotation);
    TH_RUN(test_eigvals_real);
    TH_RUN(test_eigvals_invariants);
    TH_RUN(test_linalg_errors);
}
