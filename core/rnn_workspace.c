#include "rnn_workspace.h"

#include <string.h>

/* ---- spares ----
 * At most SPARE_MAX tensors and SPARE_BYTES bytes, the oldest dropped first. */
#define SPARE_MAX 16
#define SPARE_BYTES ((size_t)512 << 20)

static rl_tensor *spare[SPARE_MAX];
static int spare_count;
static size_t spare_bytes;

static size_t tensor_bytes(const rl_tensor *t)
{
    return (size_t)rl_tensor_numel(t) * rl_dtype_size(t->dtype);
}

static void spare_drop_oldest(void)
{
    spare_bytes -= tensor_bytes(spare[0]);
    rl_tensor_release(spare[0]);
    memmove(spare, spare + 1, sizeof *spare * (size_t)(spare_count - 1));
    spare[--spare_count] = NULL;
}

rl_status rl_ws_empty(rl_tensor **out, rl_dtype dt, int ndim, const int64_t *shape)
{
    for (int i = spare_count - 1; i >= 0; i--) {
        rl_tensor *t = spare[i];
        if (t->dtype != dt || t->ndim != ndim || memcmp(t->shape, shape, sizeof *shape * (size_t)ndim)) continue;
        spare_bytes -= tensor_bytes(t);
        memmove(spare + i, spare + i + 1, sizeof *spare * (size_t)(spare_count - 1 - i));
        spare[--spare_count] = NULL;
        *out = t;
        return RL_OK;
    }
    return rl_tensor_empty(out, dt, ndim, shape);
}

void rl_ws_release(rl_tensor *t)
{
    if (!t) return;
    size_t bytes = tensor_bytes(t);
    if (RL_STORAGE_CACHE_MAX == 0 || t->refcount != 1 || t->storage->refcount != 1 || t->grad_fn ||
        t->requires_grad || bytes < ((size_t)64 << 10) || bytes > SPARE_BYTES) {
        rl_tensor_release(t);
        return;
    }
    while (spare_count == SPARE_MAX || spare_bytes + bytes > SPARE_BYTES) spare_drop_oldest();
    spare[spare_count++] = t;
    spare_bytes += bytes;
}

/* ---- packed weights ----
 * At most PACKED_MAX copies and PACKED_BYTES bytes: the weights of a few
 * layers, each packed for the forward and for the backward. */
#define PACKED_MAX 16
#define PACKED_BYTES ((size_t)128 << 20)

typedef struct {
    uint64_t id, version;   /* of the storage when packed */
    const void *src;
    int64_t K, N, sk, sn;
    rl_tensor *packed;      /* NULL: a free entry */
    uint64_t used;          /* clock of the last find or keep */
} packed_entry;

static packed_entry packed[PACKED_MAX];
static size_t packed_bytes;
static uint64_t packed_clock;

/* the same matrix read the same way, whatever its version */
static bool same_matrix(const packed_entry *e, const rl_packed_key *k)
{
    return e->packed && e->id == k->storage->id && e->src == k->src && e->K == k->K && e->N == k->N &&
           e->sk == k->sk && e->sn == k->sn;
}

static bool matches(const packed_entry *e, const rl_packed_key *k)
{
    return same_matrix(e, k) && e->version == k->storage->version;
}

static void drop_packed(packed_entry *e)
{
    packed_bytes -= tensor_bytes(e->packed);
    rl_tensor_release(e->packed);
    memset(e, 0, sizeof *e);
}

rl_tensor *rl_packed_find(const rl_packed_key *key)
{
    for (int i = 0; i < PACKED_MAX; i++) {
        if (!matches(&packed[i], key)) continue;
        packed[i].used = ++packed_clock;
        return packed[i].packed;
    }
    return NULL;
}

bool rl_packed_keep(const rl_packed_key *key, rl_tensor *t)
{
    size_t bytes = tensor_bytes(t);
    if (!rl_packed_fits(bytes)) return false;
    /* copies of an older version of the same matrix are dead: drop them first */
    for (int i = 0; i < PACKED_MAX; i++)
        if (same_matrix(&packed[i], key)) drop_packed(&packed[i]);
    packed_entry *slot = NULL;
    for (;;) {
        packed_entry *oldest = NULL;
        slot = NULL;
        for (int i = 0; i < PACKED_MAX; i++) {
            if (!packed[i].packed) slot = slot ? slot : &packed[i];
            else if (!oldest || packed[i].used < oldest->used) oldest = &packed[i];
        }
        if (slot && packed_bytes + bytes <= PACKED_BYTES) break;
        drop_packed(oldest); /* there is one: a free slot and room would have ended the loop */
    }
    *slot = (packed_entry){key->storage->id, key->storage->version, key->src, key->K, key->N, key->sk, key->sn, t,
                           ++packed_clock};
    packed_bytes += bytes;
    return true;
}

bool rl_packed_fits(size_t bytes)
{
    return bytes <= PACKED_BYTES / 2;
}

size_t rl_ws_bytes_kept(void) { return spare_bytes + packed_bytes; }

void rl_ws_clear(void)
{
    while (spare_count) spare_drop_oldest();
    for (int i = 0; i < PACKED_MAX; i++)
        if (packed[i].packed) drop_packed(&packed[i]);
}
