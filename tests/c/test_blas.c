/* test_blas.c — rl_matmul and rl_gemm against a naive triple loop with
 * double accumulation (core/blas.c).
 *
 * Tolerance: |got - want| <= rtol * sum_k |a_ik * b_kj| (plus a tiny
 * absolute floor), rtol = 1e-4 for float32 and 1e-12 for float64. */
#include "suites.h"
#include "testutil.h"
#include "../../core/blas.h"
#include "../../core/rnn_workspace.h"

#include <math.h>

static const rl_dtype FLOATS[2] = {RL_FLOAT32, RL_FLOAT64};

static double rtol(rl_dtype dt) { return dt == RL_FLOAT32 ? 1e-4 : 1e-12; }

/* c[i][j] == sum_k a[i][k] b[k][j] for 2-d views a (n,k), b (k,m), c (n,m) */
static void check_mm2(int line, const char *what, const rl_tensor *c, const rl_tensor *a, const rl_tensor *b)
{
    int64_t n = a->shape[0], k = a->shape[1], m = b->shape[1];
    if (c->ndim != 2 || c->shape[0] != n || c->shape[1] != m) {
        char s[RL_SHAPE_BUF];
        th_fail(__FILE__, line, "%s: result shape %s, want (%lld,%lld)", what, rl_shape_str(s, sizeof s, c->ndim, c->shape),
                (long long)n, (long long)m);
        return;
    }
    int bad = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < m; j++) {
            double s = 0, scale = 0;
            for (int64_t p = 0; p < k; p++) {
                double x = tu_get(a, IDX(i, p)), y = tu_get(b, IDX(p, j));
                s += x * y;
                scale += fabs(x * y);
            }
            double got = tu_get(c, IDX(i, j)), tol = rtol(a->dtype) * scale + 1e-300;
            if (!(fabs(got - s) <= tol) && bad++ < 3)
                th_fail(__FILE__, line, "%s %s: c[%lld][%lld] = %.17g, want %.17g (tol %.3g)", what,
                        rl_dtype_name(a->dtype), (long long)i, (long long)j, got, s, tol);
        }
}

/* 2-d slice [i] of a batched tensor via direct stride arithmetic (a header
 * copy, no reference taken) */
static rl_tensor slice2(const rl_tensor *t, int nbatch, const int64_t *bidx)
{
    rl_tensor s = *t;
    for (int d = 0; d < nbatch; d++) {
        int td = t->ndim - 2 - nbatch + d;
        if (td >= 0 && t->shape[td] != 1) s.offset += bidx[d] * t->stride[td];
    }
    s.ndim = 2;
    memcpy(s.shape, t->shape + t->ndim - 2, 2 * sizeof(int64_t));
    memcpy(s.stride, t->stride + t->ndim - 2, 2 * sizeof(int64_t));
    return s;
}

/* batched check: a (…,n,k), b (…,k,m) with broadcast batch dims */
static void check_mm_batched(int line, const char *what, const rl_tensor *c, const rl_tensor *a, const rl_tensor *b)
{
    int nb = c->ndim - 2;
    int64_t idx[RL_MAX_DIMS] = {0};
    if (tu_numel(nb, c->shape) == 0) return;
    do {
        rl_tensor as = slice2(a, nb, idx), bs = slice2(b, nb, idx), cs = slice2(c, nb, idx);
        check_mm2(line, what, &cs, &as, &bs);
    } while (tu_next(nb, c->shape, idx));
}

static void test_matmul_2d_sizes(void)
{
    const int64_t sizes[][3] = {{1, 1, 1}, {7, 5, 3}, {3, 5, 7}, {1, 9, 4}, {6, 1, 5}, {64, 33, 17}, {2, 100, 2}};
    for (int k = 0; k < 2; k++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            rl_tensor *a = tu_rand(FLOATS[k], DIMS(sizes[s][0], sizes[s][1]), 3 + s, -1, 1, 0);
            rl_tensor *b = tu_rand(FLOATS[k], DIMS(sizes[s][1], sizes[s][2]), 4 + s, -1, 1, 0), *c;
            REQUIRE(a && b);
            REQUIRE_OK(rl_matmul(&c, a, b));
            CHECK(c->dtype == FLOATS[k]);
            CHECK(rl_tensor_is_contiguous(c));
            check_mm2(__LINE__, "2d", c, a, b);
            rl_tensor_release(c);
            rl_tensor_release(b);
            rl_tensor_release(a);
        }
}

static void test_matmul_transposed_operands(void)
{
    for (int k = 0; k < 2; k++)
        for (int ta = 0; ta <= 1; ta++)
            for (int tb = 0; tb <= 1; tb++) {
                const int64_t n = 9, kk = 6, m = 5;
                rl_tensor *ab = ta ? tu_rand(FLOATS[k], DIMS(kk, n), 10, -1, 1, 0) : tu_rand(FLOATS[k], DIMS(n, kk), 10, -1, 1, 0);
                rl_tensor *bb = tb ? tu_rand(FLOATS[k], DIMS(m, kk), 11, -1, 1, 0) : tu_rand(FLOATS[k], DIMS(kk, m), 11, -1, 1, 0);
                REQUIRE(ab && bb);
                rl_tensor *a, *b, *c;
                if (ta) REQUIRE_OK(rl_tensor_transpose(&a, ab, 0, 1));
                else { a = ab; rl_tensor_retain(a); }
                if (tb) REQUIRE_OK(rl_tensor_transpose(&b, bb, 0, 1));
                else { b = bb; rl_tensor_retain(b); }
                REQUIRE_OK(rl_matmul(&c, a, b));
                check_mm2(__LINE__, ta ? (tb ? "a^T b^T" : "a^T b") : (tb ? "a b^T" : "a b"), c, a, b);
                rl_tensor_release(c);
                rl_tensor_release(b);
                rl_tensor_release(a);
                rl_tensor_release(bb);
                rl_tensor_release(ab);
            }
}

static void test_matmul_non_unit_stride_views(void)
{
    for (int k = 0; k < 2; k++) {
        rl_dtype dt = FLOATS[k];
        rl_tensor *big = tu_rand(dt, DIMS(8, 12), 20, -1, 1, 0), *bigb = tu_rand(dt, DIMS(10, 9), 21, -1, 1, 0);
        REQUIRE(big && bigb);
        rl_tensor *a, *b, *c, *t;
        /* column-narrowed operands: unit inner stride, row stride > cols */
        REQUIRE_OK(rl_tensor_narrow(&a, big, 1, 3, 7));   /* (8,7) */
        REQUIRE_OK(rl_tensor_narrow(&t, bigb, 0, 2, 7));  /* (7,9) */
        REQUIRE_OK(rl_tensor_narrow(&b, t, 1, 1, 4));     /* (7,4) */
        rl_tensor_release(t);
        REQUIRE_OK(rl_matmul(&c, a, b));
        check_mm2(__LINE__, "narrowed", c, a, b);
        rl_tensor_release(c);
        /* transposed narrowed views */
        rl_tensor *at, *bt;
        REQUIRE_OK(rl_tensor_transpose(&at, a, 0, 1));   /* (7,8) */
        REQUIRE_OK(rl_tensor_narrow(&t, bigb, 1, 0, 8)); /* (10,8) */
        REQUIRE_OK(rl_tensor_transpose(&bt, t, 0, 1));   /* (8,10) */
        rl_tensor_release(t);
        REQUIRE_OK(rl_matmul(&c, at, bt));
        check_mm2(__LINE__, "transposed narrowed", c, at, bt);
        rl_tensor_release(c);
        rl_tensor_release(bt);
        rl_tensor_release(at);
        rl_tensor_release(b);
        rl_tensor_release(a);
        /* neither dim unit-stride: every other column of every other row */
        rl_tensor *v4, *p;
        REQUIRE_OK(rl_tensor_view(&v4, big, DIMS(4, 2, 6, 2)));
        REQUIRE_OK(rl_tensor_select(&p, v4, 3, 1));  /* (4,2,6) */
        REQUIRE_OK(rl_tensor_select(&a, p, 1, 0));   /* (4,6), strides (24,2) */
        rl_tensor_release(p);
        rl_tensor_release(v4);
        CHECK_EQ_INT(a->stride[1], 2);
        REQUIRE_OK(rl_tensor_narrow(&t, bigb, 0, 0, 6));
        REQUIRE_OK(rl_matmul(&c, a, t));
        check_mm2(__LINE__, "strided both dims", c, a, t);
        rl_tensor_release(c);
        REQUIRE_OK(rl_tensor_transpose(&at, a, 0, 1)); /* (6,4) strides (2,24) */
        rl_tensor *b2 = tu_rand(dt, DIMS(4, 3), 22, -1, 1, 0);
        REQUIRE(b2);
        REQUIRE_OK(rl_matmul(&c, at, b2));
        check_mm2(__LINE__, "strided both dims, transposed", c, at, b2);
        rl_tensor_release(c);
        rl_tensor_release(b2);
        rl_tensor_release(at);
        rl_tensor_release(t);
        rl_tensor_release(a);
        /* expanded operands (stride 0) */
        rl_tensor *row, *col, *ea, *eb;
        REQUIRE_OK(rl_tensor_narrow(&row, big, 0, 2, 1));   /* (1,12) */
        REQUIRE_OK(rl_tensor_expand(&ea, row, DIMS(5, 12)));
        REQUIRE_OK(rl_tensor_narrow(&t, bigb, 1, 4, 1));    /* (10,1) */
        rl_tensor *t12 = tu_rand(dt, DIMS(12, 1), 23, -1, 1, 0);
        REQUIRE(t12);
        REQUIRE_OK(rl_tensor_expand(&eb, t12, DIMS(12, 3)));
        REQUIRE_OK(rl_matmul(&c, ea, eb));
        check_mm2(__LINE__, "expanded both", c, ea, eb);
        rl_tensor_release(c);
        REQUIRE_OK(rl_tensor_expand(&col, t, DIMS(10, 6)));
        rl_tensor *a10 = tu_rand(dt, DIMS(3, 10), 24, -1, 1, 0);
        REQUIRE(a10);
        REQUIRE_OK(rl_matmul(&c, a10, col));
        check_mm2(__LINE__, "expanded column", c, a10, col);
        rl_tensor_release(c);
        rl_tensor_release(a10);
        rl_tensor_release(col);
        rl_tensor_release(t12);
        rl_tensor_release(eb);
        rl_tensor_release(t);
        rl_tensor_release(ea);
        rl_tensor_release(row);
        rl_tensor_release(bigb);
        rl_tensor_release(big);
    }
}

/* 1-d operands read as a (1,k) row or (k,1) column for the reference */
static rl_tensor as_row(const rl_tensor *v)
{
    rl_tensor r = *v;
    r.ndim = 2;
    r.shape[0] = 1; r.shape[1] = v->shape[0];
    r.stride[0] = 0; r.stride[1] = v->stride[0];
    return r;
}

static rl_tensor as_col(const rl_tensor *v)
{
    rl_tensor r = *v;
    r.ndim = 2;
    r.shape[0] = v->shape[0]; r.shape[1] = 1;
    r.stride[0] = v->stride[0]; r.stride[1] = 0;
    return r;
}

static void test_matmul_vectors(void)
{
    for (int k = 0; k < 2; k++) {
        rl_dtype dt = FLOATS[k];
        rl_tensor *m = tu_rand(dt, DIMS(6, 7), 30, -1, 1, 0), *x = tu_rand(dt, DIMS(7), 31, -1, 1, 0);
        rl_tensor *y = tu_rand(dt, DIMS(6), 32, -1, 1, 0), *c;
        REQUIRE(m && x && y);
        /* dot */
        REQUIRE_OK(rl_matmul(&c, x, x));
        CHECK_EQ_INT(c->ndim, 0);
        rl_tensor r = as_row(x), col = as_col(x), c2 = *c;
        c2.ndim = 2; c2.shape[0] = c2.shape[1] = 1; c2.stride[0] = c2.stride[1] = 1;
        check_mm2(__LINE__, "dot", &c2, &r, &col);
        rl_tensor_release(c);
        /* mv, vm */
        REQUIRE_OK(rl_matmul(&c, m, x));
        CHECK_SHAPE(c, DIMS(6));
        col = as_col(x);
        rl_tensor cc = as_col(c);
        check_mm2(__LINE__, "mv", &cc, m, &col);
        rl_tensor_release(c);
        REQUIRE_OK(rl_matmul(&c, y, m));
        CHECK_SHAPE(c, DIMS(7));
        r = as_row(y);
        rl_tensor cr = as_row(c);
        check_mm2(__LINE__, "vm", &cr, &r, m);
        rl_tensor_release(c);
        /* strided vectors: a column of m, a row of m^T; expanded vector */
        rl_tensor *mc, *mt, *e, *one;
        REQUIRE_OK(rl_tensor_select(&mc, m, 1, 2));          /* (6), stride 7 */
        REQUIRE_OK(rl_tensor_transpose(&mt, m, 0, 1));       /* (7,6) */
        REQUIRE_OK(rl_matmul(&c, mt, mc));
        CHECK_SHAPE(c, DIMS(7));
        col = as_col(mc); cc = as_col(c);
        check_mm2(__LINE__, "mv strided", &cc, mt, &col);
        rl_tensor_release(c);
        REQUIRE_OK(rl_matmul(&c, mc, m));
        r = as_row(mc); cr = as_row(c);
        check_mm2(__LINE__, "vm strided", &cr, &r, m);
        rl_tensor_release(c);
        REQUIRE_OK(rl_tensor_full(&one, dt, 0, NULL, 0.5));
        REQUIRE_OK(rl_tensor_expand(&e, one, DIMS(7)));      /* stride 0 */
        REQUIRE_OK(rl_matmul(&c, m, e));
        col = as_col(e); cc = as_col(c);
        check_mm2(__LINE__, "mv expanded", &cc, m, &col);
        rl_tensor_release(c);
        REQUIRE_OK(rl_matmul(&c, e, x));
        CHECK_EQ_INT(c->ndim, 0);
        rl_tensor_release(c);
        rl_tensor_release(e);
        rl_tensor_release(one);
        rl_tensor_release(mt);
        rl_tensor_release(mc);
        rl_tensor_release(y);
        rl_tensor_release(x);
        rl_tensor_release(m);
    }
}

static void test_matmul_batched_broadcast(void)
{
    for (int k = 0; k < 2; k++) {
        rl_dtype dt = FLOATS[k];
        rl_tensor *a, *b, *c, *t;
        /* (2,1,4,5) x (3,5,6) -> (2,3,4,6) */
        a = tu_rand(dt, DIMS(2, 1, 4, 5), 40, -1, 1, 0);
        b = tu_rand(dt, DIMS(3, 5, 6), 41, -1, 1, 0);
        REQUIRE(a && b);
        REQUIRE_OK(rl_matmul(&c, a, b));
        CHECK_SHAPE(c, DIMS(2, 3, 4, 6));
        check_mm_batched(__LINE__, "broadcast batch", c, a, b);
        rl_tensor_release(c);
        rl_tensor_release(b);
        /* 3-d x 2-d: the stacked single-GEMM path */
        rl_tensor *a3 = tu_rand(dt, DIMS(3, 4, 5), 42, -1, 1, 0), *b2 = tu_rand(dt, DIMS(5, 2), 43, -1, 1, 0);
        REQUIRE(a3 && b2);
        REQUIRE_OK(rl_matmul(&c, a3, b2));
        CHECK_SHAPE(c, DIMS(3, 4, 2));
        check_mm_batched(__LINE__, "3d x 2d", c, a3, b2);
        rl_tensor_release(c);
        /* 3-d x 2-d with a permuted 3-d operand (rows do not stack) */
        rl_tensor *ap;
        t = tu_rand(dt, DIMS(4, 3, 5), 44, -1, 1, 0);
        REQUIRE(t);
        REQUIRE_OK(rl_tensor_permute(&ap, t, (const int[]){1, 0, 2})); /* (3,4,5) */
        REQUIRE_OK(rl_matmul(&c, ap, b2));
        check_mm_batched(__LINE__, "permuted 3d x 2d", c, ap, b2);
        rl_tensor_release(c);
        rl_tensor_release(ap);
        rl_tensor_release(t);
        /* 3-d x 2-d where the 3-d operand is an expanded batch */
        rl_tensor *a1 = tu_rand(dt, DIMS(1, 4, 5), 45, -1, 1, 0), *ae;
        REQUIRE(a1);
        REQUIRE_OK(rl_tensor_expand(&ae, a1, DIMS(3, 4, 5)));
        REQUIRE_OK(rl_matmul(&c, ae, b2));
        check_mm_batched(__LINE__, "expanded 3d x 2d", c, ae, b2);
        rl_tensor_release(c);
        rl_tensor_release(ae);
        rl_tensor_release(a1);
        /* 2-d x 3-d, with a transposed batch operand */
        rl_tensor *a2 = tu_rand(dt, DIMS(4, 5), 46, -1, 1, 0), *bt;
        t = tu_rand(dt, DIMS(3, 2, 5), 47, -1, 1, 0);
        REQUIRE(a2 && t);
        REQUIRE_OK(rl_tensor_transpose(&bt, t, 1, 2)); /* (3,5,2) */
        REQUIRE_OK(rl_matmul(&c, a2, bt));
        CHECK_SHAPE(c, DIMS(3, 4, 2));
        check_mm_batched(__LINE__, "2d x transposed 3d", c, a2, bt);
        rl_tensor_release(c);
        /* 1-d x 3-d and 3-d x 1-d */
        rl_tensor *v5 = tu_rand(dt, DIMS(5), 48, -1, 1, 0);
        REQUIRE(v5);
        REQUIRE_OK(rl_matmul(&c, v5, bt));
        CHECK_SHAPE(c, DIMS(3, 2));
        for (int64_t i = 0; i < 3; i++)
            for (int64_t j = 0; j < 2; j++) {
                double s = 0;
                for (int64_t p = 0; p < 5; p++) s += tu_get(v5, &p) * tu_get(bt, IDX(i, p, j));
                CHECK_CLOSE(tu_get(c, IDX(i, j)), s, rtol(dt) * 5);
            }
        rl_tensor_release(c);
        REQUIRE_OK(rl_matmul(&c, a3, v5));
        CHECK_SHAPE(c, DIMS(3, 4));
        for (int64_t i = 0; i < 3; i++)
            for (int64_t j = 0; j < 4; j++) {
                double s = 0;
                for (int64_t p = 0; p < 5; p++) s += tu_get(a3, IDX(i, j, p)) * tu_get(v5, &p);
                CHECK_CLOSE(tu_get(c, IDX(i, j)), s, rtol(dt) * 5);
            }
        rl_tensor_release(c);
        rl_tensor_release(v5);
        rl_tensor_release(bt);
        rl_tensor_release(t);
        rl_tensor_release(a2);
        rl_tensor_release(b2);
        rl_tensor_release(a3);
        rl_tensor_release(a);
    }
}

static void test_matmul_zero_size(void)
{
    for (int k = 0; k < 2; k++) {
        rl_dtype dt = FLOATS[k];
        rl_tensor *a, *b, *c;
        /* k = 0: a sum of nothing is zero, whatever the uninitialised output held */
        REQUIRE_OK(rl_tensor_empty(&a, dt, DIMS(3, 0)));
        REQUIRE_OK(rl_tensor_empty(&b, dt, DIMS(0, 4)));
        for (int rep = 0; rep < 3; rep++) { /* recycle freed buffers holding garbage */
            rl_tensor *junk;
            REQUIRE_OK(rl_tensor_full(&junk, dt, DIMS(3, 4), NAN));
            rl_tensor_release(junk);
            REQUIRE_OK(rl_matmul(&c, a, b));
            CHECK_SHAPE(c, DIMS(3, 4));
            for (int64_t i = 0; i < 3; i++)
                for (int64_t j = 0; j < 4; j++) CHECK_CLOSE(tu_get(c, IDX(i, j)), 0, 0);
            rl_tensor_release(c);
        }
        rl_tensor_release(b);
        rl_tensor_release(a);
        /* batched k = 0 */
        REQUIRE_OK(rl_tensor_empty(&a, dt, DIMS(2, 3, 0)));
        REQUIRE_OK(rl_tensor_empty(&b, dt, DIMS(0, 4)));
        REQUIRE_OK(rl_matmul(&c, a, b));
        CHECK_SHAPE(c, DIMS(2, 3, 4));
        int64_t idx[3] = {0, 0, 0};
        do CHECK_CLOSE(tu_get(c, idx), 0, 0);
        while (tu_next(3, c->shape, idx));
        rl_tensor_release(c);
        rl_tensor_release(b);
        rl_tensor_release(a);
        /* dot of empty vectors: 0 */
        REQUIRE_OK(rl_tensor_empty(&a, dt, DIMS(0)));
        REQUIRE_OK(rl_matmul(&c, a, a));
        CHECK_EQ_INT(c->ndim, 0);
        CHECK_CLOSE(tu_get(c, NULL), 0, 0);
        rl_tensor_release(c);
        rl_tensor_release(a);
        /* n = 0 and m = 0 give empty results */
        REQUIRE_OK(rl_tensor_zeros(&a, dt, DIMS(0, 3)));
        REQUIRE_OK(rl_tensor_zeros(&b, dt, DIMS(3, 4)));
        REQUIRE_OK(rl_matmul(&c, a, b));
        CHECK_SHAPE(c, DIMS(0, 4));
        rl_tensor_release(c);
        rl_tensor_release(a);
        REQUIRE_OK(rl_tensor_zeros(&a, dt, DIMS(2, 3)));
        rl_tensor *b0;
        REQUIRE_OK(rl_tensor_zeros(&b0, dt, DIMS(3, 0)));
        REQUIRE_OK(rl_matmul(&c, a, b0));
        CHECK_SHAPE(c, DIMS(2, 0));
        rl_tensor_release(c);
        rl_tensor_release(b0);
        rl_tensor_release(a);
        /* empty batch */
        REQUIRE_OK(rl_tensor_zeros(&a, dt, DIMS(0, 2, 3)));
        REQUIRE_OK(rl_matmul(&c, a, b));
        CHECK_SHAPE(c, DIMS(0, 2, 4));
        rl_tensor_release(c);
        rl_tensor_release(a);
        rl_tensor_release(b);
    }
}

static void test_matmul_errors(void)
{
    rl_tensor *a, *b, *c = NULL, *d, *i64, *s;
    REQUIRE_OK(rl_tensor_zeros(&a, RL_FLOAT32, DIMS(3, 4)));
    REQUIRE_OK(rl_tensor_zeros(&b, RL_FLOAT32, DIMS(5, 2)));
    CHECK_STATUS(rl_matmul(&c, a, b), RL_ERR_SHAPE);
    CHECK_CONTAINS(rl_last_error(), "matmul");
    CHECK_CONTAINS(rl_last_error(), "(3,4) and (5,2)");
    REQUIRE_OK(rl_tensor_zeros(&d, RL_FLOAT64, DIMS(4, 2)));
    CHECK_STATUS(rl_matmul(&c, a, d), RL_ERR_DTYPE);
    CHECK_CONTAINS(rl_last_error(), "float32");
    CHECK_CONTAINS(rl_last_error(), "float64");
    REQUIRE_OK(rl_tensor_zeros(&i64, RL_INT64, DIMS(4, 4)));
    CHECK_STATUS(rl_matmul(&c, i64, i64), RL_ERR_DTYPE);
    REQUIRE_OK(rl_tensor_zeros(&s, RL_FLOAT32, 0, NULL));
    CHECK_STATUS(rl_matmul(&c, s, a), RL_ERR_SHAPE);
    CHECK_STATUS(rl_matmul(&c, a, s), RL_ERR_SHAPE);
    rl_tensor *v5, *b3, *b3x;
    REQUIRE_OK(rl_tensor_zeros(&v5, RL_FLOAT32, DIMS(5)));
    CHECK_STATUS(rl_matmul(&c, a, v5), RL_ERR_SHAPE);  /* mv with k mismatch */
    CHECK_CONTAINS(rl_last_error(), "(3,4) and (5)");
    CHECK_STATUS(rl_matmul(&c, v5, a), RL_ERR_SHAPE);
    REQUIRE_OK(rl_tensor_zeros(&b3, RL_FLOAT32, DIMS(2, 4, 6)));
    REQUIRE_OK(rl_tensor_zeros(&b3x, RL_FLOAT32, DIMS(3, 3, 4)));
    CHECK_STATUS(rl_matmul(&c, b3x, b3), RL_ERR_SHAPE); /* batch 3 vs 2 */
    CHECK_CONTAINS(rl_last_error(), "(3,3,4)");
    CHECK(c == NULL);
    rl_tensor_release(b3x);
    rl_tensor_release(b3);
    rl_tensor_release(v5);
    rl_tensor_release(s);
    rl_tensor_release(i64);
    rl_tensor_release(d);
    rl_tensor_release(b);
    rl_tensor_release(a);
}

/* c_out == alpha * op(a) op(b) + beta * c_in */
static void check_gemm(int line, const rl_tensor *cout, const rl_tensor *cin, const rl_tensor *a, bool ta,
                       const rl_tensor *b, bool tb, double alpha, double beta)
{
    int64_t n = cout->shape[0], m = cout->shape[1], k = ta ? a->shape[0] : a->shape[1];
    int bad = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < m; j++) {
            double s = 0, scale = 0;
            for (int64_t p = 0; p < k; p++) {
                double x = ta ? tu_get(a, IDX(p, i)) : tu_get(a, IDX(i, p));
                double y = tb ? tu_get(b, IDX(j, p)) : tu_get(b, IDX(p, j));
                s += x * y;
                scale += fabs(x * y);
            }
            double c0 = tu_get(cin, IDX(i, j));
            double want = alpha * s + beta * c0;
            double tol = rtol(a->dtype) * (fabs(alpha) * scale + fabs(beta * c0)) + 1e-300;
            double got = tu_get(cout, IDX(i, j));
            if (!(fabs(got - want) <= tol) && bad++ < 3)
                th_fail(__FILE__, line, "gemm %s ta=%d tb=%d alpha=%g beta=%g: c[%lld][%lld] = %.17g, want %.17g",
                        rl_dtype_name(a->dtype), ta, tb, alpha, beta, (long long)i, (long long)j, got, want);
        }
}

/* every element of buf outside rows [r0, r0+n) x columns [c0, c0+m) still
 * equals before's */
static void check_untouched(int line, const rl_tensor *buf, const rl_tensor *before, int64_t r0, int64_t n,
                            int64_t c0, int64_t m)
{
    for (int64_t i = 0; i < buf->shape[0]; i++)
        for (int64_t j = 0; j < buf->shape[1]; j++)
            if (!(i >= r0 && i < r0 + n && j >= c0 && j < c0 + m) &&
                tu_get(buf, IDX(i, j)) != tu_get(before, IDX(i, j)))
                th_fail(__FILE__, line, "element (%lld,%lld) outside the output was written", (long long)i,
                        (long long)j);
}

static void test_gemm_alpha_beta_transposes(void)
{
    const double ab[3][2] = {{1, 0}, {0.5, -2}, {-1.25, 1}};
    /* (n, k, m): one row or one column of output goes through GEMV */
    const int64_t sizes[6][3] = {{5, 7, 4}, {1, 7, 4}, {5, 7, 1}, {1, 7, 1}, {1, 1, 4}, {5, 1, 1}};
    for (int z = 0; z < 6; z++)
    for (int k = 0; k < 2; k++)
        for (int ta = 0; ta <= 1; ta++)
            for (int tb = 0; tb <= 1; tb++)
                for (int q = 0; q < 3; q++) {
                    rl_dtype dt = FLOATS[k];
                    const int64_t n = sizes[z][0], kk = sizes[z][1], m = sizes[z][2];
                    rl_tensor *a = ta ? tu_rand(dt, DIMS(kk, n), 50, -1, 1, 0) : tu_rand(dt, DIMS(n, kk), 50, -1, 1, 0);
                    rl_tensor *b = tb ? tu_rand(dt, DIMS(m, kk), 51, -1, 1, 0) : tu_rand(dt, DIMS(kk, m), 51, -1, 1, 0);
                    /* c: rows 1..5 of an (8,6) buffer, columns 2..5 (ldc 6) */
                    rl_tensor *buf = tu_rand(dt, DIMS(8, 6), 52, -1, 1, 0), *rows, *c, *cin;
                    REQUIRE(a && b && buf);
                    REQUIRE_OK(rl_tensor_narrow(&rows, buf, 0, 1, n));
                    REQUIRE_OK(rl_tensor_narrow(&c, rows, 1, 2, m));
                    REQUIRE_OK(rl_tensor_clone(&cin, c));
                    if (q == 0) rl_tensor_fill_(c, NAN); /* beta = 0 must ignore what c held */
                    rl_tensor *before;
                    REQUIRE_OK(rl_tensor_clone(&before, buf));
                    CHECK_OK(rl_gemm(c, a, ta, b, tb, ab[q][0], ab[q][1]));
                    if (q == 0) rl_tensor_fill_(cin, 0);
                    check_gemm(__LINE__, c, cin, a, ta, b, tb, ab[q][0], ab[q][1]);
                    check_untouched(__LINE__, buf, before, 1, n, 2, m);
                    rl_tensor_release(before);
                    rl_tensor_release(cin);
                    rl_tensor_release(c);
                    rl_tensor_release(rows);
                    rl_tensor_release(buf);
                    rl_tensor_release(b);
                    rl_tensor_release(a);
                }
}

static void test_gemm_transposed_views_and_k0(void)
{
    for (int k = 0; k < 2; k++) {
        rl_dtype dt = FLOATS[k];
        /* a given as a transposed view and ta set: op(a) is the base itself */
        rl_tensor *base = tu_rand(dt, DIMS(4, 6), 60, -1, 1, 0), *at, *b = tu_rand(dt, DIMS(6, 3), 61, -1, 1, 0), *c, *cin;
        REQUIRE(base && b);
        REQUIRE_OK(rl_tensor_transpose(&at, base, 0, 1)); /* (6,4); op(at) = (4,6) */
        REQUIRE_OK(rl_tensor_full(&c, dt, DIMS(4, 3), 1));
        REQUIRE_OK(rl_tensor_clone(&cin, c));
        CHECK_OK(rl_gemm(c, at, true, b, false, 2, 1));
        check_gemm(__LINE__, c, cin, at, true, b, false, 2, 1);
        rl_tensor_release(cin);
        rl_tensor_release(c);
        /* k = 0: c = beta c */
        rl_tensor *a0, *b0;
        REQUIRE_OK(rl_tensor_empty(&a0, dt, DIMS(3, 0)));
        REQUIRE_OK(rl_tensor_empty(&b0, dt, DIMS(0, 2)));
        REQUIRE_OK(rl_tensor_full(&c, dt, DIMS(3, 2), 4));
        CHECK_OK(rl_gemm(c, a0, false, b0, false, 1, 0.5));
        for (int64_t i = 0; i < 3; i++)
            for (int64_t j = 0; j < 2; j++) CHECK_CLOSE(tu_get(c, IDX(i, j)), 2, 0);
        CHECK_OK(rl_gemm(c, a0, false, b0, false, 1, 0));
        for (int64_t i = 0; i < 3; i++)
            for (int64_t j = 0; j < 2; j++) CHECK_CLOSE(tu_get(c, IDX(i, j)), 0, 0);
        rl_tensor_release(c);
        /* errors: shape, dtype, output not unit-stride in its last dim */
        REQUIRE_OK(rl_tensor_zeros(&c, dt, DIMS(4, 3)));
        CHECK_STATUS(rl_gemm(c, at, false, b, false, 1, 0), RL_ERR_SHAPE); /* (6,4) x (6,3) */
        CHECK_CONTAINS(rl_last_error(), "(6,4)");
        CHECK_CONTAINS(rl_last_error(), "(6,3)");
        rl_tensor *ct;
        rl_tensor *cbuf;
        REQUIRE_OK(rl_tensor_zeros(&cbuf, dt, DIMS(3, 4)));
        REQUIRE_OK(rl_tensor_transpose(&ct, cbuf, 0, 1)); /* (4,3), last stride 4 */
        CHECK_STATUS(rl_gemm(ct, at, true, b, false, 1, 0), RL_ERR_ARG);
        rl_tensor *other;
        REQUIRE_OK(rl_tensor_zeros(&other, dt == RL_FLOAT32 ? RL_FLOAT64 : RL_FLOAT32, DIMS(4, 3)));
        CHECK_STATUS(rl_gemm(other, at, true, b, false, 1, 0), RL_ERR_DTYPE);
        CHECK_STATUS(rl_gemm(c, b, false, b, false, 1, 0), RL_ERR_SHAPE);
        rl_tensor *v;
        REQUIRE_OK(rl_tensor_zeros(&v, dt, DIMS(6)));
        CHECK_STATUS(rl_gemm(c, at, true, v, false, 1, 0), RL_ERR_SHAPE); /* not 2-d */
        rl_tensor_release(v);
        rl_tensor_release(other);
        rl_tensor_release(ct);
        rl_tensor_release(cbuf);
        rl_tensor_release(c);
        rl_tensor_release(b0);
        rl_tensor_release(a0);
        rl_tensor_release(at);
        rl_tensor_release(b);
        rl_tensor_release(base);
    }
}

/* rl_gemm goes to the AVX-512 kernel (core/gemm.h) for
 * alpha 1, beta 0 or 1 and 16 rows or more: edge tiles (rows not a multiple
 * of 4, columns not of the vector width), inner sizes past its blocks (128)
 * and past its packing pieces (K = 9000 with 3 columns: two pieces), strided
 * and transposed operands, an output inside a bigger buffer, NaN in the
 * output with beta 0. Elsewhere the same checks pass through BLAS. */
static void test_gemm_one_thread_kernel(void)
{
    const int64_t sizes[4][3] = {{16, 7, 5}, {37, 130, 70}, {21, 9000, 3}, {64, 64, 129}};
    int n0 = rl_get_num_threads();
    rl_set_num_threads(1);
    for (int z = 0; z < 4; z++)
    for (int k = 0; k < 2; k++)
        for (int ta = 0; ta <= 1; ta++)
            for (int tb = 0; tb <= 1; tb++)
                for (int beta = 0; beta <= 1; beta++) {
                    rl_dtype dt = FLOATS[k];
                    const int64_t n = sizes[z][0], kk = sizes[z][1], m = sizes[z][2];
                    /* a read through every other column of a wider buffer */
                    rl_tensor *abuf = ta ? tu_rand(dt, DIMS(kk, 2 * n), 70, -1, 1, 0)
                                         : tu_rand(dt, DIMS(n, 2 * kk), 70, -1, 1, 0);
                    rl_tensor *b = tb ? tu_rand(dt, DIMS(m, kk), 71, -1, 1, 0) : tu_rand(dt, DIMS(kk, m), 71, -1, 1, 0);
                    rl_tensor *buf = tu_rand(dt, DIMS(n + 2, m + 3), 72, -1, 1, 0), *rows, *c, *cin, *before;
                    REQUIRE(abuf && b && buf);
                    rl_tensor aview = *abuf; /* a header copy, no reference: columns 0, 2, 4, ... */
                    aview.shape[1] /= 2;
                    aview.stride[1] = 2;
                    const rl_tensor *a = &aview;
                    REQUIRE_OK(rl_tensor_narrow(&rows, buf, 0, 1, n));
                    REQUIRE_OK(rl_tensor_narrow(&c, rows, 1, 2, m));
                    REQUIRE_OK(rl_tensor_clone(&cin, c));
                    REQUIRE_OK(rl_tensor_clone(&before, buf));
                    if (!beta) rl_tensor_fill_(c, NAN);
                    CHECK_OK(rl_gemm(c, a, ta, b, tb, 1, beta));
                    if (!beta) rl_tensor_fill_(cin, 0);
                    check_gemm(__LINE__, c, cin, a, ta, b, tb, 1, beta);
                    check_untouched(__LINE__, buf, before, 1, n, 2, m);
                    rl_tensor_release(before);
                    rl_tensor_release(cin);
                    rl_tensor_release(c);
                    rl_tensor_release(rows);
                    rl_tensor_release(buf);
                    rl_tensor_release(b);
                    rl_tensor_release(abuf);
                }
    rl_set_num_threads(n0);
    rl_ws_clear(); /* the kernel's packing buffers are kept as spares */
}

static void test_threads_setting_round_trips(void)
{
    int n0 = rl_get_num_threads();
    CHECK(n0 >= 1);
    rl_set_num_threads(1);
    CHECK_EQ_INT(rl_get_num_threads(), 1);
    rl_set_num_threads(n0);
    CHECK_EQ_INT(rl_get_num_threads(), n0);
}

void suite_blas(void)
{
    TH_RUN(test_matmul_2d_sizes);
    TH_RUN(test_matmul_transposed_operands);
    TH_RUN(test_matmul_non_unit_stride_views);
    TH_RUN(test_matmul_vectors);
    TH_RUN(test_matmul_batched_broadcast);
    TH_RUN(test_matmul_zero_size);
    TH_RUN(test_matmul_errors);
    TH_RUN(test_gemm_alpha_beta_transposes);
    TH_RUN(test_gemm_transposed_views_and_k0);
    TH_RUN(test_gemm_one_thread_kernel);
    TH_RUN(test_threads_setting_round_trips);
}
