/* test_storage.c — the storage allocator: alignment, accounting and the
 * cache of freed large buffers. */
#include "harness.h"
#include "suites.h"
#include "../../core/storage.h"

static void storage_small_buffers_are_aligned_and_accounted(void)
{
    uint64_t live0 = rl_storage_bytes_live(), total0 = rl_storage_bytes_allocated();
    rl_storage *s;
    REQUIRE(rl_storage_new(&s, 100) == RL_OK);
    CHECK(((uintptr_t)s->data & 63) == 0);
    CHECK(s->capacity >= 100);
    CHECK_EQ_INT(rl_storage_bytes_live() - live0, 100);
    CHECK_EQ_INT(rl_storage_bytes_allocated() - total0, 100);
    rl_storage_release(s);
    CHECK_EQ_INT(rl_storage_bytes_live(), live0);
}

static void storage_cache_reuses_a_freed_large_buffer(void)
{
    rl_storage_cache_clear();
#ifdef __SANITIZE_ADDRESS__
    /* the sanitizer build recycles nothing (storage.h) */
    rl_storage *only;
    REQUIRE(rl_storage_new(&only, 1 << 20) == RL_OK);
    rl_storage_release(only);
    CHECK_EQ_INT(rl_storage_bytes_cached(), 0);
    return;
#endif
    rl_storage *a, *b, *c;
    REQUIRE(rl_storage_new(&a, 1 << 20) == RL_OK);
    void *data = a->data;
    rl_storage_release(a);
    CHECK(rl_storage_bytes_cached() >= (size_t)1 << 20);
    /* a slightly smaller request of the same size class gets the same buffer */
    REQUIRE(rl_storage_new(&b, (1 << 20) - 1000) == RL_OK);
    CHECK(b->data == data);
    CHECK(((uintptr_t)b->data & 63) == 0);
    CHECK_EQ_INT(rl_storage_bytes_cached(), 0);
    /* a request of another class does not */
    REQUIRE(rl_storage_new(&c, 3 << 20) == RL_OK);
    CHECK(c->data != data);
    CHECK(c->capacity >= (size_t)3 << 20 && c->capacity <= ((size_t)3 << 20) + ((size_t)3 << 20) / 8);
    rl_storage_release(b);
    rl_storage_release(c);
    rl_storage_cache_clear();
    CHECK_EQ_INT(rl_storage_bytes_cached(), 0);
}

static void storage_cache_is_bounded(void)
{
    rl_storage_cache_clear();
    enum { N = 40 };
    rl_storage *s[N];
    for (int i = 0; i < N; i++) REQUIRE(rl_storage_new(&s[i], (size_t)16 << 20) == RL_OK);
    for (int i = 0; i < N; i++) rl_storage_release(s[i]);
    CHECK(rl_storage_bytes_cached() <= RL_STORAGE_CACHE_MAX);
    rl_storage_cache_clear();
}

/* A full cache makes room for the size just freed by dropping other sizes,
 * so a new shape's buffers are reused from then on. */
static void storage_full_cache_makes_room_for_a_new_size(void)
{
    rl_storage_cache_clear();
#ifdef __SANITIZE_ADDRESS__
    return; /* nothing is cached under the sanitizer */
#endif
    enum { N = 20 };
    const size_t old_size = (size_t)16 << 20, new_size = (size_t)3 << 20;
    rl_storage *s[N];
    for (int i = 0; i < N; i++) REQUIRE(rl_storage_new(&s[i], old_size) == RL_OK);
    for (int i = 0; i < N; i++) rl_storage_release(s[i]); /* fills the cache with the old size */
    size_t full = rl_storage_bytes_cached();
    CHECK(full + new_size > RL_STORAGE_CACHE_MAX);
    rl_storage *a, *b;
    REQUIRE(rl_storage_new(&a, new_size) == RL_OK);
    size_t acap = a->capacity;
    rl_storage_release(a); /* kept: one old buffer went, no more */
    CHECK(rl_storage_bytes_cached() <= RL_STORAGE_CACHE_MAX);
    CHECK(rl_storage_bytes_cached() == full - old_size + acap);
    REQUIRE(rl_storage_new(&b, new_size) == RL_OK);
    CHECK(b == a); /* the same block again */
    rl_storage_release(b);
    rl_storage_cache_clear();
}

void suite_storage(void)
{
    TH_RUN(storage_small_buffers_are_aligned_and_accounted);
    TH_RUN(storage_cache_reuses_a_freed_large_buffer);
    TH_RUN(storage_cache_is_bounded);
    TH_RUN(storage_full_cache_makes_room_for_a_new_size);
}
