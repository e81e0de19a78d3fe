/* rnn_workspace.h — memory kept between calls of the recurrent kernels.
 *
 * Spares: the big internal buffers of a call (gates and states kept for the
 * backward, gate gradients) are kept for the next call of the same shapes.
 * The storage pool keeps blocks by size class, but a cache that is full
 * drops what it would keep, and then a training step pays page faults for
 * every buffer (over twice the step time on configuration B of
 * bench/recurrent.lua).
 *
 * Packed weights: the AVX-512 products read W_hh (and W_ih) as panels
 * (gemm.h). A cell called at every step of a loop, or a layer
 * called again with unchanged weights, would pack the same matrix every
 * time. Packed copies are kept, named by the weight storage's id and
 * version (storage.h: the version is bumped by every in-place write, as an
 * optimizer step, copy_ or fill_), the first element read and the layout
 * read. A copy of a weight since written is never matched again and ages
 * out.
 *
 * Neither is thread-safe, like the storage pool: one Lua state drives the
 * core. Under AddressSanitizer no spares are kept (a use after free stays
 * visible); packed weights are, so that the tests cover them. */
#ifndef RL_RNN_WORKSPACE_H
#define RL_RNN_WORKSPACE_H

#include "tensor.h"

/* rl_tensor_empty, from the spares when one has this dtype and shape */
rl_status rl_ws_empty(rl_tensor **out, rl_dtype dt, int ndim, const int64_t *shape);
/* rl_tensor_release of a tensor from rl_ws_empty: kept as a spare when
 * nothing else holds it or its storage (NULL: nothing) */
void rl_ws_release(rl_tensor *t);

/* What a packed copy was made from: the matrix (K,N) whose element (k,n)
 * is src[k·sk + n·sn], src inside storage s. */
typedef struct {
    const rl_storage *storage;
    const void *src;
    int64_t K, N, sk, sn;
} rl_packed_key;

/* The packed copy of key, kept from an earlier call, or NULL. The pointer
 * stays valid until the next rl_packed_keep. */
rl_tensor *rl_packed_find(const rl_packed_key *key);
/* Keeps packed (takes the caller's reference) as the copy of key, dropping
 * the least recently used copies to make room. False when it is too big to
 * keep: the reference stays the caller's. */
bool rl_packed_keep(const rl_packed_key *key, rl_tensor *packed);
/* Drops every spare and packed copy (for tests that count the storage in
 * use). */
void rl_ws_clear(void);
/* Bytes of the spares and packed copies kept now: storage in use that no
 * tensor outside holds, which a garbage collection cannot free (the Lua
 * bindings leave it out of the memory that paces their collector). */
size_t rl_ws_bytes_kept(void);
/* Whether a packed copy of this many bytes may be kept. */
bool rl_packed_fits(size_t bytes);

#endif
