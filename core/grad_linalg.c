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
