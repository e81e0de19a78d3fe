/* grad_linalg.c — differentiable matmul:
 *   out = a b  ->  da = g b^T,  db = a^T g
 * with 1-d operands promoted to a row (a) or a column (b) and batch dims
 * broadcast (the tape sums the gradient back over them). */
#include "autograd.h"
#include "blas.h"
#include "lowrank.h"

#define TRY(expr)                                                                      \
    do {                                                                               \
        if ((st = (expr)) != RL_OK) goto done;                                         \
    } while (0)

static rl_status matmul_backward(rl_node *n, rl_tensor *const *grad_out, rl_tensor **grad_in)
{
    const rl_tensor *a = n->saved[0], *b = n->saved[1], *g = grad_out[0];
    bool a_vec = a->ndim == 1, b_vec = b->ndim == 1;
    rl_tensor *a2 = NULL, *b2 = NULL, *g2 = NULL, *at = NULL, *bt = NULL, *r = NULL;
    rl_status st = RL_OK;
    TRY(a_vec ? rl_tensor_unsqueeze(&a2, a, 0) : rl_tensor_alias(&a2, a));
    TRY(b_vec ? rl_tensor_unsqueeze(&b2, b, 1) : rl_tensor_alias(&b2, b));
    /* g has the product's shape with the promoted dims dropped: put them back */
    TRY(rl_tensor_alias(&g2, g));
    if (a_vec) {
        rl_tensor *u = NULL;
        TRY(rl_tensor_unsqueeze(&u, g2, b_vec ? 0 : g2->ndim - 1));
        rl_tensor_release(g2);
        g2 = u;
    }
    if (b_vec) {
        rl_tensor *u = NULL;
        TRY(rl_tensor_unsqueeze(&u, g2, g2->ndim));
        rl_tensor_release(g2);
        g2 = u;
    }
    /* 2-d by 2-d: a gradient already held is added to by GEMM (beta = 1),
     * as for a weight multiplied at every step of a loop */
    bool plain = a->ndim == 2 && b->ndim == 2;
    rl_tensor *sink;
    if (plain && rl_node_needs(n, 0) && (sink = rl_backward_sink(n, 0))) {
        /* (n,k) += (n,m) (m,k) = (g^T)^T b^T: of rank m */
        TRY(rl_tensor_transpose(&at, g2, 0, 1));
        TRY(rl_tensor_transpose(&bt, b2, 0, 1));
        TRY(rl_lowrank_add(sink, at, bt));
        rl_tensor_release(at);
        rl_tensor_release(bt);
        at = bt = NULL;
    } else if (rl_node_needs(n, 0)) {
        TRY(rl_tensor_transpose(&bt, b2, b2->ndim - 2, b2->ndim - 1));
        TRY(rl_matmul(&r, g2, bt));
        if (a_vec) TRY(rl_tensor_squeeze(&grad_in[0], r, r->ndim - 2));
        else {
            grad_in[0] = r;
            r = NULL;
        }
        rl_tensor_release(r);
        r = NULL;
    }
    if (plain && rl_node_needs(n, 1) && (sink = rl_backward_sink(n, 1))) {
        TRY(rl_lowrank_add(sink, a2, g2)); /* (k,m) += (n,k)^T (n,m): of rank n, the batch */
    } else if (rl_node_needs(n, 1)) {
        TRY(rl_tensor_transpose(&at, a2, a2->ndim - 2, a2->ndim - 1));
        TRY(rl_matmul(&r, at, g2));
        if (b_vec) TRY(rl_tensor_squeeze(&grad_in[1], r, r->ndim - 1));
        else {
            grad_in[1] = r;
            r = NULL;
        }
    }
done:
    rl_tensor_release(a2);
    rl_tensor_release(b2);
    rl_tensor_release(g2);
    rl_tensor_release(at);
    rl_tensor_release(bt);
    rl_tensor_release(r);
    return st;
}

rl_status rl_ag_matmul(rl_tensor **out, rl_tensor *a, rl_tensor *b)
{
    rl_status st = rl_matmul(out, a, b);
    if (st) return st;
    rl_tensor *inputs[2] = {a, b};
    const rl_tensor *saved[2] = {a, b};
    return rl_record(out, "matmul", matmul_backward, 2, inputs, 2, saved, NULL);
}

/* ---- linear: out (N,O) = x (N,I) w^T + b, w (O,I), b (O) or none ----
 *   dx = g w,  dw = g^T x,  db = the sum of g's rows
 * One node where matmul(x, w:t()) + b would record three: a weight used at
 * every step of a loop then has its gradient added into the one already
 * held (rl_backward_sink), in panels for small batches (lowrank.h). */

static rl_status linear_backward(rl_node *n, rl_tensor *const *grad_out, rl_tensor **grad_in)
{
    const rl_tensor *x = n->saved[0], *w = n->saved[1], *g = grad_out[0];
    rl_status st = RL_OK;
    rl_tensor *sink;
    if (rl_node_needs(n, 0)) {
        int64_t shape[2] = {x->shape[0], x->shape[1]};
        TRY(rl_tensor_empty(&grad_in[0], x->dtype, 2, shape));
        TRY(rl_gemm(grad_in[0], g, false, w, false, 1.0, 0.0)); /* (N,I) = (N,O) (O,I) */
    }
    if (rl_node_needs(n, 1)) {
        if ((sink = rl_backward_sink(n, 1))) {
            TRY(rl_lowrank_add(sink, g, x)); /* (O,I) += (N,O)^T (N,I) */
        } else {
            int64_t shape[2] = {w->shape[0], w->shape[1]};
            TRY(rl_tensor_empty(&grad_in[1], w->dtype, 2, shape));
            TRY(rl_gemm(grad_in[1], g, true, x, false, 1.0, 0.0));
        }
    }
    if (n->nin > 2 && rl_node_needs(n, 2)) TRY(rl_reduce_dim(&grad_in[2], RL_RSUM, g, 0, false));
done:
    return st;
}

rl_status rl_ag_linear(rl_tensor **out, rl_tensor *x, rl_tensor *w, rl_tensor *b)
{
    char s1[RL_SHAPE_BUF], s2[RL_SHAPE_BUF], s3[RL_SHAPE_BUF];
    if (x->dtype != w->dtype || (b && b->dtype != x->dtype) || x->dtype == RL_INT64)
        return rl_fail(RL_ERR_DTYPE, "linear: dtypes %s, %s%s%s (need all float32 or all float64)",
                       rl_dtype_name(x->dtype), rl_dtype_name(w->dtype), b ? " and " : "",
                       b ? rl_dtype_name(b->dtype) : "");
    if (x->ndim != 2 || w->ndim != 2 || x->shape[1] != w->shape[1] || (b && (b->ndim != 1 || b->shape[0] != w->shape[0])))
        return rl_fail(RL_ERR_SHAPE, "linear: input %s, weight %s and bias %s do not fit (need (N,I), (O,I), (O))",
                       rl_shape_str(s1, sizeof s1, x->ndim, x->shape), rl_shape_str(s2, sizeof s2, w->ndim, w->shape),
                       b ? rl_shape_str(s3, sizeof s3, b->ndim, b->shape) : "none");
    int64_t shape[2] = {x->shape[0], w->shape[0]};
    rl_status st = rl_tensor_empty(out, x->dtype, 2, shape);
    if (st) return st;
    if (b) st = rl_tensor_copy_(*out, b); /* every row starts as b */
    if (st == RL_OK) st = rl_gemm(*out, x, false, w, true, 1.0, b ? 1.0 : 0.0);
    if (st) {
        rl_tensor_release(*out);
        *out = NULL;
        return st;
    }
    rl_tensor *inputs[3] = {x, w, b};
    const rl_tensor *saved[2] = {x, w};
    return rl_record(out, "linear", linear_backward, b ? 3 : 2, inputs, 2, saved, NULL);
}
