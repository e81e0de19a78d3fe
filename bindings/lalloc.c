/* lalloc.c — a pooled allocator for the Lua state's small objects.
 *
 * Every tensor op creates a userdata box that the collector frees later, in
 * a batch: far more frees in a row than glibc's per-thread cache holds, so
 * each one falls through to the slower paths of malloc and free. Blocks up
 * to POOL_MAX bytes come instead from free lists, one per 16-byte size
 * class, carved out of 1 MiB chunks that are never returned (they are reused
 * for the next small objects). Larger blocks go to the allocator the state
 * had before.
 *
 * The allocator is installed into a running state, so blocks allocated
 * before it are freed through it too: a block is ours exactly when it lies
 * in one of our chunks, which a hash set of chunk addresses answers.
 *
 * Not thread-safe, like the rest of the core's caches. Under
 * AddressSanitizer free blocks and the uncarved rest of a chunk are
 * poisoned, so a use after free of a Lua object is still caught. */
#define _GNU_SOURCE /* dladdr, RTLD_NODELETE */
#include "lrl.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define CHUNK_BITS 20
#define CHUNK_SIZE ((size_t)1 << CHUNK_BITS)
#define GRAIN 16
#define POOL_MAX 256
#define NCLASS (POOL_MAX / GRAIN)

typedef struct free_block { struct free_block *next; } free_block;

static free_block *free_lists[NCLASS + 1];
static char *carve_next, *carve_end; /* unused tail of the newest chunk */

/* Open-addressing set of chunk base addresses; grows by doubling. */
static uintptr_t *chunk_set;
static size_t chunk_cap, chunk_count;

static size_t chunk_hash(uintptr_t base, size_t cap)
{
    return (size_t)((base >> CHUNK_BITS) * UINT64_C(0x9E3779B97F4A7C15) >> 7) & (cap - 1);
}

static bool chunk_insert(uintptr_t base)
{
    if ((chunk_count + 1) * 2 > chunk_cap) {
        size_t cap = chunk_cap ? chunk_cap * 2 : 64;
        uintptr_t *set = calloc(cap, sizeof *set);
        if (!set) return false;
        for (size_t i = 0; i < chunk_cap; i++) {
            if (!chunk_set[i]) continue;
            size_t h = chunk_hash(chunk_set[i], cap);
            while (set[h]) h = (h + 1) & (cap - 1);
            set[h] = chunk_set[i];
        }
        free(chunk_set);
        chunk_set = set;
        chunk_cap = cap;
    }
    size_t h = chunk_hash(base, chunk_cap);
    while (chunk_set[h]) h = (h + 1) & (chunk_cap - 1);
    chunk_set[h] = base;
    chunk_count++;
    return true;
}

static bool is_pooled(const void *p)
{
    if (!chunk_cap) return false;
    uintptr_t base = (uintptr_t)p & ~(uintptr_t)(CHUNK_SIZE - 1);
    for (size_t h = chunk_hash(base, chunk_cap); chunk_set[h]; h = (h + 1) & (chunk_cap - 1))
        if (chunk_set[h] == base) return true;
    return false;
}

static size_t size_class(size_t n) { return (n + GRAIN - 1) / GRAIN; }

static void *pool_alloc(size_t n)
{
    size_t c = size_class(n);
    free_block *b = free_lists[c];
    if (b) {
        UNPOISON(b, c * GRAIN);
        free_lists[c] = b->next;
        return b;
    }
    size_t bytes = c * GRAIN;
    if ((size_t)(carve_end - carve_next) < bytes) {
        char *chunk = aligned_alloc(CHUNK_SIZE, CHUNK_SIZE);
        if (!chunk) return NULL;
        if (!chunk_insert((uintptr_t)chunk)) {
            free(chunk);
            return NULL;
        }
        /* the old tail is dropped: at most POOL_MAX bytes per chunk */
        carve_next = chunk;
        carve_end = chunk + CHUNK_SIZE;
        POISON(chunk, CHUNK_SIZE);
    }
    void *p = carve_next;
    carve_next += bytes;
    UNPOISON(p, bytes);
    return p;
}

static void pool_free(void *p, size_t n)
{
    free_block *b = p;
    size_t c = size_class(n);
    b->next = free_lists[c];
    free_lists[c] = b;
    POISON(b, c * GRAIN);
}

typedef struct {
    lua_Alloc prev;
    void *prev_ud;
} pool_state;

static void *pool_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    const pool_state *ps = ud;
    if (!ptr) osize = 0; /* then osize tells the kind of object, not a size */
    bool ours = ptr && is_pooled(ptr);
    if (ptr && !ours) {
        /* a block from the previous allocator: it keeps it unless it
         * shrinks into the pool's range */
        if (nsize == 0 || nsize > POOL_MAX) return ps->prev(ps->prev_ud, ptr, osize, nsize);
        void *p = pool_alloc(nsize);
        if (!p) return ps->prev(ps->prev_ud, ptr, osize, nsize);
        memcpy(p, ptr, nsize < osize ? nsize : osize);
        ps->prev(ps->prev_ud, ptr, osize, 0);
        return p;
    }
    if (nsize == 0) {
        if (ours) pool_free(ptr, osize);
        return NULL;
    }
    if (ours && size_class(nsize) == size_class(osize)) return ptr;
    void *p = nsize <= POOL_MAX ? pool_alloc(nsize) : ps->prev(ps->prev_ud, NULL, 0, nsize);
    if (!p) {
        /* Lua expects a shrink to succeed: the block is big enough */
        return ours && nsize <= osize ? ptr : NULL;
    }
    if (ours) {
        memcpy(p, ptr, nsize < osize ? nsize : osize);
        pool_free(ptr, osize);
    }
    return p;
}

/* The previous allocators seen, shared by the states that had the same one
 * (all of lauxlib's states share one): static, so it outlives every state. */
#define MAX_PREV 8
static pool_state prevs[MAX_PREV];
static int nprev;

void rlua_install_allocator(lua_State *L)
{
    void *ud;
    lua_Alloc prev = lua_getallocf(L, &ud);
    if (prev == pool_lua_alloc) return;
    int i = 0;
    while (i < nprev && !(prevs[i].prev == prev && prevs[i].prev_ud == ud)) i++;
    if (i == MAX_PREV) return; /* plain allocation still works */
    if (i == nprev) prevs[nprev++] = (pool_state){prev, ud};
    /* The state now calls into this library until its very last free, but
     * a plain lua5.4 unloads C modules (dlclose) in lua_close before the
     * state's remaining objects are freed: when glibc then unmaps rnn/core.so
     * (as it does once another C module such as cjson or rnn/mpi.so was
     * loaded), those frees jump into unmapped memory. So the library that
     * holds the allocator stays mapped until the process ends. */
    static bool pinned;
    Dl_info info;
    if (!pinned && dladdr((void *)pool_lua_alloc, &info) && info.dli_fname) {
        dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
        pinned = true;
    }
    lua_setallocf(L, pool_lua_alloc, &prevs[i]);
}

/* rnn._lua_pool_chunks(): how many chunks the pools hold (for tests). */
static int l_pool_chunks(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)chunk_count);
    return 1;
}

void rlua_open_lalloc(lua_State *L)
{
    lua_pushcfunction(L, l_pool_chunks);
    lua_setfield(L, -2, "_lua_pool_chunks");
}
