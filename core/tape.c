#include "tape.h"
#include "lowrank.h"
#include "ops.h"
#include "reduce.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool grad_enabled = true;
static uint64_t next_seq = 1;
static uint64_t visit_epoch;
static long nodes_alive;

bool rl_grad_enabled(void) { return grad_enabled; }
void rl_set_grad_enabled(bool on) { grad_enabled = on; }
long rl_nodes_alive(void) { return nodes_alive; }

bool rl_should_record(int n, rl_tensor *const *inputs)
{
    if (!grad_enabled) return false;
    for (int i = 0; i < n; i++)
        if (rl_needs_grad(inputs[i])) return true;
    return false;
}

/* Nodes of up to two inputs and one output (nearly all) come from a pool
 * of released ones: recording is on the path of every op. */
#define POOL_SIZE (sizeof(rl_node) + 2 * sizeof(rl_edge) + sizeof(rl_node_output))
/* Under AddressSanitizer nothing is recycled, so that a use after free is
 * still caught rather than landing in a pooled block. */
#ifdef __SANITIZE_ADDRESS__
#define POOL_KEEP 0
#else
#define POOL_KEEP 65536
#endif
static rl_node *node_pool;
static int node_pool_count;

static size_t node_size(int nin, int nout)
{
    return sizeof(rl_node) + (size_t)nin * sizeof(rl_edge) + (size_t)nout * sizeof(rl_node_output);
}

static void node_free(rl_node *n)
{
    rl_storage_note_overhead_freed(node_size(n->nin, n->nout));
    if (n->pooled && node_pool_count < POOL_KEEP) {
        n->next_free = node_pool;
        node_pool = n;
        node_pool_count++;
        return;
    }
    free(n);
}

rl_status rl_node_new(rl_node **out, const char *name, rl_backward_fn backward,
                      int nin, rl_tensor *const *inputs, int nout)
{
    /* one allocation: the node, then its edges, then its outputs */
    size_t size = node_size(nin, nout);
    bool pooled = size <= POOL_SIZE;
    rl_node *n;
    if (pooled && node_pool) {
        n = node_pool;
        node_pool = n->next_free;
        node_pool_count--;
        memset(n, 0, size);
    } else {
        n = calloc(1, pooled ? POOL_SIZE : size);
    }
    if (!n) return rl_fail(RL_ERR_NOMEM, "%s: out of memory recording the operation", name);
    rl_storage_note_overhead(size);
    n->pooled = pooled;
    n->refcount = 1;
    n->seq = next_seq++;
    n->name = name;
    n->backward = backward;
    n->nin = nin;
    n->nout = nout;
    n->in = (rl_edge *)(n + 1);
    n->out = (rl_node_output *)(n->in + nin);
    for (int i = 0; i < nin; i++) {
        rl_tensor *x = inputs[i];
        if (!rl_needs_grad(x)) continue;
        if (x->grad_fn) {
            n->in[i].node = x->grad_fn;
            n->in[i].output_nr = x->output_nr;
            x->grad_fn->refcount++;
        } else {
            n->in[i].leaf = x;
            rl_tensor_retain(x);
        }
    }
    nodes_alive++;
    *out = n;
    return RL_OK;
}

void rl_node_set_output(rl_node *n, int k, rl_tensor *t)
{
    rl_node_output *o = &n->out[k];
    o->dtype = t->dtype;
    o->ndim = t->ndim;
    memcpy(o->shape, t->shape, sizeof o->shape);
    rl_tensor_set_grad_fn_drop(rl_node_forget_output); /* the same each time: tensor.h */
    t->grad_fn = n;
    t->output_nr = k;
    t->requires_grad = true;
    n->refcount++;
}

rl_status rl_node_save(rl_node *n, int slot, const rl_tensor *t)
{
    rl_tensor_release(n->saved[slot]);
    n->saved[slot] = NULL;
    n->saved_version[slot] = t->storage->version;
    return rl_tensor_alias(&n->saved[slot], t);
}

rl_status rl_record(rl_tensor **out, const char *name, rl_backward_fn backward, int nin,
                    rl_tensor *const *inputs, int nsaved, const rl_tensor *const *saved, rl_node **node)
{
    if (node) *node = NULL;
    if (!rl_should_record(nin, inputs)) return RL_OK;
    rl_node *n = NULL;
    rl_status st = rl_node_new(&n, name, backward, nin, inputs, 1);
    for (int i = 0; st == RL_OK && i < nsaved; i++)
        if (saved[i]) st = rl_node_save(n, i, saved[i]);
    if (st) {
        rl_node_release(n);
        rl_tensor_release(*out);
        *out = NULL;
        return st;
    }
    rl_node_set_output(n, 0, *out);
    rl_node_release(n); /* the output holds it now */
    if (node) *node = n;
    return RL_OK;
}

static void drop_saved(rl_node *n)
{
    for (int i = 0; i < RL_NODE_MAX_SAVED; i++) {
        rl_tensor_release(n->saved[i]);
        n->saved[i] = NULL;
    }
    if (n->ctx_free) n->ctx_free(n->ctx);
    n->ctx = NULL;
    n->ctx_free = NULL;
}

/* Freeing a node releases the nodes it points at, which may free them in
 * turn: a chain as long as the tape. Nodes to free go on a list drained by
 * the outermost call, so the C stack stays flat. */
static rl_node *free_list;
static bool draining;

void rl_node_release(rl_node *n)
{
    if (!n || --n->refcount > 0) return;
    n->next_free = free_list;
    free_list = n;
    if (draining) return;
    draining = true;
    while (free_list) {
        rl_node *m = free_list;
        free_list = m->next_free;
        for (int i = 0; i < m->nin; i++) {
            rl_node_release(m->in[i].node);
            rl_tensor_release(m->in[i].leaf);
        }
        drop_saved(m);
        node_free(m);
        nodes_alive--;
    }
    draining = false;
}

void rl_node_input_meta(const rl_node *n, int i, rl_node_output *meta)
{
    const rl_edge *e = &n->in[i];
    if (e->node) {
        *meta = e->node->out[e->output_nr];
    } else {
        memset(meta, 0, sizeof *meta);
        meta->dtype = e->leaf->dtype;
        meta->ndim = e->leaf->ndim;
        memcpy(meta->shape, e->leaf->shape, sizeof meta->shape);
    }
    meta->retained = NULL;
}

void rl_node_forget_output(rl_node *n, rl_tensor *t)
{
    if (n->out[t->output_nr].retained == t) n->out[t->output_nr].retained = NULL;
    rl_node_release(n);
}

rl_status rl_tensor_detach(rl_tensor **out, const rl_tensor *t)
{
    return rl_tensor_alias(out, t);
}

rl_status rl_retain_grad(rl_tensor *t)
{
    if (!t->grad_fn) {
        if (t->requires_grad) return RL_OK; /* a leaf keeps its gradient anyway */
        return rl_fail(RL_ERR_STATE, "retain_grad: the tensor does not require grad "
                       "(it is not the result of an op on tensors that require grad)");
    }
    t->retains_grad = true;
    t->grad_fn->out[t->output_nr].retained = t;
    return RL_OK;
}

/* ---- accumulation ---- */

/* g summed over the dims in which it was broadcast from `shape`. */
static rl_status sum_to_shape(rl_tensor **out, const rl_tensor *g, int ndim, const int64_t *shape)
{
    char s1[RL_SHAPE_BUF], s2[RL_SHAPE_BUF];
    int lead = g->ndim - ndim;
    bool ok = lead >= 0;
    for (int i = 0; ok && i < ndim; i++)
        if (shape[i] != g->shape[lead + i] && shape[i] != 1) ok = false;
    if (!ok)
        return rl_fail(RL_ERR_SHAPE, "backward: a gradient of shape %s cannot be summed to shape %s",
                       rl_shape_str(s1, sizeof s1, g->ndim, g->shape), rl_shape_str(s2, sizeof s2, ndim, shape));
    rl_tensor *cur = (rl_tensor *)g;
    rl_tensor_retain(cur);
    rl_status st = RL_OK;
    for (int d = g->ndim - 1; d >= 0 && st == RL_OK; d--) {
        bool reduce = d < lead || (shape[d - lead] == 1 && g->shape[d] != 1);
        if (!reduce) continue;
        rl_tensor *r;
        st = rl_reduce_dim(&r, RL_RSUM, cur, d, true);
        rl_tensor_release(cur);
        cur = st ? NULL : r;
    }
    if (st == RL_OK) {
        st = rl_tensor_reshape(out, cur, ndim, shape);
    }
    rl_tensor_release(cur);
    return st;
}

/* Nothing but this reference sees t's elements: no other header, no other
 * view of its storage, no repeated elements. */
static bool exclusive(const rl_tensor *t)
{
    return t->refcount == 1 && t->storage->refcount == 1 && rl_tensor_is_contiguous(t);
}

static rl_status accumulate(rl_tensor **acc, const rl_tensor *g, rl_dtype dtype, int ndim, const int64_t *shape,
                            bool in_place)
{
    if (g->dtype != dtype)
        return rl_fail(RL_ERR_DTYPE, "backward: a %s gradient for a %s tensor", rl_dtype_name(g->dtype),
                       rl_dtype_name(dtype));
    rl_tensor *gs = NULL;
    rl_status st;
    if (*acc && (st = rl_lowrank_flush(*acc))) return st; /* *acc is read or replaced below */
    bool same = g->ndim == ndim && !memcmp(g->shape, shape, sizeof(int64_t) * (size_t)ndim);
    if (same) {
        gs = (rl_tensor *)g;
        rl_tensor_retain(gs);
    } else if ((st = sum_to_shape(&gs, g, ndim, shape))) {
        return st;
    }
    if (!*acc) {
        if (in_place) { /* the accumulator will be written into: it must own its memory */
            st = rl_tensor_clone(acc, gs);
            rl_tensor_release(gs);
            return st;
        }
        *acc = gs;
        return RL_OK;
    }
    /* in place: a leaf's grad (as PyTorch), or a buffer only the tape holds
     * (a sum it made, or a gradient handed over) */
    if (in_place ? rl_tensor_is_contiguous(*acc) : exclusive(*acc)) {
        if (in_place) (*acc)->storage->version++; /* a graph that saved t.grad must notice */
        st = rl_binary_into(*acc, RL_ADD, *acc, gs);
    } else { /* an accumulator set from outside may be a view with repeated elements */
        rl_tensor *sum;
        st = rl_binary(&sum, RL_ADD, *acc, gs);
        if (st == RL_OK) {
            rl_tensor_release(*acc);
            *acc = sum;
        }
    }
    rl_tensor_release(gs);
    return st;
}

rl_status rl_grad_accumulate(rl_tensor **acc, const rl_tensor *g)
{
    if (!*acc) return accumulate(acc, g, g->dtype, g->ndim, g->shape, false);
    return accumulate(acc, g, (*acc)->dtype, (*acc)->ndim, (*acc)->shape, false);
}

/* into a leaf's (or retained tensor's) grad: in place, as PyTorch, so that
 * a handle on t.grad sees later accumulations */
static rl_status accumulate_into_tensor(rl_tensor *t, const rl_tensor *g)
{
    return accumulate(&t->grad, g, t->dtype, t->ndim, t->shape, true);
}

/* ---- backward ---- */

rl_tensor *rl_backward_sink(rl_node *n, int i)
{
    const rl_edge *e = &n->in[i];
    if (e->node) {
        rl_tensor *acc = e->node->acc ? e->node->acc[e->output_nr] : NULL;
        return acc && exclusive(acc) ? acc : NULL;
    }
    rl_tensor *leaf = e->leaf, *acc = leaf ? leaf->grad : NULL;
    /* A leaf's gradient accumulates in place anyway (accumulate_into_tensor);
     * Lua may hold t.grad (the same header), but no other view of it may
     * exist: it could be an operand of the very product (y:backward(w.grad)). */
    if (!acc || acc->storage->refcount != 1 || !rl_tensor_is_contiguous(acc) || acc->dtype != leaf->dtype ||
        !rl_tensor_same_shape(acc, leaf))
        return NULL;
    acc->storage->version++;
    return acc;
}

static int by_seq_desc(const void *a, const void *b)
{
    uint64_t x = (*(rl_node *const *)a)->seq, y = (*(rl_node *const *)b)->seq;
    return (x < y) - (x > y);
}

/* The accumulator slots of all nodes of one backward share one block. */
static void free_accs(rl_node **list, size_t count, rl_tensor **block)
{
    for (size_t i = 0; i < count; i++) {
        rl_node *n = list[i];
        if (!n->acc) continue;
        for (int k = 0; k < n->nout; k++) rl_tensor_release(n->acc[k]);
        n->acc = NULL;
    }
    free(block);
}

/* Collects the nodes reachable from root, marked with this walk's epoch. */
static rl_status collect(rl_node *root, rl_node ***out, size_t *count)
{
    size_t cap = 64, n = 0, top = 0;
    rl_node **list = malloc(cap * sizeof *list);
    if (!list) return rl_fail(RL_ERR_NOMEM, "backward: out of memory");
    uint64_t epoch = ++visit_epoch;
    /* list doubles as the stack: entries [top, n) are still to expand */
    root->visit = epoch;
    list[n++] = root;
    while (top < n) {
        rl_node *m = list[top++];
        for (int i = 0; i < m->nin; i++) {
            rl_node *p = m->in[i].node;
            if (!p || p->visit == epoch) continue;
            p->visit = epoch;
            if (n == cap) {
                rl_node **bigger = realloc(list, 2 * cap * sizeof *list);
                if (!bigger) {
                    free(list);
                    return rl_fail(RL_ERR_NOMEM, "backward: out of memory");
                }
                list = bigger;
                cap *= 2;
            }
            list[n++] = p;
        }
    }
    *out = list;
    *count = n;
    return RL_OK;
}

/* "LogBackward" for "log", "CrossEntropyBackward" for "cross_entropy": the
 * name PyTorch's anomaly mode gives a node. */
static void backward_name(char *buf, size_t size, const char *op)
{
    size_t k = 0;
    bool up = true;
    for (const char *c = op; *c && k + 9 < size; c++) {
        if (*c == '_' || *c == '.' || *c == ' ') {
            up = true;
            continue;
        }
        buf[k++] = up && *c >= 'a' && *c <= 'z' ? (char)(*c - 'a' + 'A') : *c;
        up = false;
    }
    snprintf(buf + k, size - k, "Backward");
}

/* Anomaly mode: the gradient node n produced for input i (grad_in[i], or
 * what it added in place into the input's buffer) must be finite. */
static rl_status check_grad_finite(rl_node *n, int i, const rl_tensor *g)
{
    const rl_edge *e = &n->in[i];
    if (!g) {
        g = e->node ? (e->node->acc ? e->node->acc[e->output_nr] : NULL) : e->leaf ? e->leaf->grad : NULL;
        if (!g) return RL_OK;
        rl_status st = rl_lowrank_flush(g); /* pending low-rank updates in too */
        if (st) return st;
    }
    double bad;
    if (!rl_tensor_has_nonfinite(g, &bad)) return RL_OK;
    char fname[96];
    backward_name(fname, sizeof fname, n->name);
    return rl_fail(RL_ERR_ARG,
                   "backward: Function '%s' returned %s values in its %dth output (the gradient for input %d of "
                   "'%s'; anomaly detection is on: rnn.set_detect_anomaly)",
                   fname, bad != bad ? "nan" : bad > 0 ? "inf" : "-inf", i, i + 1, n->name);
}

static rl_status run_node(rl_node *n, bool retain_graph)
{
    rl_status st = RL_OK;
    bool any = false;
    for (int k = 0; k < n->nout && st == RL_OK; k++)
        if (n->acc[k]) st = rl_lowrank_flush(n->acc[k]); /* the gradients are complete now */
    if (st) return st;
    for (int k = 0; k < n->nout; k++) any = any || n->acc[k];
    if (!any) goto done; /* no gradient reaches this node */
    if (n->released)
        return rl_fail(RL_ERR_STATE,
                       "backward: the graph was already freed at '%s' by an earlier backward; "
                       "call the first backward with retain_graph = true to go through it twice", n->name);
    for (int i = 0; i < RL_NODE_MAX_SAVED; i++) {
        rl_tensor *t = n->saved[i];
        if (t && t->storage->version != n->saved_version[i])
            return rl_fail(RL_ERR_STATE,
                           "backward: a tensor that '%s' saved for backward was modified in place afterwards "
                           "(its gradient would be wrong); clone it before modifying it", n->name);
    }
    for (int k = 0; k < n->nout && st == RL_OK; k++) {
        rl_node_output *o = &n->out[k];
        if (!n->acc[k]) st = rl_tensor_zeros(&n->acc[k], o->dtype, o->ndim, o->shape);
        if (st == RL_OK && o->retained) st = accumulate_into_tensor(o->retained, n->acc[k]);
    }
    if (st) return st;
    rl_tensor *grad_in_small[8] = {NULL};
    rl_tensor **grad_in = n->nin <= 8 ? grad_in_small : calloc((size_t)n->nin, sizeof *grad_in);
    if (!grad_in) return rl_fail(RL_ERR_NOMEM, "backward: out of memory");
    st = n->backward(n, n->acc, grad_in);
    if (rl_anomaly_enabled())
        for (int i = 0; i < n->nin && st == RL_OK; i++)
            if (rl_node_needs(n, i)) st = check_grad_finite(n, i, grad_in[i]);
    for (int i = 0; i < n->nin; i++) {
        if (st == RL_OK && grad_in[i]) {
            rl_edge *e = &n->in[i];
            if (e->node) {
                rl_node_output *o = &e->node->out[e->output_nr];
                st = accumulate(&e->node->acc[e->output_nr], grad_in[i], o->dtype, o->ndim, o->shape, false);
            } else if (e->leaf) {
                st = accumulate_into_tensor(e->leaf, grad_in[i]);
            }
        }
        rl_tensor_release(grad_in[i]);
    }
    if (grad_in != grad_in_small) free(grad_in);
    if (st) return st;
done:
    if (!retain_graph) {
        drop_saved(n);
        n->released = true;
    }
    return RL_OK;
}

rl_status rl_backward(rl_tensor *root, const rl_tensor *grad, bool retain_graph)
{
    char s1[RL_SHAPE_BUF], s2[RL_SHAPE_BUF];
    if (!rl_needs_grad(root))
        return rl_fail(RL_ERR_STATE, "backward: the tensor does not require grad and has no grad_fn "
                       "(call requires_grad(true) on the inputs before computing it)");
    rl_tensor *seed = NULL;
    rl_status st;
    if (grad) {
        if (!rl_tensor_same_shape(grad, root) || grad->dtype != root->dtype)
            return rl_fail(RL_ERR_SHAPE, "backward: gradient of shape %s (%s) given for a tensor of shape %s (%s)",
                           rl_shape_str(s1, sizeof s1, grad->ndim, grad->shape), rl_dtype_name(grad->dtype),
                           rl_shape_str(s2, sizeof s2, root->ndim, root->shape), rl_dtype_name(root->dtype));
        if ((st = rl_tensor_alias(&seed, grad))) return st;
    } else {
        if (rl_tensor_numel(root) != 1)
            return rl_fail(RL_ERR_SHAPE, "backward: the tensor has shape %s; a gradient is implicit only for "
                           "one element (pass the gradient: y:backward(g))",
                           rl_shape_str(s1, sizeof s1, root->ndim, root->shape));
        if ((st = rl_tensor_full(&seed, root->dtype, root->ndim, root->shape, 1.0))) return st;
    }
    if (!root->grad_fn) { /* a leaf: its gradient is the seed */
        st = accumulate_into_tensor(root, seed);
        rl_tensor_release(seed);
        return st;
    }

    rl_node **list = NULL;
    size_t count = 0;
    if ((st = collect(root->grad_fn, &list, &count))) {
        rl_tensor_release(seed);
        return st;
    }
    qsort(list, count, sizeof *list, by_seq_desc);
    size_t slots = 0;
    for (size_t i = 0; i < count; i++) slots += (size_t)list[i]->nout;
    rl_tensor **block = calloc(slots ? slots : 1, sizeof *block);
    if (!block) st = rl_fail(RL_ERR_NOMEM, "backward: out of memory");
    for (size_t i = 0, used = 0; i < count && st == RL_OK; i++) {
        list[i]->acc = block + used;
        used += (size_t)list[i]->nout;
    }
    if (st == RL_OK) {
        root->grad_fn->acc[root->output_nr] = seed;
        seed = NULL;
    }
    for (size_t i = 0; i < count && st == RL_OK; i++) {
        st = run_node(list[i], retain_graph);
        /* this node's gradients are spent: free them now, not at the end */
        if (list[i]->acc) {
            for (int k = 0; k < list[i]->nout; k++) {
                rl_tensor_release(list[i]->acc[k]);
                list[i]->acc[k] = NULL;
            }
        }
    }
    rl_status flushed = rl_lowrank_flush_all(); /* into leaves' grads, before anyone reads them */
    if (st == RL_OK) st = flushed;
    free_accs(list, count, block);
    free(list);
    rl_tensor_release(seed);
    return st;
}
