/* test_tensor_views.c — O(1) views over shared storage: view, reshape,
 * transpose, permute, narrow, select, expand, squeeze, unsqueeze,
 * is_contiguous, and reference counting (core/tensor.c). */
#include "suites.h"
#include "testutil.h"

/* base (2,3,4) float64 holding 0..23 in row-major order */
static rl_tensor *iota234(void)
{
    rl_tensor *t;
    if (rl_tensor_arange(&t, RL_FLOAT64, 0, 24, 1)) return NULL;
    rl_tensor *v;
    rl_status st = rl_tensor_view(&v, t, DIMS(2, 3, 4));
    rl_tensor_release(t);
    return st ? NULL : v;
}

/* every element of v equals the row-major flat position in `want_flat` order:
 * checks v[idx] == ref(idx) where ref is the value the naive formula gives */
typedef double (*ref_fn)(const int64_t *idx);

static void check_values(const char *what, const rl_tensor *v, ref_fn ref)
{
    int64_t idx[RL_MAX_DIMS] = {0};
    if (rl_tensor_numel(v) == 0) return;
    int bad = 0;
    do {
        double got = tu_get(v, idx), want = ref(idx);
        if (got != want && bad++ < 3)
            th_fail(__FILE__, __LINE__, "%s: element [%lld,%lld,%lld,...] is %g, want %g", what, (long long)idx[0],
                    (long long)idx[1], (long long)idx[2], got, want);
    } while (tu_next(v->ndim, v->shape, idx));
}

static double ref_flat3(const int64_t *i) { return (double)(i[0] * 12 + i[1] * 4 + i[2]); }
static double ref_view64(const int64_t *i) { return (double)(i[0] * 4 + i[1]); }
static double ref_view46(const int64_t *i) { return (double)(i[0] * 6 + i[1]); }
static double ref_view1(const int64_t *i) { return (double)i[0]; }
static double ref_view_1_24_1(const int64_t *i) { return (double)i[1]; }

static void test_view_of_contiguous_shares_storage(void)
{
    rl_tensor *b = iota234();
    REQUIRE(b);
    check_values("base", b, ref_flat3);
    rl_tensor *v;
    REQUIRE_OK(rl_tensor_view(&v, b, DIMS(6, 4)));
    CHECK(v->storage == b->storage);
    CHECK_EQ_INT(b->storage->refcount, 2);
    check_values("view (6,4)", v, ref_view64);
    rl_tensor_release(v);
    REQUIRE_OK(rl_tensor_view(&v, b, DIMS(4, 6)));
    check_values("view (4,6)", v, ref_view46);
    rl_tensor_release(v);
    REQUIRE_OK(rl_tensor_view(&v, b, DIMS(24)));
    check_values("view (24)", v, ref_view1);
    rl_tensor_release(v);
    REQUIRE_OK(rl_tensor_view(&v, b, DIMS(1, 24, 1)));
    check_values("view (1,24,1)", v, ref_view_1_24_1);
    CHECK(rl_tensor_is_contiguous(v));
    rl_tensor_release(v);
    /* writes through a view reach the base */
    REQUIRE_OK(rl_tensor_view(&v, b, DIMS(24)));
    tu_set(v, IDX(13), -1);
    CHECK_CLOSE(tu_get(b, IDX(1, 0, 1)), -1, 0);
    rl_tensor_release(v);
    CHECK_STATUS(rl_tensor_view(&v, b, DIMS(5, 5)), RL_ERR_SHAPE);
    CHECK_CONTAINS(rl_last_error(), "(5,5)");
    CHECK_CONTAINS(rl_last_error(), "(2,3,4)");
    CHECK_STATUS(rl_tensor_view(&v, b, DIMS(-24)), RL_ERR_SHAPE);
    CHECK_STATUS(rl_tensor_view(&v, b, DIMS(INT64_C(1) << 40, INT64_C(1) << 40)), RL_ERR_SHAPE);
    CHECK_EQ_INT(b->storage->refcount, 1);
    rl_tensor_release(b);
}

/* narrowed (4,3) of a (4,6): rows 6 apart, columns 1 apart */
static double ref_narrow_cols(const int64_t *i) { return (double)(i[0] * 6 + 1 + i[1]); }
static double ref_narrow_cols_223(const int64_t *i) { return (double)((i[0] * 2 + i[1]) * 6 + 1 + i[2]); }
static double ref_t_flat(const int64_t *i) /* (6,4)^T = (4,6) reshaped row-major to (24) */
{
    int64_t r = i[0] / 6, c = i[0] % 6;
    return (double)(c * 4 + r);
}

static void test_view_of_non_contiguous(void)
{
    rl_tensor *f, *b, *n, *v;
    REQUIRE_OK(rl_tensor_arange(&f, RL_FLOAT64, 0, 24, 1));
    REQUIRE_OK(rl_tensor_view(&b, f, DIMS(4, 6)));
    REQUIRE_OK(rl_tensor_narrow(&n, b, 1, 1, 3)); /* (4,3), strides (6,1) */
    CHECK(!rl_tensor_is_contiguous(n));
    check_values("narrow cols", n, ref_narrow_cols);
    /* splitting the outer dim keeps each group contiguous: a view exists */
    REQUIRE_OK(rl_tensor_view(&v, n, DIMS(2, 2, 3)));
    CHECK(v->storage == f->storage);
    check_values("view of narrow (2,2,3)", v, ref_narrow_cols_223);
    rl_tensor_release(v);
    REQUIRE_OK(rl_tensor_view(&v, n, DIMS(4, 3, 1)));
    check_values("view of narrow (4,3,1)", v, ref_narrow_cols);
    rl_tensor_release(v);
    /* merging rows with the gap between them needs a copy */
    v = NULL;
    CHECK_STATUS(rl_tensor_view(&v, n, DIMS(12)), RL_ERR_SHAPE);
    CHECK_CONTAINS(rl_last_error(), "reshape");
    CHECK(v == NULL);
    rl_tensor *t;
    REQUIRE_OK(rl_tensor_view(&v, f, DIMS(6, 4)));
    REQUIRE_OK(rl_tensor_transpose(&t, v, 0, 1));
    rl_tensor *w = NULL;
    CHECK_STATUS(rl_tensor_view(&w, t, DIMS(24)), RL_ERR_SHAPE);
    CHECK(w == NULL);
    rl_tensor_release(v);
    rl_tensor_release(t);
    rl_tensor_release(n);
    rl_tensor_release(b);
    rl_tensor_release(f);
}

static void test_reshape_copies_only_when_needed(void)
{
    rl_tensor *f, *b, *t, *r;
    REQUIRE_OK(rl_tensor_arange(&f, RL_FLOAT64, 0, 24, 1));
    REQUIRE_OK(rl_tensor_reshape(&b, f, DIMS(6, 4)));
    CHECK(b->storage == f->storage); /* contiguous: a view */
    REQUIRE_OK(rl_tensor_transpose(&t, b, 0, 1));   /* (4,6) */
    uint64_t live = rl_storage_bytes_live();
    REQUIRE_OK(rl_tensor_reshape(&r, t, DIMS(24)));
    CHECK(r->storage != f->storage); /* had to copy */
    CHECK_EQ_U64(rl_storage_bytes_live(), live + 24 * 8);
    CHECK(rl_tensor_is_contiguous(r));
    check_values("reshape of transpose", r, ref_t_flat);
    tu_set(r, IDX(0), 99); /* the copy is independent */
    CHECK_CLOSE(tu_get(f, IDX(0)), 0, 0);
    rl_tensor_release(r);
    /* reshape of the narrowed case where a view exists stays a view */
    rl_tensor *n;
    REQUIRE_OK(rl_tensor_narrow(&n, t, 0, 1, 2)); /* rows 1..2 of the transpose: (2,6) */
    REQUIRE_OK(rl_tensor_reshape(&r, n, DIMS(2, 3, 2))); /* splits the strided dim: strides (1,8,4) */
    CHECK(r->storage == f->storage);
    int64_t idx[3] = {0, 0, 0};
    do { /* r[i][j][k] = n[i][j*2+k] = f[(j*2+k)*4 + 1 + i] */
        CHECK_CLOSE(tu_get(r, idx), (double)((idx[1] * 2 + idx[2]) * 4 + 1 + idx[0]), 0);
    } while (tu_next(3, r->shape, idx));
    rl_tensor_release(r);
    CHECK_STATUS(rl_tensor_reshape(&r, n, DIMS(5)), RL_ERR_SHAPE);
    CHECK_CONTAINS(rl_last_error(), "reshape");
    rl_tensor_release(n);
    /* 0-d <-> 1-element */
    rl_tensor *s, *s1;
    REQUIRE_OK(rl_tensor_full(&s, RL_FLOAT32, 0, NULL, 5));
    REQUIRE_OK(rl_tensor_reshape(&s1, s, DIMS(1, 1)));
    CHECK_CLOSE(tu_get(s1, IDX(0, 0)), 5, 0);
    rl_tensor *s0;
    REQUIRE_OK(rl_tensor_reshape(&s0, s1, 0, NULL));
    CHECK_EQ_INT(s0->ndim, 0);
    rl_tensor_release(s0);
    rl_tensor_release(s1);
    rl_tensor_release(s);
    /* empty tensors reshape freely among zero-numel shapes */
    rl_tensor *e, *e2;
    REQUIRE_OK(rl_tensor_zeros(&e, RL_FLOAT32, DIMS(0, 3)));
    REQUIRE_OK(rl_tensor_reshape(&e2, e, DIMS(3, 0, 5)));
    CHECK_SHAPE(e2, DIMS(3, 0, 5));
    rl_tensor_release(e2);
    rl_tensor_release(e);
    rl_tensor_release(t);
    rl_tensor_release(b);
    rl_tensor_release(f);
}

static double ref_t102(const int64_t *i) { return (double)(i[1] * 12 + i[0] * 4 + i[2]); }
static double ref_p201(const int64_t *i) /* out[a][b][c] = base[b][c][a] */
{
    return (double)(i[1] * 12 + i[2] * 4 + i[0]);
}

static void test_transpose_and_permute(void)
{
    rl_tensor *b = iota234(), *t, *p;
    REQUIRE(b);
    REQUIRE_OK(rl_tensor_transpose(&t, b, 0, 1));
    CHECK_SHAPE(t, DIMS(3, 2, 4));
    CHECK_EQ_INT(t->stride[0], 4);
    CHECK_EQ_INT(t->stride[1], 12);
    CHECK(t->storage == b->storage);
    CHECK(!rl_tensor_is_contiguous(t));
    check_values("transpose(0,1)", t, ref_t102);
    rl_tensor_release(t);
    REQUIRE_OK(rl_tensor_transpose(&t, b, 2, 2)); /* identity */
    CHECK(rl_tensor_is_contiguous(t));
    check_values("transpose(2,2)", t, ref_flat3);
    rl_tensor_release(t);
    CHECK_STATUS(rl_tensor_transpose(&t, b, 0, 3), RL_ERR_INDEX);
    CHECK_STATUS(rl_tensor_transpose(&t, b, -1, 0), RL_ERR_INDEX);

    REQUIRE_OK(rl_tensor_permute(&p, b, (const int[]){2, 0, 1}));
    CHECK_SHAPE(p, DIMS(4, 2, 3));
    check_values("permute(2,0,1)", p, ref_p201);
    /* permuting back restores contiguity */
    rl_tensor *q;
    REQUIRE_OK(rl_tensor_permute(&q, p, (const int[]){1, 2, 0}));
    CHECK_SHAPE(q, DIMS(2, 3, 4));
    CHECK(rl_tensor_is_contiguous(q));
    check_values("permute back", q, ref_flat3);
    rl_tensor_release(q);
    rl_tensor_release(p);
    p = NULL;
    CHECK_STATUS(rl_tensor_permute(&p, b, (const int[]){0, 0, 1}), RL_ERR_ARG);
    CHECK_STATUS(rl_tensor_permute(&p, b, (const int[]){0, 1, 3}), RL_ERR_ARG);
    CHECK_STATUS(rl_tensor_permute(&p, b, (const int[]){-1, 1, 2}), RL_ERR_ARG);
    CHECK_CONTAINS(rl_last_error(), "permute");
    CHECK(p == NULL);
    CHECK_EQ_INT(b->storage->refcount, 1);
    rl_tensor_release(b);
}

static double ref_narrow(const int64_t *i) { return (double)(i[0] * 12 + (i[1] + 1) * 4 + i[2] + 2); }
static double ref_select1(const int64_t *i) { return (double)(i[0] * 12 + 2 * 4 + i[1]); }
static double ref_select_sel(const int64_t *i) { return (double)(1 * 12 + 2 * 4 + i[0]); }

static void test_narrow_and_select(void)
{
    rl_tensor *b = iota234(), *n, *s, *s2;
    REQUIRE(b);
    REQUIRE_OK(rl_tensor_narrow(&n, b, 1, 1, 2));
    rl_tensor *n2;
    REQUIRE_OK(rl_tensor_narrow(&n2, n, 2, 2, 2));
    CHECK_SHAPE(n2, DIMS(2, 2, 2));
    CHECK_EQ_INT(n2->offset, 4 + 2);
    check_values("narrow", n2, ref_narrow);
    rl_tensor_release(n2);
    rl_tensor_release(n);
    REQUIRE_OK(rl_tensor_narrow(&n, b, 2, 4, 0)); /* empty at the end is fine */
    CHECK_SHAPE(n, DIMS(2, 3, 0));
    rl_tensor_release(n);
    n = NULL;
    CHECK_STATUS(rl_tensor_narrow(&n, b, 1, 2, 2), RL_ERR_INDEX);
    CHECK_CONTAINS(rl_last_error(), "(2,3,4)");
    CHECK_STATUS(rl_tensor_narrow(&n, b, 1, -1, 1), RL_ERR_INDEX);
    CHECK_STATUS(rl_tensor_narrow(&n, b, 1, 0, -1), RL_ERR_INDEX);
    CHECK_STATUS(rl_tensor_narrow(&n, b, 1, 1, INT64_MAX), RL_ERR_INDEX); /* no overflow in start+length */
    CHECK_STATUS(rl_tensor_narrow(&n, b, 3, 0, 1), RL_ERR_INDEX);
    CHECK(n == NULL);

    REQUIRE_OK(rl_tensor_select(&s, b, 1, 2));
    CHECK_SHAPE(s, DIMS(2, 4));
    check_values("select dim 1", s, ref_select1);
    REQUIRE_OK(rl_tensor_select(&s2, s, 0, 1));
    CHECK_SHAPE(s2, DIMS(4));
    check_values("select of select", s2, ref_select_sel);
    rl_tensor *s3;
    REQUIRE_OK(rl_tensor_select(&s3, s2, 0, 3)); /* down to 0-d */
    CHECK_EQ_INT(s3->ndim, 0);
    double v;
    CHECK_OK(rl_tensor_item(s3, &v));
    CHECK_CLOSE(v, 12 + 8 + 3, 0);
    rl_tensor_release(s3);
    rl_tensor_release(s2);
    rl_tensor_release(s);
    s = NULL;
    CHECK_STATUS(rl_tensor_select(&s, b, 1, 3), RL_ERR_INDEX);
    CHECK_STATUS(rl_tensor_select(&s, b, 1, -1), RL_ERR_INDEX);
    CHECK_STATUS(rl_tensor_select(&s, b, 5, 0), RL_ERR_INDEX);
    CHECK(s == NULL);
    rl_tensor_release(b);
}

static double ref_expand(const int64_t *i) { return (double)i[1]; } /* (3,1) holding 0,1,2 */

static void test_expand(void)
{
    rl_tensor *f, *c, *e;
    REQUIRE_OK(rl_tensor_arange(&f, RL_FLOAT32, 0, 3, 1));
    REQUIRE_OK(rl_tensor_view(&c, f, DIMS(3, 1)));
    REQUIRE_OK(rl_tensor_expand(&e, c, DIMS(2, 3, 4)));
    CHECK_SHAPE(e, DIMS(2, 3, 4));
    CHECK_EQ_INT(e->stride[0], 0);
    CHECK_EQ_INT(e->stride[2], 0);
    CHECK(e->storage == f->storage);
    CHECK(!rl_tensor_is_contiguous(e));
    check_values("expand", e, ref_expand);
    rl_tensor_release(e);
    REQUIRE_OK(rl_tensor_expand(&e, c, DIMS(3, 1))); /* same shape */
    CHECK(rl_tensor_is_contiguous(e));
    rl_tensor_release(e);
    rl_tensor *z, *z2;
    REQUIRE_OK(rl_tensor_full(&z, RL_FLOAT32, 0, NULL, 1.5)); /* 0-d to 0-d, no shape array */
    REQUIRE_OK(rl_tensor_expand(&z2, z, 0, NULL));
    CHECK_EQ_INT(z2->ndim, 0);
    rl_tensor_release(z2);
    rl_tensor_release(z);
    REQUIRE_OK(rl_tensor_expand(&e, c, DIMS(3, 0))); /* 1 -> 0 is allowed */
    CHECK_SHAPE(e, DIMS(3, 0));
    rl_tensor_release(e);
    e = NULL;
    CHECK_STATUS(rl_tensor_expand(&e, c, DIMS(2, 4)), RL_ERR_SHAPE);
    CHECK_CONTAINS(rl_last_error(), "(3,1)");
    CHECK_CONTAINS(rl_last_error(), "(2,4)");
    CHECK_STATUS(rl_tensor_expand(&e, c, DIMS(3)), RL_ERR_SHAPE);     /* fewer dims */
    CHECK_STATUS(rl_tensor_expand(&e, c, DIMS(3, -1)), RL_ERR_SHAPE);
    CHECK_STATUS(rl_tensor_expand(&e, c, DIMS(-2, 3, 4)), RL_ERR_SHAPE);
    int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 3, 1};
    CHECK_STATUS(rl_tensor_expand(&e, c, 9, nine), RL_ERR_SHAPE);
    CHECK(e == NULL);
    rl_tensor_release(c);
    rl_tensor_release(f);
}

static void test_squeeze_unsqueeze(void)
{
    rl_tensor *f, *t, *s;
    REQUIRE_OK(rl_tensor_arange(&f, RL_FLOAT64, 0, 6, 1));
    REQUIRE_OK(rl_tensor_view(&t, f, DIMS(1, 3, 1, 2)));
    REQUIRE_OK(rl_tensor_squeeze(&s, t, -1));
    CHECK_SHAPE(s, DIMS(3, 2));
    CHECK(rl_tensor_is_contiguous(s));
    CHECK_CLOSE(tu_get(s, IDX(2, 1)), 5, 0);
    rl_tensor_release(s);
    REQUIRE_OK(rl_tensor_squeeze(&s, t, 2));
    CHECK_SHAPE(s, DIMS(1, 3, 2));
    CHECK_CLOSE(tu_get(s, IDX(0, 1, 1)), 3, 0);
    rl_tensor_release(s);
    REQUIRE_OK(rl_tensor_squeeze(&s, t, 1)); /* size 3: unchanged */
    CHECK_SHAPE(s, DIMS(1, 3, 1, 2));
    rl_tensor_release(s);
    CHECK_STATUS(rl_tensor_squeeze(&s, t, 4), RL_ERR_INDEX);
    rl_tensor_release(t);

    REQUIRE_OK(rl_tensor_view(&t, f, DIMS(2, 3)));
    const int64_t want[3][3] = {{1, 2, 3}, {2, 1, 3}, {2, 3, 1}};
    for (int d = 0; d <= 2; d++) {
        REQUIRE_OK(rl_tensor_unsqueeze(&s, t, d));
        CHECK_SHAPE(s, 3, want[d]);
        CHECK(rl_tensor_is_contiguous(s));
        int64_t idx[3] = {0, 0, 0}, ti[2];
        do {
            int k = 0;
            for (int e = 0; e < 3; e++)
                if (e != d) ti[k++] = idx[e];
            CHECK_CLOSE(tu_get(s, idx), (double)(ti[0] * 3 + ti[1]), 0);
        } while (tu_next(3, s->shape, idx));
        /* squeezing the new dim gives the original back */
        rl_tensor *b;
        REQUIRE_OK(rl_tensor_squeeze(&b, s, d));
        CHECK_SHAPE(b, DIMS(2, 3));
        CHECK_EQ_INT(b->stride[0], 3);
        CHECK_EQ_INT(b->stride[1], 1);
        rl_tensor_release(b);
        rl_tensor_release(s);
    }
    s = NULL;
    CHECK_STATUS(rl_tensor_unsqueeze(&s, t, 3), RL_ERR_INDEX);
    CHECK_STATUS(rl_tensor_unsqueeze(&s, t, -1), RL_ERR_INDEX);
    CHECK(s == NULL);
    rl_tensor_release(t);
    /* at the maximum number of dims */
    int64_t eight[8] = {1, 1, 1, 1, 1, 1, 2, 3};
    REQUIRE_OK(rl_tensor_view(&t, f, 8, eight));
    CHECK_STATUS(rl_tensor_unsqueeze(&s, t, 0), RL_ERR_SHAPE);
    rl_tensor_release(t);
    rl_tensor_release(f);
}

static void test_is_contiguous_cases(void)
{
    rl_tensor *b = iota234(), *v;
    REQUIRE(b);
    CHECK(rl_tensor_is_contiguous(b));
    REQUIRE_OK(rl_tensor_narrow(&v, b, 0, 1, 1)); /* outer narrow */
    CHECK(rl_tensor_is_contiguous(v));
    rl_tensor_release(v);
    REQUIRE_OK(rl_tensor_narrow(&v, b, 1, 1, 1)); /* (2,1,4): rows 12 apart */
    CHECK(!rl_tensor_is_contiguous(v));
    rl_tensor_release(v);
    REQUIRE_OK(rl_tensor_narrow(&v, b, 2, 0, 3));
    CHECK(!rl_tensor_is_contiguous(v));
    rl_tensor_release(v);
    REQUIRE_OK(rl_tensor_select(&v, b, 0, 1)); /* a whole block */
    CHECK(rl_tensor_is_contiguous(v));
    rl_tensor_release(v);
    REQUIRE_OK(rl_tensor_select(&v, b, 2, 1)); /* a column */
    CHECK(!rl_tensor_is_contiguous(v));
    rl_tensor_release(v);
    REQUIRE_OK(rl_tensor_narrow(&v, b, 1, 1, 0)); /* empty: always contiguous */
    CHECK(rl_tensor_is_contiguous(v));
    rl_tensor_release(v);
    /* a size-1 dim may carry any stride */
    REQUIRE_OK(rl_tensor_narrow(&v, b, 0, 0, 1));
    v->stride[0] = 999;
    CHECK(rl_tensor_is_contiguous(v));
    rl_tensor_release(v);
    rl_tensor_release(b);
}

static void test_views_keep_storage_alive(void)
{
    uint64_t live0 = rl_storage_bytes_live();
    rl_tensor *b = iota234(), *t, *n, *s, *e;
    REQUIRE(b);
    REQUIRE_OK(rl_tensor_transpose(&t, b, 0, 2));   /* (4,3,2) */
    REQUIRE_OK(rl_tensor_narrow(&n, t, 1, 1, 2));   /* (4,2,2) */
    REQUIRE_OK(rl_tensor_select(&s, n, 2, 1));      /* (4,2): s[i][j] = b[1][j+1][i] */
    REQUIRE_OK(rl_tensor_expand(&e, s, DIMS(3, 4, 2)));
    CHECK_EQ_INT(b->storage->refcount, 5);
    rl_storage *storage = b->storage;
    rl_tensor_release(b);
    rl_tensor_release(t);
    rl_tensor_release(n);
    CHECK_EQ_INT(storage->refcount, 2);
    /* under ASan a premature free shows up here as use-after-free */
    for (int64_t i = 0; i < 4; i++)
        for (int64_t j = 0; j < 2; j++) {
            CHECK_CLOSE(tu_get(s, IDX(i, j)), (double)(12 + (j + 1) * 4 + i), 0);
            CHECK_CLOSE(tu_get(e, IDX(2, i, j)), (double)(12 + (j + 1) * 4 + i), 0);
        }
    rl_tensor_retain(s);
    CHECK_EQ_INT(s->refcount, 2);
    rl_tensor_release(s);
    CHECK_EQ_INT(s->refcount, 1);
    rl_tensor_release(s);
    CHECK_EQ_INT(storage->refcount, 1);
    CHECK_CLOSE(tu_get(e, IDX(0, 3, 1)), 12 + 8 + 3, 0);
    rl_tensor_release(e);
    CHECK_EQ_U64(rl_storage_bytes_live(), live0);
}

void suite_tensor_views(void)
{
    TH_RUN(test_view_of_contiguous_shares_storage);
    TH_RUN(test_view_of_non_contiguous);
    TH_RUN(test_reshape_copies_only_when_needed);
    TH_RUN(test_transpose_and_permute);
    TH_RUN(test_narrow_and_select);
    TH_RUN(test_expand);
    TH_RUN(test_squeeze_unsqueeze);
    TH_RUN(test_is_contiguous_cases);
    TH_RUN(test_views_keep_storage_alive);
}
