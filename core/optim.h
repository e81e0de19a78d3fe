/* optim.h — fused optimizer updates: SGD, Adam, AdamW, RMSprop, Adagrad
 * with PyTorch 1.13's update formulas (the single-tensor paths of
 * torch/optim/{sgd,adam,adamw,rmsprop,adagrad}.py), one call per step over
 * every parameter and its state buffers.
 *
 * Each parameter is a "slot": the parameter (updated in place), its
 * gradient, its state buffers (tensors of the parameter's shape and dtype,
 * updated in place) and the number of this step (1 on the first update of
 * that parameter). float32 and float64 parameters may be mixed; a float32
 * element is computed in double and rounded once when stored (PyTorch rounds
 * after every elementwise op, so float32 results agree with it to a few
 * float32 ulps, float64 results to a few float64 ulps: PyTorch's vectorised
 * kernels use fused multiply-adds, this file does not).
 *
 * Per element, with g the gradient (negated when maximize) and p the
 * parameter, the arithmetic and its order are PyTorch's:
 *
 *   SGD      if wd: g = g + wd*p
 *            if momentum: b = (first ? g : b*mu + (1-dampening)*g)
 *                         g = nesterov ? g + mu*b : b
 *            p = p + (-lr)*g
 *   Adam     if wd: g = g + wd*p                    (AdamW: p = p*(1 - lr*wd))
 *            m = m*b1 + (1-b1)*g;  v = v*b2 + ((1-b2)*g)*g
 *            if amsgrad: vmax = maximum(vmax, v), used for v below (NaN wins)
 *            denom = sqrt(v)/sqrt(1 - b2^t) + eps
 *            p = p + ((-lr/(1 - b1^t))*m)/denom
 *   RMSprop  if wd: g = g + wd*p
 *            s = s*alpha + ((1-alpha)*g)*g
 *            avg = centered ? sqrt(s + (-a)*a) with a = a*alpha + (1-alpha)*g
 *                           : sqrt(s);  avg = avg + eps
 *            momentum > 0: b = b*mu + g/avg;  p = p + (-lr)*b
 *            else:         p = p + ((-lr)*g)/avg
 *   Adagrad  if wd: g = g + wd*p
 *            sum = sum + g*g;  clr = lr/(1 + (t-1)*lr_decay)
 *            p = p + ((-clr)*g)/(sqrt(sum) + eps)
 *
 * State buffers, by position in rl_optim_slot.state (NULL where unused):
 *   SGD      0 momentum_buffer (momentum != 0)
 *   Adam(W)  0 exp_avg, 1 exp_avg_sq, 2 max_exp_avg_sq (amsgrad)
 *   RMSprop  0 square_avg, 1 momentum_buffer (momentum > 0), 2 grad_avg (centered)
 *   Adagrad  0 sum
 * New buffers start at zero, Adagrad's sum at initial_accumulator_value, and
 * SGD's momentum buffer as a copy of the first (decayed) gradient (PyTorch's
 * clone of d_p): the update of a slot marked `fresh` writes that copy. */
#ifndef RL_OPTIM_H
#define RL_OPTIM_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor.h"

typedef enum {
    RL_OPTIM_SGD = 0,
    RL_OPTIM_ADAM,
    RL_OPTIM_ADAMW,
    RL_OPTIM_RMSPROP,
    RL_OPTIM_ADAGRAD
} rl_optim_kind;

#define RL_OPTIM_MAX_STATE 3

/* Hyperparameters; fields a kind does not use are ignored. */
typedef struct {
    rl_optim_kind kind;
    double lr;
    double weight_decay;
    double momentum;                  /* SGD, RMSprop */
    double dampening;                 /* SGD */
    bool nesterov;                    /* SGD */
    double beta1, beta2;              /* Adam, AdamW */
    bool amsgrad;                     /* Adam, AdamW */
    double eps;                       /* Adam, AdamW, RMSprop, Adagrad */
    double alpha;                     /* RMSprop */
    bool centered;                    /* RMSprop */
    double lr_decay;                  /* Adagrad */
    double initial_accumulator_value; /* Adagrad */
    bool maximize;
} rl_optim_config;

typedef struct {
    rl_tensor *param;                       /* updated in place */
    const rl_tensor *grad;                  /* same shape and dtype */
    rl_tensor *state[RL_OPTIM_MAX_STATE];   /* see above; updated in place */
    int64_t step;                           /* this update's number, >= 1 */
    bool fresh;                             /* SGD: state[0] not yet initialised */
    int64_t index;                          /* the parameter's number in error
                                               messages; 0: its position + 1 */
} rl_optim_slot;

/* "sgd", "adam", "adamw", "rmsprop", "adagrad" */
const char *rl_optim_kind_name(rl_optim_kind kind);

/* Checks the hyperparameters as PyTorch's constructors do (lr, eps,
 * weight_decay, momentum, alpha, lr_decay, initial_accumulator_value >= 0;
 * betas in [0, 1); nesterov needs momentum > 0 and dampening 0; no NaN). */
rl_status rl_optim_check_config(const rl_optim_config *cfg);

/* The names of the state buffers this configuration uses, by position
 * (NULL where unused): "exp_avg", "momentum_buffer", ... */
void rl_optim_state_names(const rl_optim_config *cfg, const char *names[RL_OPTIM_MAX_STATE]);

/* A new state buffer k for param: contiguous, param's shape and dtype, at
 * its initial value (zeros; Adagrad's sum at initial_accumulator_value;
 * SGD's momentum buffer is zeros until the update of a slot marked fresh
 * overwrites it). */
rl_status rl_optim_new_state(rl_tensor **out, const rl_optim_config *cfg, int k, const rl_tensor *param);

/* One step over n slots. Everything is checked first (configuration, each
 * slot's gradient and buffers: present, float32/float64, the parameter's
 * shape and dtype, not sharing the parameter's memory, no expanded (stride
 * 0) dimension, step >= 1); on an error nothing has been written and the
 * message names the slot (its index, else its 1-based position), e.g.
 *   "optim.adam: parameter 2 (4,3) float64: exp_avg has shape (3,4)".
 * Then every slot is updated; the storage versions of the parameters and
 * buffers are bumped (so a backward through a graph that saved a parameter
 * fails instead of using the new values). */
rl_status rl_optim_step(const rl_optim_config *cfg, const rl_optim_slot *slots, int64_t n);

/* The checks of rl_optim_step alone (nothing written): to check several
 * groups of slots, each with its own configuration, before updating any. */
rl_status rl_optim_check(const rl_optim_config *cfg, const rl_optim_slot *slots, int64_t n);

#endif
