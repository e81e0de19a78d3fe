/* optim.c — the fused optimizer updates of optim.h.
 *
 * One pass over each parameter: every operand (parameter, gradient, state
 * buffers) is walked together by rl_iter, so views and non-contiguous
 * tensors work, and each element is updated with all of its state at once
 * (PyTorch's single-tensor path makes one pass per elementwise op). The
 * element arithmetic is written once, in double, and instantiated for
 * float32 and float64 storage. */
#include "optim.h"

#include "iter.h"

#include <math.h>
#include <string.h>

const char *rl_optim_kind_name(rl_optim_kind kind)
{
    switch (kind) {
    case RL_OPTIM_SGD: return "sgd";
    case RL_OPTIM_ADAM: return "adam";
    case RL_OPTIM_ADAMW: return "adamw";
    case RL_OPTIM_RMSPROP: return "rmsprop";
    case RL_OPTIM_ADAGRAD: return "adagrad";
    }
    return "optimizer";
}

static bool valid_kind(rl_optim_kind kind)
{
    return kind == RL_OPTIM_SGD || kind == RL_OPTIM_ADAM || kind == RL_OPTIM_ADAMW || kind == RL_OPTIM_RMSPROP ||
           kind == RL_OPTIM_ADAGRAD;
}

/* ---- configuration ---- */

static rl_status nonneg(const char *kname, const char *what, double v)
{
    if (v >= 0) return RL_OK; /* false for NaN */
    return rl_fail(RL_ERR_ARG, "optim.%s: %s must be >= 0, got %g", kname, what, v);
}

rl_status rl_optim_check_config(const rl_optim_config *c)
{
    if (!c) return rl_fail(RL_ERR_ARG, "optim: no configuration");
    if (!valid_kind(c->kind)) return rl_fail(RL_ERR_ARG, "optim: unknown optimizer kind %d", (int)c->kind);
    const char *k = rl_optim_kind_name(c->kind);
    rl_status st;
    if ((st = nonneg(k, "lr", c->lr)) || (st = nonneg(k, "weight_decay", c->weight_decay))) return st;
    switch (c->kind) {
    case RL_OPTIM_SGD:
        if ((st = nonneg(k, "momentum", c->momentum))) return st;
        if (c->dampening != c->dampening) return rl_fail(RL_ERR_ARG, "optim.%s: dampening is NaN", k);
        if (c->nesterov && (c->momentum <= 0 || c->dampening != 0))
            return rl_fail(RL_ERR_ARG, "optim.%s: nesterov momentum needs momentum > 0 and dampening 0, got "
                           "momentum %g, dampening %g", k, c->momentum, c->dampening);
        break;
    case RL_OPTIM_ADAM:
    case RL_OPTIM_ADAMW:
        if ((st = nonneg(k, "eps", c->eps))) return st;
        if (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1))
            return rl_fail(RL_ERR_ARG, "optim.%s: betas must be in [0, 1), got (%g, %g)", k, c->beta1, c->beta2);
        break;
    case RL_OPTIM_RMSPROP:
        if ((st = nonneg(k, "eps", c->eps)) || (st = nonneg(k, "momentum", c->momentum)) ||
            (st = nonneg(k, "alpha", c->alpha)))
            return st;
        break;
    case RL_OPTIM_ADAGRAD:
        if ((st = nonneg(k, "eps", c->eps)) || (st = nonneg(k, "lr_decay", c->lr_decay)) ||
            (st = nonneg(k, "initial_accumulator_value", c->initial_accumulator_value)))
            return st;
        break;
    }
    return RL_OK;
}

void rl_optim_state_names(const rl_optim_config *c, const char *names[RL_OPTIM_MAX_STATE])
{
    for (int k = 0; k < RL_OPTIM_MAX_STATE; k++) names[k] = NULL;
    switch (c->kind) {
    case RL_OPTIM_SGD:
        if (c->momentum != 0) names[0] = "momentum_buffer";
        break;
    case RL_OPTIM_ADAM:
    case RL_OPTIM_ADAMW:
        names[0] = "exp_avg";
        names[1] = "exp_avg_sq";
        if (c->amsgrad) names[2] = "max_exp_avg_sq";
        break;
    case RL_OPTIM_RMSPROP:
        names[0] = "square_avg";
        if (c->momentum > 0) names[1] = "momentum_buffer";
        if (c->centered) names[2] = "grad_avg";
        break;
    case RL_OPTIM_ADAGRAD:
        names[0] = "sum";
        break;
    }
}

rl_status rl_optim_new_state(rl_tensor **out, const rl_optim_config *c, int k, const rl_tensor *param)
{
    *out = NULL;
    if (!valid_kind(c->kind)) return rl_fail(RL_ERR_ARG, "optim: unknown optimizer kind %d", (int)c->kind);
    const char *kname = rl_optim_kind_name(c->kind);
    const char *names[RL_OPTIM_MAX_STATE];
    rl_optim_state_names(c, names);
    if (k < 0 || k >= RL_OPTIM_MAX_STATE || !names[k])
        return rl_fail(RL_ERR_ARG, "optim.%s: this configuration has no state buffer %d", kname, k);
    if (!param || !rl_dtype_is_float(param->dtype))
        return rl_fail(RL_ERR_DTYPE, "optim.%s: the parameter must be float32 or float64, got %s", kname,
                       param ? rl_dtype_name(param->dtype) : "NULL");
    if (c->kind == RL_OPTIM_ADAGRAD)
        return rl_tensor_full(out, param->dtype, param->ndim, param->shape, c->initial_accumulator_value);
    /* SGD's momentum buffer is overwritten by the first update (slot.fresh);
     * zeros keep it defined until then. */
    return rl_tensor_zeros(out, param->dtype, param->ndim, param->shape);
}

/* ---- checks ---- */

static bool expanded(const rl_tensor *t)
{
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] > 1 && t->stride[d] == 0) return true;
    return false;
}

static rl_status check_slot(const rl_optim_config *c, const char *const *names, int64_t i, const rl_optim_slot *s)
{
    const char *k = rl_optim_kind_name(c->kind);
    long long n = s->index > 0 ? (long long)s->index : (long long)i + 1;
    const rl_tensor *p = s->param;
    if (!p) return rl_fail(RL_ERR_ARG, "optim.%s: parameter %lld is NULL", k, n);
    char ps[RL_SHAPE_BUF], ts[RL_SHAPE_BUF];
    rl_shape_str(ps, sizeof ps, p->ndim, p->shape);
    const char *pd = rl_dtype_name(p->dtype);
    if (!rl_dtype_is_float(p->dtype))
        return rl_fail(RL_ERR_DTYPE, "optim.%s: parameter %lld %s is %s; only float32 and float64 can be optimized",
                       k, n, ps, pd);
    if (expanded(p))
        return rl_fail(RL_ERR_ARG, "optim.%s: parameter %lld %s %s is an expanded view (a dimension of stride 0): "
                       "updating it in place would write elements twice", k, n, ps, pd);
    const rl_tensor *g = s->grad;
    if (!g) return rl_fail(RL_ERR_ARG, "optim.%s: parameter %lld %s %s has no gradient", k, n, ps, pd);
    if (g->dtype != p->dtype || !rl_tensor_same_shape(g, p))
        return rl_fail(RL_ERR_SHAPE, "optim.%s: parameter %lld %s %s: its gradient is %s %s", k, n, ps, pd,
                       rl_shape_str(ts, sizeof ts, g->ndim, g->shape), rl_dtype_name(g->dtype));
    if (s->step < 1)
        return rl_fail(RL_ERR_STATE, "optim.%s: parameter %lld %s %s: step %lld must be >= 1", k, n, ps, pd,
                       (long long)s->step);
    for (int j = 0; j < RL_OPTIM_MAX_STATE; j++) {
        if (!names[j]) continue;
        const rl_tensor *t = s->state[j];
        if (!t) return rl_fail(RL_ERR_STATE, "optim.%s: parameter %lld %s %s: state %s is missing", k, n, ps, pd,
                               names[j]);
        if (t->dtype != p->dtype || !rl_tensor_same_shape(t, p))
            return rl_fail(RL_ERR_STATE, "optim.%s: parameter %lld %s %s: state %s is %s %s", k, n, ps, pd, names[j],
                           rl_shape_str(ts, sizeof ts, t->ndim, t->shape), rl_dtype_name(t->dtype));
        if (expanded(t))
            return rl_fail(RL_ERR_STATE, "optim.%s: parameter %lld %s %s: state %s is an expanded view (a dimension "
                           "of stride 0)", k, n, ps, pd, names[j]);
        if (t->storage == p->storage)
            return rl_fail(RL_ERR_STATE, "optim.%s: parameter %lld %s %s: state %s shares memory with the parameter",
                           k, n, ps, pd, names[j]);
        for (int j2 = 0; j2 < j; j2++)
            if (names[j2] && s->state[j2]->storage == t->storage)
                return rl_fail(RL_ERR_STATE, "optim.%s: parameter %lld %s %s: states %s and %s share memory", k, n, ps,
                               pd, names[j2], names[j]);
    }
    return RL_OK;
}

/* ---- kernels ---- */

typedef struct {
    const rl_optim_config *c;
    int nops;                     /* 2 + the state buffers in use */
    int pos[RL_OPTIM_MAX_STATE];  /* operand index of state k, or -1 */
    bool fresh;
    /* per-step constants, computed as PyTorch computes them */
    double neg_lr;                /* -lr */
    double wd;
    double one_minus_damp;        /* SGD: 1 - dampening */
    double one_minus_b1, one_minus_b2;
    double neg_step_size;         /* Adam: -(lr / (1 - beta1^t)) */
    double bc2_sqrt;              /* Adam: sqrt(1 - beta2^t) */
    double decay;                 /* AdamW: 1 - lr*wd */
    double one_minus_alpha;       /* RMSprop */
    double neg_clr;               /* Adagrad: -(lr / (1 + (t-1)*lr_decay)) */
} kctx;

/* x[0] parameter, x[1] gradient, x[pos[k]] state k; updates x in place */

static inline void sgd_elem(const kctx *k, double *x)
{
    const rl_optim_config *c = k->c;
    double d = c->maximize ? -x[1] : x[1];
    if (c->weight_decay != 0) d = d + k->wd * x[0];
    if (c->momentum != 0) {
        double b;
        if (k->fresh) {
            b = d;
        } else {
            b = x[2] * c->momentum;
            b = b + k->one_minus_damp * d;
        }
        x[2] = b;
        d = c->nesterov ? d + c->momentum * b : b;
    }
    x[0] = x[0] + k->neg_lr * d;
}

static inline void adam_elem(const kctx *k, double *x)
{
    const rl_optim_config *c = k->c;
    double p = x[0];
    double g = c->maximize ? -x[1] : x[1];
    if (c->kind == RL_OPTIM_ADAMW) p = p * k->decay;
    else if (c->weight_decay != 0) g = g + k->wd * p;
    double m = x[2] * c->beta1;
    m = m + k->one_minus_b1 * g;
    double v = x[3] * c->beta2;
    v = v + (k->one_minus_b2 * g) * g;
    x[2] = m;
    x[3] = v;
    double denom;
    if (c->amsgrad) {
        double mx = x[4];
        if (v > mx || v != v) mx = v; /* torch.maximum: NaN propagates */
        x[4] = mx;
        denom = sqrt(mx) / k->bc2_sqrt + c->eps;
    } else {
        denom = sqrt(v) / k->bc2_sqrt + c->eps;
    }
    x[0] = p + (k->neg_step_size * m) / denom;
}

static inline void rmsprop_elem(const kctx *k, double *x)
{
    const rl_optim_config *c = k->c;
    double g = c->maximize ? -x[1] : x[1];
    if (c->weight_decay != 0) g = g + k->wd * x[0];
    double s = x[2] * c->alpha;
    s = s + (k->one_minus_alpha * g) * g;
    x[2] = s;
    double avg;
    if (c->centered) {
        int ia = k->pos[2];
        double a = x[ia] * c->alpha;
        a = a + k->one_minus_alpha * g;
        x[ia] = a;
        avg = sqrt(s + (-1.0 * a) * a);
    } else {
        avg = sqrt(s);
    }
    avg = avg + c->eps;
    if (c->momentum > 0) {
        int ib = k->pos[1];
        double b = x[ib] * c->momentum;
        b = b + (1.0 * g) / avg;
        x[ib] = b;
        x[0] = x[0] + k->neg_lr * b;
    } else {
        x[0] = x[0] + (k->neg_lr * g) / avg;
    }
}

static inline void adagrad_elem(const kctx *k, double *x)
{
    const rl_optim_config *c = k->c;
    double g = c->maximize ? -x[1] : x[1];
    if (c->weight_decay != 0) g = g + k->wd * x[0];
    double s = x[2] + (1.0 * g) * g;
    x[2] = s;
    double std = sqrt(s) + c->eps;
    x[0] = x[0] + (k->neg_clr * g) / std;
}

/* A run of n elements of every operand, stored as T: load as double,
 * update, store the parameter and the state back (never the gradient). */
#define RUNNER(NAME, T, ELEM)                                                                  \
    static void NAME(void *ctx, int64_t n, char **ptr, const int64_t *st)                      \
    {                                                                                          \
        const kctx *k = ctx;                                                                   \
        const int nops = k->nops;                                                              \
        for (int64_t i = 0; i < n; i++) {                                                      \
            double x[2 + RL_OPTIM_MAX_STATE];                                                  \
            for (int j = 0; j < nops; j++) x[j] = (double)*(const T *)(ptr[j] + i * st[j]);    \
            ELEM(k, x);                                                                        \
            *(T *)(ptr[0] + i * st[0]) = (T)x[0];                                              \
            for (int j = 2; j < nops; j++) *(T *)(ptr[j] + i * st[j]) = (T)x[j];               \
        }                                                                                      \
    }

RUNNER(sgd_f32, float, sgd_elem)
RUNNER(sgd_f64, double, sgd_elem)
RUNNER(adam_f32, float, adam_elem)
RUNNER(adam_f64, double, adam_elem)
RUNNER(rmsprop_f32, float, rmsprop_elem)
RUNNER(rmsprop_f64, double, rmsprop_elem)
RUNNER(adagrad_f32, float, adagrad_elem)
RUNNER(adagrad_f64, double, adagrad_elem)

static void run_slot(const rl_optim_config *c, const char *const *names, const rl_optim_slot *s)
{
    const rl_tensor *ops[2 + RL_OPTIM_MAX_STATE];
    kctx k;
    memset(&k, 0, sizeof k);
    k.c = c;
    ops[0] = s->param;
    ops[1] = s->grad;
    k.nops = 2;
    for (int j = 0; j < RL_OPTIM_MAX_STATE; j++) {
        k.pos[j] = -1;
        if (names[j]) {
            k.pos[j] = k.nops;
            ops[k.nops++] = s->state[j];
        }
    }
    k.fresh = s->fresh;
    k.neg_lr = -c->lr;
    k.wd = c->weight_decay;
    double t = (double)s->step;
    rl_iter_fn fn = NULL;
    bool f32 = s->param->dtype == RL_FLOAT32;
    switch (c->kind) {
    case RL_OPTIM_SGD:
        k.one_minus_damp = 1 - c->dampening;
        fn = f32 ? sgd_f32 : sgd_f64;
        break;
    case RL_OPTIM_ADAM:
    case RL_OPTIM_ADAMW: {
        k.one_minus_b1 = 1 - c->beta1;
        k.one_minus_b2 = 1 - c->beta2;
        double bc1 = 1 - pow(c->beta1, t);
        double bc2 = 1 - pow(c->beta2, t);
        k.neg_step_size = -(c->lr / bc1);
        k.bc2_sqrt = sqrt(bc2);
        k.decay = 1 - c->lr * c->weight_decay;
        fn = f32 ? adam_f32 : adam_f64;
        break;
    }
    case RL_OPTIM_RMSPROP:
        k.one_minus_alpha = 1 - c->alpha;
        fn = f32 ? rmsprop_f32 : rmsprop_f64;
        break;
    case RL_OPTIM_ADAGRAD:
        k.neg_clr = -(c->lr / (1 + (t - 1) * c->lr_decay));
        fn = f32 ? adagrad_f32 : adagrad_f64;
        break;
    }
    rl_iter it;
    /* cannot fail: every operand has the parameter's shape (checked) */
    if (rl_iter_init(&it, "optim", k.nops, ops, s->param->ndim, s->param->shape) != RL_OK) return;
    rl_iter_run(&it, fn, &k);
    s->param->storage->version++;
    for (int j = 0; j < RL_OPTIM_MAX_STATE; j++)
        if (names[j]) s->state[j]->storage->version++;
}

rl_status rl_optim_step(const rl_optim_config *c, const rl_optim_slot *slots, int64_t n)
{
    rl_status st = rl_optim_check_config(c);
    if (st) return st;
    if (n < 0) return rl_fail(RL_ERR_ARG, "optim.%s: negative number of parameters %lld", rl_optim_kind_name(c->kind),
                              (long long)n);
    if (n > 0 && !slots) return rl_fail(RL_ERR_ARG, "optim.%s: no slots", rl_optim_kind_name(c->kind));
    const char *names[RL_OPTIM_MAX_STATE];
    rl_optim_state_names(c, names);
    for (int64_t i = 0; i < n; i++)
        if ((st = check_slot(c, names, i, &slots[i]))) return st;
    for (int64_t i = 0; i < n; i++) run_slot(c, names, &slots[i]);
    return RL_OK;
}
