/* grad_nn.c — softmax, log_softmax and the losses that need their own
 * backward: nll (class indices, ignore_index) and binary cross-entropy with
 * logits (the stable form, with the exact gradient at 0). */
#include "autograd.h"

#include <math.h>
#include <string.h>

#define TRY(expr)                                                                      \
    do {                                                                               \
        if ((st = (expr)) != RL_OK) goto done;                                         \
    } while (0)

/* ---- softmax and log_softmax along dim (max subtracted for stability) ---- */

static rl_status log_softmax_forward(rl_tensor **out, const rl_tensor *a, int dim, bool log_space)
{
    rl_tensor *mx = NULL, *shifted = NULL, *e = NULL, *s = NULL;
    rl_status st = RL_OK;
    *out = NULL;
    TRY(rl_reduce_dim(&mx, RL_RMAX, a, dim, true));
    TRY(rl_binary(&shifted, RL_SUB, a, mx));
    TRY(rl_unary(&e, RL_EXP, shifted));
    TRY(rl_reduce_dim(&s, RL_RSUM, e, dim, true));
    if (log_space) {
        TRY(rl_unary_into(s, RL_LOG, s));
        TRY(rl_binary(out, RL_SUB, shifted, s));
    } else {
        TRY(rl_binary(out, RL_DIV, e, s));
    }
done:
    rl_tensor_release(mx);
    rl_tensor_release(shifted);
    rl_tensor_release(e);
    rl_tensor_release(s);
    return st;
}

/* softmax: da = y (g - sum(g y)); log_softmax: da = g - exp(y) sum(g) */
static rl_status softmax_backward(rl_node *n, rl_tensor *const *grad_out, rl_tensor **grad_in)
{
    const rl_tensor *y = n->saved[0], *g = grad_out[0];
    int dim = (int)n->arg[0];
    bool log_space = n->arg[1];
    rl_tensor *t = NULL, *s = NULL, *p = NULL;
    rl_status st = RL_OK;
    if (log_space) {
        TRY(rl_reduce_dim(&s, RL_RSUM, g, dim, true));
        TRY(rl_unary(&p, RL_EXP, y));
        TRY(rl_binary(&t, RL_MUL, p, s));
        TRY(rl_binary(&grad_in[0], RL_SUB, g, t));
    } else {
        TRY(rl_binary(&t, RL_MUL, g, y));
        TRY(rl_reduce_dim(&s, RL_RSUM, t, dim, true));
        TRY(rl_binary(&p, RL_SUB, g, s));
        TRY(rl_binary(&grad_in[0], RL_MUL, y, p));
    }
done:
    rl_tensor_release(t);
    rl_tensor_release(s);
    rl_tensor_release(p);
    return st;
}

static rl_status softmax_op(rl_tensor **out, rl_tensor *a, int dim, bool log_space)
{
    const char *name = log_space ? "log_softmax" : "softmax";
    if (a->dtype == RL_INT64) return rl_fail(RL_ERR_DTYPE, "%s: not defined for int64 tensors", name);
    if (dim < 0 || dim >= a->ndim)
        return rl_fail(RL_ERR_INDEX, "%s: dimension %d out of range for a %d-d tensor", name, dim + 1, a->ndim);
    rl_status st = log_softmax_forward(out, a, dim, log_space);
    if (st) return st;
    const rl_tensor *saved[1] = {*out};
    rl_node *n;
    st = rl_record(out, name, softmax_backward, 1, &a, 1, saved, &n);
    if (n) {
        n->arg[0] = dim;
        n->arg[1] = log_space;
    }
    return st;
}

rl_status rl_ag_softmax(rl_tensor **out, rl_tensor *a, int dim) { return softmax_op(out, a, dim, false); }
rl_status rl_ag_log_softmax(rl_tensor **out, rl_tensor *a, int dim) { return softmax_op(out, a, dim, true); }

/* ---- nll ---- */

static rl_status reduction_output(rl_tensor **out, rl_dtype dt, rl_reduction red, int64_t n)
{
    return red == RL_REDUCE_NONE ? rl_tensor_zeros(out, dt, 1, &n) : rl_tensor_zeros(out, dt, 0, NULL);
}

/* arg: base, reduction, ignore_index, has_ignore; scalar[0]: the count the mean divided by */
static rl_status nll_backward(rl_node *n, rl_tensor *const *grad_out, rl_tensor **grad_in)
{
    const rl_tensor *target = n->saved[0];
    rl_node_output in;
    rl_node_input_meta(n, 0, &in);
    rl_status st = rl_tensor_zeros(&grad_in[0], in.dtype, in.ndim, in.shape);
    if (st) return st;
    int64_t rows = in.shape[0], base = n->arg[0], ignore = n->arg[2];
    rl_reduction red = (rl_reduction)n->arg[1];
    bool has_ignore = n->arg[3];
    for (int64_t i = 0; i < rows; i++) {
        int64_t c = *(const int64_t *)rl_tensor_ptr(target, &i);
        if (has_ignore && c == ignore) continue;
        int64_t zero = 0;
        double g = red == RL_REDUCE_NONE ? rl_tensor_get(grad_out[0], &i) : rl_tensor_get(grad_out[0], &zero);
        if (red == RL_REDUCE_MEAN) g /= n->scalar[0];
        int64_t at[2] = {i, c - base};
        rl_tensor_set(grad_in[0], at, -g);
    }
    return RL_OK;
}

rl_status rl_ag_nll(rl_tensor **out, rl_tensor *logp, rl_tensor *target, int64_t base, rl_reduction red,
                    int64_t ignore_index, bool has_ignore)
{
    char s1[RL_SHAPE_BUF], s2[RL_SHAPE_BUF];
    if (logp->dtype == RL_INT64) return rl_fail(RL_ERR_DTYPE, "nll: the input must be float32 or float64, got int64");
    if (target->dtype != RL_INT64)
        return rl_fail(RL_ERR_DTYPE, "nll: targets must be an int64 tensor of class indices, got %s",
                       rl_dtype_name(target->dtype));
    if (logp->ndim != 2 || target->ndim != 1 || target->shape[0] != logp->shape[0])
        return rl_fail(RL_ERR_SHAPE, "nll: input %s and targets %s: expected (N,C) and (N)",
                       rl_shape_str(s1, sizeof s1, logp->ndim, logp->shape),
                       rl_shape_str(s2, sizeof s2, target->ndim, target->shape));
    int64_t rows = logp->shape[0], classes = logp->shape[1], counted = 0;
    double total = 0;
    rl_status st = reduction_output(out, logp->dtype, red, rows);
    if (st) return st;
    for (int64_t i = 0; i < rows; i++) {
        int64_t c = *(const int64_t *)rl_tensor_ptr(target, &i);
        if (has_ignore && c == ignore_index) continue;
        if (c < base || c >= base + classes) {
            rl_tensor_release(*out);
            *out = NULL;
            return rl_fail(RL_ERR_INDEX, "nll: target %lld at position %lld is not a class in %lld..%lld",
                           (long long)c, (long long)(i + base), (long long)base, (long long)(base + classes - 1));
        }
        int64_t at[2] = {i, c - base};
        double loss = -rl_tensor_get(logp, at);
        if (red == RL_REDUCE_NONE) rl_tensor_set(*out, &i, loss);
        total += loss;
        counted++;
    }
    if (red != RL_REDUCE_NONE) {
        /* a mean over no counted entries is 0/0 = NaN, as PyTorch */
        double v = red == RL_REDUCE_SUM ? total : total / (double)counted;
        rl_tensor_set(*out, NULL, v);
    }
    const rl_tensor *saved[1] = {target};
    rl_node *n;
    st = rl_record(out, "nll", nll_backward, 1, &logp, 1, saved, &n);
    if (n) {
        n->arg[0] = base;
        n->arg[1] = red;
        n->arg[2] = ignore_index;
        n->arg[3] = has_ignore;
        n->scalar[0] = (double)counted;
    }
    return st;
}

/* ---- binary cross-entropy with logits ---- */

/* dx = g (sigmoid(x) - y), dy = -g x (elementwise, then the reduction's scale) */
static rl_status bce_backward(rl_node *n, rl_tensor *const *grad_out, rl_tensor **grad_in)
{
    const rl_tensor *x = n->saved[0], *y = n->saved[1];
    rl_reduction red = (rl_reduction)n->arg[0];
    double scale = red == RL_REDUCE_MEAN ? 1.0 / (double)rl_tensor_numel(x) : 1.0;
    rl_tensor *g = NULL, *t = NULL;
    rl_status st = RL_OK;
    if (red == RL_REDUCE_NONE) TRY(rl_tensor_alias(&g, grad_out[0]));
    else TRY(rl_binary_scalar(&g, RL_MUL, grad_out[0], scale, false));
    if (rl_node_needs(n, 0)) {
        TRY(rl_unary(&t, RL_SIGMOID, x));
        TRY(rl_binary_into(t, RL_SUB, t, y));
        TRY(rl_binary(&grad_in[0], RL_MUL, t, g));
        rl_tensor_release(t);
        t = NULL;
    }
    if (rl_node_needs(n, 1)) {
        TRY(rl_unary(&t, RL_NEG, x));
        TRY(rl_binary(&grad_in[1], RL_MUL, t, g));
    }
done:
    rl_tensor_release(g);
    rl_tensor_release(t);
    return st;
}

rl_status rl_ag_bce_with_logits(rl_tensor **out, rl_tensor *x, rl_tensor *y, rl_reduction red)
{
    char s1[RL_SHAPE_BUF], s2[RL_SHAPE_BUF];
    if (x->dtype != y->dtype || x->dtype == RL_INT64)
        return rl_fail(RL_ERR_DTYPE, "binary_cross_entropy_with_logits: logits %s and targets %s must share a float dtype",
                       rl_dtype_name(x->dtype), rl_dtype_name(y->dtype));
    if (!rl_tensor_same_shape(x, y))
        return rl_fail(RL_ERR_SHAPE, "binary_cross_entropy_with_logits: logits %s and targets %s differ in shape",
                       rl_shape_str(s1, sizeof s1, x->ndim, x->shape), rl_shape_str(s2, sizeof s2, y->ndim, y->shape));
    rl_tensor *loss = NULL;
    rl_status st = rl_tensor_empty(&loss, x->dtype, x->ndim, x->shape);
    if (st) return st;
    int64_t count = rl_tensor_numel(x);
    int64_t pos[RL_MAX_DIMS] = {0};
    for (int64_t i = 0; i < count; i++) {
        double xv = rl_tensor_get(x, pos), yv = rl_tensor_get(y, pos);
        rl_tensor_set(loss, pos, (xv > 0 ? xv : 0) - xv * yv + log1p(exp(-fabs(xv))));
        for (int d = x->ndim - 1; d >= 0; d--) {
            if (++pos[d] < x->shape[d]) break;
            pos[d] = 0;
        }
    }
    if (red == RL_REDUCE_NONE) {
        *out = loss;
    } else {
        st = rl_reduce_all(out, red == RL_REDUCE_MEAN ? RL_RMEAN : RL_RSUM, loss);
        rl_tensor_release(loss);
        if (st) return st;
    }
    rl_tensor *inputs[2] = {x, y};
    const rl_tensor *saved[2] = {x, y};
    rl_node *n;
    st = rl_record(out, "binary_cross_entropy_with_logits", bce_backward, 2, inputs, 2, saved, &n);
    if (n) n->arg[0] = red;
    return st;
}

/* ---- clip_grad: identity forward, clipped backward ---- */

static rl_status clip_grad_backward(rl_node *n, rl_tensor *const *grad_out, rl_tensor **grad_in)
{
    double c = n->scalar[0];
    bool by_norm = n->arg[0];
    if (!by_norm) return rl_clamp(&grad_in[0], grad_out[0], -c, c);
    rl_tensor *g = NULL;
    rl_status st = rl_tensor_clone(&g, grad_out[0]); /* contiguous, ours to scale */
    if (st) return st;
    int64_t cols = g->ndim ? g->shape[g->ndim - 1] : 1, rows = cols ? rl_tensor_numel(g) / cols : 0;
    for (int64_t r = 0; r < rows; r++) {
        double s = 0;
        for (int64_t j = 0; j < cols; j++) {
            double v = g->dtype == RL_FLOAT32 ? ((float *)rl_tensor_data(g))[r * cols + j]
                                              : ((double *)rl_tensor_data(g))[r * cols + j];
            s += v * v;
        }
        double norm = sqrt(s);
        if (!(norm > c)) continue;
        for (int64_t j = 0; j < cols; j++) {
            if (g->dtype == RL_FLOAT32) ((float *)rl_tensor_data(g))[r * cols + j] *= (float)(c / norm);
            else ((double *)rl_tensor_data(g))[r * cols + j] *= c / norm;
        }
    }
    grad_in[0] = g;
    return RL_OK;
}

rl_status rl_ag_clip_grad(rl_tensor **out, rl_tensor *a, double c, bool by_norm)
{
    if (a->dtype == RL_INT64) return rl_fail(RL_ERR_DTYPE, "clip_grad: not defined for int64 tensors");
    if (!(c > 0)) return rl_fail(RL_ERR_ARG, "clip_grad: the threshold must be > 0, got %g", c);
    rl_status st = rl_tensor_alias(out, a);
    if (st) return st;
    rl_node *n;
    st = rl_record(out, "clip_grad", clip_grad_backward, 1, &a, 0, NULL, &n);
    if (n) {
        n->scalar[0] = c;
        n->arg[0] = by_norm;
    }
    return st;
}
