/* test_iter.c — broadcasting rules, dim merging and traversal order of the
 * strided iterator (core/iter.c). */
#include "suites.h"
#include "testutil.h"
#include "../../core/iter.h"

#include <stdlib.h>

static void check_broadcast(int line, int an, const int64_t *as, int bn, const int64_t *bs, int wn,
                            const int64_t *ws)
{
    int n = -1;
    int64_t out[RL_MAX_DIMS];
    rl_status st = rl_broadcast_shape("test", an, as, bn, bs, &n, out);
    if (st != RL_OK) {
        th_fail(__FILE__, line, "broadcast failed: %s", rl_last_error());
        return;
    }
    bool same = n == wn;
    for (int i = 0; same && i < n; i++) same = out[i] == ws[i];
    char s1[RL_SHAPE_BUF], s2[RL_SHAPE_BUF];
    if (!same)
        th_fail(__FILE__, line, "broadcast gave %s, want %s", rl_shape_str(s1, sizeof s1, n, out),
                rl_shape_str(s2, sizeof s2, wn, ws));
}

static void test_broadcast_shape_rules(void)
{
    check_broadcast(__LINE__, DIMS(3, 1, 5), DIMS(4, 5), DIMS(3, 4, 5));
    check_broadcast(__LINE__, DIMS(4, 5), DIMS(3, 1, 5), DIMS(3, 4, 5));
    check_broadcast(__LINE__, 0, NULL, DIMS(2, 3), DIMS(2, 3));
    check_broadcast(__LINE__, DIMS(2, 3), 0, NULL, DIMS(2, 3));
    check_broadcast(__LINE__, 0, NULL, 0, NULL, 0, NULL);
    check_broadcast(__LINE__, DIMS(1), DIMS(0), DIMS(0));
    check_broadcast(__LINE__, DIMS(2, 0), DIMS(2, 1), DIMS(2, 0));
    check_broadcast(__LINE__, DIMS(1, 1, 1), DIMS(7), DIMS(1, 1, 7));
    check_broadcast(__LINE__, DIMS(8, 1, 6, 1), DIMS(7, 1, 5), DIMS(8, 7, 6, 5));

    int n;
    int64_t out[RL_MAX_DIMS];
    CHECK_STATUS(rl_broadcast_shape("add", DIMS(3, 4), DIMS(5, 4), &n, out), RL_ERR_SHAPE);
    CHECK_CONTAINS(rl_last_error(), "add");
    CHECK_CONTAINS(rl_last_error(), "(3,4)");
    CHECK_CONTAINS(rl_last_error(), "(5,4)");
    CHECK_STATUS(rl_broadcast_shape("mul", DIMS(2, 3), DIMS(2), &n, out), RL_ERR_SHAPE);
    CHECK_CONTAINS(rl_last_error(), "(2,3)");
    CHECK_CONTAINS(rl_last_error(), "(2)");
    CHECK_STATUS(rl_broadcast_shape("sub", DIMS(0), DIMS(2), &n, out), RL_ERR_SHAPE);
}

/* records, per call of the callback, the run length and every element address */
typedef struct {
    int nops;
    int64_t count, cap;
    char **addr; /* count * nops */
    int calls;
} trace;

static void record(void *vctx, int64_t n, char **p, const int64_t *s)
{
    trace *tr = vctx;
    tr->calls++;
    for (int64_t i = 0; i < n; i++) {
        if (tr->count >= tr->cap) return;
        for (int k = 0; k < tr->nops; k++) tr->addr[tr->count * tr->nops + k] = p[k] + i * s[k];
        tr->count++;
    }
}

static char *naive_addr(const rl_tensor *t, int ndim, const int64_t *idx)
{
    int64_t off = t->offset;
    for (int d = 0; d < t->ndim; d++) {
        int od = ndim - t->ndim + d;
        off += (t->shape[d] == 1 ? 0 : idx[od]) * t->stride[d];
    }
    return (char *)t->storage->data + off * (int64_t)rl_dtype_size(t->dtype);
}

/* Runs the iterator over ops broadcast to shape and compares every visited
 * address with the naive row-major walk; checks the merged ndim. */
static void check_walk(int line, const char *what, int nops, const rl_tensor *const *ops, int ndim,
                       const int64_t *shape, int want_merged_ndim)
{
    rl_iter it;
    rl_status st = rl_iter_init(&it, "walk", nops, ops, ndim, shape);
    if (st) {
        th_fail(__FILE__, line, "%s: iter_init failed: %s", what, rl_last_error());
        return;
    }
    if (want_merged_ndim > 0 && it.ndim != want_merged_ndim)
        th_fail(__FILE__, line, "%s: merged to %d dims, want %d", what, it.ndim, want_merged_ndim);
    int64_t n = tu_numel(ndim, shape);
    trace tr = {nops, 0, n + 1, calloc((size_t)(n + 1) * (size_t)nops, sizeof(char *)), 0};
    rl_iter_run(&it, record, &tr);
    if (tr.count != n) th_fail(__FILE__, line, "%s: visited %lld elements, want %lld", what, (long long)tr.count, (long long)n);
    int64_t idx[RL_MAX_DIMS] = {0}, e = 0;
    int bad = 0;
    if (n > 0 && tr.count == n) do {
            for (int k = 0; k < nops; k++)
                if (tr.addr[e * nops + k] != naive_addr(ops[k], ndim, idx) && bad++ < 3)
                    th_fail(__FILE__, line, "%s: element %lld of operand %d at the wrong address", what, (long long)e, k);
            e++;
        } while (tu_next(ndim, shape, idx));
    free(tr.addr);
}

static void test_iter_merges_contiguous_dims(void)
{
    rl_tensor *a, *b;
    REQUIRE_OK(rl_tensor_zeros(&a, RL_FLOAT64, DIMS(2, 3, 4)));
    REQUIRE_OK(rl_tensor_zeros(&b, RL_FLOAT32, DIMS(2, 3, 4)));
    const rl_tensor *ops[2] = {a, b};
    check_walk(__LINE__, "contiguous pair (mixed dtypes)", 2, ops, DIMS(2, 3, 4), 1);
    rl_iter it;
    REQUIRE_OK(rl_iter_init(&it, "t", 2, ops, DIMS(2, 3, 4)));
    CHECK_EQ_INT(it.shape[0], 24);
    CHECK_EQ_INT(it.stride[0][0], 8);
    CHECK_EQ_INT(it.stride[1][0], 4);
    /* size-1 dims are dropped before merging */
    rl_tensor *v;
    REQUIRE_OK(rl_tensor_view(&v, a, DIMS(2, 1, 3, 1, 4)));
    const rl_tensor *ops1[1] = {v};
    check_walk(__LINE__, "with size-1 dims", 1, ops1, DIMS(2, 1, 3, 1, 4), 1);
    rl_tensor_release(v);
    rl_tensor_release(b);
    rl_tensor_release(a);
}

static void test_iter_on_permuted_and_narrowed_views(void)
{
    rl_tensor *base, *p, *n, *out;
    REQUIRE_OK(rl_tensor_zeros(&base, RL_FLOAT64, DIMS(4, 5, 6)));
    /* narrowing the last dim: the outer two still merge -> (20, 3) */
    REQUIRE_OK(rl_tensor_narrow(&n, base, 2, 1, 3));
    REQUIRE_OK(rl_tensor_zeros(&out, RL_FLOAT64, DIMS(4, 5, 3)));
    const rl_tensor *o1[2] = {out, n};
    check_walk(__LINE__, "narrow last dim", 2, o1, DIMS(4, 5, 3), 2);
    const rl_tensor *o1b[1] = {n};
    check_walk(__LINE__, "narrow last dim alone", 1, o1b, DIMS(4, 5, 3), 2);
    rl_tensor_release(out);
    rl_tensor_release(n);
    /* narrowing the outer dim keeps everything contiguous */
    REQUIRE_OK(rl_tensor_narrow(&n, base, 0, 1, 2));
    const rl_tensor *o2[1] = {n};
    check_walk(__LINE__, "narrow first dim", 1, o2, DIMS(2, 5, 6), 1);
    rl_tensor_release(n);
    /* permuted: nothing merges, but the walk is still row-major in the view */
    REQUIRE_OK(rl_tensor_permute(&p, base, (const int[]){2, 0, 1})); /* (6,4,5) */
    REQUIRE_OK(rl_tensor_zeros(&out, RL_FLOAT32, DIMS(6, 4, 5)));
    const rl_tensor *o3[2] = {out, p};
    check_walk(__LINE__, "permuted vs contiguous", 2, o3, DIMS(6, 4, 5), 2); /* (4,5) merge in both */
    const rl_tensor *o3b[1] = {p};
    check_walk(__LINE__, "permuted alone", 1, o3b, DIMS(6, 4, 5), 2);
    rl_tensor_release(out);
    /* permuted then narrowed in the middle */
    REQUIRE_OK(rl_tensor_narrow(&n, p, 1, 1, 2)); /* (6,2,5) */
    const rl_tensor *o4[1] = {n};
    check_walk(__LINE__, "permuted+narrowed", 1, o4, DIMS(6, 2, 5), 2);
    rl_tensor_release(n);
    REQUIRE_OK(rl_tensor_permute(&n, base, (const int[]){1, 0, 2})); /* (5,4,6) */
    const rl_tensor *o5[1] = {n};
    check_walk(__LINE__, "swap outer dims", 1, o5, DIMS(5, 4, 6), 3);
    rl_tensor_release(n);
    rl_tensor_release(p);
    rl_tensor_release(base);
}

static void test_iter_broadcast_operands(void)
{
    rl_tensor *out, *row, *col, *s;
    REQUIRE_OK(rl_tensor_zeros(&out, RL_FLOAT64, DIMS(3, 4, 5)));
    REQUIRE_OK(rl_tensor_zeros(&row, RL_FLOAT64, DIMS(5)));
    REQUIRE_OK(rl_tensor_zeros(&col, RL_FLOAT64, DIMS(4, 1)));
    REQUIRE_OK(rl_tensor_zeros(&s, RL_FLOAT64, 0, NULL));
    const rl_tensor *ops[4] = {out, row, col, s};
    check_walk(__LINE__, "row, column and scalar", 4, ops, DIMS(3, 4, 5), 0);
    /* an operand broadcast in every dim merges with a contiguous one */
    const rl_tensor *o2[2] = {out, s};
    check_walk(__LINE__, "scalar", 2, o2, DIMS(3, 4, 5), 1);
    /* a row repeats: the output's dims cannot merge across the repeat */
    const rl_tensor *o3[2] = {out, row};
    check_walk(__LINE__, "row", 2, o3, DIMS(3, 4, 5), 2);
    /* expanded view (stride 0) as the operand */
    rl_tensor *e;
    REQUIRE_OK(rl_tensor_expand(&e, col, DIMS(3, 4, 5)));
    const rl_tensor *o4[2] = {out, e};
    check_walk(__LINE__, "expanded", 2, o4, DIMS(3, 4, 5), 0);
    rl_tensor_release(e);

    rl_iter it;
    rl_tensor *bad;
    REQUIRE_OK(rl_tensor_zeros(&bad, RL_FLOAT64, DIMS(3, 5)));
    const rl_tensor *o5[2] = {out, bad};
    CHECK_STATUS(rl_iter_init(&it, "fuse", 2, o5, DIMS(3, 4, 5)), RL_ERR_SHAPE);
    CHECK_CONTAINS(rl_last_error(), "fuse");
    CHECK_CONTAINS(rl_last_error(), "(3,5)");
    CHECK_CONTAINS(rl_last_error(), "(3,4,5)");
    const rl_tensor *o6[1] = {out}; /* more dims than the iteration shape */
    CHECK_STATUS(rl_iter_init(&it, "fuse", 1, o6, DIMS(4, 5)), RL_ERR_SHAPE);
    CHECK_CONTAINS(rl_last_error(), "(3,4,5)");
    rl_tensor_release(bad);
    rl_tensor_release(s);
    rl_tensor_release(col);
    rl_tensor_release(row);
    rl_tensor_release(out);
}

static void test_iter_empty_and_zero_d(void)
{
    rl_tensor *e, *s;
    REQUIRE_OK(rl_tensor_zeros(&e, RL_FLOAT64, DIMS(3, 0, 2)));
    REQUIRE_OK(rl_tensor_zeros(&s, RL_FLOAT64, 0, NULL));
    rl_iter it;
    const rl_tensor *o1[1] = {e};
    REQUIRE_OK(rl_iter_init(&it, "t", 1, o1, DIMS(3, 0, 2)));
    trace tr = {1, 0, 0, NULL, 0};
    rl_iter_run(&it, record, &tr);
    CHECK_EQ_INT(tr.calls, 0);
    /* an empty shape of size-1 dims otherwise: (1,0) */
    rl_tensor *e2;
    REQUIRE_OK(rl_tensor_zeros(&e2, RL_FLOAT64, DIMS(1, 0)));
    const rl_tensor *o3[1] = {e2};
    REQUIRE_OK(rl_iter_init(&it, "t", 1, o3, DIMS(1, 0)));
    rl_iter_run(&it, record, &tr);
    CHECK_EQ_INT(tr.calls, 0);
    rl_tensor_release(e2);
    const rl_tensor *o2[1] = {s};
    check_walk(__LINE__, "0-d", 1, o2, 0, NULL, 1);
    check_walk(__LINE__, "0-d into (1,1)", 1, o2, DIMS(1, 1), 1);
    rl_tensor_release(s);
    rl_tensor_release(e);
}

void suite_iter(void)
{
    TH_RUN(test_broadcast_shape_rules);
    TH_RUN(test_iter_merges_contiguous_dims);
    TH_RUN(test_iter_on_permuted_and_narrowed_views);
    TH_RUN(test_iter_broadcast_operands);
    TH_RUN(test_iter_empty_and_zero_d);
}
