/* test_tensor_create.c — tensor creation, shape validation, alignment,
 * storage accounting (core/tensor.c). */
#include "suites.h"
#include "testutil.h"

#include <math.h>
#include <stdint.h>

static void check_contiguous_strides(const rl_tensor *t)
{
    int64_t s = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        CHECK_EQ_INT(t->stride[d], s);
        s *= t->shape[d] ? t->shape[d] : 1;
    }
}

static void test_empty_zeros_full_shapes_and_values(void)
{
    rl_tensor *t;
    REQUIRE_OK(rl_tensor_zeros(&t, RL_FLOAT64, DIMS(2, 3, 4)));
    CHECK_SHAPE(t, DIMS(2, 3, 4));
    CHECK(t->dtype == RL_FLOAT64);
    CHECK_EQ_INT(rl_tensor_numel(t), 24);
    CHECK_EQ_INT(t->offset, 0);
    CHECK_EQ_INT(t->refcount, 1);
    CHECK_EQ_INT(t->storage->nbytes, 24 * 8);
    check_contiguous_strides(t);
    for (int i = 0; i < 24; i++) CHECK_EQ_INT(((double *)t->storage->data)[i] == 0.0, 1);
    rl_tensor_release(t);

    REQUIRE_OK(rl_tensor_full(&t, RL_FLOAT32, DIMS(5, 1, 3), -2.5));
    CHECK_SHAPE(t, DIMS(5, 1, 3));
    CHECK_EQ_INT(t->storage->nbytes, 15 * 4);
    check_contiguous_strides(t);
    for (int i = 0; i < 15; i++) CHECK_CLOSE(((float *)t->storage->data)[i], -2.5, 0);
    rl_tensor_release(t);

    REQUIRE_OK(rl_tensor_full(&t, RL_INT64, DIMS(3), 7.9));
    for (int i = 0; i < 3; i++) CHECK_EQ_INT(((int64_t *)t->storage->data)[i], 7); /* truncates */
    rl_tensor_release(t);

    REQUIRE_OK(rl_tensor_empty(&t, RL_FLOAT64, DIMS(4, 2)));
    CHECK_SHAPE(t, DIMS(4, 2));
    check_contiguous_strides(t);
    rl_tensor_release(t);
}

static void test_zero_d_and_zero_size_tensors(void)
{
    rl_tensor *t;
    REQUIRE_OK(rl_tensor_full(&t, RL_FLOAT64, 0, NULL, 3.25));
    CHECK_EQ_INT(t->ndim, 0);
    CHECK_EQ_INT(rl_tensor_numel(t), 1);
    CHECK(rl_tensor_is_contiguous(t));
    double v = 0;
    CHECK_OK(rl_tensor_item(t, &v));
    CHECK_CLOSE(v, 3.25, 0);
    rl_tensor_release(t);

    REQUIRE_OK(rl_tensor_zeros(&t, RL_FLOAT32, DIMS(3, 0, 2)));
    CHECK_SHAPE(t, DIMS(3, 0, 2));
    CHECK_EQ_INT(rl_tensor_numel(t), 0);
    CHECK(rl_tensor_is_contiguous(t));
    CHECK(t->storage->data != NULL);
    CHECK_STATUS(rl_tensor_item(t, &v), RL_ERR_SHAPE);
    rl_tensor_release(t);

    REQUIRE_OK(rl_tensor_empty(&t, RL_FLOAT64, DIMS(5, 0, 7)));
    CHECK_EQ_INT(rl_tensor_numel(t), 0);
    CHECK_EQ_INT(t->stride[0], 7);
    rl_tensor_release(t);
    /* a zero dim does not excuse huge other dims: their strides would overflow */
    t = NULL;
    CHECK_STATUS(rl_tensor_empty(&t, RL_FLOAT64, DIMS(0, INT64_MAX, INT64_MAX)), RL_ERR_SHAPE);
    CHECK(t == NULL);
    rl_tensor *e;
    REQUIRE_OK(rl_tensor_zeros(&e, RL_FLOAT32, DIMS(0)));
    CHECK_STATUS(rl_tensor_view(&t, e, DIMS(INT64_C(1) << 40, 0, INT64_C(1) << 40)), RL_ERR_SHAPE);
    CHECK_STATUS(rl_tensor_reshape(&t, e, DIMS(INT64_C(1) << 40, 0, INT64_C(1) << 40)), RL_ERR_SHAPE);
    CHECK(t == NULL);
    rl_tensor_release(e);
}

static void test_invalid_shapes_give_shape_error(void)
{
    rl_tensor *t = NULL;
    CHECK_STATUS(rl_tensor_empty(&t, RL_FLOAT32, DIMS(2, -1)), RL_ERR_SHAPE);
    CHECK_CONTAINS(rl_last_error(), "(2,-1)");
    CHECK_STATUS(rl_tensor_zeros(&t, RL_FLOAT64, DIMS(-3)), RL_ERR_SHAPE);
    CHECK_STATUS(rl_tensor_full(&t, RL_FLOAT64, DIMS(INT64_MIN), 1.0), RL_ERR_SHAPE);
    /* numel overflow: 2^40 * 2^40, INT64_MAX * 2, and a product that wraps to a
     * small positive number in 64-bit arithmetic (2^32 * 2^32 * 2 wraps to 0) */
    CHECK_STATUS(rl_tensor_empty(&t, RL_FLOAT32, DIMS(INT64_C(1) << 40, INT64_C(1) << 40)), RL_ERR_SHAPE);
    CHECK_STATUS(rl_tensor_zeros(&t, RL_FLOAT32, DIMS(INT64_MAX, 2)), RL_ERR_SHAPE);
    CHECK_STATUS(rl_tensor_zeros(&t, RL_FLOAT64, DIMS(INT64_C(1) << 32, INT64_C(1) << 32, 2)), RL_ERR_SHAPE);
    CHECK_STATUS(rl_tensor_zeros(&t, RL_FLOAT64, DIMS(3, INT64_C(1) << 62)), RL_ERR_SHAPE);
    /* fits int64 as a count, but not in memory as bytes */
    CHECK_STATUS(rl_tensor_zeros(&t, RL_FLOAT64, DIMS(INT64_C(1) << 62)), RL_ERR_SHAPE);
    /* too many dims, negative ndim */
    int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK_STATUS(rl_tensor_empty(&t, RL_FLOAT32, 9, nine), RL_ERR_SHAPE);
    CHECK_STATUS(rl_tensor_empty(&t, RL_FLOAT32, -1, nine), RL_ERR_SHAPE);
    CHECK(t == NULL);
    CHECK_EQ_INT(rl_shape_numel(DIMS(INT64_C(1) << 31, INT64_C(1) << 31)), INT64_C(1) << 62);
    CHECK_EQ_INT(rl_shape_numel(DIMS(INT64_C(1) << 31, (INT64_C(1) << 31) + 1)), -1);
    CHECK_EQ_INT(rl_shape_numel(DIMS(4, -2)), -1);
    CHECK_EQ_INT(rl_shape_numel(0, NULL), 1);
    CHECK_EQ_INT(rl_shape_numel(DIMS(3, 0, 5)), 0);
    CHECK_EQ_INT(rl_shape_numel(DIMS(0, INT64_C(1) << 40, INT64_C(1) << 40)), -1);
}

static void test_storage_is_64_byte_aligned(void)
{
    const rl_dtype dts[3] = {RL_FLOAT32, RL_FLOAT64, RL_INT64};
    const int64_t sizes[] = {0, 1, 3, 15, 16, 17, 63, 64, 65, 1000, 4097};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
            rl_tensor *t;
            REQUIRE_OK(rl_tensor_empty(&t, dts[k], 1, &sizes[i]));
            CHECK_MSG((uintptr_t)t->storage->data % 64 == 0, "data %p of %lld elements not 64-byte aligned",
                      t->storage->data, (long long)sizes[i]);
            rl_tensor_release(t);
        }
}

static void test_arange(void)
{
    rl_tensor *t;
    REQUIRE_OK(rl_tensor_arange(&t, RL_FLOAT64, 0, 5, 1));
    CHECK_SHAPE(t, DIMS(5));
    for (int64_t i = 0; i < 5; i++) CHECK_CLOSE(tu_get(t, &i), (double)i, 0);
    rl_tensor_release(t);

    REQUIRE_OK(rl_tensor_arange(&t, RL_FLOAT32, 5, 0, -1.5));
    CHECK_SHAPE(t, DIMS(4)); /* 5, 3.5, 2, 0.5 */
    for (int64_t i = 0; i < 4; i++) CHECK_CLOSE(tu_get(t, &i), 5 - 1.5 * (double)i, 0);
    rl_tensor_release(t);

    REQUIRE_OK(rl_tensor_arange(&t, RL_FLOAT64, 1, 2.05, 0.25)); /* 1 .. 2, 5 values */
    CHECK_SHAPE(t, DIMS(5));
    rl_tensor_release(t);

    REQUIRE_OK(rl_tensor_arange(&t, RL_INT64, -3, 3, 2));
    CHECK_SHAPE(t, DIMS(3));
    for (int64_t i = 0; i < 3; i++) CHECK_EQ_INT(tu_get_i64(t, &i), -3 + 2 * i);
    rl_tensor_release(t);

    REQUIRE_OK(rl_tensor_arange(&t, RL_FLOAT64, 3, 1, 1)); /* empty */
    CHECK_SHAPE(t, DIMS(0));
    rl_tensor_release(t);

    t = NULL;
    CHECK_STATUS(rl_tensor_arange(&t, RL_FLOAT64, 0, 1, 0), RL_ERR_ARG);
    CHECK_STATUS(rl_tensor_arange(&t, RL_FLOAT64, 0, INFINITY, 1), RL_ERR_ARG);
    CHECK_STATUS(rl_tensor_arange(&t, RL_FLOAT64, 0, 1, NAN), RL_ERR_ARG);
    CHECK(t == NULL);
}

static void test_linspace_endpoints_exact(void)
{
    const rl_dtype dts[2] = {RL_FLOAT32, RL_FLOAT64};
    /* pairs where start + (n-1)*step misses stop in double arithmetic */
    const double starts[3] = {0.2, -3.7, 0.1}, stops[3] = {0.9, 11.3, 0.3};
    const int64_t ns[4] = {2, 3, 7, 1001};
    for (int k = 0; k < 2; k++)
        for (int s = 0; s < 3; s++)
            for (int j = 0; j < 4; j++) {
                rl_tensor *t;
                REQUIRE_OK(rl_tensor_linspace(&t, dts[k], starts[s], stops[s], ns[j]));
                CHECK_SHAPE(t, 1, &ns[j]);
                int64_t last = ns[j] - 1;
                double lo = dts[k] == RL_FLOAT32 ? (float)starts[s] : starts[s];
                double hi = dts[k] == RL_FLOAT32 ? (float)stops[s] : stops[s];
                CHECK_CLOSE(tu_get(t, IDX(0)), lo, 0);
                CHECK_CLOSE(tu_get(t, &last), hi, 0);
                double step = (stops[s] - starts[s]) / (double)last;
                double tol = dts[k] == RL_FLOAT32 ? 1e-6 * 12 : 1e-14 * 12;
                for (int64_t i = 0; i < ns[j]; i++) {
                    CHECK_CLOSE(tu_get(t, &i), starts[s] + (double)i * step, tol);
                    if (i > 0) CHECK(tu_get(t, &i) >= tu_get(t, IDX(i - 1)));
                }
                rl_tensor_release(t);
            }
    rl_tensor *t;
    REQUIRE_OK(rl_tensor_linspace(&t, RL_FLOAT64, 2.5, 9, 1));
    CHECK_SHAPE(t, DIMS(1));
    CHECK_CLOSE(tu_get(t, IDX(0)), 2.5, 0);
    rl_tensor_release(t);
    REQUIRE_OK(rl_tensor_linspace(&t, RL_FLOAT64, 0, 1, 0));
    CHECK_SHAPE(t, DIMS(0));
    rl_tensor_release(t);
    REQUIRE_OK(rl_tensor_linspace(&t, RL_FLOAT64, 1, -1, 5)); /* decreasing */
    const double want[5] = {1, 0.5, 0, -0.5, -1};
    for (int64_t i = 0; i < 5; i++) CHECK_CLOSE(tu_get(t, &i), want[i], 0);
    rl_tensor_release(t);
    t = NULL;
    CHECK_STATUS(rl_tensor_linspace(&t, RL_FLOAT64, 0, 1, -1), RL_ERR_ARG);
    CHECK(t == NULL);
}

static void test_eye(void)
{
    const int64_t dims[3][2] = {{3, 3}, {2, 4}, {4, 2}};
    for (int k = 0; k < 3; k++) {
        rl_tensor *t;
        REQUIRE_OK(rl_tensor_eye(&t, RL_FLOAT32, dims[k][0], dims[k][1]));
        CHECK_SHAPE(t, 2, dims[k]);
        for (int64_t i = 0; i < dims[k][0]; i++)
            for (int64_t j = 0; j < dims[k][1]; j++) CHECK_CLOSE(tu_get(t, IDX(i, j)), i == j ? 1 : 0, 0);
        rl_tensor_release(t);
    }
    rl_tensor *t = NULL;
    CHECK_STATUS(rl_tensor_eye(&t, RL_FLOAT64, -1, 2), RL_ERR_SHAPE);
}

static void test_item_get_set(void)
{
    rl_tensor *t = tu_rand(RL_FLOAT64, DIMS(3, 4), 1, -1, 1, 0);
    REQUIRE(t);
    int64_t idx[2] = {0, 0};
    do CHECK_CLOSE(rl_tensor_get(t, idx), tu_get(t, idx), 0);
    while (tu_next(2, t->shape, idx));
    rl_tensor_set(t, IDX(2, 1), 42.5);
    CHECK_CLOSE(tu_get(t, IDX(2, 1)), 42.5, 0);
    CHECK(rl_tensor_ptr(t, IDX(2, 1)) == (char *)t->storage->data + (2 * 4 + 1) * 8);
    double v;
    CHECK_STATUS(rl_tensor_item(t, &v), RL_ERR_SHAPE);
    CHECK_CONTAINS(rl_last_error(), "(3,4)");
    rl_tensor_release(t);

    /* int64 beyond 2^53 stays exact in storage; get rounds through double */
    REQUIRE_OK(rl_tensor_zeros(&t, RL_INT64, DIMS(1)));
    ((int64_t *)t->storage->data)[0] = (INT64_C(1) << 60) + 1;
    CHECK_CLOSE(rl_tensor_get(t, IDX(0)), 0x1p60, 0);
    rl_tensor_release(t);
}

static void test_dtype_names_and_shape_str(void)
{
    rl_dtype dt;
    CHECK_OK(rl_dtype_parse("float32", &dt));
    CHECK(dt == RL_FLOAT32);
    CHECK_OK(rl_dtype_parse("double", &dt));
    CHECK(dt == RL_FLOAT64);
    CHECK_OK(rl_dtype_parse("int64", &dt));
    CHECK(dt == RL_INT64);
    CHECK_STATUS(rl_dtype_parse("float16", &dt), RL_ERR_DTYPE);
    CHECK_CONTAINS(rl_last_error(), "float16");
    CHECK(!strcmp(rl_dtype_name(RL_FLOAT64), "float64"));
    CHECK_EQ_INT(rl_dtype_size(RL_FLOAT32), 4);
    CHECK_EQ_INT(rl_dtype_size(RL_INT64), 8);
    char buf[RL_SHAPE_BUF];
    CHECK(!strcmp(rl_shape_str(buf, sizeof buf, DIMS(3, 4)), "(3,4)"));
    CHECK(!strcmp(rl_shape_str(buf, sizeof buf, 0, NULL), "()"));
    CHECK(!strcmp(rl_shape_str(buf, sizeof buf, DIMS(7)), "(7)"));
    /* the longest shape fits the advertised buffer */
    const int64_t big[8] = {INT64_MIN, INT64_MIN, INT64_MIN, INT64_MIN, INT64_MIN, INT64_MIN, INT64_MIN, INT64_MIN};
    rl_shape_str(buf, sizeof buf, 8, big);
    CHECK(buf[strlen(buf) - 1] == ')');
    char tiny[4];
    rl_shape_str(tiny, sizeof tiny, DIMS(12345, 6)); /* truncates, never overflows */
    CHECK(strlen(tiny) < sizeof tiny);
}

static void test_storage_bytes_accounting(void)
{
    uint64_t live0 = rl_storage_bytes_live(), alloc0 = rl_storage_bytes_allocated();
    rl_tensor *a, *b, *v;
    REQUIRE_OK(rl_tensor_zeros(&a, RL_FLOAT64, DIMS(10, 10)));
    REQUIRE_OK(rl_tensor_zeros(&b, RL_FLOAT32, DIMS(7)));
    CHECK_EQ_U64(rl_storage_bytes_live(), live0 + 800 + 28);
    /* the allocated total also counts the two tensor headers */
    CHECK_EQ_U64(rl_storage_bytes_allocated(), alloc0 + 800 + 28 + 2 * sizeof(rl_tensor));
    REQUIRE_OK(rl_tensor_transpose(&v, a, 0, 1)); /* a view allocates no storage */
    CHECK_EQ_U64(rl_storage_bytes_live(), live0 + 828);
    rl_tensor_release(a);
    CHECK_EQ_U64(rl_storage_bytes_live(), live0 + 828); /* v keeps it */
    rl_tensor_release(v);
    CHECK_EQ_U64(rl_storage_bytes_live(), live0 + 28);
    rl_tensor_release(b);
    CHECK_EQ_U64(rl_storage_bytes_live(), live0);
    CHECK_EQ_U64(rl_storage_bytes_allocated(), alloc0 + 828 + 3 * sizeof(rl_tensor)); /* monotone */
    rl_tensor_release(NULL); /* a no-op */
    rl_tensor_retain(NULL);
}

void suite_tensor_create(void)
{
    TH_RUN(test_empty_zeros_full_shapes_and_values);
    TH_RUN(test_zero_d_and_zero_size_tensors);
    TH_RUN(test_invalid_shapes_give_shape_error);
    TH_RUN(test_storage_is_64_byte_aligned);
    TH_RUN(test_arange);
    TH_RUN(test_linspace_endpoints_exact);
    TH_RUN(test_eye);
    TH_RUN(test_item_get_set);
    TH_RUN(test_dtype_names_and_shape_str);
    TH_RUN(test_storage_bytes_accounting);
}
