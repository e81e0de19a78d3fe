#include "storage.h"

#include <stdint.h>
#include <stdlib.h>

#define RL_ALIGN 64
/* every buffer above the small ones: 4 to 64 KiB is what a recurrent loop
 * with a batch of 32 makes at each step */
#define CACHE_MIN ((size_t)SMALL_MAX + 1)
#define SUBCLASSES 8                 /* per power of two */
#define NCLASSES (64 * SUBCLASSES)
/* Small buffers (up to SMALL_MAX bytes, in steps of 64) are kept too, a
 * bounded number per size: scalars and small vectors made per op by a
 * hand-written recurrent loop would otherwise cost two malloc calls each. */
#define SMALL_MAX 4096
#define SMALL_CLASSES (SMALL_MAX / RL_ALIGN)
/* Under AddressSanitizer nothing is recycled, so that a use after free is
 * still caught rather than landing in a pooled block. */
#ifdef __SANITIZE_ADDRESS__
#define SMALL_KEEP 0
#else
#define SMALL_KEEP 16384
#endif

static uint64_t bytes_allocated, bytes_live, overhead_live;
static size_t bytes_cached;
static uint64_t next_id;

uint64_t rl_storage_last_id(void) { return next_id; }
static rl_storage *cache[NCLASSES];
static rl_storage *small_cache[SMALL_CLASSES + 1];
static int small_count[SMALL_CLASSES + 1];

uint64_t rl_storage_bytes_allocated(void) { return bytes_allocated; }
void rl_storage_note_overhead(size_t bytes)
{
    bytes_allocated += bytes;
    overhead_live += bytes;
}
void rl_storage_note_overhead_freed(size_t bytes) { overhead_live -= bytes; }
uint64_t rl_storage_bytes_live(void) { return bytes_live; }
uint64_t rl_storage_bytes_held(void) { return bytes_live + overhead_live; }
size_t rl_storage_bytes_cached(void) { return bytes_cached; }

/* Size class of n >= CACHE_MIN: n rounded up to a multiple of 1/8 of its
 * leading power of two. */
static int size_class(size_t n, size_t *rounded)
{
    int log2 = 63 - __builtin_clzll((unsigned long long)n);
    size_t granule = (size_t)1 << (log2 - 3);
    size_t r = (n + granule - 1) / granule * granule;
    int l = 63 - __builtin_clzll((unsigned long long)r); /* rounding may reach the next power */
    *rounded = r;
    return l * SUBCLASSES + (int)((r >> (l - 3)) & (SUBCLASSES - 1));
}

rl_status rl_storage_new(rl_storage **out, size_t nbytes)
{
    size_t capacity = (nbytes + RL_ALIGN - 1) / RL_ALIGN * RL_ALIGN;
    if (capacity == 0) capacity = RL_ALIGN;
    if (capacity < nbytes) return rl_fail(RL_ERR_NOMEM, "out of memory allocating %zu bytes for a tensor", nbytes);
    rl_storage *s = NULL;
    if (capacity <= SMALL_MAX) {
        int c = (int)(capacity / RL_ALIGN);
        if (small_cache[c]) {
            s = small_cache[c];
            small_cache[c] = s->next_free;
            small_count[c]--;
        }
    } else if (capacity >= CACHE_MIN) {
        int c = size_class(capacity, &capacity);
        if (cache[c]) {
            s = cache[c];
            cache[c] = s->next_free;
            bytes_cached -= s->capacity;
        }
    }
    if (!s) {
        /* one block: the header in the first 64 bytes, the data after it */
        _Static_assert(sizeof(rl_storage) <= RL_ALIGN, "storage header must fit before the data");
        if (capacity > SIZE_MAX - RL_ALIGN) return rl_fail(RL_ERR_NOMEM, "out of memory allocating %zu bytes for a tensor", nbytes);
        char *block = aligned_alloc(RL_ALIGN, RL_ALIGN + capacity);
        if (!block) return rl_fail(RL_ERR_NOMEM, "out of memory allocating %zu bytes for a tensor", nbytes);
        s = (rl_storage *)block;
        s->data = block + RL_ALIGN;
        s->capacity = capacity;
    }
    s->nbytes = nbytes;
    s->refcount = 1;
    s->version = 0;
    s->id = ++next_id;
    s->grad_leaf = false;
    s->next_free = NULL;
    bytes_allocated += nbytes;
    bytes_live += nbytes;
    *out = s;
    return RL_OK;
}

/* Frees the first cached buffer of class c. */
static void drop_cached(int c)
{
    rl_storage *s = cache[c];
    cache[c] = s->next_free;
    bytes_cached -= s->capacity;
    free(s);
}

void rl_storage_release(rl_storage *s)
{
    if (!s || --s->refcount > 0) return;
    bytes_live -= s->nbytes;
    if (s->capacity <= SMALL_MAX) {
        int c = (int)(s->capacity / RL_ALIGN);
        if (small_count[c] < SMALL_KEEP) {
            s->next_free = small_cache[c];
            small_cache[c] = s;
            small_count[c]++;
            return;
        }
    } else if (s->capacity >= CACHE_MIN && s->capacity <= RL_STORAGE_CACHE_MAX) {
        size_t rounded;
        int c = size_class(s->capacity, &rounded);
        /* Full: the sizes just freed are the ones in use, so buffers of other
         * sizes go, largest first. Keeping them sent every buffer of a new
         * shape to fresh pages once the cache had filled with old shapes. */
        for (int o = NCLASSES - 1; o >= 0 && bytes_cached + s->capacity > RL_STORAGE_CACHE_MAX; o--)
            while (o != c && cache[o] && bytes_cached + s->capacity > RL_STORAGE_CACHE_MAX) drop_cached(o);
        if (bytes_cached + s->capacity <= RL_STORAGE_CACHE_MAX) {
            s->next_free = cache[c];
            cache[c] = s;
            bytes_cached += s->capacity;
            return;
        }
    }
    free(s);
}

void rl_storage_cache_clear(void)
{
    for (int c = 0; c < NCLASSES; c++)
        while (cache[c]) drop_cached(c);
    for (int c = 0; c <= SMALL_CLASSES; c++) {
        while (small_cache[c]) {
            rl_storage *s = small_cache[c];
            small_cache[c] = s->next_free;
            free(s);
        }
        small_count[c] = 0;
    }
}
