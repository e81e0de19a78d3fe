/* storage.h — refcounted, 64-byte-aligned buffers behind tensors, with a
 * cache of freed large buffers.
 *
 * Lua frees tensors only when its collector runs, so a loop that makes a
 * fresh 4 MB result per step would otherwise get fresh pages from the kernel
 * each time (page faults and zeroing: a third of a 1024² sgemm's time).
 * Freed buffers of more than 4 KiB are kept by size class (at most 12.5%
 * larger than asked) and handed out again; the cache holds at most
 * RL_STORAGE_CACHE_MAX bytes. Small buffers (up to 4 KiB) are kept too, up
 * to 16384 of each size (in steps of 64 bytes). Not thread-safe: one Lua state drives the core. */
#ifndef RL_STORAGE_H
#define RL_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __SANITIZE_ADDRESS__
#define RL_STORAGE_CACHE_MAX 0 /* recycle nothing: use-after-free stays visible */
#else
#define RL_STORAGE_CACHE_MAX ((size_t)256 << 20)
#endif

typedef struct rl_storage {
    void *data;
    size_t nbytes;      /* asked for */
    size_t capacity;    /* allocated: nbytes rounded up to the size class */
    long refcount;
    uint64_t version;   /* bumped by every in-place write, checked by backward */
    uint64_t id;        /* unique over the process's life, never reused (with
                           version: names what the buffer holds, for caches) */
    bool grad_leaf;     /* holds a leaf that requires grad: in-place writes through
                           any view of it are refused while grads are recorded */
    struct rl_storage *next_free; /* in the cache */
} rl_storage;

rl_status rl_storage_new(rl_storage **out, size_t nbytes);
/* The id of the newest storage: every storage made after this call has a
 * greater one (anomaly mode tells an op's results from its inputs so). */
uint64_t rl_storage_last_id(void);
void rl_storage_release(rl_storage *s);
/* Frees every cached buffer. */
void rl_storage_cache_clear(void);

/* Bytes of storage ever handed out, and in use now (cached buffers not
 * counted): the Lua bindings feed the first to the garbage collector, which
 * cannot see C memory; tests check the second returns to its start. */
uint64_t rl_storage_bytes_allocated(void);
/* Counts other core memory (tensor headers, tape nodes) into the allocated
 * total, so that the collector is paced by all of it, and while it is in
 * use into rl_storage_bytes_held; the freed call takes it out again. */
void rl_storage_note_overhead(size_t bytes);
void rl_storage_note_overhead_freed(size_t bytes);
uint64_t rl_storage_bytes_live(void);
/* Storage in use plus the other core memory in use. */
uint64_t rl_storage_bytes_held(void);
size_t rl_storage_bytes_cached(void);

#endif
