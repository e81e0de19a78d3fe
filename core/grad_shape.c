/* grad_shape.c — differentiable views, copies, indexing and joining.
 * A view's gradient is the gradient seen through the inverse view; an
 * indexing op's gradient is scattered back into zeros. */
#include "autograd.h"
#include "index.h"

#include <stdlib.h>
#include <string.h>

#define TRY(expr)                                                                      \
    do {                                                                               \
        if ((st = (expr)) != RL_OK) goto done;                                         \
    } while (0)

/* ---- views whose inverse is a reshape to the input's shape ---- */

static rl_status reshape_backward(rl_node *n, rl_tensor *const *grad_out, rl_tensor **grad_in)
{
    rl_node_output in;
    rl_node_input_meta(n, 0, &in);
    return rl_tensor_reshape(&grad_in[0], grad_out[0], in.ndim, in.shape);
}

static rl_status record_reshape_like(rl_tensor **out, rl_status st, const char *name, rl_tensor *t)
{
    if (st) return st;
    return rl_record(out, name, reshape_backward, 1, &t, 0, NULL, NULL);
}

rl_status rl_ag_view(rl_tensor **out, rl_tensor *t, int ndim, const int64_t *shape)
{
    return record_reshape_like(out, rl_tensor_view(out, t, ndim, shape), "view", t);
}

rl_status rl_ag_reshape(rl_tensor **out, rl_tensor *t, int ndim, const int64_t *shape)
{
    return record_reshape_like(out, rl_tensor_reshape(out, t, ndim, shape), "reshape", t);
}

rl_status rl_ag_squeeze(rl_tensor **out, rl_tensor *t, int dim)
{
    return record_reshape_like(out, rl_tensor_squeeze(out, t, dim), "squeeze", t);
}

rl_status rl_ag_unsqueeze(rl_tensor **out, rl_tensor *t, int dim)
{
    return record_reshape_like(out, rl_tensor_unsqueeze(out, t, dim), "unsqueeze", t);
}

/* ---- gradient passes through unchanged (the tape sums an expand back) ---- */

static rl_status identity_backward(rl_node *n, rl_tensor *const *grad_out, rl_tensor **grad_in)
{
    (void)n;
    return rl_tensor_alias(&grad_in[0], grad_out[0]);
}

rl_status rl_ag_expand(rl_tensor **out, rl_tensor *t, int ndim, const int64_t *shape)
{
    rl_status st = rl_tensor_expand(out, t, ndim, shape);
    return st ? st : rl_record(out, "expand", identity_backward, 1, &t, 0, NULL, NULL);
}

rl_status rl_ag_clone(rl_tensor **out, rl_tensor *t)
{
    rl_status st = rl_tensor_clone(out, t);
    return st ? st : rl_record(out, "clone", identity_backward, 1, &t, 0, NULL, NULL);
}

rl_status rl_ag_contiguous(rl_tensor **out, rl_tensor *t)
{
    if (rl_tensor_is_contiguous(t)) {
        rl_tensor_retain(t);
        *out = t;
        return RL_OK;
    }
    return rl_ag_clone(out, t);
}

/* ---- dtype conversion: the gradient converts back ---- */

static rl_status to_dtype_backward(rl_node *n, rl_tensor *const *grad_out, rl_tensor **grad_in)
{
    rl_node_output in;
    rl_node_input_meta(n, 0, &in);
    return rl_tensor_to_dtype(&grad_in[0], grad_out[0], in.dtype);
}

rl_status rl_ag_to_dtype(rl_tensor **out, rl_tensor *t, rl_dtype dt)
{
    rl_status st = rl_tensor_to_dtype(out, t, dt);
    if (st) return st;
    if (dt == RL_INT64) return RL_OK; /* integers carry no gradient */
    return rl_record(out, "to", to_dtype_backward, 1, &t, 0, NULL, NULL);
}

/* ---- transpose and permute: the inverse permutation ---- */

static rl_status transpose_backward(rl_node *n, rl_tensor *const *grad_out, rl_tensor **grad_in)
{
    return rl_tensor_transpose(&grad_in[0], grad_out[0], (int)n->arg[0], (int)n->arg[1]);
}

rl_status rl_ag_transpose(rl_tensor **out, rl_tensor *t, int d0, int d1)
{
    rl_status st = rl_tensor_transpose(out, t, d0, d1);
    if (st) return st;
    rl_node *n;
    st = rl_record(out, "transpose", transpose_backward, 1, &t, 0, NULL, &n);
    if (n) {
        n->arg[0] = d0;
        n->arg[1] = d1;
    }
    return st;
}

static rl_status permute_backward(rl_node *n, rl_tensor *const *grad_out, rl_tensor **grad_in)
{
    int inverse[RL_MAX_DIMS];
    for (int i = 0; i < grad_out[0]->ndim; i++) inverse[n->arg[i]] = i;
    return rl_tensor_permute(&grad_in[0], grad_out[0], inverse);
}

rl_status rl_ag_permute(rl_tensor **out, rl_tensor *t, const int *perm)
{
    rl_status st = rl_tensor_permute(out, t, perm);
    if (st) return st;
    rl_node *n;
    st = rl_record(out, "permute", permute_backward, 1, &t, 0, NULL, &n);
    for (int i = 0; n && i < t->ndim; i++) n->arg[i] = perm[i];
    return st;
}

/* ---- narrow and select: the gradient lands in a slot of zeros ----
 * or, when the tape already holds a gradient buffer of the input that only
 * it holds (rl_backward_sink), is added into the slot of that buffer: a
 * loop over x[t] then adds T slices where it would add T tensors of x's
 * whole size (O(T) instead of O(T²) work per sequence). */

/* the view of base that the forward took */
static rl_status slot_of(const rl_node *n, rl_tensor *base, rl_tensor **slot)
{
    if (n->arg[2] < 0) return rl_tensor_select(slot, base, (int)n->arg[0], n->arg[1]);
    return rl_tensor_narrow(slot, base, (int)n->arg[0], n->arg[1], n->arg[2]);
}

static rl_status slot_backward(rl_node *n, rl_tensor *const *grad_out, rl_tensor **grad_in)
{
    rl_tensor *slot = NULL, *sink = rl_backward_sink(n, 0);
    rl_status st;
    if (sink) {
        st = slot_of(n, sink, &slot);
        if (st == RL_OK) st = rl_binary_into(slot, RL_ADD, slot, grad_out[0]);
    } else {
        rl_node_output in;
        rl_node_input_meta(n, 0, &in);
        st = rl_tensor_zeros(&grad_in[0], in.dtype, in.ndim, in.shape);
        if (st == RL_OK) st = slot_of(n, grad_in[0], &slot);
        if (st == RL_OK) st = rl_tensor_copy_(slot, grad_out[0]);
    }
    rl_tensor_release(slot);
    return st;
}

/* arg: dim, start or index, length (-1 for select) */
static rl_status record_slot(rl_tensor **out, rl_tensor *t, const char *name, int dim, int64_t at, int64_t len)
{
    rl_node *n;
    rl_status st = rl_record(out, name, slot_backward, 1, &t, 0, NULL, &n);
    if (n) {
        n->arg[0] = dim;
        n->arg[1] = at;
        n->arg[2] = len;
    }
    return st;
}

rl_status rl_ag_narrow(rl_tensor **out, rl_tensor *t, int dim, int64_t start, int64_t length)
{
    rl_status st = rl_tensor_narrow(out, t, dim, start, length);
    return st ? st : record_slot(out, t, "narrow", dim, start, length);
}

rl_status rl_ag_select(rl_tensor **out, rl_tensor *t, int dim, int64_t index)
{
    rl_status st = rl_tensor_select(out, t, dim, index);
    return st ? st : record_slot(out, t, "select", dim, index, -1);
}

/* ---- index_select and gather: scattered back ---- */

/* arg: dim, base; saved: the indices */
static rl_status index_backward(rl_node *n, rl_tensor *const *grad_out, rl_tensor **grad_in)
{
    rl_node_output in;
    rl_node_input_meta(n, 0, &in);
    rl_status st = rl_tensor_zeros(&grad_in[0], in.dtype, in.ndim, in.shape);
    if (st) return st;
    int dim = (int)n->arg[0];
    if (!strcmp(n->name, "gather")) return rl_scatter_add_(grad_in[0], dim, n->saved[0], grad_out[0], n->arg[1]);
    return rl_index_add_(grad_in[0], dim, n->saved[0], grad_out[0], n->arg[1]);
}

static rl_status record_index(rl_tensor **out, rl_tensor *t, const char *name, int dim, rl_tensor *index,
                              int64_t base)
{
    const rl_tensor *saved[1] = {index};
    rl_node *n;
    rl_status st = rl_record(out, name, index_backward, 1, &t, 1, saved, &n);
    if (n) {
        n->arg[0] = dim;
        n->arg[1] = base;
    }
    return st;
}

rl_status rl_ag_index_select(rl_tensor **out, rl_tensor *t, int dim, rl_tensor *index, int64_t base)
{
    rl_status st = rl_index_select(out, t, dim, index, base);
    return st ? st : record_index(out, t, "index_select", dim, index, base);
}

rl_status rl_ag_gather(rl_tensor **out, rl_tensor *t, int dim, rl_tensor *index, int64_t base)
{
    rl_status st = rl_gather(out, t, dim, index, base);
    return st ? st : record_index(out, t, "gather", dim, index, base);
}

/* ---- cat and stack: each input gets its slice of the gradient ---- */

/* arg[0]: dim; ctx: the inputs' sizes along dim (cat) */
static rl_status cat_backward(rl_node *n, rl_tensor *const *grad_out, rl_tensor **grad_in)
{
    const int64_t *sizes = n->ctx;
    int dim = (int)n->arg[0];
    int64_t at = 0;
    for (int i = 0; i < n->nin; i++) {
        if (rl_node_needs(n, i)) {
            rl_status st = rl_tensor_narrow(&grad_in[i], grad_out[0], dim, at, sizes[i]);
            if (st) return st;
        }
        at += sizes[i];
    }
    return RL_OK;
}

static rl_status stack_backward(rl_node *n, rl_tensor *const *grad_out, rl_tensor **grad_in)
{
    for (int i = 0; i < n->nin; i++) {
        if (!rl_node_needs(n, i)) continue;
        rl_status st = rl_tensor_select(&grad_in[i], grad_out[0], (int)n->arg[0], i);
        if (st) return st;
    }
    return RL_OK;
}

static rl_status record_join(rl_tensor **out, rl_tensor *const *ts, int count, int dim, bool stack)
{
    if (!rl_should_record(count, ts)) return RL_OK;
    rl_node *n = NULL;
    rl_status st = rl_node_new(&n, stack ? "stack" : "cat", stack ? stack_backward : cat_backward, count, ts, 1);
    if (st == RL_OK && !stack) {
        int64_t *sizes = malloc(sizeof *sizes * (size_t)count);
        if (!sizes) st = rl_fail(RL_ERR_NOMEM, "cat: out of memory recording the operation");
        for (int i = 0; sizes && i < count; i++) sizes[i] = ts[i]->shape[dim];
        n->ctx = sizes;
        n->ctx_free = free;
    }
    if (st) {
        rl_node_release(n);
        rl_tensor_release(*out);
        *out = NULL;
        return st;
    }
    n->arg[0] = dim;
    rl_node_set_output(n, 0, *out);
    rl_node_release(n);
    return RL_OK;
}

rl_status rl_ag_cat(rl_tensor **out, rl_tensor *const *ts, int n, int dim)
{
    rl_status st = rl_cat(out, (const rl_tensor *const *)ts, n, dim);
    return st ? st : record_join(out, ts, n, dim, false);
}

rl_status rl_ag_stack(rl_tensor **out, rl_tensor *const *ts, int n, int dim)
{
    rl_status st = rl_stack(out, (const rl_tensor *const *)ts, n, dim);
    return st ? st : record_join(out, ts, n, dim, true);
}
