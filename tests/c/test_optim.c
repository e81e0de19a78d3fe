/* test_optim.c — the fused optimizer updates (core/optim.h) against naive
 * references written from PyTorch 1.13's single-tensor code: one whole-array
 * pass per tensor operation (buf.mul_(momentum), buf.add_(d_p, alpha), ...),
 * in that order.
 *
 * Tolerances: float64 must be bit-identical (the kernel does the same
 * operations in the same order, only fused into one pass). float32: the
 * reference rounds to float after every operation as PyTorch does, the
 * kernel once per stored value, so they agree to 2e-6 relative
 * (max(1, |want|)).
 *
 * Also: non-contiguous parameters give the same numbers as contiguous ones,
 * many slots of mixed dtypes in one call equal one call each, the step
 * number drives the bias corrections, and every bad input is refused (by
 * rl_optim_check and rl_optim_step alike) before anything is written. */
#include "harness.h"
#include "suites.h"
#include "testutil.h"
#include "../../core/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N 12 /* elements of the test parameter: shape (3,4) */
#define STEPS 5

/* gradient scale per step, so amsgrad's maximum and Adagrad's sum matter */
static const double GSCALE[STEPS] = {1.0, 0.3, 2.0, 0.1, 0.7};

/* ---- reference ---- */

typedef struct {
    double p[N];
    double s[RL_OPTIM_MAX_STATE][N];
    bool have_buf0; /* SGD: momentum buffer set */
} ref_state;

static double rnd(bool f32, double x) { return f32 ? (double)(float)x : x; }

/* one step, op by op; g_in is the raw gradient; t the step number */
static void ref_step(const rl_optim_config *c, bool f32, ref_state *r, const double *g_in, int64_t t)
{
    double g[N], tmp[N];
    for (int i = 0; i < N; i++) g[i] = c->maximize ? -g_in[i] : g_in[i];
    double *p = r->p;
    switch (c->kind) {
    case RL_OPTIM_SGD: {
        double *buf = r->s[0];
        if (c->weight_decay != 0)
            for (int i = 0; i < N; i++) g[i] = rnd(f32, g[i] + c->weight_decay * p[i]);
        if (c->momentum != 0) {
            if (!r->have_buf0) {
                memcpy(buf, g, sizeof g);
                r->have_buf0 = true;
            } else {
                for (int i = 0; i < N; i++) buf[i] = rnd(f32, buf[i] * c->momentum);
                for (int i = 0; i < N; i++) buf[i] = rnd(f32, buf[i] + (1 - c->dampening) * g[i]);
            }
            if (c->nesterov)
                for (int i = 0; i < N; i++) g[i] = rnd(f32, g[i] + c->momentum * buf[i]);
            else
                memcpy(g, buf, sizeof g);
        }
        for (int i = 0; i < N; i++) p[i] = rnd(f32, p[i] + (-c->lr) * g[i]);
        break;
    }
    case RL_OPTIM_ADAM:
    case RL_OPTIM_ADAMW: {
        double *m = r->s[0], *v = r->s[1], *vmax = r->s[2];
        if (c->kind == RL_OPTIM_ADAMW) {
            for (int i = 0; i < N; i++) p[i] = rnd(f32, p[i] * (1 - c->lr * c->weight_decay));
        } else if (c->weight_decay != 0) {
            for (int i = 0; i < N; i++) g[i] = rnd(f32, g[i] + c->weight_decay * p[i]);
        }
        for (int i = 0; i < N; i++) m[i] = rnd(f32, m[i] * c->beta1);
        for (int i = 0; i < N; i++) m[i] = rnd(f32, m[i] + (1 - c->beta1) * g[i]);
        for (int i = 0; i < N; i++) v[i] = rnd(f32, v[i] * c->beta2);
        for (int i = 0; i < N; i++) v[i] = rnd(f32, v[i] + ((1 - c->beta2) * g[i]) * g[i]);
        double bc1 = 1 - pow(c->beta1, (double)t), bc2 = 1 - pow(c->beta2, (double)t);
        double step_size = c->lr / bc1, bc2s = sqrt(bc2);
        const double *src = v;
        if (c->amsgrad) {
            for (int i = 0; i < N; i++) vmax[i] = isnan(v[i]) || v[i] > vmax[i] ? v[i] : vmax[i];
            src = vmax;
        }
        for (int i = 0; i < N; i++) tmp[i] = rnd(f32, sqrt(src[i]));
        for (int i = 0; i < N; i++) tmp[i] = rnd(f32, tmp[i] / bc2s);
        for (int i = 0; i < N; i++) tmp[i] = rnd(f32, tmp[i] + c->eps);
        for (int i = 0; i < N; i++) p[i] = rnd(f32, p[i] + ((-step_size) * m[i]) / tmp[i]);
        break;
    }
    case RL_OPTIM_RMSPROP: {
        double *sq = r->s[0], *buf = r->s[1], *ga = r->s[2];
        if (c->weight_decay != 0)
            for (int i = 0; i < N; i++) g[i] = rnd(f32, g[i] + c->weight_decay * p[i]);
        for (int i = 0; i < N; i++) sq[i] = rnd(f32, sq[i] * c->alpha);
        for (int i = 0; i < N; i++) sq[i] = rnd(f32, sq[i] + ((1 - c->alpha) * g[i]) * g[i]);
        if (c->centered) {
            for (int i = 0; i < N; i++) ga[i] = rnd(f32, ga[i] * c->alpha);
            for (int i = 0; i < N; i++) ga[i] = rnd(f32, ga[i] + (1 - c->alpha) * g[i]);
            for (int i = 0; i < N; i++) tmp[i] = rnd(f32, sq[i] + (-1.0 * ga[i]) * ga[i]);
            for (int i = 0; i < N; i++) tmp[i] = rnd(f32, sqrt(tmp[i]));
        } else {
            for (int i = 0; i < N; i++) tmp[i] = rnd(f32, sqrt(sq[i]));
        }
        for (int i = 0; i < N; i++) tmp[i] = rnd(f32, tmp[i] + c->eps);
        if (c->momentum > 0) {
            for (int i = 0; i < N; i++) buf[i] = rnd(f32, buf[i] * c->momentum);
            for (int i = 0; i < N; i++) buf[i] = rnd(f32, buf[i] + (1.0 * g[i]) / tmp[i]);
            for (int i = 0; i < N; i++) p[i] = rnd(f32, p[i] + (-c->lr) * buf[i]);
        } else {
            for (int i = 0; i < N; i++) p[i] = rnd(f32, p[i] + ((-c->lr) * g[i]) / tmp[i]);
        }
        break;
    }
    case RL_OPTIM_ADAGRAD: {
        double *sum = r->s[0];
        if (c->weight_decay != 0)
            for (int i = 0; i < N; i++) g[i] = rnd(f32, g[i] + c->weight_decay * p[i]);
        double clr = c->lr / (1 + ((double)t - 1) * c->lr_decay);
        for (int i = 0; i < N; i++) sum[i] = rnd(f32, sum[i] + (1.0 * g[i]) * g[i]);
        for (int i = 0; i < N; i++) tmp[i] = rnd(f32, sqrt(sum[i]));
        for (int i = 0; i < N; i++) tmp[i] = rnd(f32, tmp[i] + c->eps);
        for (int i = 0; i < N; i++) p[i] = rnd(f32, p[i] + ((-clr) * g[i]) / tmp[i]);
        break;
    }
    }
}

/* ---- helpers ---- */

static void to_array(const rl_tensor *t, double *out)
{
    int64_t idx[RL_MAX_DIMS] = {0};
    int i = 0;
    do out[i++] = tu_get(t, idx);
    while (tu_next(t->ndim, t->shape, idx));
}

/* A (3,4) parameter from seed: contiguous, or a transposed (4,3) base. */
static rl_tensor *make_param(rl_dtype dt, uint64_t seed, bool strided)
{
    rl_tensor *c = tu_rand(dt, DIMS(3, 4), seed, -1, 1, 0);
    if (!strided || !c) return c;
    rl_tensor *base = tu_empty(dt, DIMS(4, 3)), *v = NULL;
    if (base && rl_tensor_transpose(&v, base, 0, 1) == RL_OK) rl_tensor_copy_(v, c);
    rl_tensor_release(base);
    rl_tensor_release(c);
    return v;
}

static void check_array(int line, const char *what, const char *cfgname, rl_dtype dt, int step, const rl_tensor *t,
                        const double *want)
{
    double got[N];
    to_array(t, got);
    for (int i = 0; i < N; i++) {
        double w = dt == RL_FLOAT32 ? (double)(float)want[i] : want[i];
        double tol = dt == RL_FLOAT32 ? 2e-6 * fmax(1, fabs(w)) : 0;
        if (!th_close(got[i], w, tol)) {
            th_fail(__FILE__, line, "%s %s %s step %d element %d: got %.17g, want %.17g (tol %.3g)", cfgname,
                    rl_dtype_name(dt), what, step, i, got[i], w, tol);
            return;
        }
    }
}

typedef struct {
    const char *name;
    rl_optim_config cfg;
} named_cfg;

static rl_optim_config sgd(double lr, double mom, double damp, double wd, bool nest, bool maxi)
{
    rl_optim_config c = {.kind = RL_OPTIM_SGD, .lr = lr, .momentum = mom, .dampening = damp, .weight_decay = wd,
                         .nesterov = nest, .maximize = maxi};
    return c;
}

static rl_optim_config adam(rl_optim_kind k, double lr, double b1, double b2, double eps, double wd, bool ams,
                            bool maxi)
{
    rl_optim_config c = {.kind = k, .lr = lr, .beta1 = b1, .beta2 = b2, .eps = eps, .weight_decay = wd,
                         .amsgrad = ams, .maximize = maxi};
    return c;
}

static rl_optim_config rmsprop(double lr, double alpha, double eps, double wd, double mom, bool centered, bool maxi)
{
    rl_optim_config c = {.kind = RL_OPTIM_RMSPROP, .lr = lr, .alpha = alpha, .eps = eps, .weight_decay = wd,
                         .momentum = mom, .centered = centered, .maximize = maxi};
    return c;
}

static rl_optim_config adagrad(double lr, double lr_decay, double wd, double iav, double eps, bool maxi)
{
    rl_optim_config c = {.kind = RL_OPTIM_ADAGRAD, .lr = lr, .lr_decay = lr_decay, .weight_decay = wd,
                         .initial_accumulator_value = iav, .eps = eps, .maximize = maxi};
    return c;
}

static named_cfg *all_configs(int *n)
{
    static named_cfg cfgs[24];
    int k = 0;
    cfgs[k++] = (named_cfg){"sgd", sgd(0.1, 0, 0, 0, false, false)};
    cfgs[k++] = (named_cfg){"sgd_wd", sgd(0.1, 0, 0, 0.01, false, false)};
    cfgs[k++] = (named_cfg){"sgd_momentum", sgd(0.05, 0.9, 0, 0, false, false)};
    cfgs[k++] = (named_cfg){"sgd_dampening_wd", sgd(0.05, 0.9, 0.3, 0.01, false, false)};
    cfgs[k++] = (named_cfg){"sgd_nesterov_wd", sgd(0.05, 0.9, 0, 0.01, true, false)};
    cfgs[k++] = (named_cfg){"sgd_maximize", sgd(0.05, 0.5, 0, 0, false, true)};
    cfgs[k++] = (named_cfg){"adam", adam(RL_OPTIM_ADAM, 0.01, 0.9, 0.999, 1e-8, 0, false, false)};
    cfgs[k++] = (named_cfg){"adam_wd_amsgrad", adam(RL_OPTIM_ADAM, 0.01, 0.8, 0.99, 1e-8, 0.05, true, false)};
    cfgs[k++] = (named_cfg){"adam_maximize", adam(RL_OPTIM_ADAM, 0.01, 0.9, 0.999, 1e-6, 0, false, true)};
    cfgs[k++] = (named_cfg){"adamw", adam(RL_OPTIM_ADAMW, 0.01, 0.9, 0.999, 1e-8, 0.1, false, false)};
    cfgs[k++] = (named_cfg){"adamw_amsgrad", adam(RL_OPTIM_ADAMW, 0.01, 0.9, 0.99, 1e-6, 0.1, true, false)};
    cfgs[k++] = (named_cfg){"rmsprop", rmsprop(0.01, 0.99, 1e-8, 0, 0, false, false)};
    cfgs[k++] = (named_cfg){"rmsprop_centered", rmsprop(0.01, 0.9, 1e-8, 0, 0, true, false)};
    cfgs[k++] = (named_cfg){"rmsprop_momentum", rmsprop(0.01, 0.9, 1e-8, 0, 0.8, false, false)};
    cfgs[k++] = (named_cfg){"rmsprop_centered_momentum_wd", rmsprop(0.01, 0.9, 1e-8, 0.01, 0.8, true, true)};
    cfgs[k++] = (named_cfg){"adagrad", adagrad(0.1, 0, 0, 0, 1e-10, false)};
    cfgs[k++] = (named_cfg){"adagrad_decay_wd_init", adagrad(0.1, 0.05, 0.02, 0.1, 1e-8, false)};
    cfgs[k++] = (named_cfg){"adagrad_maximize", adagrad(0.1, 0.01, 0, 0, 1e-10, true)};
    *n = k;
    return cfgs;
}

/* Runs STEPS updates of one (3,4) parameter with the kernel and the
 * reference and compares the parameter and every state buffer after each. */
static void run_against_reference(const named_cfg *nc, rl_dtype dt, bool strided)
{
    const rl_optim_config *c = &nc->cfg;
    bool f32 = dt == RL_FLOAT32;
    const char *names[RL_OPTIM_MAX_STATE];
    rl_optim_state_names(c, names);
    rl_tensor *p = make_param(dt, 11, strided);
    rl_tensor *state[RL_OPTIM_MAX_STATE] = {0};
    ref_state r;
    memset(&r, 0, sizeof r);
    if (!p) goto done;
    to_array(p, r.p);
    for (int k = 0; k < RL_OPTIM_MAX_STATE; k++) {
        if (!names[k]) continue;
        if (rl_optim_new_state(&state[k], c, k, p) != RL_OK) {
            th_fail(__FILE__, __LINE__, "%s: new_state %d: %s", nc->name, k, rl_last_error());
            goto done;
        }
        CHECK(rl_tensor_is_contiguous(state[k]) && state[k]->dtype == dt);
        if (c->kind == RL_OPTIM_ADAGRAD)
            for (int i = 0; i < N; i++) r.s[k][i] = c->initial_accumulator_value;
    }
    for (int s = 0; s < STEPS; s++) {
        rl_tensor *g = tu_rand(dt, DIMS(3, 4), 100 + (uint64_t)s, -GSCALE[s], GSCALE[s], 0);
        if (!g) goto done;
        double gv[N];
        to_array(g, gv);
        rl_optim_slot slot = {.param = p, .grad = g, .step = s + 1, .fresh = s == 0 && c->kind == RL_OPTIM_SGD};
        memcpy(slot.state, state, sizeof state);
        uint64_t v0 = p->storage->version;
        rl_status st = rl_optim_step(c, &slot, 1);
        rl_tensor_release(g);
        if (st != RL_OK) {
            th_fail(__FILE__, __LINE__, "%s %s step %d: %s", nc->name, rl_dtype_name(dt), s + 1, rl_last_error());
            goto done;
        }
        CHECK(p->storage->version == v0 + 1);
        ref_step(c, f32, &r, gv, s + 1);
        check_array(__LINE__, "param", nc->name, dt, s + 1, p, r.p);
        for (int k = 0; k < RL_OPTIM_MAX_STATE; k++)
            if (names[k]) check_array(__LINE__, names[k], nc->name, dt, s + 1, state[k], r.s[k]);
    }
done:
    rl_tensor_release(p);
    for (int k = 0; k < RL_OPTIM_MAX_STATE; k++) rl_tensor_release(state[k]);
}

static void test_optim_kernels_match_reference(void)
{
    int n;
    named_cfg *cfgs = all_configs(&n);
    for (int i = 0; i < n; i++) {
        run_against_reference(&cfgs[i], RL_FLOAT64, false);
        run_against_reference(&cfgs[i], RL_FLOAT32, false);
    }
}

static void test_optim_strided_params(void)
{
    int n;
    named_cfg *cfgs = all_configs(&n);
    for (int i = 0; i < n; i++) {
        run_against_reference(&cfgs[i], RL_FLOAT64, true);
        run_against_reference(&cfgs[i], RL_FLOAT32, true);
    }
}

/* Several slots of mixed dtypes and sizes in one call equal one call each. */
static void test_optim_many_slots_one_call(void)
{
    rl_optim_config c = adam(RL_OPTIM_ADAM, 0.01, 0.9, 0.999, 1e-8, 0.01, true, false);
    enum { M = 3 };
    rl_dtype dts[M] = {RL_FLOAT64, RL_FLOAT32, RL_FLOAT64};
    int64_t sizes[M] = {7, 1000, 1};
    rl_tensor *pa[M] = {0}, *pb[M] = {0}, *g[M] = {0}, *sa[M][3] = {{0}}, *sb[M][3] = {{0}};
    rl_optim_slot slots[M];
    for (int i = 0; i < M; i++) {
        int64_t shape[1] = {sizes[i]};
        pa[i] = tu_rand(dts[i], 1, shape, 5 + (uint64_t)i, -1, 1, 0);
        pb[i] = tu_rand(dts[i], 1, shape, 5 + (uint64_t)i, -1, 1, 0);
        g[i] = tu_rand(dts[i], 1, shape, 50 + (uint64_t)i, -1, 1, 0);
        if (!pa[i] || !pb[i] || !g[i]) goto done;
        for (int k = 0; k < 3; k++) {
            CHECK_OK(rl_optim_new_state(&sa[i][k], &c, k, pa[i]));
            CHECK_OK(rl_optim_new_state(&sb[i][k], &c, k, pb[i]));
        }
    }
    for (int step = 1; step <= 3; step++) {
        for (int i = 0; i < M; i++) {
            slots[i] = (rl_optim_slot){.param = pa[i], .grad = g[i], .step = step,
                                       .state = {sa[i][0], sa[i][1], sa[i][2]}};
            rl_optim_slot one = {.param = pb[i], .grad = g[i], .step = step, .state = {sb[i][0], sb[i][1], sb[i][2]}};
            CHECK_OK(rl_optim_step(&c, &one, 1));
        }
        CHECK_OK(rl_optim_step(&c, slots, M));
    }
    for (int i = 0; i < M; i++) {
        int64_t idx[1];
        for (idx[0] = 0; idx[0] < sizes[i]; idx[0]++) {
            if (tu_get(pa[i], idx) != tu_get(pb[i], idx)) {
                th_fail(__FILE__, __LINE__, "slot %d element %lld differs", i, (long long)idx[0]);
                break;
            }
        }
    }
done:
    for (int i = 0; i < M; i++) {
        rl_tensor_release(pa[i]);
        rl_tensor_release(pb[i]);
        rl_tensor_release(g[i]);
        for (int k = 0; k < 3; k++) {
            rl_tensor_release(sa[i][k]);
            rl_tensor_release(sb[i][k]);
        }
    }
}

/* A second step with the same gradient from the same state but a later
 * step number differs exactly as the bias corrections say. */
static void test_optim_adam_step_number(void)
{
    rl_optim_config c = adam(RL_OPTIM_ADAM, 0.1, 0.9, 0.999, 0, 0, false, false);
    rl_tensor *p = tu_from(RL_FLOAT64, DIMS(1), (const double[]){0.0});
    rl_tensor *g = tu_from(RL_FLOAT64, DIMS(1), (const double[]){0.5});
    rl_tensor *m = tu_from(RL_FLOAT64, DIMS(1), (const double[]){0.0});
    rl_tensor *v = tu_from(RL_FLOAT64, DIMS(1), (const double[]){0.0});
    if (p && g && m && v) {
        rl_optim_slot s = {.param = p, .grad = g, .step = 7, .state = {m, v}};
        CHECK_OK(rl_optim_step(&c, &s, 1));
        /* m = 0.05, v = 0.00025; m_hat = 0.05/(1-0.9^7), v_hat = 0.00025/(1-0.999^7) */
        double mh = 0.05 / (1 - pow(0.9, 7)), vh = 0.00025 / (1 - pow(0.999, 7));
        CHECK_CLOSE(tu_get(p, IDX(0)), -0.1 * mh / sqrt(vh), 1e-14);
    }
    rl_tensor_release(p);
    rl_tensor_release(g);
    rl_tensor_release(m);
    rl_tensor_release(v);
}

/* ---- errors ---- */

static void test_optim_config_errors(void)
{
    rl_optim_config c = sgd(-0.1, 0, 0, 0, false, false);
    CHECK_STATUS(rl_optim_check_config(&c), RL_ERR_ARG);
    CHECK_CONTAINS(rl_last_error(), "optim.sgd: lr must be >= 0, got -0.1");
    c = sgd(0.1, 0, 0, 0, true, false);
    CHECK_STATUS(rl_optim_check_config(&c), RL_ERR_ARG);
    CHECK_CONTAINS(rl_last_error(), "nesterov momentum needs momentum > 0 and dampening 0");
    c = sgd(0.1, 0.9, 0.1, 0, true, false);
    CHECK_STATUS(rl_optim_check_config(&c), RL_ERR_ARG);
    c = sgd(NAN, 0, 0, 0, false, false);
    CHECK_STATUS(rl_optim_check_config(&c), RL_ERR_ARG);
    c = adam(RL_OPTIM_ADAM, 0.1, 1.0, 0.999, 1e-8, 0, false, false);
    CHECK_STATUS(rl_optim_check_config(&c), RL_ERR_ARG);
    CHECK_CONTAINS(rl_last_error(), "optim.adam: betas must be in [0, 1), got (1, 0.999)");
    c = adam(RL_OPTIM_ADAMW, 0.1, 0.9, -0.1, 1e-8, 0, false, false);
    CHECK_STATUS(rl_optim_check_config(&c), RL_ERR_ARG);
    CHECK_CONTAINS(rl_last_error(), "optim.adamw: betas");
    c = adam(RL_OPTIM_ADAM, 0.1, 0.9, 0.999, -1, 0, false, false);
    CHECK_STATUS(rl_optim_check_config(&c), RL_ERR_ARG);
    CHECK_CONTAINS(rl_last_error(), "eps must be >= 0");
    c = rmsprop(0.1, -0.5, 1e-8, 0, 0, false, false);
    CHECK_STATUS(rl_optim_check_config(&c), RL_ERR_ARG);
    CHECK_CONTAINS(rl_last_error(), "optim.rmsprop: alpha must be >= 0");
    c = adagrad(0.1, -1, 0, 0, 1e-10, false);
    CHECK_STATUS(rl_optim_check_config(&c), RL_ERR_ARG);
    CHECK_CONTAINS(rl_last_error(), "optim.adagrad: lr_decay must be >= 0");
    c = adagrad(0.1, 0, -1, 0, 1e-10, false);
    CHECK_STATUS(rl_optim_check_config(&c), RL_ERR_ARG);
    CHECK_CONTAINS(rl_last_error(), "weight_decay must be >= 0");
    c.kind = (rl_optim_kind)42;
    CHECK_STATUS(rl_optim_check_config(&c), RL_ERR_ARG);
}

/* Every bad slot is refused with a message naming it, and nothing is
 * written: slot 1 (good) stays as it was when slot 2 is bad. */
static void test_optim_slot_errors_write_nothing(void)
{
    rl_optim_config c = adam(RL_OPTIM_ADAM, 0.1, 0.9, 0.999, 1e-8, 0, false, false);
    rl_tensor *p1 = tu_rand(RL_FLOAT64, DIMS(4, 3), 1, -1, 1, 0), *g1 = tu_rand(RL_FLOAT64, DIMS(4, 3), 2, -1, 1, 0);
    rl_tensor *p2 = tu_rand(RL_FLOAT64, DIMS(4, 3), 3, -1, 1, 0), *g2 = tu_rand(RL_FLOAT64, DIMS(4, 3), 4, -1, 1, 0);
    rl_tensor *m1 = NULL, *v1 = NULL, *m2 = NULL, *v2 = NULL, *bad = NULL, *f32 = NULL, *i64 = NULL, *row = NULL,
              *expd = NULL, *alias = NULL;
    REQUIRE(p1 && g1 && p2 && g2);
    CHECK_OK(rl_optim_new_state(&m1, &c, 0, p1));
    CHECK_OK(rl_optim_new_state(&v1, &c, 1, p1));
    CHECK_OK(rl_optim_new_state(&m2, &c, 0, p2));
    CHECK_OK(rl_optim_new_state(&v2, &c, 1, p2));
    CHECK_OK(rl_tensor_zeros(&bad, RL_FLOAT64, DIMS(3, 4)));
    CHECK_OK(rl_tensor_zeros(&f32, RL_FLOAT32, DIMS(4, 3)));
    CHECK_OK(rl_tensor_zeros(&i64, RL_INT64, DIMS(4, 3)));
    CHECK_OK(rl_tensor_zeros(&row, RL_FLOAT64, DIMS(1, 3)));
    CHECK_OK(rl_tensor_expand(&expd, row, DIMS(4, 3)));
    CHECK_OK(rl_tensor_alias(&alias, p2));
    if (th_failures()) goto done;

    double before[N];
    to_array(p1, before);
    rl_optim_slot s[2] = {
        {.param = p1, .grad = g1, .step = 1, .state = {m1, v1}},
        {.param = p2, .grad = g2, .step = 1, .state = {m2, v2}},
    };
    struct {
        const char *field;
        rl_status want;
        const char *msg;
    } cases[] = {
        {"exp_avg_shape", RL_ERR_STATE, "optim.adam: parameter 2 (4,3) float64: state exp_avg is (3,4) float64"},
        {"exp_avg_sq_missing", RL_ERR_STATE, "optim.adam: parameter 2 (4,3) float64: state exp_avg_sq is missing"},
        {"exp_avg_dtype", RL_ERR_STATE, "state exp_avg is (4,3) float32"},
        {"grad_missing", RL_ERR_ARG, "optim.adam: parameter 2 (4,3) float64 has no gradient"},
        {"grad_shape", RL_ERR_SHAPE, "parameter 2 (4,3) float64: its gradient is (3,4) float64"},
        {"param_int64", RL_ERR_DTYPE, "parameter 2 (4,3) is int64; only float32 and float64 can be optimized"},
        {"param_expanded", RL_ERR_ARG, "parameter 2 (4,3) float64 is an expanded view"},
        {"state_aliases_param", RL_ERR_STATE, "state exp_avg shares memory with the parameter"},
        {"states_alias", RL_ERR_STATE, "states exp_avg and exp_avg_sq share memory"},
        {"step_zero", RL_ERR_STATE, "step 0 must be >= 1"},
        {"index", RL_ERR_STATE, "optim.adam: parameter 17 (4,3)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rl_optim_slot b = s[1];
        const char *f = cases[i].field;
        if (!strcmp(f, "exp_avg_shape")) b.state[0] = bad;
        else if (!strcmp(f, "exp_avg_sq_missing")) b.state[1] = NULL;
        else if (!strcmp(f, "exp_avg_dtype")) b.state[0] = f32;
        else if (!strcmp(f, "grad_missing")) b.grad = NULL;
        else if (!strcmp(f, "grad_shape")) b.grad = bad;
        else if (!strcmp(f, "param_int64")) b.param = i64;
        else if (!strcmp(f, "param_expanded")) { b.param = expd; b.grad = g2; }
        else if (!strcmp(f, "state_aliases_param")) b.state[0] = alias;
        else if (!strcmp(f, "states_alias")) b.state[1] = m2;
        else if (!strcmp(f, "step_zero")) b.step = 0;
        else if (!strcmp(f, "index")) { b.index = 17; b.state[1] = NULL; }
        rl_optim_slot pair[2] = {s[0], b};
        CHECK_STATUS(rl_optim_check(&c, pair, 2), cases[i].want);
        CHECK_CONTAINS(rl_last_error(), cases[i].msg);
        CHECK_STATUS(rl_optim_step(&c, pair, 2), cases[i].want);
        CHECK_CONTAINS(rl_last_error(), cases[i].msg);
    }
    CHECK_OK(rl_optim_check(&c, s, 2)); /* good slots: checked, not written */
    double after[N];
    to_array(p1, after);
    CHECK(memcmp(before, after, sizeof before) == 0);
    int64_t z[2] = {0, 0};
    CHECK(tu_get(m1, z) == 0 && tu_get(v1, z) == 0);

    /* new_state refuses what it cannot make */
    rl_tensor *t = NULL;
    CHECK_STATUS(rl_optim_new_state(&t, &c, 2, p1), RL_ERR_ARG); /* no amsgrad */
    CHECK_CONTAINS(rl_last_error(), "has no state buffer 2");
    CHECK_STATUS(rl_optim_new_state(&t, &c, 0, i64), RL_ERR_DTYPE);
    CHECK(t == NULL);
done:
    rl_tensor_release(p1);
    rl_tensor_release(g1);
    rl_tensor_release(p2);
    rl_tensor_release(g2);
    rl_tensor_release(m1);
    rl_tensor_release(v1);
    rl_tensor_release(m2);
    rl_tensor_release(v2);
    rl_tensor_release(bad);
    rl_tensor_release(f32);
    rl_tensor_release(i64);
    rl_tensor_release(row);
    rl_tensor_release(expd);
    rl_tensor_release(alias);
}

static void test_optim_state_names_and_init(void)
{
    const char *names[RL_OPTIM_MAX_STATE];
    rl_optim_config c = sgd(0.1, 0, 0, 0, false, false);
    rl_optim_state_names(&c, names);
    CHECK(!names[0] && !names[1] && !names[2]);
    c.momentum = 0.9;
    rl_optim_state_names(&c, names);
    CHECK(names[0] && !strcmp(names[0], "momentum_buffer"));
    c = rmsprop(0.1, 0.99, 1e-8, 0, 0, true, false);
    rl_optim_state_names(&c, names);
    CHECK(!strcmp(names[0], "square_avg") && !names[1] && !strcmp(names[2], "grad_avg"));
    c = adam(RL_OPTIM_ADAMW, 0.1, 0.9, 0.999, 1e-8, 0, true, false);
    rl_optim_state_names(&c, names);
    CHECK(!strcmp(names[0], "exp_avg") && !strcmp(names[1], "exp_avg_sq") && !strcmp(names[2], "max_exp_avg_sq"));
    c = adagrad(0.1, 0, 0, 0.25, 1e-10, false);
    rl_tensor *p = tu_rand(RL_FLOAT32, DIMS(2, 2), 1, -1, 1, 0), *s = NULL;
    REQUIRE(p);
    CHECK_OK(rl_optim_new_state(&s, &c, 0, p));
    if (s) {
        CHECK(s->dtype == RL_FLOAT32);
        CHECK_SHAPE(s, DIMS(2, 2));
        CHECK(tu_get(s, IDX(1, 1)) == 0.25);
    }
    rl_tensor_release(s);
    rl_tensor_release(p);
    CHECK(!strcmp(rl_optim_kind_name(RL_OPTIM_RMSPROP), "rmsprop"));
}

void suite_optim(void)
{
    TH_RUN(test_optim_kernels_match_reference);
    TH_RUN(test_optim_strided_params);
    TH_RUN(test_optim_many_slots_one_call);
    TH_RUN(test_optim_adam_step_number);
    TH_RUN(test_optim_config_errors);
    TH_RUN(test_optim_slot_errors_write_nothing);
    TH_RUN(test_optim_state_names_and_init);
}
