/* test_index.c — index_select, gather, cat, stack against naive loops
 * (core/index.c). All results are copies, so comparisons are exact. */
#include "suites.h"
#include "testutil.h"
#include "../../core/index.h"

static rl_tensor *i64_from(int ndim, const int64_t *shape, const int64_t *vals)
{
    rl_tensor *t = tu_empty(RL_INT64, ndim, shape);
    if (t) memcpy(t->storage->data, vals, (size_t)tu_numel(ndim, shape) * sizeof(int64_t));
    return t;
}

static void test_index_select_base0_base1(void)
{
    /* t: a transposed (5,4) -> (4,5) view */
    rl_tensor *base = tu_rand(RL_FLOAT64, DIMS(5, 4), 70, -1, 1, 0), *t;
    REQUIRE(base);
    REQUIRE_OK(rl_tensor_transpose(&t, base, 0, 1));
    const int64_t pos[4] = {3, 0, 3, 1};
    for (int64_t b = 0; b <= 1; b++)
        for (int dim = 0; dim < 2; dim++) {
            int64_t v[4];
            for (int i = 0; i < 4; i++) v[i] = pos[i] + b;
            rl_tensor *ix = i64_from(DIMS(4), v), *out;
            REQUIRE(ix);
            REQUIRE_OK(rl_index_select(&out, t, dim, ix, b));
            CHECK_SHAPE(out, 2, dim == 0 ? (const int64_t[]){4, 5} : (const int64_t[]){4, 4});
            int64_t idx[2] = {0, 0};
            do {
                int64_t src[2] = {idx[0], idx[1]};
                src[dim] = pos[idx[dim]];
                CHECK_CLOSE(tu_get(out, idx), tu_get(t, src), 0);
            } while (tu_next(2, out->shape, idx));
            rl_tensor_release(out);
            rl_tensor_release(ix);
        }
    /* a strided index tensor: every other element of a longer one */
    rl_tensor *ixl = i64_from(DIMS(6), (const int64_t[]){2, 99, 4, 99, 0, 99}), *ix2, *ixs, *out;
    REQUIRE(ixl);
    REQUIRE_OK(rl_tensor_view(&ix2, ixl, DIMS(3, 2)));
    REQUIRE_OK(rl_tensor_select(&ixs, ix2, 1, 0)); /* (3), stride 2: 2, 4, 0 */
    REQUIRE_OK(rl_index_select(&out, t, 1, ixs, 0));
    for (int64_t i = 0; i < 4; i++) {
        CHECK_CLOSE(tu_get(out, IDX(i, 0)), tu_get(t, IDX(i, 2)), 0);
        CHECK_CLOSE(tu_get(out, IDX(i, 1)), tu_get(t, IDX(i, 4)), 0);
        CHECK_CLOSE(tu_get(out, IDX(i, 2)), tu_get(t, IDX(i, 0)), 0);
    }
    rl_tensor_release(out);
    rl_tensor_release(ixs);
    rl_tensor_release(ix2);
    rl_tensor_release(ixl);
    /* empty index: a size-0 dim */
    rl_tensor *e;
    REQUIRE_OK(rl_tensor_empty(&e, RL_INT64, DIMS(0)));
    REQUIRE_OK(rl_index_select(&out, t, 0, e, 0));
    CHECK_SHAPE(out, DIMS(0, 5));
    rl_tensor_release(out);
    rl_tensor_release(e);
    rl_tensor_release(t);
    rl_tensor_release(base);
}

static void test_index_select_errors(void)
{
    rl_tensor *t, *out = NULL;
    REQUIRE_OK(rl_tensor_zeros(&t, RL_FLOAT32, DIMS(4, 5)));
    const int64_t bad0[3] = {0, 4, 1}, badneg[2] = {-1, 0}, bad1[2] = {0, 1}, huge[1] = {INT64_MAX};
    rl_tensor *i0 = i64_from(DIMS(3), bad0), *in = i64_from(DIMS(2), badneg), *i1 = i64_from(DIMS(2), bad1),
              *ih = i64_from(DIMS(1), huge);
    REQUIRE(i0 && in && i1 && ih);
    CHECK_STATUS(rl_index_select(&out, t, 0, i0, 0), RL_ERR_INDEX); /* 4 on a size-4 dim */
    CHECK_CONTAINS(rl_last_error(), "index_select");
    CHECK_CONTAINS(rl_last_error(), "4");
    CHECK_STATUS(rl_index_select(&out, t, 1, in, 0), RL_ERR_INDEX);
    CHECK_STATUS(rl_index_select(&out, t, 0, i1, 1), RL_ERR_INDEX); /* 0 with base 1 */
    CHECK_STATUS(rl_index_select(&out, t, 0, ih, 1), RL_ERR_INDEX);
    CHECK_STATUS(rl_index_select(&out, t, 2, i1, 0), RL_ERR_INDEX); /* bad dim */
    rl_tensor *fidx, *idx2;
    REQUIRE_OK(rl_tensor_zeros(&fidx, RL_FLOAT64, DIMS(2)));
    CHECK_STATUS(rl_index_select(&out, t, 0, fidx, 0), RL_ERR_DTYPE);
    REQUIRE_OK(rl_tensor_zeros(&idx2, RL_INT64, DIMS(1, 2)));
    CHECK_STATUS(rl_index_select(&out, t, 0, idx2, 0), RL_ERR_SHAPE);
    CHECK(out == NULL);
    rl_tensor_release(idx2);
    rl_tensor_release(fidx);
    rl_tensor_release(ih);
    rl_tensor_release(i1);
    rl_tensor_release(in);
    rl_tensor_release(i0);
    rl_tensor_release(t);
}

static void test_gather_2d_and_3d(void)
{
    rl_tensor *t = tu_rand(RL_FLOAT64, DIMS(3, 4), 71, -1, 1, 0), *out;
    REQUIRE(t);
    for (int64_t b = 0; b <= 1; b++) {
        /* dim 1, index (3,2) */
        int64_t v1[6] = {0, 3, 2, 2, 1, 0};
        for (int i = 0; i < 6; i++) v1[i] += b;
        rl_tensor *ix = i64_from(DIMS(3, 2), v1);
        REQUIRE(ix);
        REQUIRE_OK(rl_gather(&out, t, 1, ix, b));
        CHECK_SHAPE(out, DIMS(3, 2));
        for (int64_t i = 0; i < 3; i++)
            for (int64_t j = 0; j < 2; j++) CHECK_CLOSE(tu_get(out, IDX(i, j)), tu_get(t, IDX(i, v1[i * 2 + j] - b)), 0);
        rl_tensor_release(out);
        rl_tensor_release(ix);
        /* dim 0, index (2,3): smaller than t outside dim is allowed */
        int64_t v0[6] = {2, 0, 1, 1, 1, 2};
        for (int i = 0; i < 6; i++) v0[i] += b;
        ix = i64_from(DIMS(2, 3), v0);
        REQUIRE(ix);
        REQUIRE_OK(rl_gather(&out, t, 0, ix, b));
        CHECK_SHAPE(out, DIMS(2, 3));
        for (int64_t i = 0; i < 2; i++)
            for (int64_t j = 0; j < 3; j++) CHECK_CLOSE(tu_get(out, IDX(i, j)), tu_get(t, IDX(v0[i * 3 + j] - b, j)), 0);
        rl_tensor_release(out);
        rl_tensor_release(ix);
    }
    rl_tensor_release(t);
    /* 3-d on a permuted input, gathering along the middle dim with a larger index */
    rl_tensor *base = tu_rand(RL_FLOAT32, DIMS(4, 2, 3), 72, -1, 1, 0), *p, *ix;
    REQUIRE(base);
    REQUIRE_OK(rl_tensor_permute(&p, base, (const int[]){1, 0, 2})); /* (2,4,3) */
    int64_t v[2 * 5 * 3];
    tu_rng r;
    tu_seed(&r, 5);
    for (int i = 0; i < 30; i++) v[i] = (int64_t)(tu_next_u64(&r) % 4);
    ix = i64_from(DIMS(2, 5, 3), v);
    REQUIRE(ix);
    REQUIRE_OK(rl_gather(&out, p, 1, ix, 0));
    CHECK_SHAPE(out, DIMS(2, 5, 3));
    int64_t idx[3] = {0, 0, 0};
    do CHECK_CLOSE(tu_get(out, idx), tu_get(p, IDX(idx[0], v[(idx[0] * 5 + idx[1]) * 3 + idx[2]], idx[2])), 0);
    while (tu_next(3, out->shape, idx));
    rl_tensor_release(out);
    rl_tensor_release(ix);
    rl_tensor_release(p);
    rl_tensor_release(base);
}

static void test_gather_errors_write_nothing(void)
{
    rl_tensor *t, *out = NULL;
    REQUIRE_OK(rl_tensor_zeros(&t, RL_FLOAT64, DIMS(3, 4)));
    /* the bad entry is the last one: nothing may be allocated or written before the check */
    rl_tensor *ix = i64_from(DIMS(3, 2), (const int64_t[]){0, 1, 2, 3, 1, 4});
    REQUIRE(ix);
    uint64_t live = rl_storage_bytes_live();
    CHECK_STATUS(rl_gather(&out, t, 1, ix, 0), RL_ERR_INDEX);
    CHECK_CONTAINS(rl_last_error(), "gather");
    CHECK(out == NULL);
    CHECK_EQ_U64(rl_storage_bytes_live(), live);
    CHECK_STATUS(rl_gather(&out, t, 1, ix, 1), RL_ERR_INDEX); /* 0 is below base 1 */
    rl_tensor *neg = i64_from(DIMS(1, 1), (const int64_t[]){INT64_MIN});
    REQUIRE(neg);
    CHECK_STATUS(rl_gather(&out, t, 0, neg, 1), RL_ERR_INDEX);
    /* shapes: index larger than t outside dim, wrong ndim; dtype; dim */
    rl_tensor *wide, *flat, *fl;
    REQUIRE_OK(rl_tensor_zeros(&wide, RL_INT64, DIMS(4, 2)));
    CHECK_STATUS(rl_gather(&out, t, 1, wide, 0), RL_ERR_SHAPE);
    CHECK_CONTAINS(rl_last_error(), "(4,2)");
    CHECK_CONTAINS(rl_last_error(), "(3,4)");
    REQUIRE_OK(rl_tensor_zeros(&flat, RL_INT64, DIMS(3)));
    CHECK_STATUS(rl_gather(&out, t, 0, flat, 0), RL_ERR_SHAPE);
    REQUIRE_OK(rl_tensor_zeros(&fl, RL_FLOAT32, DIMS(3, 2)));
    CHECK_STATUS(rl_gather(&out, t, 1, fl, 0), RL_ERR_DTYPE);
    CHECK_STATUS(rl_gather(&out, t, 2, ix, 0), RL_ERR_INDEX);
    CHECK(out == NULL);
    rl_tensor_release(fl);
    rl_tensor_release(flat);
    rl_tensor_release(wide);
    rl_tensor_release(neg);
    rl_tensor_release(ix);
    rl_tensor_release(t);
}

static void test_cat_along_each_dim(void)
{
    for (int dim = 0; dim < 2; dim++) {
        /* three parts of (2,3), (4,3) / (2,3), (2,1) with strided views and an empty part */
        rl_tensor *p0 = tu_rand(RL_FLOAT64, DIMS(2, 3), 80, -1, 1, 0), *b1, *p1, *p2;
        REQUIRE(p0);
        if (dim == 0) {
            b1 = tu_rand(RL_FLOAT64, DIMS(3, 4), 81, -1, 1, 0);
            REQUIRE(b1);
            REQUIRE_OK(rl_tensor_transpose(&p1, b1, 0, 1)); /* (4,3) */
            REQUIRE_OK(rl_tensor_zeros(&p2, RL_FLOAT64, DIMS(0, 3)));
        } else {
            b1 = tu_rand(RL_FLOAT64, DIMS(2, 5), 81, -1, 1, 0);
            REQUIRE(b1);
            REQUIRE_OK(rl_tensor_narrow(&p1, b1, 1, 2, 1)); /* (2,1) */
            REQUIRE_OK(rl_tensor_zeros(&p2, RL_FLOAT64, DIMS(2, 0)));
        }
        const rl_tensor *parts[3] = {p0, p2, p1};
        rl_tensor *out;
        REQUIRE_OK(rl_cat(&out, parts, 3, dim));
        int64_t want[2] = {2, 3};
        want[dim] = p0->shape[dim] + p1->shape[dim];
        CHECK_SHAPE(out, 2, want);
        int64_t idx[2] = {0, 0};
        do {
            int64_t s[2] = {idx[0], idx[1]};
            const rl_tensor *src = p0;
            if (idx[dim] >= p0->shape[dim]) {
                src = p1;
                s[dim] -= p0->shape[dim];
            }
            CHECK_CLOSE(tu_get(out, idx), tu_get(src, s), 0);
        } while (tu_next(2, out->shape, idx));
        rl_tensor_release(out);
        /* a single tensor: a copy */
        REQUIRE_OK(rl_cat(&out, parts, 1, dim));
        CHECK(out->storage != p0->storage);
        CHECK_CLOSE(tu_get(out, IDX(1, 2)), tu_get(p0, IDX(1, 2)), 0);
        rl_tensor_release(out);
        rl_tensor_release(p2);
        rl_tensor_release(p1);
        rl_tensor_release(b1);
        rl_tensor_release(p0);
    }
}

static void test_cat_errors(void)
{
    rl_tensor *a, *b, *c, *d, *out = NULL;
    REQUIRE_OK(rl_tensor_zeros(&a, RL_FLOAT32, DIMS(2, 3)));
    REQUIRE_OK(rl_tensor_zeros(&b, RL_FLOAT32, DIMS(2, 4)));
    REQUIRE_OK(rl_tensor_zeros(&c, RL_FLOAT64, DIMS(2, 3)));
    REQUIRE_OK(rl_tensor_zeros(&d, RL_FLOAT32, DIMS(2, 3, 1)));
    const rl_tensor *ab[2] = {a, b}, *ac[2] = {a, c}, *ad[2] = {a, d};
    CHECK_STATUS(rl_cat(&out, ab, 2, 0), RL_ERR_SHAPE);
    CHECK_CONTAINS(rl_last_error(), "(2,4)");
    CHECK_CONTAINS(rl_last_error(), "(2,3)");
    CHECK_OK(rl_cat(&out, ab, 2, 1)); /* fine along dim 1 */
    CHECK_SHAPE(out, DIMS(2, 7));
    rl_tensor_release(out);
    out = NULL;
    CHECK_STATUS(rl_cat(&out, ac, 2, 0), RL_ERR_DTYPE);
    CHECK_CONTAINS(rl_last_error(), "float64");
    CHECK_STATUS(rl_cat(&out, ad, 2, 0), RL_ERR_SHAPE);
    CHECK_STATUS(rl_cat(&out, ab, 0, 0), RL_ERR_ARG);
    CHECK_STATUS(rl_cat(&out, ab, 2, 2), RL_ERR_INDEX);
    CHECK(out == NULL);
    rl_tensor_release(d);
    rl_tensor_release(c);
    rl_tensor_release(b);
    rl_tensor_release(a);
}

static void test_stack_along_each_dim(void)
{
    rl_tensor *t[3];
    t[0] = tu_rand(RL_FLOAT32, DIMS(2, 3), 90, -1, 1, 0);
    rl_tensor *b1 = tu_rand(RL_FLOAT32, DIMS(3, 2), 91, -1, 1, 0);
    t[2] = tu_rand(RL_FLOAT32, DIMS(2, 3), 92, -1, 1, 0);
    REQUIRE(t[0] && b1 && t[2]);
    REQUIRE_OK(rl_tensor_transpose(&t[1], b1, 0, 1));
    const rl_tensor *parts[3] = {t[0], t[1], t[2]};
    for (int dim = 0; dim <= 2; dim++) {
        rl_tensor *out;
        REQUIRE_OK(rl_stack(&out, parts, 3, dim));
        int64_t want[3], k = 0;
        for (int d = 0; d < 3; d++) want[d] = d == dim ? 3 : (k++ == 0 ? 2 : 3);
        CHECK_SHAPE(out, 3, want);
        int64_t idx[3] = {0, 0, 0};
        do {
            int64_t s[2];
            int m = 0;
            for (int d = 0; d < 3; d++)
                if (d != dim) s[m++] = idx[d];
            CHECK_CLOSE(tu_get(out, idx), tu_get(parts[idx[dim]], s), 0);
        } while (tu_next(3, out->shape, idx));
        rl_tensor_release(out);
    }
    rl_tensor *bad, *f64, *out = NULL;
    REQUIRE_OK(rl_tensor_zeros(&bad, RL_FLOAT32, DIMS(3, 2)));
    REQUIRE_OK(rl_tensor_zeros(&f64, RL_FLOAT64, DIMS(2, 3)));
    const rl_tensor *pb[2] = {t[0], bad}, *pd[2] = {t[0], f64};
    CHECK_STATUS(rl_stack(&out, pb, 2, 0), RL_ERR_SHAPE);
    CHECK_CONTAINS(rl_last_error(), "(3,2)");
    CHECK_STATUS(rl_stack(&out, pd, 2, 0), RL_ERR_DTYPE);
    CHECK_STATUS(rl_stack(&out, parts, 3, 3), RL_ERR_INDEX);
    CHECK_STATUS(rl_stack(&out, parts, 3, -1), RL_ERR_INDEX);
    CHECK_STATUS(rl_stack(&out, parts, 0, 0), RL_ERR_ARG);
    CHECK(out == NULL);
    /* 0-d tensors stack into a vector */
    rl_tensor *s0, *s1;
    REQUIRE_OK(rl_tensor_full(&s0, RL_FLOAT64, 0, NULL, 1));
    REQUIRE_OK(rl_tensor_full(&s1, RL_FLOAT64, 0, NULL, 2));
    const rl_tensor *ps[2] = {s0, s1};
    REQUIRE_OK(rl_stack(&out, ps, 2, 0));
    CHECK_SHAPE(out, DIMS(2));
    CHECK_CLOSE(tu_get(out, IDX(1)), 2, 0);
    rl_tensor_release(out);
    rl_tensor_release(s1);
    rl_tensor_release(s0);
    rl_tensor_release(f64);
    rl_tensor_release(bad);
    rl_tensor_release(t[2]);
    rl_tensor_release(t[1]);
    rl_tensor_release(b1);
    rl_tensor_release(t[0]);
}

void suite_index(void)
{
    TH_RUN(test_index_select_base0_base1);
    TH_RUN(test_index_select_errors);
    TH_RUN(test_gather_2d_and_3d);
    TH_RUN(test_gather_errors_write_nothing);
    TH_RUN(test_cat_along_each_dim);
    TH_RUN(test_cat_errors);
    TH_RUN(test_stack_along_each_dim);
}
