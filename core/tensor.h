/* tensor.h — n-dimensional strided tensors over refcounted storage.
 *
 * A tensor is a view: shape and strides (in elements) over a storage that
 * several tensors may share. Storage buffers are 64-byte aligned. Shapes are
 * row-major; views (transpose, narrow, select, permute, expand, reshape of a
 * contiguous tensor) cost O(1) and share storage.
 *
 * Ownership: every function that hands out a tensor through `out` gives the
 * caller one reference; drop it with rl_tensor_release. */
#ifndef RL_TENSOR_H
#define RL_TENSOR_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "status.h"
#include "storage.h"
#include "shape.h"


typedef struct rl_tensor {
    rl_storage *storage;
    int64_t offset;                 /* in elements, into storage */
    int ndim;
    rl_dtype dtype;
    int64_t shape[RL_MAX_DIMS];
    int64_t stride[RL_MAX_DIMS];    /* in elements; 0 for an expanded dim */
    long refcount;

    /* autograd (tape.h); all zero for a tensor outside any graph. Views made
     * by the functions below start with these cleared. */
    bool requires_grad;             /* a leaf marked by the user, or a recorded result */
    bool retains_grad;              /* a non-leaf whose gradient is kept in grad */
    int output_nr;                  /* which output of grad_fn this is */
    struct rl_node *grad_fn;        /* the recorded op that made it; NULL for a leaf */
    struct rl_tensor *grad;         /* accumulated gradient */
} rl_tensor;

/* lifetime */

void rl_tensor_retain(rl_tensor *t);
void rl_tensor_release(rl_tensor *t);
/* What releasing the last reference to a tensor with a grad_fn does to that
 * node (the tape's rl_node_forget_output): the tape sets it before it sets
 * a grad_fn, so that this unit does not depend on the tape (tape.h). */
typedef void (*rl_grad_fn_drop)(struct rl_node *n, rl_tensor *t);
void rl_tensor_set_grad_fn_drop(rl_grad_fn_drop fn);
/* How many tensor headers exist (views included): leak checks in tests. */
long rl_tensors_alive(void);

/* Anomaly mode (rnn.set_detect_anomaly): off by default. When on, backward
 * fails at the first node whose gradient has a NaN or an infinity, and the
 * bindings check each op's results likewise. */
bool rl_anomaly_enabled(void);
void rl_set_anomaly_enabled(bool on);
/* True when t (float32/float64; int64 never) holds a NaN or an infinity;
 * *bad then gets the first one found. */
bool rl_tensor_has_nonfinite(const rl_tensor *t, double *bad);

/* creation: a new contiguous tensor of the given shape */
rl_status rl_tensor_empty(rl_tensor **out, rl_dtype dt, int ndim, const int64_t *shape);
rl_status rl_tensor_zeros(rl_tensor **out, rl_dtype dt, int ndim, const int64_t *shape);
rl_status rl_tensor_full(rl_tensor **out, rl_dtype dt, int ndim, const int64_t *shape, double value);
/* 1-d [start, stop) in steps of step; step may be negative, not zero. */
rl_status rl_tensor_arange(rl_tensor **out, rl_dtype dt, double start, double stop, double step);
/* 1-d, n evenly spaced values from start to stop inclusive. */
rl_status rl_tensor_linspace(rl_tensor **out, rl_dtype dt, double start, double stop, int64_t n);
rl_status rl_tensor_eye(rl_tensor **out, rl_dtype dt, int64_t rows, int64_t cols);

/* queries */
/* Inline: every op asks. A tensor's shape was checked when it was made, so
 * the product cannot overflow. */
static inline int64_t rl_tensor_numel(const rl_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}
static inline bool rl_tensor_is_contiguous(const rl_tensor *t)
{
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] == 0) return true;
        if (t->shape[i] != 1 && t->stride[i] != s) return false;
        s *= t->shape[i];
    }
    return true;
}
/* Address of the element at a 0-based multi-index (not range-checked). */
void *rl_tensor_ptr(const rl_tensor *t, const int64_t *index);
static inline void *rl_tensor_data(const rl_tensor *t)
{
    return (char *)t->storage->data + (size_t)t->offset * rl_dtype_size(t->dtype);
}
bool rl_tensor_same_shape(const rl_tensor *a, const rl_tensor *b);
/* Element read/write through doubles (int64 beyond 2^53 rounds). */
double rl_tensor_get(const rl_tensor *t, const int64_t *index);
void rl_tensor_set(rl_tensor *t, const int64_t *index, double v);
/* Reads the single element of a one-element tensor. */
rl_status rl_tensor_item(const rl_tensor *t, double *out);

/* views, sharing storage. `op` names the caller in error messages. dims are
 * 0-based and already normalised (no negative dims) by the caller. */
rl_status rl_tensor_view(rl_tensor **out, const rl_tensor *t, int ndim, const int64_t *shape);
rl_status rl_tensor_reshape(rl_tensor **out, const rl_tensor *t, int ndim, const int64_t *shape);
rl_status rl_tensor_transpose(rl_tensor **out, const rl_tensor *t, int d0, int d1);
rl_status rl_tensor_permute(rl_tensor **out, const rl_tensor *t, const int *perm);
rl_status rl_tensor_narrow(rl_tensor **out, const rl_tensor *t, int dim, int64_t start, int64_t length);
rl_status rl_tensor_select(rl_tensor **out, const rl_tensor *t, int dim, int64_t index);
rl_status rl_tensor_expand(rl_tensor **out, const rl_tensor *t, int ndim, const int64_t *shape);
rl_status rl_tensor_squeeze(rl_tensor **out, const rl_tensor *t, int dim); /* dim -1: all size-1 dims */
rl_status rl_tensor_unsqueeze(rl_tensor **out, const rl_tensor *t, int dim);

/* A new header over t's storage and geometry, outside any graph. */
rl_status rl_tensor_alias(rl_tensor **out, const rl_tensor *t);

/* copies */
rl_status rl_tensor_contiguous(rl_tensor **out, rl_tensor *t); /* retains t if already contiguous */
rl_status rl_tensor_clone(rl_tensor **out, const rl_tensor *t);
rl_status rl_tensor_to_dtype(rl_tensor **out, const rl_tensor *t, rl_dtype dt);
/* True when a and b share a storage and their element ranges intersect. */
bool rl_tensor_overlaps(const rl_tensor *a, const rl_tensor *b);
/* True when a and b are the same elements in the same order (same storage,
 * offset, shape and strides): an elementwise op may then read and write them
 * in one pass. */
bool rl_tensor_same_view(const rl_tensor *a, const rl_tensor *b);

/* dst[...] = src, src broadcast to dst's shape, converted to dst's dtype. */
rl_status rl_tensor_copy_(rl_tensor *dst, const rl_tensor *src);
void rl_tensor_fill_(rl_tensor *t, double value);

#endif
