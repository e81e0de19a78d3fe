/* grad_reduce.c — differentiable reductions: sum, mean, prod, max, min over
 * everything or one dimension. */
#include "autograd.h"
#include "index.h"

#include <string.h>

#define TRY(expr)                                                                      \
    do {                                                                               \
        if ((st = (expr)) != RL_OK) goto done;                                         \
    } while (0)

/* g (the reduced shape, dim kept or not) brought back to a's shape: a view
 * with stride 0 along the reduced dims, scaled when scale != 1. */
static rl_status spread(rl_tensor **out, const rl_tensor *g, const rl_node_output *a, int dim, bool keepdim, double scale)
{
    rl_tensor *k = NULL, *e = NULL;
    rl_status st = RL_OK;
    if (dim >= 0 && !keepdim) TRY(rl_tensor_unsqueeze(&k, g, dim));
    else TRY(rl_tensor_alias(&k, g));
    if (dim < 0) { /* from a 0-d total */
        rl_tensor *r = NULL;
        int64_t ones[RL_MAX_DIMS];
        for (int i = 0; i < a->ndim; i++) ones[i] = 1;
        TRY(rl_tensor_reshape(&r, k, a->ndim, ones));
        rl_tensor_release(k);
        k = r;
    }
    TRY(rl_tensor_expand(&e, k, a->ndim, a->shape));
    if (scale != 1) TRY(rl_binary_scalar(out, RL_MUL, e, scale, false));
    else {
        *out = e;
        e = NULL;
    }
done:
    rl_tensor_release(k);
    rl_tensor_release(e);
    return st;
}

/* d prod / d a_i = prod of the others, computed per slice so that zeros
 * are handled: no zero -> out/a_i; one zero -> product of the rest at the
 * zero, 0 elsewhere; two or more -> 0. a is walked as (outer, len) slices. */
static rl_status prod_grad(rl_tensor **out, const rl_tensor *a, int dim)
{
    rl_status st = rl_tensor_zeros(out, a->dtype, a->ndim, a->shape);
    if (st) return st;
    int64_t len = a->shape[dim], slices = len ? rl_tensor_numel(a) / len : 0;
    int64_t pos[RL_MAX_DIMS] = {0};
    for (int64_t s = 0; s < slices; s++) {
        double nonzero = 1;
        int64_t zeros = 0, zero_at = -1;
        for (int64_t k = 0; k < len; k++) {
            pos[dim] = k;
            double v = rl_tensor_get(a, pos);
            if (v == 0) {
                zeros++;
                zero_at = k;
            } else {
                nonzero *= v;
            }
        }
        for (int64_t k = 0; k < len; k++) {
            pos[dim] = k;
            double v = rl_tensor_get(a, pos), d = 0;
            if (zeros == 0) d = nonzero / v;
            else if (zeros == 1 && k == zero_at) d = nonzero;
            rl_tensor_set(*out, pos, d);
        }
        pos[dim] = 0;
        for (int d = a->ndim - 1; d >= 0; d--) { /* next slice: odometer over the other dims */
            if (d == dim) continue;
            if (++pos[d] < a->shape[d]) break;
            pos[d] = 0;
        }
    }
    return RL_OK;
}

/* g spread over the positions equal to the extremum, shared evenly on ties
 * (as PyTorch's max() of everything) */
static rl_status extremum_all_grad(rl_tensor **out, const rl_tensor *g, const rl_tensor *a, const rl_tensor *value)
{
    rl_tensor *mask = NULL, *count = NULL, *share = NULL;
    rl_status st = RL_OK;
    TRY(rl_binary(&mask, RL_EQ, a, value));
    TRY(rl_reduce_all(&count, RL_RSUM, mask));
    TRY(rl_binary(&share, RL_DIV, g, count));
    TRY(rl_binary(out, RL_MUL, mask, share));
done:
    rl_tensor_release(mask);
    rl_tensor_release(count);
    rl_tensor_release(share);
    return st;
}

/* arg[0]: op, arg[1]: dim (-1: everything), arg[2]: keepdim */
static rl_status reduce_backward(rl_node *n, rl_tensor *const *grad_out, rl_tensor **grad_in)
{
    const rl_tensor *g = grad_out[0], *a = n->saved[0], *value = n->saved[1];
    rl_node_output shape; /* of the input */
    rl_node_input_meta(n, 0, &shape);
    int dim = (int)n->arg[1];
    bool keepdim = n->arg[2];
    rl_tensor *t = NULL, *spread_g = NULL;
    rl_status st = RL_OK;
    switch ((rl_reduce_op)n->arg[0]) {
    case RL_RSUM:
        TRY(spread(&grad_in[0], g, &shape, dim, keepdim, 1));
        break;
    case RL_RMEAN: {
        int64_t count = dim < 0 ? rl_shape_numel(shape.ndim, shape.shape) : shape.shape[dim];
        TRY(spread(&grad_in[0], g, &shape, dim, keepdim, count ? 1.0 / (double)count : 0));
        break;
    }
    case RL_RPROD:
        if (dim < 0) {
            rl_tensor *flat = NULL;
            int64_t numel = rl_tensor_numel(a);
            TRY(rl_tensor_reshape(&flat, a, 1, &numel));
            st = prod_grad(&t, flat, 0);
            rl_tensor_release(flat);
            if (st) goto done;
            rl_tensor *shaped = NULL;
            TRY(rl_tensor_reshape(&shaped, t, a->ndim, a->shape));
            rl_tensor_release(t);
            t = shaped;
        } else {
            TRY(prod_grad(&t, a, dim));
        }
        TRY(spread(&spread_g, g, &shape, dim, keepdim, 1));
        TRY(rl_binary(&grad_in[0], RL_MUL, spread_g, t));
        break;
    case RL_RMAX:
    case RL_RMIN: /* only the everything-reduction comes here; along a dim see arg_backward */
        TRY(extremum_all_grad(&grad_in[0], g, a, value));
        break;
    }
done:
    rl_tensor_release(t);
    rl_tensor_release(spread_g);
    return st;
}

static rl_status record_reduce(rl_tensor **out, rl_reduce_op op, rl_tensor *a, int dim, bool keepdim)
{
    bool extremum = op == RL_RMAX || op == RL_RMIN;
    /* sum and mean need only a's shape, which the node knows */
    const rl_tensor *saved[2] = {extremum || op == RL_RPROD ? a : NULL, extremum ? *out : NULL};
    rl_node *n;
    rl_status st = rl_record(out, rl_reduce_name(op), reduce_backward, 1, &a, 2, saved, &n);
    if (n) {
        n->arg[0] = op;
        n->arg[1] = dim;
        n->arg[2] = keepdim;
    }
    return st;
}

rl_status rl_ag_reduce_all(rl_tensor **out, rl_reduce_op op, rl_tensor *a)
{
    rl_status st = rl_reduce_all(out, op, a);
    if (st) return st;
    return record_reduce(out, op, a, -1, false);
}

rl_status rl_ag_reduce_dim(rl_tensor **out, rl_reduce_op op, rl_tensor *a, int dim, bool keepdim)
{
    if (op == RL_RMAX || op == RL_RMIN) {
        rl_tensor *idx = NULL;
        rl_status st = rl_ag_reduce_arg_dim(out, &idx, op, a, dim, keepdim, 0);
        rl_tensor_release(idx);
        return st;
    }
    rl_status st = rl_reduce_dim(out, op, a, dim, keepdim);
    if (st) return st;
    return record_reduce(out, op, a, dim, keepdim);
}

/* max/min along dim: the gradient goes to the chosen position of each slice */
static rl_status arg_backward(rl_node *n, rl_tensor *const *grad_out, rl_tensor **grad_in)
{
    int dim = (int)n->arg[0];
    bool keepdim = n->arg[1];
    rl_node_output a;
    rl_node_input_meta(n, 0, &a);
    rl_tensor *g = NULL, *ix = NULL;
    rl_status st = RL_OK;
    if (keepdim) {
        TRY(rl_tensor_alias(&g, grad_out[0]));
        TRY(rl_tensor_alias(&ix, n->saved[0]));
    } else {
        TRY(rl_tensor_unsqueeze(&g, grad_out[0], dim));
        TRY(rl_tensor_unsqueeze(&ix, n->saved[0], dim));
    }
    TRY(rl_tensor_zeros(&grad_in[0], a.dtype, a.ndim, a.shape));
    TRY(rl_scatter_add_(grad_in[0], dim, ix, g, 0));
done:
    rl_tensor_release(g);
    rl_tensor_release(ix);
    return st;
}

rl_status rl_ag_reduce_arg_dim(rl_tensor **values, rl_tensor **indices, rl_reduce_op op, rl_tensor *a, int dim,
                               bool keepdim, int64_t base)
{
    /* the backward keeps the 0-based positions; the caller gets base-based ones */
    rl_tensor *pos = NULL;
    rl_status st = rl_reduce_arg_dim(values, &pos, op, a, dim, keepdim, 0);
    if (st) return st;
    const rl_tensor *saved[1] = {pos};
    rl_node *n;
    st = rl_record(values, op == RL_RMAX ? "max" : "min", arg_backward, 1, &a, 1, saved, &n);
    if (n) {
        n->arg[0] = dim;
        n->arg[1] = keepdim;
    }
    if (st == RL_OK && base != 0) {
        rl_tensor *shifted = NULL;
        st = rl_binary_scalar(&shifted, RL_ADD, pos, (double)base, false);
        rl_tensor_release(pos);
        pos = shifted;
        if (st) {
            rl_tensor_release(*values);
            *values = NULL;
        }
    }
    if (st) {
        rl_tensor_release(pos);
        return st;
    }
    *indices = pos;
    return RL_OK;
}
