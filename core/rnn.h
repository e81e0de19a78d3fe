/* rnn.h — fused recurrent kernels: one layer and one direction of an
 * Elman RNN (tanh or relu), LSTM or GRU over a whole sequence, recorded on
 * the tape as a single node with a hand-written BPTT backward.
 *
 * Equations, gate order and weight layout are PyTorch's:
 *   RNN   h' = act(W_ih x + b_ih + W_hh h + b_hh)
 *   LSTM  (i,f,g,o) = (σ,σ,tanh,σ)(W_ih x + b_ih + W_hh h + b_hh)
 *         c' = f c + i g,  h' = o tanh(c')
 *   GRU   r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(... z ...),
 *         n = tanh(W_in x + b_in + r (W_hn h + b_hn)),  h' = (1-z) n + z h
 * Forward: the input projection of all steps is one GEMM, then one GEMM per
 * step. Backward: one GEMM per step for the state gradient, and over chunks
 * of about a thousand rows (steps times batch) the weight and input
 * gradients as GEMMs over the chunk's rows, so that only a chunk's gate
 * gradients are kept.
 * On machines with AVX-512 these products run on the calling thread in
 * rnn.c's own kernel (W_hh packed once per sequence, not at every step);
 * elsewhere through BLAS. Nothing is allocated inside the time loops, and
 * the big internal buffers are kept for the next call of the same shapes. */
#ifndef RL_RNN_H
#define RL_RNN_H

#include "tensor.h"

typedef enum { RL_RNN_TANH, RL_RNN_RELU, RL_LSTM, RL_GRU } rl_rnn_mode;

/* Gate rows per hidden unit: 1 (RNN), 4 (LSTM), 3 (GRU). */
int rl_rnn_gates(rl_rnn_mode mode);
const char *rl_rnn_mode_name(rl_rnn_mode mode);
/* "lstm_cell" and so on: the name of rl_rnn_cell's node */
const char *rl_rnn_cell_name(rl_rnn_mode mode);

typedef enum { RL_CLIP_NONE, RL_CLIP_VALUE, RL_CLIP_NORM } rl_clip_mode;

typedef struct {
    /* run t = T-1 .. 0 (each sequence from its own last step) */
    bool reverse;
    /* NULL or int64 (B), each in 0..T: steps t >= lengths[b] leave sequence
     * b's state unchanged and output zeros */
    const rl_tensor *lengths;
    /* Per-step clipping in the backward of the gradient that flows back
     * through the hidden state from step t to step t-1: each element to
     * [-clip, clip] (value), or each sequence's row rescaled to norm clip
     * when longer (norm). */
    rl_clip_mode clip_mode;
    double clip;
    /* NULL, or a float64 (T) tensor that the backward fills with
     * ||dL/dh_t|| (over the batch) for every step t: the total gradient
     * reaching h_t, from the output at t and from step t+1. */
    rl_tensor *grad_norms;
} rl_rnn_options;

/* x: (T,B,I); h0, c0: (B,H) (c0 for LSTM only, else NULL);
 * w_ih: (G·H,I); w_hh: (G·H,H); b_ih, b_hh: (G·H) or both NULL;
 * opts: NULL for the defaults (all zero).
 * Out: out (T,B,H); h_n (B,H); c_n (B,H) for LSTM (pass NULL otherwise).
 * All of one float dtype. Differentiable in every tensor input.
 * For RL_RNN_TANH and RL_RNN_RELU, out shares its memory with the states
 * the backward reads: the backward fails when out's storage version has
 * changed since (the Lua bindings bump it on every in-place write); a C
 * caller that writes into out must bump it too. */
rl_status rl_rnn_forward(rl_tensor **out, rl_tensor **h_n, rl_tensor **c_n, rl_rnn_mode mode,
                         rl_tensor *x, rl_tensor *h0, rl_tensor *c0, rl_tensor *w_ih, rl_tensor *w_hh,
                         rl_tensor *b_ih, rl_tensor *b_hh, const rl_rnn_options *opts);

/* One step: x (B,I), h (B,H), c (B,H) for LSTM (else NULL), the weights
 * as above. Out: h' (B,H); c' (B,H) for LSTM (pass NULL otherwise). The
 * same kernel as a sequence of one step, recorded as one node whose
 * backward adds the weight gradients into those the tape already holds, in
 * panels over the steps of a loop (lowrank.h), with the weights packed once
 * for all steps (rnn_workspace.h). */
rl_status rl_rnn_cell(rl_tensor **h2, rl_tensor **c2, rl_rnn_mode mode, rl_tensor *x, rl_tensor *h, rl_tensor *c,
                      rl_tensor *w_ih, rl_tensor *w_hh, rl_tensor *b_ih, rl_tensor *b_hh);

#endif
