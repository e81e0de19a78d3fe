/* optim.c — the fused optimizer updates of optim.h.
 *
 * One pass over each parameter: every operand (parameter, gradient, state
 * buffers) is walked together by rl_iter, so views and non-contiguous
 * tensors work, and each element is updated with all of its state at once
 * (PyTorch's single-tensor path makes one pass per elementwise op). The
 * element arithmetic is written once, in double, and instantiated for
 * float32 and float64 storage. */
#include "optim.h"

#include "isa.h"
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
    double one_minus_damp;        /* SGD: 1 - dampening */
    double one_minus_b1, one_minus_b2;
    double neg_step_size;         /* Adam: -(lr / (1 - beta1^t)) */
    double bc2_sqrt;              /* Adam: sqrt(1 - beta2^t) */
    double decay;                 /* AdamW: 1 - lr*wd */
    double one_minus_alpha;       /* RMSprop */
    double neg_clr;               /* Adagrad: -(lr / (1 + (t-1)*lr_decay)) */
} kctx;

/* One element of each kind: *p the parameter, g the raw gradient, the rest
 * state (pointers to locals, so the compiler keeps them in registers).
 * Flags are loop-invariant branches. */

static inline void sgd_elem(const kctx *k, double *p, double g, double *b)
{
    const rl_optim_config *c = k->c;
    double d = c->maximize ? -g : g;
    if (c->weight_decay != 0) d = d + c->weight_decay * *p;
    if (c->momentum != 0) {
        double bb;
        if (k->fresh) {
            bb = d;
        } else {
            bb = *b * c->momentum;
            bb = bb + k->one_minus_damp * d;
        }
        *b = bb;
        d = c->nesterov ? d + c->momentum * bb : bb;
    }
    *p = *p + k->neg_lr * d;
}

static inline void adam_elem(const kctx *k, double *p, double g, double *m, double *v, double *vmax)
{
    const rl_optim_config *c = k->c;
    double pp = *p;
    if (c->maximize) g = -g;
    if (c->kind == RL_OPTIM_ADAMW) pp = pp * k->decay;
    else if (c->weight_decay != 0) g = g + c->weight_decay * pp;
    double mm = *m * c->beta1;
    mm = mm + k->one_minus_b1 * g;
    double vv = *v * c->beta2;
    vv = vv + (k->one_minus_b2 * g) * g;
    *m = mm;
    *v = vv;
    double denom;
    if (c->amsgrad) {
        double mx = *vmax;
        if (vv > mx || vv != vv) mx = vv; /* torch.maximum: NaN propagates */
        *vmax = mx;
        denom = sqrt(mx) / k->bc2_sqrt + c->eps;
    } else {
        denom = sqrt(vv) / k->bc2_sqrt + c->eps;
    }
    *p = pp + (k->neg_step_size * mm) / denom;
}

static inline void rmsprop_elem(const kctx *k, double *p, double g, double *sq, double *buf, double *ga)
{
    const rl_optim_config *c = k->c;
    if (c->maximize) g = -g;
    if (c->weight_decay != 0) g = g + c->weight_decay * *p;
    double s = *sq * c->alpha;
    s = s + (k->one_minus_alpha * g) * g;
    *sq = s;
    double avg;
    if (c->centered) {
        double a = *ga * c->alpha;
        a = a + k->one_minus_alpha * g;
        *ga = a;
        avg = sqrt(s + (-1.0 * a) * a);
    } else {
        avg = sqrt(s);
    }
    avg = avg + c->eps;
    if (c->momentum > 0) {
        double b = *buf * c->momentum;
        b = b + (1.0 * g) / avg;
        *buf = b;
        *p = *p + k->neg_lr * b;
    } else {
        *p = *p + (k->neg_lr * g) / avg;
    }
}

static inline void adagrad_elem(const kctx *k, double *p, double g, double *sum)
{
    const rl_optim_config *c = k->c;
    if (c->maximize) g = -g;
    if (c->weight_decay != 0) g = g + c->weight_decay * *p;
    double s = *sum + (1.0 * g) * g;
    *sum = s;
    double std = sqrt(s) + c->eps;
    *p = *p + (k->neg_clr * g) / std;
}

/* rl_iter callbacks: element i of operand j, as an lvalue of type T, in a
 * contiguous run (CAT) or a strided one (SAT). Each kernel body is
 * instantiated for both, so the contiguous case (the usual one) indexes
 * plain arrays. Operands the configuration does not use read as 0 and are
 * never written (their index is -1). */
#define CAT(T, j, i) (((T *)ptr[j])[i])
#define SAT(T, j, i) (*(T *)(ptr[j] + (i) * st[j]))

#define SGD_BODY(T, AT)                                                                        \
    for (int64_t i = 0; i < n; i++) {                                                          \
        double p = AT(T, 0, i), b = ib >= 0 ? AT(T, ib, i) : 0;                                \
        sgd_elem(k, &p, AT(T, 1, i), &b);                                                      \
        AT(T, 0, i) = (T)p;                                                                    \
        if (ib >= 0) AT(T, ib, i) = (T)b;                                                      \
    }

#define ADAM_BODY(T, AT)                                                                       \
    for (int64_t i = 0; i < n; i++) {                                                          \
        double p = AT(T, 0, i), m = AT(T, 2, i), v = AT(T, 3, i), vm = ix >= 0 ? AT(T, ix, i) : 0; \
        adam_elem(k, &p, AT(T, 1, i), &m, &v, &vm);                                            \
        AT(T, 0, i) = (T)p;                                                                    \
        AT(T, 2, i) = (T)m;                                                                    \
        AT(T, 3, i) = (T)v;                                                                    \
        if (ix >= 0) AT(T, ix, i) = (T)vm;                                                     \
    }

#define RMSPROP_BODY(T, AT)                                                                    \
    for (int64_t i = 0; i < n; i++) {                                                          \
        double p = AT(T, 0, i), s = AT(T, 2, i);                                               \
        double b = ib >= 0 ? AT(T, ib, i) : 0, a = ia >= 0 ? AT(T, ia, i) : 0;                 \
        rmsprop_elem(k, &p, AT(T, 1, i), &s, &b, &a);                                          \
        AT(T, 0, i) = (T)p;                                                                    \
        AT(T, 2, i) = (T)s;                                                                    \
        if (ib >= 0) AT(T, ib, i) = (T)b;                                                      \
        if (ia >= 0) AT(T, ia, i) = (T)a;                                                      \
    }

#define ADAGRAD_BODY(T, AT)                                                                    \
    for (int64_t i = 0; i < n; i++) {                                                          \
        double p = AT(T, 0, i), s = AT(T, 2, i);                                               \
        adagrad_elem(k, &p, AT(T, 1, i), &s);                                                  \
        AT(T, 0, i) = (T)p;                                                                    \
        AT(T, 2, i) = (T)s;                                                                    \
    }

static bool contiguous_run(const kctx *k, const int64_t *st, int64_t size)
{
    for (int j = 0; j < k->nops; j++)
        if (st[j] != size) return false;
    return true;
}

/* The contiguous runs (the usual case: parameters, gradients and states are
 * contiguous) go to a copy of the body compiled for AVX-512, AVX2 and any
 * x86-64, chosen at each call from the level in use (core/isa.h, as
 * core/vmath.h does). This file is compiled at -O3 with -fno-math-errno
 * (sqrt is then one instruction), where the loops vectorise: the same operations in wider lanes, so the same bits.
 * An Adam step over 1.3M float32 parameters (an LSTM of config B, one
 * thread): 6.4 ms scalar, 0.8 ms so — work that every rank of a
 * data-parallel job repeats. */
/* Adam and AdamW without amsgrad or maximize (the usual settings) over a
 * contiguous run: adam_elem's operations in the same order, with the options
 * decided before the loops, which have no branch left and vectorise. */
#define ADAM_LOOP(T, DECAY, WD)                                                                \
    for (int64_t i = 0; i < n; i++) {                                                          \
        double pp = p[i], gg = g[i];                                                           \
        if (DECAY) pp = pp * decay;                                                            \
        if (WD) gg = gg + wd * pp;                                                             \
        double mm = m[i] * b1;                                                                 \
        mm = mm + omb1 * gg;                                                                   \
        double vv = v[i] * b2;                                                                 \
        vv = vv + (omb2 * gg) * gg;                                                            \
        m[i] = (T)mm;                                                                          \
        v[i] = (T)vv;                                                                          \
        double denom = sqrt(vv) / bc2 + eps;                                                   \
        p[i] = (T)(pp + (nss * mm) / denom);                                                   \
    }

#define ADAM_PLAIN(T)                                                                          \
    RL_ISA_BODY void adam_plain_##T##_body(const kctx *k, int64_t n, char **ptr)               \
    {                                                                                          \
        T *p = (T *)ptr[0], *m = (T *)ptr[2], *v = (T *)ptr[3];                                \
        const T *g = (const T *)ptr[1];                                                        \
        const double b1 = k->c->beta1, b2 = k->c->beta2, omb1 = k->one_minus_b1;               \
        const double omb2 = k->one_minus_b2, nss = k->neg_step_size, bc2 = k->bc2_sqrt;        \
        const double eps = k->c->eps, decay = k->decay, wd = k->c->weight_decay;               \
        if (k->c->kind == RL_OPTIM_ADAMW) ADAM_LOOP(T, 1, 0)                                   \
        else if (wd != 0) ADAM_LOOP(T, 0, 1)                                                   \
        else ADAM_LOOP(T, 0, 0)                                                                \
    }                                                                                          \
    RL_ISA_DISPATCH(adam_plain_##T, (const kctx *k, int64_t n, char **ptr), (k, n, ptr))

ADAM_PLAIN(float)
ADAM_PLAIN(double)

#define NO_FAST_PATH(T)
#define ADAM_FAST_PATH(T)                                                                      \
    if (!k->c->amsgrad && !k->c->maximize) {                                                   \
        adam_plain_##T(k, n, ptr);                                                             \
        return;                                                                                \
    }

/* local copies of the context: stores through ptr cannot alias them, so the
 * hyperparameters and flags stay in registers */
#define KERNEL(NAME, T, BODY, LOCALS, FAST)                                                    \
    RL_ISA_BODY void NAME##_contig_body(const kctx *ctx, int64_t n, char **ptr)                \
    {                                                                                          \
        kctx kl = *ctx;                                                                        \
        rl_optim_config cl = *kl.c;                                                            \
        kl.c = &cl;                                                                            \
        const kctx *k = &kl;                                                                   \
        FAST(T)                                                                                \
        LOCALS                                                                                 \
        BODY(T, CAT)                                                                           \
    }                                                                                          \
    RL_ISA_DISPATCH(NAME##_contig, (const kctx *ctx, int64_t n, char **ptr), (ctx, n, ptr))      \
    static void NAME(void *ctx, int64_t n, char **ptr, const int64_t *st)                      \
    {                                                                                          \
        if (contiguous_run(ctx, st, (int64_t)sizeof(T))) {                                     \
            NAME##_contig(ctx, n, ptr);                                                        \
            return;                                                                            \
        }                                                                                      \
        kctx kl = *(const kctx *)ctx;                                                          \
        rl_optim_config cl = *kl.c;                                                            \
        kl.c = &cl;                                                                            \
        const kctx *k = &kl;                                                                   \
        LOCALS                                                                                 \
        BODY(T, SAT)                                                                           \
    }

#define SGD_LOCALS const int ib = k->pos[0];
#define ADAM_LOCALS const int ix = k->pos[2];
#define RMSPROP_LOCALS const int ib = k->pos[1], ia = k->pos[2];
#define ADAGRAD_LOCALS

KERNEL(sgd_f32, float, SGD_BODY, SGD_LOCALS, NO_FAST_PATH)
KERNEL(sgd_f64, double, SGD_BODY, SGD_LOCALS, NO_FAST_PATH)
KERNEL(adam_f32, float, ADAM_BODY, ADAM_LOCALS, ADAM_FAST_PATH)
KERNEL(adam_f64, double, ADAM_BODY, ADAM_LOCALS, ADAM_FAST_PATH)
KERNEL(rmsprop_f32, float, RMSPROP_BODY, RMSPROP_LOCALS, NO_FAST_PATH)
KERNEL(rmsprop_f64, double, RMSPROP_BODY, RMSPROP_LOCALS, NO_FAST_PATH)
KERNEL(adagrad_f32, float, ADAGRAD_BODY, ADAGRAD_LOCALS, NO_FAST_PATH)
KERNEL(adagrad_f64, double, ADAGRAD_BODY, ADAGRAD_LOCALS, NO_FAST_PATH)

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
    /* every operand but the gradient is written, each element by one thread
     * (the checks rejected expanded views and shared memory): the same bits
     * at any thread count. An Adam element is ~0.6 ns on one thread. */
    rl_iter_run_parallel(&it, k.nops, RL_GRAIN_MEDIUM, fn, &k);
    s->param->storage->version++;
    for (int j = 0; j < RL_OPTIM_MAX_STATE; j++)
        if (names[j]) s->state[j]->storage->version++;
}

rl_status rl_optim_check(const rl_optim_config *c, const rl_optim_slot *slots, int64_t n)
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
    return RL_OK;
}

rl_status rl_optim_step(const rl_optim_config *c, const rl_optim_slot *slots, int64_t n)
{
    rl_status st = rl_optim_check(c, slots, n);
    if (st) return st;
    const char *names[RL_OPTIM_MAX_STATE];
    rl_optim_state_names(c, names);
    for (int64_t i = 0; i < n; i++) run_slot(c, names, &slots[i]);
    return RL_OK;
}
