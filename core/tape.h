/* tape.h — reverse-mode automatic differentiation.
 *
 * Every differentiable operation run while gradients are enabled, on inputs
 * of which at least one requires a gradient, records a node: its inputs (as
 * edges to the nodes that made them, or to leaf tensors), the tensors its
 * backward needs (saved), and a sequence number in execution order. Results
 * point at their node (grad_fn). backward() collects the nodes reachable from
 * the root with an explicit stack, sorts them by sequence number and walks
 * them in reverse execution order — the tape read backwards, without
 * recursion, so a chain of 100,000 steps costs no C stack. Gradients
 * accumulate (+=) into leaves' grad; zeroing is explicit.
 *
 * After backward the saved tensors of every walked node are released (the
 * graph's memory goes back) unless retain_graph is set; a second backward
 * through such a node is an error naming the op. Nodes are freed when the
 * last tensor pointing at them goes, also iteratively. */
#ifndef RL_TAPE_H
#define RL_TAPE_H

#include "tensor.h"

typedef struct rl_node rl_node;

/* Where a gradient goes: the output output_nr of node, or a leaf tensor.
 * Both NULL: the input does not need a gradient. */
typedef struct {
    rl_node *node;
    int output_nr;
    rl_tensor *leaf;
} rl_edge;

/* The shape of one output, to make zero gradients for unused outputs. */
typedef struct {
    rl_dtype dtype;
    int ndim;
    int64_t shape[RL_MAX_DIMS];
    rl_tensor *retained;   /* the output tensor when it asked retain_grad (weak) */
} rl_node_output;

/* Computes the gradients of the inputs from those of the outputs.
 * grad_out[k] is never NULL (zeros stand in for outputs nothing used);
 * grad_in[i] is wanted when rl_node_needs(n, i); leaving it NULL means zero.
 * Returned gradients may be views of anything (grad_out included): the
 * tape copies before it writes into one. */
typedef rl_status (*rl_backward_fn)(rl_node *n, rl_tensor *const *grad_out, rl_tensor **grad_in);

#define RL_NODE_MAX_SAVED 4
#define RL_NODE_MAX_ARGS 12

struct rl_node {
    long refcount;
    uint64_t seq;                   /* position on the tape */
    const char *name;               /* the op, for messages */
    rl_backward_fn backward;
    int nin, nout;
    rl_edge *in;                    /* nin edges */
    rl_node_output *out;            /* nout outputs */
    rl_tensor *saved[RL_NODE_MAX_SAVED];
    uint64_t saved_version[RL_NODE_MAX_SAVED]; /* storage versions when saved */
    double scalar[4];               /* op parameters */
    int64_t arg[RL_NODE_MAX_ARGS];
    void *ctx;                      /* op-owned extra state, freed with ctx_free */
    void (*ctx_free)(void *ctx);
    bool released;                  /* saved state dropped by a backward */
    bool pooled;                    /* allocated at the pool's size (tape.c) */
    /* used during one backward */
    uint64_t visit;
    rl_tensor **acc;
    rl_node *next_free;
};

/* Grad mode: when off (no_grad), nothing is recorded. */
bool rl_grad_enabled(void);
void rl_set_grad_enabled(bool on);

/* True when t takes part in differentiation: a leaf with requires_grad, or
 * the result of a recorded op. */
static inline bool rl_needs_grad(const rl_tensor *t)
{
    return t && (t->requires_grad || t->grad_fn);
}

/* Should an op with these inputs be recorded? Grad mode on and any input
 * needs a gradient. NULL entries are skipped. */
bool rl_should_record(int n, rl_tensor *const *inputs);

/* A node for an op with nin inputs (NULL entries or inputs that need no
 * gradient get empty edges) and nout outputs. Outputs are attached with
 * rl_node_set_output, which hands each one a reference to the node; the
 * caller drops its own creation reference with rl_node_release after. */
rl_status rl_node_new(rl_node **out, const char *name, rl_backward_fn backward,
                      int nin, rl_tensor *const *inputs, int nout);
void rl_node_set_output(rl_node *n, int k, rl_tensor *t);
/* The usual recording of a one-output op whose result *out is computed:
 * when rl_should_record(nin, inputs), a node with these inputs and saved
 * tensors (NULL entries skipped), output *out. *node (if not NULL) gets the
 * node, or NULL when nothing was recorded, so the caller can set its
 * parameters. On failure *out is released and set to NULL. */
rl_status rl_record(rl_tensor **out, const char *name, rl_backward_fn backward, int nin,
                    rl_tensor *const *inputs, int nsaved, const rl_tensor *const *saved, rl_node **node);

/* Keeps t (through an alias without autograd links) for backward. */
rl_status rl_node_save(rl_node *n, int slot, const rl_tensor *t);
static inline bool rl_node_needs(const rl_node *n, int i)
{
    return n->in[i].node || n->in[i].leaf;
}
void rl_node_release(rl_node *n);
/* In a backward function: the buffer that already holds input i's
 * gradient, when the backward may add its contribution into it in place
 * (a GEMM with beta = 1 instead of a new product and a sum); NULL when
 * there is none yet or it is not the tape's alone. It has the input's shape
 * and dtype and is contiguous. A backward that adds into it leaves
 * grad_in[i] NULL. */
rl_tensor *rl_backward_sink(rl_node *n, int i);
/* dtype and shape of input i (which must need a gradient), from its edge */
void rl_node_input_meta(const rl_node *n, int i, rl_node_output *meta);
/* A tensor pointing at n as its grad_fn is going away. */
void rl_node_forget_output(rl_node *n, rl_tensor *t);

/* An alias of t sharing its data, outside any graph (t:detach()). */
rl_status rl_tensor_detach(rl_tensor **out, const rl_tensor *t);

/* Backpropagates from root. grad: the gradient of root (same shape and
 * dtype); NULL means 1 and requires a one-element root. */
rl_status rl_backward(rl_tensor *root, const rl_tensor *grad, bool retain_graph);

/* Marks a non-leaf so that backward keeps its gradient in t->grad. */
rl_status rl_retain_grad(rl_tensor *t);

/* acc += g, where acc may be NULL (then a private copy of g), and g may
 * need summing down from a broadcast shape. Used by the tape and by ops. */
rl_status rl_grad_accumulate(rl_tensor **acc, const rl_tensor *g);

/* Number of nodes alive, for tests of the tape's memory. */
long rl_nodes_alive(void);

#endif
