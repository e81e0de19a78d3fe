/* test_reduce.c — sum/mean/prod/max/min and arg versions over all elements
 * and along each dim, against naive loops (core/reduce.c).
 *
 * Tolerances: max/min and indices exact. Sums and means: float64 within
 * 1e-13 * sum|x| of a sequential double sum; float32 results within
 * 1e-6 * max(1, |want|) (the core accumulates in double, rounds once).
 * Products: relative 1e-13 (float64), 1e-6 (float32). */
#include "suites.h"
#include "testutil.h"
#include "../../core/reduce.h"

#include <math.h>

static const rl_dtype FLOATS[2] = {RL_FLOAT32, RL_FLOAT64};
static const rl_reduce_op VALUE_OPS[5] = {RL_RSUM, RL_RMEAN, RL_RPROD, RL_RMAX, RL_RMIN};

/* A (5,3,4) view that is neither contiguous nor mergeable: a (3,7,5) tensor
 * permuted to (5,3,7) and narrowed to columns 2..5 of the last dim. */
static rl_tensor *make_view(rl_dtype dt, uint64_t seed, double lo, double hi, double q)
{
    rl_tensor *base = tu_rand(dt, DIMS(3, 7, 5), seed, lo, hi, q), *p = NULL, *n = NULL;
    if (!base) return NULL;
    if (rl_tensor_permute(&p, base, (const int[]){2, 0, 1}) == RL_OK) rl_tensor_narrow(&n, p, 2, 2, 4);
    rl_tensor_release(p);
    rl_tensor_release(base);
    return n;
}

typedef struct {
    double value;
    int64_t pos; /* of the winner for max/min */
    double abs_sum;
} ref_result;

/* naive reduction of `len` values read by get(i) */
static ref_result ref_reduce(rl_reduce_op op, int64_t len, const rl_tensor *t, const int64_t *start, int dim)
{
    ref_result r = {0, 0, 0};
    int64_t idx[RL_MAX_DIMS];
    memcpy(idx, start, sizeof idx);
    double acc = op == RL_RPROD ? 1 : 0;
    for (int64_t i = 0; i < len; i++) {
        if (dim >= 0) idx[dim] = i;
        else { /* flat walk over every element */
            int64_t rem = i;
            for (int d = t->ndim - 1; d >= 0; d--) {
                idx[d] = rem % t->shape[d];
                rem /= t->shape[d];
            }
        }
        double x = tu_get(t, idx);
        r.abs_sum += fabs(x);
        switch (op) {
        case RL_RSUM: case RL_RMEAN: acc += x; break;
        case RL_RPROD: acc *= x; break;
        default:
            if (i == 0) { acc = x; r.pos = 0; }
            else if (!isnan(acc) && (isnan(x) || (op == RL_RMAX ? x > acc : x < acc))) { acc = x; r.pos = i; }
        }
    }
    if (op == RL_RMEAN) acc /= (double)len;
    r.value = acc;
    return r;
}

static void check_value(int line, const char *what, rl_reduce_op op, rl_dtype dt, double got, ref_result want, int64_t len)
{
    double w = want.value, tol;
    if (dt == RL_FLOAT32) {
        w = (float)w;
        tol = op == RL_RMAX || op == RL_RMIN ? 0 : 1e-6 * fmax(1, fabs(w));
    } else if (op == RL_RSUM) tol = 1e-13 * want.abs_sum;
    else if (op == RL_RMEAN) tol = 1e-13 * want.abs_sum / (double)len;
    else if (op == RL_RPROD) tol = 1e-13 * fabs(w);
    else tol = 0;
    if (!th_close(got, w, tol))
        th_fail(__FILE__, line, "%s %s %s: got %.17g, want %.17g (tol %.3g)", what, rl_dtype_name(dt),
                rl_reduce_name(op), got, w, tol);
}

static void test_reduce_all_on_strided_view(void)
{
    for (int k = 0; k < 2; k++)
        for (int o = 0; o < 5; o++) {
            rl_reduce_op op = VALUE_OPS[o];
            bool prod = op == RL_RPROD, ext = op == RL_RMAX || op == RL_RMIN;
            rl_tensor *v = make_view(FLOATS[k], 40 + (uint64_t)o, prod ? 0.5 : -1, prod ? 1.5 : 1, ext ? 0.125 : 0), *out;
            REQUIRE(v);
            REQUIRE(!rl_tensor_is_contiguous(v));
            REQUIRE_OK(rl_reduce_all(&out, op, v));
            CHECK_EQ_INT(out->ndim, 0);
            CHECK(out->dtype == FLOATS[k]);
            int64_t zero[RL_MAX_DIMS] = {0};
            check_value(__LINE__, "all", op, FLOATS[k], tu_get(out, NULL), ref_reduce(op, 60, v, zero, -1), 60);
            rl_tensor_release(out);
            if (ext) {
                for (int64_t base = 0; base <= 1; base++) {
                    rl_tensor *ix;
                    REQUIRE_OK(rl_reduce_arg_all(&ix, op, v, base));
                    CHECK(ix->dtype == RL_INT64);
                    CHECK_EQ_INT(ix->ndim, 0);
                    CHECK_EQ_INT(tu_get_i64(ix, NULL), ref_reduce(op, 60, v, zero, -1).pos + base);
                    rl_tensor_release(ix);
                }
            }
            rl_tensor_release(v);
        }
}

static void test_reduce_dim_on_strided_view_keepdim_both_ways(void)
{
    for (int k = 0; k < 2; k++)
        for (int o = 0; o < 5; o++)
            for (int dim = 0; dim < 3; dim++)
                for (int keep = 0; keep <= 1; keep++) {
                    rl_reduce_op op = VALUE_OPS[o];
                    bool prod = op == RL_RPROD, ext = op == RL_RMAX || op == RL_RMIN;
                    rl_tensor *v = make_view(FLOATS[k], 60 + (uint64_t)(o * 3 + dim), prod ? 0.5 : -1, prod ? 1.5 : 1,
                                             ext ? 0.125 : 0), *out;
                    REQUIRE(v);
                    REQUIRE_OK(rl_reduce_dim(&out, op, v, dim, keep));
                    int64_t want_shape[3];
                    int wn = 0;
                    for (int d = 0; d < 3; d++)
                        if (d != dim) want_shape[wn++] = v->shape[d];
                        else if (keep) want_shape[wn++] = 1;
                    CHECK_SHAPE(out, wn, want_shape);
                    CHECK(out->dtype == FLOATS[k]);
                    /* walk the kept-dim shape; read out through a size-1 slot */
                    int64_t kshape[3] = {v->shape[0], v->shape[1], v->shape[2]};
                    kshape[dim] = 1;
                    int64_t idx[RL_MAX_DIMS] = {0};
                    do {
                        int64_t oi[3];
                        int m = 0;
                        for (int d = 0; d < 3; d++)
                            if (d != dim || keep) oi[m++] = idx[d];
                        ref_result want = ref_reduce(op, v->shape[dim], v, idx, dim);
                        idx[dim] = 0;
                        check_value(__LINE__, keep ? "dim keepdim" : "dim", op, FLOATS[k], tu_get(out, oi), want,
                                    v->shape[dim]);
                    } while (tu_next(3, kshape, idx));
                    rl_tensor_release(out);
                    rl_tensor_release(v);
                }
}

static void test_arg_dim_base0_base1_keepdim(void)
{
    const rl_reduce_op ops[2] = {RL_RMAX, RL_RMIN};
    for (int k = 0; k < 2; k++)
        for (int o = 0; o < 2; o++)
            for (int dim = 0; dim < 3; dim++)
                for (int keep = 0; keep <= 1; keep++)
                    for (int64_t base = 0; base <= 1; base++) {
                        /* a coarse grid: ties in nearly every slice */
                        rl_tensor *v = make_view(FLOATS[k], 80 + (uint64_t)(dim * 2 + o), -1, 1, 0.25), *vals, *ix;
                        REQUIRE(v);
                        REQUIRE_OK(rl_reduce_arg_dim(&vals, &ix, ops[o], v, dim, keep, base));
                        CHECK(ix->dtype == RL_INT64);
                        CHECK(vals->dtype == FLOATS[k]);
                        CHECK(rl_tensor_same_shape(vals, ix));
                        CHECK_EQ_INT(ix->ndim, keep ? 3 : 2);
                        /* the one-output forms agree */
                        rl_tensor *only_ix, *only_vals;
                        REQUIRE_OK(rl_reduce_arg_dim(NULL, &only_ix, ops[o], v, dim, keep, base));
                        REQUIRE_OK(rl_reduce_arg_dim(&only_vals, NULL, ops[o], v, dim, keep, base));
                        CHECK(rl_tensor_same_shape(only_ix, ix));
                        CHECK(rl_tensor_same_shape(only_vals, ix));
                        int64_t kshape[3] = {v->shape[0], v->shape[1], v->shape[2]};
                        kshape[dim] = 1;
                        int64_t idx[RL_MAX_DIMS] = {0};
                        do {
                            int64_t oi[3];
                            int m = 0;
                            for (int d = 0; d < 3; d++)
                                if (d != dim || keep) oi[m++] = idx[d];
                            ref_result want = ref_reduce(ops[o], v->shape[dim], v, idx, dim);
                            idx[dim] = 0;
                            CHECK_EQ_INT(tu_get_i64(ix, oi), want.pos + base);
                            CHECK_EQ_INT(tu_get_i64(only_ix, oi), want.pos + base);
                            CHECK_CLOSE(tu_get(vals, oi), want.value, 0);
                            CHECK_CLOSE(tu_get(only_vals, oi), want.value, 0);
                        } while (tu_next(3, kshape, idx));
                        rl_tensor_release(only_vals);
                        rl_tensor_release(only_ix);
                        rl_tensor_release(ix);
                        rl_tensor_release(vals);
                        rl_tensor_release(v);
                    }
}

static void test_ties_pick_first(void)
{
    rl_tensor *a = tu_from(RL_FLOAT64, DIMS(2, 5), (const double[]){1, 3, 3, 2, 3, 7, 7, -1, 7, -1}), *ix, *vals;
    REQUIRE(a);
    REQUIRE_OK(rl_reduce_arg_all(&ix, RL_RMAX, a, 0));
    CHECK_EQ_INT(tu_get_i64(ix, NULL), 5);
    rl_tensor_release(ix);
    REQUIRE_OK(rl_reduce_arg_all(&ix, RL_RMIN, a, 1));
    CHECK_EQ_INT(tu_get_i64(ix, NULL), 8); /* -1 first at flat 7, plus base 1 */
    rl_tensor_release(ix);
    REQUIRE_OK(rl_reduce_arg_dim(&vals, &ix, RL_RMAX, a, 1, false, 0));
    CHECK_EQ_INT(tu_get_i64(ix, IDX(0)), 1);
    CHECK_EQ_INT(tu_get_i64(ix, IDX(1)), 0);
    CHECK_CLOSE(tu_get(vals, IDX(0)), 3, 0);
    rl_tensor_release(vals);
    rl_tensor_release(ix);
    REQUIRE_OK(rl_reduce_arg_dim(NULL, &ix, RL_RMIN, a, 1, true, 0));
    CHECK_SHAPE(ix, DIMS(2, 1));
    CHECK_EQ_INT(tu_get_i64(ix, IDX(0, 0)), 0);
    CHECK_EQ_INT(tu_get_i64(ix, IDX(1, 0)), 2);
    rl_tensor_release(ix);
    /* along dim 0: columns (1,7) (3,7) (3,-1) (2,7) (3,-1) */
    REQUIRE_OK(rl_reduce_arg_dim(NULL, &ix, RL_RMAX, a, 0, false, 0));
    const int64_t want[5] = {1, 1, 0, 1, 0};
    for (int64_t j = 0; j < 5; j++) CHECK_EQ_INT(tu_get_i64(ix, &j), want[j]);
    rl_tensor_release(ix);
    rl_tensor_release(a);
}

static void test_nan_wins_max_and_min(void)
{
    for (int k = 0; k < 2; k++) {
        rl_tensor *a = tu_from(FLOATS[k], DIMS(2, 4), (const double[]){1, NAN, 5, NAN, -2, 8, 3, NAN}), *r, *ix, *vals;
        REQUIRE(a);
        const rl_reduce_op ops[2] = {RL_RMAX, RL_RMIN};
        for (int o = 0; o < 2; o++) {
            REQUIRE_OK(rl_reduce_all(&r, ops[o], a));
            CHECK(isnan(tu_get(r, NULL)));
            rl_tensor_release(r);
            REQUIRE_OK(rl_reduce_arg_all(&ix, ops[o], a, 0));
            CHECK_EQ_INT(tu_get_i64(ix, NULL), 1); /* the first NaN */
            rl_tensor_release(ix);
            REQUIRE_OK(rl_reduce_arg_dim(&vals, &ix, ops[o], a, 1, false, 1));
            CHECK(isnan(tu_get(vals, IDX(0))));
            CHECK(isnan(tu_get(vals, IDX(1))));
            CHECK_EQ_INT(tu_get_i64(ix, IDX(0)), 2);
            CHECK_EQ_INT(tu_get_i64(ix, IDX(1)), 4);
            rl_tensor_release(vals);
            rl_tensor_release(ix);
            REQUIRE_OK(rl_reduce_dim(&r, ops[o], a, 0, false)); /* columns: (1,-2) (NaN,8) (5,3) (NaN,NaN) */
            CHECK_CLOSE(tu_get(r, IDX(0)), o == 0 ? 1 : -2, 0);
            CHECK(isnan(tu_get(r, IDX(1))));
            CHECK_CLOSE(tu_get(r, IDX(2)), o == 0 ? 5 : 3, 0);
            CHECK(isnan(tu_get(r, IDX(3))));
            rl_tensor_release(r);
        }
        /* NaN as the first element, and only NaN later with smaller values after */
        rl_tensor *b = tu_from(FLOATS[k], DIMS(4), (const double[]){NAN, 9, -9, 0});
        REQUIRE(b);
        REQUIRE_OK(rl_reduce_arg_all(&ix, RL_RMAX, b, 0));
        CHECK_EQ_INT(tu_get_i64(ix, NULL), 0);
        rl_tensor_release(ix);
        REQUIRE_OK(rl_reduce_all(&r, RL_RSUM, b));
        CHECK(isnan(tu_get(r, NULL)));
        rl_tensor_release(r);
        rl_tensor_release(b);
        rl_tensor_release(a);
    }
}

static void test_empty_tensors(void)
{
    for (int k = 0; k < 2; k++) {
        rl_tensor *e, *r = NULL;
        REQUIRE_OK(rl_tensor_zeros(&e, FLOATS[k], DIMS(0)));
        REQUIRE_OK(rl_reduce_all(&r, RL_RSUM, e));
        CHECK_EQ_INT(r->ndim, 0);
        CHECK_CLOSE(tu_get(r, NULL), 0, 0);
        rl_tensor_release(r);
        REQUIRE_OK(rl_reduce_all(&r, RL_RMEAN, e));
        CHECK(isnan(tu_get(r, NULL)));
        rl_tensor_release(r);
        REQUIRE_OK(rl_reduce_all(&r, RL_RPROD, e));
        CHECK_CLOSE(tu_get(r, NULL), 1, 0);
        rl_tensor_release(r);
        r = NULL;
        CHECK_STATUS(rl_reduce_all(&r, RL_RMAX, e), RL_ERR_SHAPE);
        CHECK_CONTAINS(rl_last_error(), "max");
        CHECK_CONTAINS(rl_last_error(), "(0)");
        CHECK_STATUS(rl_reduce_all(&r, RL_RMIN, e), RL_ERR_SHAPE);
        CHECK_STATUS(rl_reduce_arg_all(&r, RL_RMAX, e, 1), RL_ERR_SHAPE);
        CHECK(r == NULL);
        rl_tensor_release(e);

        /* (2,0): reducing the empty dim gives identities, per row */
        REQUIRE_OK(rl_tensor_zeros(&e, FLOATS[k], DIMS(2, 0)));
        REQUIRE_OK(rl_reduce_dim(&r, RL_RSUM, e, 1, false));
        CHECK_SHAPE(r, DIMS(2));
        CHECK_CLOSE(tu_get(r, IDX(0)), 0, 0);
        CHECK_CLOSE(tu_get(r, IDX(1)), 0, 0);
        rl_tensor_release(r);
        REQUIRE_OK(rl_reduce_dim(&r, RL_RPROD, e, 1, true));
        CHECK_SHAPE(r, DIMS(2, 1));
        CHECK_CLOSE(tu_get(r, IDX(1, 0)), 1, 0);
        rl_tensor_release(r);
        REQUIRE_OK(rl_reduce_dim(&r, RL_RMEAN, e, 1, false));
        CHECK(isnan(tu_get(r, IDX(0))));
        rl_tensor_release(r);
        r = NULL;
        CHECK_STATUS(rl_reduce_dim(&r, RL_RMAX, e, 1, false), RL_ERR_SHAPE);
        rl_tensor *ix = NULL;
        CHECK_STATUS(rl_reduce_arg_dim(&r, &ix, RL_RMIN, e, 1, false, 0), RL_ERR_SHAPE);
        CHECK(r == NULL && ix == NULL);
        /* reducing the non-empty dim of an empty tensor is fine: (0) */
        REQUIRE_OK(rl_reduce_dim(&r, RL_RMAX, e, 0, false));
        CHECK_SHAPE(r, DIMS(0));
        rl_tensor_release(r);
        REQUIRE_OK(rl_reduce_arg_dim(&r, &ix, RL_RMAX, e, 0, true, 0));
        CHECK_SHAPE(ix, DIMS(1, 0));
        rl_tensor_release(ix);
        rl_tensor_release(r);
        rl_tensor_release(e);
    }
}

static void test_int64_reductions_exact(void)
{
    rl_tensor *a, *r;
    REQUIRE_OK(rl_tensor_empty(&a, RL_INT64, DIMS(2, 3)));
    const int64_t big = INT64_C(1) << 60;
    const int64_t v[6] = {big, 1, 2, big + 1, -5, 3};
    memcpy(a->storage->data, v, sizeof v);
    REQUIRE_OK(rl_reduce_all(&r, RL_RSUM, a));
    CHECK(r->dtype == RL_INT64);
    CHECK_EQ_INT(tu_get_i64(r, NULL), 2 * big + 2);
    rl_tensor_release(r);
    REQUIRE_OK(rl_reduce_all(&r, RL_RMAX, a));
    CHECK_EQ_INT(tu_get_i64(r, NULL), big + 1); /* not rounded through double */
    rl_tensor_release(r);
    rl_tensor *ix;
    REQUIRE_OK(rl_reduce_arg_all(&ix, RL_RMAX, a, 0));
    CHECK_EQ_INT(tu_get_i64(ix, NULL), 3);
    rl_tensor_release(ix);
    REQUIRE_OK(rl_reduce_dim(&r, RL_RSUM, a, 0, false));
    CHECK_EQ_INT(tu_get_i64(r, IDX(0)), 2 * big + 1);
    CHECK_EQ_INT(tu_get_i64(r, IDX(2)), 5);
    rl_tensor_release(r);
    REQUIRE_OK(rl_reduce_dim(&r, RL_RPROD, a, 1, true));
    CHECK_EQ_INT(tu_get_i64(r, IDX(0, 0)), 2 * big);
    rl_tensor_release(r);
    r = NULL;
    CHECK_STATUS(rl_reduce_all(&r, RL_RMEAN, a), RL_ERR_DTYPE);
    CHECK_CONTAINS(rl_last_error(), "int64");
    CHECK(r == NULL);
    rl_tensor_release(a);
}

static void test_reduce_errors_and_zero_d(void)
{
    rl_tensor *a, *r = NULL, *ix = NULL;
    REQUIRE_OK(rl_tensor_zeros(&a, RL_FLOAT64, DIMS(2, 3)));
    CHECK_STATUS(rl_reduce_dim(&r, RL_RSUM, a, 2, false), RL_ERR_INDEX);
    CHECK_STATUS(rl_reduce_dim(&r, RL_RSUM, a, -1, false), RL_ERR_INDEX);
    CHECK_STATUS(rl_reduce_arg_dim(&r, &ix, RL_RMAX, a, 5, false, 0), RL_ERR_INDEX);
    CHECK(r == NULL && ix == NULL);
    rl_tensor_release(a);
    REQUIRE_OK(rl_tensor_full(&a, RL_FLOAT32, 0, NULL, 2.5));
    REQUIRE_OK(rl_reduce_all(&r, RL_RMEAN, a));
    CHECK_CLOSE(tu_get(r, NULL), 2.5, 0);
    rl_tensor_release(r);
    REQUIRE_OK(rl_reduce_arg_all(&ix, RL_RMIN, a, 1));
    CHECK_EQ_INT(tu_get_i64(ix, NULL), 1);
    rl_tensor_release(ix);
    rl_tensor_release(a);
    CHECK(!strcmp(rl_reduce_name(RL_RPROD), "prod"));
}

void suite_reduce(void)
{
    TH_RUN(test_reduce_all_on_strided_view);
    TH_RUN(test_reduce_dim_on_strided_view_keepdim_both_ways);
    TH_RUN(test_arg_dim_base0_base1_keepdim);
    TH_RUN(test_ties_pick_first);
    TH_RUN(test_nan_wins_max_and_min);
    TH_RUN(test_empty_tensors);
    TH_RUN(test_int64_reductions_exact);
    TH_RUN(test_reduce_errors_and_zero_d);
}
