/* test_threads.c — the elementwise ops, reductions and optimizer updates
 * split over threads (core/iter.c rl_iter_run_parallel, core/reduce.c's
 * blocks): every element written once, and the same bits at 1, 2 and 3
 * threads, on sizes over the grains (odd ones, just over the threshold),
 * contiguous, strided and broadcast. */
#include "suites.h"
#include "testutil.h"
#include "../../core/iter.h"
#include "../../core/ops.h"
#include "../../core/optim.h"
#include "../../core/pool.h"
#include "../../core/reduce.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool same_bits(const rl_tensor *a, const rl_tensor *b)
{
    if (!a || !b || a->dtype != b->dtype || !rl_tensor_same_shape(a, b)) return false;
    if (!rl_tensor_is_contiguous(a) || !rl_tensor_is_contiguous(b)) return false;
    return memcmp(rl_tensor_data(a), rl_tensor_data(b), (size_t)rl_tensor_numel(a) * rl_dtype_size(a->dtype)) == 0;
}

/* ---- the range walk: every split gives rl_iter_run's runs, cut ---- */

typedef struct {
    int64_t count;
    char *first[2048];   /* operand 0's address of each element, in order */
    char *second[2048];  /* operand 1's */
} record;

static void record_run(void *ctx, int64_t n, char **p, const int64_t *s)
{
    record *r = ctx;
    for (int64_t i = 0; i < n; i++) {
        r->first[r->count] = p[0] + i * s[0];
        r->second[r->count] = p[1] + i * s[1];
        r->count++;
    }
}

static void test_iter_range_matches_the_whole_walk(void)
{
    /* out (3,5,7) viewed through a transpose; in (5,1) broadcast */
    rl_tensor *base = tu_rand(RL_FLOAT64, DIMS(3, 7, 5), 1, -1, 1, 0), *out = NULL;
    rl_tensor *in = tu_rand(RL_FLOAT64, DIMS(5, 1), 2, -1, 1, 0);
    REQUIRE_OK(rl_tensor_transpose(&out, base, 1, 2));
    rl_iter it;
    const rl_tensor *ops[2] = {out, in};
    REQUIRE_OK(rl_iter_init(&it, "test", 2, ops, out->ndim, out->shape));
    CHECK_EQ_INT(rl_iter_numel(&it), 105);
    static record whole, part;
    whole.count = 0;
    rl_iter_run(&it, record_run, &whole);
    CHECK_EQ_INT(whole.count, 105);
    for (int64_t lo = 0; lo <= 105; lo += 4)
        for (int64_t hi = lo; hi <= 105; hi += 3) {
            part.count = 0;
            rl_iter_run_range(&it, lo, hi, record_run, &part);
            CHECK_MSG(part.count == hi - lo, "range [%lld, %lld): %lld elements", (long long)lo, (long long)hi,
                      (long long)part.count);
            for (int64_t i = 0; i < part.count; i++)
                if (part.first[i] != whole.first[lo + i] || part.second[i] != whole.second[lo + i]) {
                    CHECK_MSG(false, "range [%lld, %lld): element %lld is not the walk's", (long long)lo,
                              (long long)hi, (long long)(lo + i));
                    break;
                }
        }
    rl_tensor_release(out);
    rl_tensor_release(base);
    rl_tensor_release(in);
}

/* ---- elementwise ops ---- */

/* sizes over the grains: just over two chunks' worth, and odd */
static const int64_t sizes[] = {2 * RL_GRAIN_LIGHT + 1, 3 * RL_GRAIN_LIGHT + 4099};

/* out = f(inputs) through the _into forms, out first filled with NaN: an
 * element no chunk wrote stays NaN. Compared with the one-thread result. */
typedef rl_status (*elem_fn)(rl_tensor *out, const rl_tensor *a, const rl_tensor *b);

static rl_status f_add(rl_tensor *o, const rl_tensor *a, const rl_tensor *b) { return rl_binary_into(o, RL_ADD, a, b); }
static rl_status f_mul(rl_tensor *o, const rl_tensor *a, const rl_tensor *b) { return rl_binary_into(o, RL_MUL, a, b); }
static rl_status f_pow(rl_tensor *o, const rl_tensor *a, const rl_tensor *b) { return rl_binary_into(o, RL_POW, a, b); }
static rl_status f_tanh(rl_tensor *o, const rl_tensor *a, const rl_tensor *b) { (void)b; return rl_unary_into(o, RL_TANH, a); }
static rl_status f_sigmoid(rl_tensor *o, const rl_tensor *a, const rl_tensor *b) { (void)b; return rl_unary_into(o, RL_SIGMOID, a); }
static rl_status f_exp(rl_tensor *o, const rl_tensor *a, const rl_tensor *b) { (void)b; return rl_unary_into(o, RL_EXP, a); }
static rl_status f_clamp(rl_tensor *o, const rl_tensor *a, const rl_tensor *b) { (void)b; return rl_clamp_into(o, a, -0.5, 0.5); }

static void check_elem(const char *what, elem_fn f, rl_dtype dt, int ndim, const int64_t *shape,
                       const rl_tensor *a, const rl_tensor *b)
{
    int saved = rl_pool_threads();
    rl_tensor *want = NULL;
    for (int t = 1; t <= 3; t++) {
        rl_pool_set_threads(t);
        rl_tensor *out = tu_empty(dt, ndim, shape);
        if (!out) break;
        rl_tensor_fill_(out, NAN);
        CHECK_OK(f(out, a, b));
        int64_t n = rl_tensor_numel(out), nan_at = -1;
        for (int64_t i = 0; i < n && nan_at < 0; i++) {
            double v = dt == RL_FLOAT32 ? ((float *)rl_tensor_data(out))[i] : ((double *)rl_tensor_data(out))[i];
            if (v != v) nan_at = i;
        }
        CHECK_MSG(nan_at < 0, "%s %s n %lld, %d threads: element %lld not written", what, rl_dtype_name(dt),
                  (long long)n, t, (long long)nan_at);
        if (t == 1) want = out;
        else {
            CHECK_MSG(same_bits(out, want), "%s %s n %lld: %d threads differ from 1", what, rl_dtype_name(dt),
                      (long long)n, t);
            rl_tensor_release(out);
        }
    }
    rl_tensor_release(want);
    rl_pool_set_threads(saved);
}

static void test_elementwise_same_bits_at_any_thread_count(void)
{
    static const struct { const char *name; elem_fn f; } fns[] = {
        {"add", f_add}, {"mul", f_mul}, {"pow", f_pow}, {"tanh", f_tanh},
        {"sigmoid", f_sigmoid}, {"exp", f_exp}, {"clamp", f_clamp},
    };
    for (int d = 0; d < 2; d++) {
        rl_dtype dt = d ? RL_FLOAT64 : RL_FLOAT32;
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            int64_t n = sizes[s];
            rl_tensor *a = tu_rand(dt, 1, &n, 10 + s, 0.1, 2, 0), *b = tu_rand(dt, 1, &n, 20 + s, -2, 2, 0);
            for (size_t k = 0; k < sizeof fns / sizeof *fns; k++) check_elem(fns[k].name, fns[k].f, dt, 1, &n, a, b);
            rl_tensor_release(a);
            rl_tensor_release(b);
        }
    }
}

/* the general iterator: a transposed (strided) input, a broadcast row */
static void test_elementwise_strided_and_broadcast_split(void)
{
    int64_t rows = 517, cols = 263; /* 135,971 elements: over 2 light grains */
    rl_tensor *base = tu_rand(RL_FLOAT32, DIMS(cols, rows), 3, -2, 2, 0), *at = NULL;
    rl_tensor *row = tu_rand(RL_FLOAT32, DIMS(1, cols), 4, -2, 2, 0);
    REQUIRE_OK(rl_tensor_transpose(&at, base, 0, 1));
    check_elem("add (strided, broadcast)", f_add, RL_FLOAT32, DIMS(rows, cols), at, row);
    check_elem("tanh (strided)", f_tanh, RL_FLOAT32, DIMS(rows, cols), at, NULL);
    check_elem("exp (strided)", f_exp, RL_FLOAT32, DIMS(rows, cols), at, NULL);
    rl_tensor_release(at);
    rl_tensor_release(base);
    rl_tensor_release(row);
}

/* fresh outputs (rl_binary's flat path, rl_unary, the backward of tanh) */
static void test_fresh_outputs_same_bits(void)
{
    int saved = rl_pool_threads();
    int64_t n = sizes[1];
    rl_tensor *a = tu_rand(RL_FLOAT32, 1, &n, 5, -3, 3, 0), *g = tu_rand(RL_FLOAT32, 1, &n, 6, -1, 1, 0);
    rl_tensor *want[4] = {NULL};
    for (int t = 1; t <= 3; t++) {
        rl_pool_set_threads(t);
        rl_tensor *r[4] = {NULL};
        CHECK_OK(rl_binary_scalar(&r[0], RL_MUL, a, 2, false));
        CHECK_OK(rl_unary(&r[1], RL_SIGMOID, a));
        CHECK_OK(rl_unary_backward(&r[2], RL_TANH, g, a, r[1]));
        CHECK_OK(rl_unary_backward(&r[3], RL_LOG1P, g, a, r[1]));
        for (int k = 0; k < 4; k++) {
            if (t == 1) want[k] = r[k];
            else {
                CHECK_MSG(same_bits(r[k], want[k]), "result %d: %d threads differ from 1", k, t);
                rl_tensor_release(r[k]);
            }
        }
    }
    for (int k = 0; k < 4; k++) rl_tensor_release(want[k]);
    rl_tensor_release(a);
    rl_tensor_release(g);
    rl_pool_set_threads(saved);
}

/* ---- reductions ---- */

static void test_reduce_all_independent_of_threads(void)
{
    int saved = rl_pool_threads();
    int64_t n = 5 * RL_REDUCE_BLOCK + 123;
    static const rl_reduce_op ops[] = {RL_RSUM, RL_RMEAN, RL_RMAX, RL_RMIN, RL_RPROD};
    for (int d = 0; d < 3; d++) {
        rl_dtype dt = d == 0 ? RL_FLOAT32 : d == 1 ? RL_FLOAT64 : RL_INT64;
        /* values near 1 keep the product finite; a quantum makes ties */
        rl_tensor *a = tu_rand(dt, 1, &n, 7 + d, dt == RL_INT64 ? -1000 : 0.999, dt == RL_INT64 ? 1000 : 1.001,
                               dt == RL_INT64 ? 1 : 1e-4);
        for (size_t k = 0; k < sizeof ops / sizeof *ops; k++) {
            if (dt == RL_INT64 && ops[k] == RL_RMEAN) continue;
            rl_tensor *want = NULL, *want_ix = NULL;
            for (int t = 1; t <= 3; t++) {
                rl_pool_set_threads(t);
                rl_tensor *r = NULL, *ix = NULL;
                CHECK_OK(rl_reduce_all(&r, ops[k], a));
                if (ops[k] == RL_RMAX || ops[k] == RL_RMIN) CHECK_OK(rl_reduce_arg_all(&ix, ops[k], a, 0));
                if (t == 1) {
                    want = r;
                    want_ix = ix;
                    continue;
                }
                CHECK_MSG(same_bits(r, want), "%s %s: %d threads differ from 1", rl_reduce_name(ops[k]),
                          rl_dtype_name(dt), t);
                if (ix) CHECK_MSG(same_bits(ix, want_ix), "arg%s %s: %d threads differ from 1",
                                  rl_reduce_name(ops[k]), rl_dtype_name(dt), t);
                rl_tensor_release(r);
                rl_tensor_release(ix);
            }
            /* the position: the first of the ties, by a plain scan */
            if (want_ix) {
                int64_t best = 0;
                for (int64_t i = 1; i < n; i++) {
                    double x = tu_get(a, IDX(i)), b = tu_get(a, IDX(best));
                    if (ops[k] == RL_RMAX ? x > b : x < b) best = i;
                }
                CHECK_EQ_INT(*(int64_t *)rl_tensor_data(want_ix), best);
            }
            rl_tensor_release(want);
            rl_tensor_release(want_ix);
        }
        rl_tensor_release(a);
    }
    rl_pool_set_threads(saved);
}

/* a NaN in a later block wins over every number; the first of two NaNs */
static void test_reduce_all_nan_in_a_later_block(void)
{
    int saved = rl_pool_threads();
    int64_t n = 4 * RL_REDUCE_BLOCK + 1;
    rl_tensor *a = tu_rand(RL_FLOAT64, 1, &n, 8, -1, 1, 0);
    tu_set(a, IDX(3 * RL_REDUCE_BLOCK + 5), NAN);
    tu_set(a, IDX(4 * RL_REDUCE_BLOCK), NAN);
    for (int t = 1; t <= 3; t++) {
        rl_pool_set_threads(t);
        rl_tensor *ix = NULL, *m = NULL;
        CHECK_OK(rl_reduce_arg_all(&ix, RL_RMAX, a, 0));
        CHECK_OK(rl_reduce_all(&m, RL_RMIN, a));
        if (ix) CHECK_EQ_INT(*(int64_t *)rl_tensor_data(ix), 3 * RL_REDUCE_BLOCK + 5);
        if (m) CHECK(isnan(*(double *)rl_tensor_data(m)));
        rl_tensor_release(ix);
        rl_tensor_release(m);
    }
    rl_tensor_release(a);
    rl_pool_set_threads(saved);
}

/* dim reductions: outputs split over threads; sums checked against a plain
 * loop (double accumulator, in order, as the slice path adds) */
static void test_reduce_dim_same_bits(void)
{
    int saved = rl_pool_threads();
    int64_t rows = 301, cols = 1003;
    rl_tensor *a = tu_rand(RL_FLOAT32, DIMS(rows, cols), 9, -1, 1, 0);
    rl_tensor *want[3] = {NULL};
    for (int t = 1; t <= 3; t++) {
        rl_pool_set_threads(t);
        rl_tensor *r[3] = {NULL};
        CHECK_OK(rl_reduce_dim(&r[0], RL_RSUM, a, 0, false));  /* by slices */
        CHECK_OK(rl_reduce_dim(&r[1], RL_RSUM, a, 1, false));  /* one walk per row */
        CHECK_OK(rl_reduce_arg_dim(NULL, &r[2], RL_RMAX, a, 0, false, 0));
        for (int k = 0; k < 3; k++) {
            if (t == 1) want[k] = r[k];
            else {
                CHECK_MSG(same_bits(r[k], want[k]), "dim reduction %d: %d threads differ from 1", k, t);
                rl_tensor_release(r[k]);
            }
        }
    }
    if (want[0])
        for (int64_t j = 0; j < cols; j++) {
            double s = 0;
            for (int64_t i = 0; i < rows; i++) s += tu_get(a, IDX(i, j));
            float got = ((float *)rl_tensor_data(want[0]))[j];
            if (got != (float)s) {
                CHECK_MSG(false, "column %lld: %.9g, want %.9g", (long long)j, got, (float)s);
                break;
            }
        }
    for (int k = 0; k < 3; k++) rl_tensor_release(want[k]);
    rl_tensor_release(a);
    rl_pool_set_threads(saved);
}

/* ---- optimizer updates ---- */

static void test_optim_same_bits_at_any_thread_count(void)
{
    int saved = rl_pool_threads();
    static const rl_optim_kind kinds[] = {RL_OPTIM_SGD, RL_OPTIM_ADAM, RL_OPTIM_RMSPROP};
    int64_t n = 3 * RL_GRAIN_MEDIUM + 5;
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        rl_optim_config c = {.kind = kinds[k], .lr = 0.01, .momentum = 0.9, .beta1 = 0.9, .beta2 = 0.999,
                             .eps = 1e-8, .alpha = 0.99, .weight_decay = 0.01};
        rl_tensor *want = NULL;
        for (int t = 1; t <= 3; t++) {
            rl_pool_set_threads(t);
            /* a (n) parameter and a transposed (strided) one */
            rl_tensor *p = tu_rand(RL_FLOAT32, 1, &n, 11, -1, 1, 0), *g = tu_rand(RL_FLOAT32, 1, &n, 12, -1, 1, 0);
            rl_tensor *q0 = tu_rand(RL_FLOAT64, DIMS(211, 311), 13, -1, 1, 0), *q = NULL;
            rl_tensor *gq = tu_rand(RL_FLOAT64, DIMS(311, 211), 14, -1, 1, 0);
            REQUIRE_OK(rl_tensor_transpose(&q, q0, 0, 1));
            const char *names[RL_OPTIM_MAX_STATE];
            rl_optim_state_names(&c, names);
            rl_optim_slot s[2] = {{.param = p, .grad = g, .step = 1, .fresh = true},
                                  {.param = q, .grad = gq, .step = 1, .fresh = true}};
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < RL_OPTIM_MAX_STATE; j++)
                    if (names[j]) CHECK_OK(rl_optim_new_state(&s[i].state[j], &c, j, s[i].param));
            for (int step = 1; step <= 3; step++) {
                s[0].step = s[1].step = step;
                CHECK_OK(rl_optim_step(&c, s, 2));
                s[0].fresh = s[1].fresh = false;
            }
            rl_tensor *qc = NULL;
            CHECK_OK(rl_tensor_clone(&qc, q));
            if (t == 1) want = p;
            else {
                CHECK_MSG(same_bits(p, want), "%s: %d threads differ from 1", rl_optim_kind_name(kinds[k]), t);
                rl_tensor_release(p);
            }
            static rl_tensor *want_q;
            if (t == 1) want_q = qc;
            else {
                CHECK_MSG(same_bits(qc, want_q), "%s (strided): %d threads differ from 1",
                          rl_optim_kind_name(kinds[k]), t);
                rl_tensor_release(qc);
            }
            if (t == 3) rl_tensor_release(want_q);
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < RL_OPTIM_MAX_STATE; j++) rl_tensor_release(s[i].state[j]);
            rl_tensor_release(g);
            rl_tensor_release(q);
            rl_tensor_release(q0);
            rl_tensor_release(gq);
        }
        rl_tensor_release(want);
    }
    rl_pool_set_threads(saved);
}

void suite_threads(void)
{
    TH_RUN(test_iter_range_matches_the_whole_walk);
    TH_RUN(test_elementwise_same_bits_at_any_thread_count);
    TH_RUN(test_elementwise_strided_and_broadcast_split);
    TH_RUN(test_fresh_outputs_same_bits);
    TH_RUN(test_reduce_all_independent_of_threads);
    TH_RUN(test_reduce_all_nan_in_a_later_block);
    TH_RUN(test_reduce_dim_same_bits);
    TH_RUN(test_optim_same_bits_at_any_thread_count);
}
