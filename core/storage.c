#include "storage.h"

#include <stdlib.h>

#define RL_ALIGN 64
#define CACHE_MIN ((size_t)64 << 10)
#define SUBCLASSES 8                 /* per power of two */
#define NCLASSES (64 * SUBCLASSES)

static uint64_t bytes_allocated, bytes_live;
static size_t bytes_cached;
static rl_storage *cache[NCLASSES];

uint64_t rl_storage_bytes_allocated(void) { return bytes_allocated; }
uint64_t rl_storage_bytes_live(void) { return bytes_live; }
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
    if (capacity >= CACHE_MIN) {
        int c = size_class(capacity, &capacity);
        if (cache[c]) {
            s = cache[c];
            cache[c] = s->next_free;
            bytes_cached -= s->capacity;
        }
    }
    if (!s) {
        s = malloc(sizeof *s);
        if (!s) return rl_fail(RL_ERR_NOMEM, "out of memory allocating a tensor");
        s->data = aligned_alloc(RL_ALIGN, capacity);
        if (!s->data) {
            free(s);
            return rl_fail(RL_ERR_NOMEM, "out of memory allocating %zu bytes for a tensor", nbytes);
        }
        s->capacity = capacity;
    }
    s->nbytes = nbytes;
    s->refcount = 1;
    s->version = 0;
    s->next_free = NULL;
    bytes_allocated += nbytes;
    bytes_live += nbytes;
    *out = s;
    return RL_OK;
}

void rl_storage_release(rl_storage *s)
{
    if (!s || --s->refcount > 0) return;
    bytes_live -= s->nbytes;
    if (s->capacity >= CACHE_MIN && bytes_cached + s->capacity <= RL_STORAGE_CACHE_MAX) {
        size_t rounded;
        int c = size_class(s->capacity, &rounded);
        s->next_free = cache[c];
        cache[c] = s;
        bytes_cached += s->capacity;
        return;
    }
    free(s->data);
    free(s);
}

void rl_storage_cache_clear(void)
{
    for (int c = 0; c < NCLASSES; c++) {
        while (cache[c]) {
            rl_storage *s = cache[c];
            cache[c] = s->next_free;
            free(s->data);
            free(s);
        }
    }
    bytes_cached = 0;
}
