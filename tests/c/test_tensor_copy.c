/* test_tensor_copy.c — copy_ (broadcast, dtype conversion, strided
 * destinations), contiguous, clone, to_dtype, fill_ (core/tensor.c). */
#include "suites.h"
#include "testutil.h"

#include <math.h>
#include <string.h>

static void test_copy_broadcasts_row_into_matrix(void)
{
    rl_tensor *dst, *row;
    REQUIRE_OK(rl_tensor_zeros(&dst, RL_FLOAT64, DIMS(2, 3)));
    row = tu_from(RL_FLOAT64, DIMS(3), (const double[]){1, 2, 3});
    REQUIRE(row);
    CHECK_OK(rl_tensor_copy_(dst, row));
    for (int64_t i = 0; i < 2; i++)
        for (int64_t j = 0; j < 3; j++) CHECK_CLOSE(tu_get(dst, IDX(i, j)), (double)(j + 1), 0);
    /* a column (2,1) broadcasts along the other dim */
    rl_tensor *col = tu_from(RL_FLOAT64, DIMS(2, 1), (const double[]){-1, -2});
    REQUIRE(col);
    CHECK_OK(rl_tensor_copy_(dst, col));
    for (int64_t i = 0; i < 2; i++)
        for (int64_t j = 0; j < 3; j++) CHECK_CLOSE(tu_get(dst, IDX(i, j)), -(double)(i + 1), 0);
    /* a 0-d source fills everything */
    rl_tensor *s;
    REQUIRE_OK(rl_tensor_full(&s, RL_FLOAT64, 0, NULL, 7));
    CHECK_OK(rl_tensor_copy_(dst, s));
    for (int64_t i = 0; i < 2; i++)
        for (int64_t j = 0; j < 3; j++) CHECK_CLOSE(tu_get(dst, IDX(i, j)), 7, 0);
    /* shapes that do not broadcast: an error naming both, dst untouched */
    rl_tensor *bad = tu_from(RL_FLOAT64, DIMS(2), (const double[]){8, 9});
    REQUIRE(bad);
    CHECK_STATUS(rl_tensor_copy_(dst, bad), RL_ERR_SHAPE);
    CHECK_CONTAINS(rl_last_error(), "(2)");
    CHECK_CONTAINS(rl_last_error(), "(2,3)");
    CHECK_CLOSE(tu_get(dst, IDX(1, 2)), 7, 0);
    /* the source may not have more dims than the destination */
    rl_tensor *big;
    REQUIRE_OK(rl_tensor_zeros(&big, RL_FLOAT64, DIMS(1, 2, 3)));
    CHECK_STATUS(rl_tensor_copy_(dst, big), RL_ERR_SHAPE);
    rl_tensor_release(big);
    rl_tensor_release(bad);
    rl_tensor_release(s);
    rl_tensor_release(col);
    rl_tensor_release(row);
    rl_tensor_release(dst);
}

static void test_copy_converts_dtypes(void)
{
    const double vals[6] = {1.5, -2.75, 1e10, -0.0, 3.999, 1.0 / 3};
    const rl_dtype dts[3] = {RL_FLOAT32, RL_FLOAT64, RL_INT64};
    for (int si = 0; si < 3; si++)
        for (int di = 0; di < 3; di++) {
            rl_tensor *src = tu_from(dts[si], DIMS(2, 3), vals), *dst;
            REQUIRE(src);
            REQUIRE_OK(rl_tensor_zeros(&dst, dts[di], DIMS(2, 3)));
            CHECK_OK(rl_tensor_copy_(dst, src));
            for (int64_t k = 0; k < 6; k++) {
                int64_t idx[2] = {k / 3, k % 3};
                double s = tu_get(src, idx), want;
                switch (dts[di]) {
                case RL_FLOAT32: want = (float)s; break;
                case RL_INT64: want = (double)(int64_t)s; break; /* C conversion: toward zero */
                default: want = s;
                }
                CHECK_MSG(tu_get(dst, idx) == want, "%s -> %s: element %lld is %.17g, want %.17g",
                          rl_dtype_name(dts[si]), rl_dtype_name(dts[di]), (long long)k, tu_get(dst, idx), want);
            }
            rl_tensor_release(dst);
            rl_tensor_release(src);
        }
    /* float -> int64: NaN, infinities and values outside [-2^63, 2^63) are
     * errors naming the value (they saturated, silently); the ends of the
     * range and fractions (truncated toward zero) convert */
    const double odd_values[5] = {NAN, INFINITY, -INFINITY, 1e30, 0x1p63};
    const char *odd_names[5] = {"nan", "inf", "-inf", "1e+30", "9.2233720368547758e+18"};
    for (int k = 0; k < 5; k++) {
        rl_tensor *odd = tu_from(RL_FLOAT64, DIMS(3), (const double[]){1, odd_values[k], 2}), *iodd = NULL;
        REQUIRE(odd);
        CHECK(rl_tensor_to_dtype(&iodd, odd, RL_INT64) == RL_ERR_ARG);
        CHECK(iodd == NULL);
        CHECK_MSG(strstr(rl_last_error(), odd_names[k]) != NULL, "message '%s' names %s", rl_last_error(),
                  odd_names[k]);
        rl_tensor_release(odd);
    }
    rl_tensor *ends = tu_from(RL_FLOAT64, DIMS(3), (const double[]){-0x1p63, 0x1p63 - 1024, -2.9}), *iends;
    REQUIRE(ends);
    REQUIRE_OK(rl_tensor_to_dtype(&iends, ends, RL_INT64));
    const int64_t want_i[3] = {INT64_MIN, INT64_MAX - 1023, -2};
    for (int64_t i = 0; i < 3; i++) CHECK_EQ_INT(tu_get_i64(iends, &i), want_i[i]);
    rl_tensor_release(iends);
    rl_tensor_release(ends);
    /* rl_tensor_full, arange and linspace refuse such values too */
    rl_tensor *none = NULL;
    CHECK(rl_tensor_full(&none, RL_INT64, DIMS(1), NAN) == RL_ERR_ARG);
    CHECK(rl_tensor_full(&none, RL_INT64, DIMS(1), 0x1p63) == RL_ERR_ARG);
    CHECK(rl_tensor_arange(&none, RL_INT64, 1e30, 1e30 + 1e16, 1e15) == RL_ERR_ARG);
    CHECK(rl_tensor_linspace(&none, RL_INT64, 0, INFINITY, 2) == RL_ERR_ARG);
    CHECK(none == NULL);
    /* int64 -> int64 stays exact beyond 2^53 */
    rl_tensor *i1, *i2;
    REQUIRE_OK(rl_tensor_empty(&i1, RL_INT64, DIMS(1)));
    ((int64_t *)i1->storage->data)[0] = (INT64_C(1) << 60) + 1;
    REQUIRE_OK(rl_tensor_clone(&i2, i1));
    CHECK_EQ_INT(tu_get_i64(i2, IDX(0)), (INT64_C(1) << 60) + 1);
    rl_tensor_release(i2);
    rl_tensor_release(i1);
    /* float64 -> float32 rounds to nearest */
    rl_tensor *d, *f;
    REQUIRE_OK(rl_tensor_full(&d, RL_FLOAT64, DIMS(1), 1 + 0x1.8p-24));
    REQUIRE_OK(rl_tensor_to_dtype(&f, d, RL_FLOAT32));
    CHECK(f->dtype == RL_FLOAT32);
    CHECK_CLOSE(tu_get(f, IDX(0)), 1 + 0x1p-23, 0);
    rl_tensor_release(f);
    rl_tensor_release(d);
}

static void test_copy_between_strided_views(void)
{
    /* dst: the transpose of a (5,4) buffer; src: a narrowed, permuted view */
    rl_tensor *buf, *dst, *sbase, *sp, *src;
    REQUIRE_OK(rl_tensor_full(&buf, RL_FLOAT32, DIMS(5, 4), -9));
    REQUIRE_OK(rl_tensor_transpose(&dst, buf, 0, 1));   /* (4,5) */
    sbase = tu_rand(RL_FLOAT64, DIMS(7, 4), 11, -1, 1, 0);
    REQUIRE(sbase);
    REQUIRE_OK(rl_tensor_narrow(&sp, sbase, 0, 2, 5)); /* (5,4) */
    REQUIRE_OK(rl_tensor_transpose(&src, sp, 0, 1));   /* (4,5) */
    CHECK_OK(rl_tensor_copy_(dst, src));
    for (int64_t i = 0; i < 4; i++)
        for (int64_t j = 0; j < 5; j++) {
            CHECK_CLOSE(tu_get(dst, IDX(i, j)), (float)tu_get(sbase, IDX(j + 2, i)), 0);
            CHECK_CLOSE(tu_get(buf, IDX(j, i)), (float)tu_get(sbase, IDX(j + 2, i)), 0);
        }
    /* copy into one column of a matrix leaves the rest alone */
    rl_tensor *colv, *vals;
    REQUIRE_OK(rl_tensor_select(&colv, buf, 1, 2)); /* (5), stride 4 */
    REQUIRE_OK(rl_tensor_arange(&vals, RL_FLOAT32, 0, 5, 1));
    float before = (float)tu_get(buf, IDX(3, 1));
    CHECK_OK(rl_tensor_copy_(colv, vals));
    for (int64_t i = 0; i < 5; i++) CHECK_CLOSE(tu_get(buf, IDX(i, 2)), (double)i, 0);
    CHECK_CLOSE(tu_get(buf, IDX(3, 1)), before, 0);
    rl_tensor_release(vals);
    rl_tensor_release(colv);
    rl_tensor_release(src);
    rl_tensor_release(sp);
    rl_tensor_release(sbase);
    rl_tensor_release(dst);
    rl_tensor_release(buf);
}

static void test_contiguous_and_clone(void)
{
    rl_tensor *a = tu_rand(RL_FLOAT64, DIMS(3, 4, 5), 3, -1, 1, 0), *c, *t;
    REQUIRE(a);
    REQUIRE_OK(rl_tensor_contiguous(&c, a)); /* already contiguous: same tensor, retained */
    CHECK(c == a);
    CHECK_EQ_INT(a->refcount, 2);
    rl_tensor_release(c);
    CHECK_EQ_INT(a->refcount, 1);

    REQUIRE_OK(rl_tensor_permute(&t, a, (const int[]){2, 0, 1}));
    REQUIRE_OK(rl_tensor_contiguous(&c, t));
    CHECK(c != t);
    CHECK(c->storage != a->storage);
    CHECK(rl_tensor_is_contiguous(c));
    CHECK_SHAPE(c, DIMS(5, 3, 4));
    int64_t idx[3] = {0, 0, 0};
    do CHECK_CLOSE(tu_get(c, idx), tu_get(a, IDX(idx[1], idx[2], idx[0])), 0);
    while (tu_next(3, c->shape, idx));
    rl_tensor_release(c);

    rl_tensor *k;
    REQUIRE_OK(rl_tensor_clone(&k, a)); /* always a fresh copy */
    CHECK(k->storage != a->storage);
    CHECK(k->dtype == a->dtype);
    tu_set(k, IDX(0, 0, 0), 1234);
    CHECK(tu_get(a, IDX(0, 0, 0)) != 1234);
    rl_tensor_release(k);
    /* clone of an expanded view materialises the repeats */
    rl_tensor *row, *e;
    REQUIRE_OK(rl_tensor_select(&row, a, 0, 1));  /* (4,5) */
    REQUIRE_OK(rl_tensor_expand(&e, row, DIMS(2, 4, 5)));
    REQUIRE_OK(rl_tensor_clone(&k, e));
    CHECK(rl_tensor_is_contiguous(k));
    CHECK_EQ_INT(k->stride[0], 20);
    memset(idx, 0, sizeof idx);
    do CHECK_CLOSE(tu_get(k, idx), tu_get(a, IDX(1, idx[1], idx[2])), 0);
    while (tu_next(3, k->shape, idx));
    rl_tensor_release(k);
    rl_tensor_release(e);
    rl_tensor_release(row);
    rl_tensor_release(t);
    rl_tensor_release(a);
}

static void test_fill_strided_view(void)
{
    rl_tensor *a, *v;
    REQUIRE_OK(rl_tensor_zeros(&a, RL_FLOAT64, DIMS(4, 6)));
    REQUIRE_OK(rl_tensor_narrow(&v, a, 1, 2, 3));
    rl_tensor_fill_(v, 2.5);
    for (int64_t i = 0; i < 4; i++)
        for (int64_t j = 0; j < 6; j++) CHECK_CLOSE(tu_get(a, IDX(i, j)), j >= 2 && j < 5 ? 2.5 : 0, 0);
    rl_tensor_release(v);
    rl_tensor_release(a);
}

void suite_tensor_copy(void)
{
    TH_RUN(test_copy_broadcasts_row_into_matrix);
    TH_RUN(test_copy_converts_dtypes);
    TH_RUN(test_copy_between_strided_views);
    TH_RUN(test_contiguous_and_clone);
    TH_RUN(test_fill_strided_view);
}
