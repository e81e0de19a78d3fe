/* grad_elementwise.c — differentiable elementwise ops: binary arithmetic
 * (tensor-tensor and with a scalar), unary math, clamp. Gradients come back
 * in the broadcast shape; the tape sums them down to each input's shape. */
#include "autograd.h"

#include "iter.h"

#include <math.h>

#define TRY(expr)                                                                      \
    do {                                                                               \
        if ((st = (expr)) != RL_OK) goto done;                                         \
    } while (0)

/* g * (mask) where mask = 1 where x > y, 1/2 where x == y, else 0: the share
 * of maximum(x, y) that goes to x (for minimum: x < y). */
static rl_status extremum_share(rl_tensor **out, const rl_tensor *g, const rl_tensor *x, const rl_tensor *y,
                                bool is_max)
{
    rl_tensor *wins = NULL, *ties = NULL, *mask = NULL;
    rl_status st;
    TRY(rl_binary(&wins, is_max ? RL_GT : RL_LT, x, y));
    TRY(rl_binary(&ties, RL_EQ, x, y));
    TRY(rl_binary_scalar_into(ties, RL_MUL, ties, 0.5, false));
    TRY(rl_binary(&mask, RL_ADD, wins, ties));
    TRY(rl_binary(out, RL_MUL, g, mask));
done:
    rl_tensor_release(wins);
    rl_tensor_release(ties);
    rl_tensor_release(mask);
    return st;
}

/* The two gradients of y = a^b with PyTorch's conventions where the
 * formulas give 0 * inf:
 *   d/da: g b a^(b-1), taken as 0 where b = 0
 *   d/db: g a^b log a, taken as 0 where a = 0 and b >= 0 */
typedef struct {
    rl_dtype dt;
    bool exponent;   /* d/db rather than d/da */
} pow_ctx;

#define POW_GRAD_LOOP(T, LOG, POW)                                                     \
    for (int64_t i = 0; i < n; i++) {                                                  \
        T g = *(const T *)(p[1] + i * s[1]), a = *(const T *)(p[2] + i * s[2]);        \
        T b = *(const T *)(p[3] + i * s[3]), y = *(const T *)(p[4] + i * s[4]);        \
        T d;                                                                           \
        if (c->exponent) d = (a == 0 && b >= 0) ? 0 : g * y * LOG(a);                  \
        else d = b == 0 ? 0 : g * b * POW(a, b - 1);                                   \
        *(T *)(p[0] + i * s[0]) = d;                                                   \
    }

static void pow_grad_run(void *vctx, int64_t n, char **p, const int64_t *s)
{
    const pow_ctx *c = vctx;
    if (c->dt == RL_FLOAT32) {
        POW_GRAD_LOOP(float, logf, powf)
    } else {
        POW_GRAD_LOOP(double, log, pow)
    }
}

/* into a tensor of y's (the broadcast) shape */
static rl_status pow_grad(rl_tensor **out, const rl_tensor *g, const rl_tensor *a, const rl_tensor *b,
                          const rl_tensor *y, bool exponent)
{
    rl_status st = rl_tensor_empty(out, y->dtype, y->ndim, y->shape);
    if (st) return st;
    rl_iter it;
    const rl_tensor *ops[5] = {*out, g, a, b, y};
    if ((st = rl_iter_init(&it, "pow", 5, ops, y->ndim, y->shape))) {
        rl_tensor_release(*out);
        *out = NULL;
        return st;
    }
    pow_ctx c = {y->dtype, exponent};
    rl_iter_run_parallel(&it, 1, RL_GRAIN_HEAVY, pow_grad_run, &c);
    return RL_OK;
}

/* ---- tensor op tensor ---- */

static rl_status binary_backward(rl_node *n, rl_tensor *const *grad_out, rl_tensor **grad_in)
{
    const rl_tensor *g = grad_out[0], *a = n->saved[0], *b = n->saved[1], *out = n->saved[2];
    rl_tensor *t1 = NULL, *t2 = NULL;
    rl_status st = RL_OK;
    bool need_a = rl_node_needs(n, 0), need_b = rl_node_needs(n, 1);
    switch ((rl_binop)n->arg[0]) {
    case RL_ADD:
    case RL_SUB:
        if (need_a) TRY(rl_tensor_alias(&grad_in[0], g));
        if (need_b) {
            if (n->arg[0] == RL_ADD) TRY(rl_tensor_alias(&grad_in[1], g));
            else TRY(rl_unary(&grad_in[1], RL_NEG, g));
        }
        break;
    case RL_MUL:
        if (need_a) TRY(rl_binary(&grad_in[0], RL_MUL, g, b));
        if (need_b) TRY(rl_binary(&grad_in[1], RL_MUL, g, a));
        break;
    case RL_DIV: /* d(a/b)/da = 1/b, d(a/b)/db = -out/b */
        if (need_a) TRY(rl_binary(&grad_in[0], RL_DIV, g, b));
        if (need_b) {
            TRY(rl_binary(&t1, RL_MUL, g, out));
            TRY(rl_binary(&t2, RL_DIV, t1, b));
            TRY(rl_unary(&grad_in[1], RL_NEG, t2));
        }
        break;
    case RL_POW:
        if (need_a) TRY(pow_grad(&grad_in[0], g, a, b, out, false));
        if (need_b) TRY(pow_grad(&grad_in[1], g, a, b, out, true));
        break;
    case RL_MAXIMUM:
    case RL_MINIMUM:
        if (need_a) TRY(extremum_share(&grad_in[0], g, a, b, n->arg[0] == RL_MAXIMUM));
        if (need_b) TRY(extremum_share(&grad_in[1], g, b, a, n->arg[0] == RL_MAXIMUM));
        break;
    default:
        break; /* comparisons are never recorded */
    }
done:
    rl_tensor_release(t1);
    rl_tensor_release(t2);
    return st;
}

static bool differentiable(rl_binop op)
{
    return op == RL_ADD || op == RL_SUB || op == RL_MUL || op == RL_DIV || op == RL_POW || op == RL_MAXIMUM ||
           op == RL_MINIMUM;
}

rl_status rl_ag_binary(rl_tensor **out, rl_binop op, rl_tensor *a, rl_tensor *b)
{
    rl_status st = rl_binary(out, op, a, b);
    if (st || !differentiable(op)) return st;
    rl_tensor *inputs[2] = {a, b};
    /* only what the backward reads is kept alive */
    bool keep_inputs = op != RL_ADD && op != RL_SUB;
    bool keep_out = op == RL_DIV || op == RL_POW;
    const rl_tensor *saved[3] = {keep_inputs ? a : NULL, keep_inputs ? b : NULL, keep_out ? *out : NULL};
    rl_node *n;
    st = rl_record(out, rl_binop_name(op), binary_backward, 2, inputs, 3, saved, &n);
    if (n) n->arg[0] = op;
    return st;
}

/* ---- tensor op scalar ---- */

static rl_status binary_scalar_backward(rl_node *n, rl_tensor *const *grad_out, rl_tensor **grad_in)
{
    const rl_tensor *g = grad_out[0], *a = n->saved[0], *out = n->saved[1];
    double s = n->scalar[0];
    bool first = n->arg[1]; /* s op a */
    rl_tensor *t1 = NULL, *t2 = NULL;
    rl_status st = RL_OK;
    switch ((rl_binop)n->arg[0]) {
    case RL_ADD:
        TRY(rl_tensor_alias(&grad_in[0], g));
        break;
    case RL_SUB:
        if (first) TRY(rl_unary(&grad_in[0], RL_NEG, g));
        else TRY(rl_tensor_alias(&grad_in[0], g));
        break;
    case RL_MUL:
        TRY(rl_binary_scalar(&grad_in[0], RL_MUL, g, s, false));
        break;
    case RL_DIV:
        if (first) { /* d(s/a)/da = -out/a */
            TRY(rl_binary(&t1, RL_MUL, g, out));
            TRY(rl_binary(&t2, RL_DIV, t1, a));
            TRY(rl_unary(&grad_in[0], RL_NEG, t2));
        } else {
            TRY(rl_binary_scalar(&grad_in[0], RL_DIV, g, s, false));
        }
        break;
    case RL_POW:
        if (first) { /* d(s^a)/da = s^a log s, 0 where s = 0 and a >= 0 */
            TRY(rl_tensor_full(&t1, a->dtype, 0, NULL, s));
            TRY(pow_grad(&grad_in[0], g, t1, a, out, true));
        } else if (s == 0) {
            TRY(rl_tensor_zeros(&grad_in[0], a->dtype, a->ndim, a->shape));
        } else { /* d(a^s)/da = s a^(s-1) */
            TRY(rl_binary_scalar(&t1, RL_POW, a, s - 1, false));
            TRY(rl_binary_scalar_into(t1, RL_MUL, t1, s, false));
            TRY(rl_binary(&grad_in[0], RL_MUL, g, t1));
        }
        break;
    case RL_MAXIMUM:
    case RL_MINIMUM: {
        rl_tensor *c = NULL;
        TRY(rl_tensor_full(&c, a->dtype, 0, NULL, s));
        st = extremum_share(&grad_in[0], g, a, c, n->arg[0] == RL_MAXIMUM);
        rl_tensor_release(c);
        break;
    }
    default:
        break;
    }
done:
    rl_tensor_release(t1);
    rl_tensor_release(t2);
    return st;
}

rl_status rl_ag_binary_scalar(rl_tensor **out, rl_binop op, rl_tensor *a, double s, bool scalar_first)
{
    rl_status st = rl_binary_scalar(out, op, a, s, scalar_first);
    if (st || !differentiable(op)) return st;
    bool keep_a = op == RL_DIV || op == RL_POW || op == RL_MAXIMUM || op == RL_MINIMUM;
    /* s^a needs a too (the mask at a >= 0) */
    bool keep_out = (op == RL_DIV || op == RL_POW) && scalar_first;
    const rl_tensor *saved[2] = {keep_a ? a : NULL, keep_out ? *out : NULL};
    rl_node *n;
    st = rl_record(out, rl_binop_name(op), binary_scalar_backward, 1, &a, 2, saved, &n);
    if (n) {
        n->arg[0] = op;
        n->arg[1] = scalar_first;
        n->scalar[0] = s;
    }
    return st;
}

/* ---- unary ---- */

static rl_status unary_backward(rl_node *n, rl_tensor *const *grad_out, rl_tensor **grad_in)
{
    return rl_unary_backward(&grad_in[0], (rl_unop)n->arg[0], grad_out[0], n->saved[0], n->saved[1]);
}

rl_status rl_ag_unary(rl_tensor **out, rl_unop op, rl_tensor *a)
{
    rl_status st = rl_unary(out, op, a);
    if (st) return st;
    const rl_tensor *saved[2] = {a, *out};
    rl_node *n;
    st = rl_record(out, rl_unop_name(op), unary_backward, 1, &a, 2, saved, &n);
    if (n) n->arg[0] = op;
    return st;
}

/* ---- clamp: the gradient passes where lo <= a <= hi ---- */

static rl_status clamp_backward(rl_node *n, rl_tensor *const *grad_out, rl_tensor **grad_in)
{
    const rl_tensor *a = n->saved[0];
    double lo = n->scalar[0], hi = n->scalar[1];
    rl_tensor *inside = NULL, *upper = NULL;
    rl_status st = RL_OK;
    if (lo == lo) TRY(rl_binary_scalar(&inside, RL_GE, a, lo, false));
    if (hi == hi) {
        TRY(rl_binary_scalar(&upper, RL_LE, a, hi, false));
        if (inside) TRY(rl_binary_into(inside, RL_MUL, inside, upper));
    }
    TRY(rl_binary(&grad_in[0], RL_MUL, grad_out[0], inside ? inside : upper));
done:
    rl_tensor_release(inside);
    rl_tensor_release(upper);
    return st;
}

rl_status rl_ag_clamp(rl_tensor **out, rl_tensor *a, double lo, double hi)
{
    rl_status st = rl_clamp(out, a, lo, hi);
    if (st) return st;
    const rl_tensor *saved[1] = {a};
    rl_node *n;
    st = rl_record(out, "clamp", clamp_backward, 1, &a, 1, saved, &n);
    if (n) {
        n->scalar[0] = lo;
        n->scalar[1] = hi;
    }
    return st;
}
