/* test_io.c — safetensors files (core/io.h): round trips of every dtype,
 * the exact bytes written, atomic replacement, reading F16/BF16/I32, and
 * every class of corrupt header, plus truncation at every length and byte
 * flips (run under ASan by `make asan`: nothing may read out of bounds). */
#include "harness.h"
#include "suites.h"
#include "testutil.h"
#include "../../core/io.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---- */

/* A fresh directory per test, removed with its files by tmpdir_remove. */
static char tmp_dir[256];

static int tmpdir_make(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/rnnlua-io.XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(tmp_dir) != NULL;
}

static void tmpdir_remove(void)
{
    DIR *d = opendir(tmp_dir);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", tmp_dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(tmp_dir);
}

static const char *tmp_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmp_dir, name);
    return buf;
}

/* Number of entries in tmp_dir other than . and .. */
static int tmpdir_count(void)
{
    DIR *d = opendir(tmp_dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static int write_all(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

/* 8-byte length + json + dlen data bytes (from data, or 0x5a if NULL); malloc'd. */
static unsigned char *build(const char *json, const void *data, size_t dlen, size_t *len)
{
    size_t h = strlen(json);
    *len = 8 + h + dlen;
    unsigned char *b = malloc(*len ? *len : 1);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, json, h);
    if (data) memcpy(b + 8 + h, data, dlen);
    else memset(b + 8 + h, 0x5a, dlen);
    return b;
}

static int find_name(const rl_safetensors_file *f, const char *name)
{
    for (int i = 0; i < f->count; i++)
        if (!strcmp(f->names[i], name)) return i;
    return -1;
}

static const char *find_meta(const rl_safetensors_file *f, const char *key)
{
    for (int i = 0; i < f->nmeta; i++)
        if (!strcmp(f->meta_keys[i], key)) return f->meta_values[i];
    return NULL;
}

/* same dtype, shape and bits, element by element (row-major) */
static void check_same(const char *file, int line, const rl_tensor *got, const rl_tensor *want)
{
    char a[RL_SHAPE_BUF], b[RL_SHAPE_BUF];
    if (!got) {
        th_fail(file, line, "tensor missing");
        return;
    }
    if (got->dtype != want->dtype || !rl_tensor_same_shape(got, want)) {
        th_fail(file, line, "got %s %s, want %s %s", rl_dtype_name(got->dtype),
                rl_shape_str(a, sizeof a, got->ndim, got->shape), rl_dtype_name(want->dtype),
                rl_shape_str(b, sizeof b, want->ndim, want->shape));
        return;
    }
    int64_t idx[RL_MAX_DIMS] = {0};
    if (rl_tensor_numel(want) == 0) return;
    do {
        size_t es = rl_dtype_size(want->dtype);
        if (memcmp(rl_tensor_ptr(got, idx), rl_tensor_ptr(want, idx), es)) {
            th_fail(file, line, "values differ: got %.17g, want %.17g", tu_get(got, idx), tu_get(want, idx));
            return;
        }
    } while (tu_next(want->ndim, want->shape, idx));
}
#define CHECK_SAME(got, want) check_same(__FILE__, __LINE__, (got), (want))

/* ---- round trips ---- */

static void safetensors_round_trip_every_dtype(void)
{
    REQUIRE(tmpdir_make());
    char path[512];
    tmp_path(path, sizeof path, "m.safetensors");
    rl_tensor *t[7];
    t[0] = tu_rand(RL_FLOAT32, DIMS(2, 3), 1, -2, 2, 0);
    t[1] = tu_rand(RL_FLOAT64, DIMS(4), 2, -1e300, 1e300, 0);
    t[2] = tu_from(RL_INT64, DIMS(3), (const double[]){-5, 0, 1e15});
    t[3] = tu_from(RL_FLOAT32, 0, NULL, (const double[]){3.5});       /* 0-d */
    t[4] = tu_empty(RL_FLOAT64, DIMS(0, 3));                          /* empty */
    t[5] = tu_empty(RL_INT64, DIMS(0));
    t[6] = tu_rand(RL_FLOAT32, DIMS(1, 2, 1, 2, 1, 2, 1, 2), 3, 0, 1, 0); /* 8 dims */
    ((int64_t *)rl_tensor_data(t[2]))[2] = INT64_MIN; /* exact beyond 2^53 */
    const char *names[7] = {"w", "d", "idx", "scalar", "empty2", "empty1", "eight"};
    const char *mk[2] = {"step", "note"}, *mv[2] = {"100", "héllo \"quoted\""};
    REQUIRE_OK(rl_safetensors_save(path, 7, names, t, 2, mk, mv));
    rl_safetensors_file *f;
    REQUIRE_OK(rl_safetensors_load(&f, path));
    CHECK_EQ_INT(f->count, 7);
    for (int i = 0; i < 7; i++) {
        int j = find_name(f, names[i]);
        CHECK_MSG(j >= 0, "tensor %s missing", names[i]);
        if (j >= 0) {
            CHECK_SAME(f->tensors[j], t[i]);
            CHECK(rl_tensor_is_contiguous(f->tensors[j]));
        }
    }
    CHECK_EQ_INT(f->nmeta, 2);
    CHECK(find_meta(f, "step") && !strcmp(find_meta(f, "step"), "100"));
    CHECK(find_meta(f, "note") && !strcmp(find_meta(f, "note"), mv[1]));
    rl_safetensors_free(f);
    for (int i = 0; i < 7; i++) rl_tensor_release(t[i]);
    CHECK_EQ_INT(tmpdir_count(), 1); /* no temporary file left */
    tmpdir_remove();
}

static void safetensors_saves_views_row_major(void)
{
    REQUIRE(tmpdir_make());
    char path[512];
    tmp_path(path, sizeof path, "v.safetensors");
    rl_tensor *base = tu_rand(RL_FLOAT64, DIMS(3, 4), 7, -1, 1, 0), *tr, *nar, *ex, *one;
    REQUIRE_OK(rl_tensor_transpose(&tr, base, 0, 1));
    REQUIRE_OK(rl_tensor_narrow(&nar, base, 1, 1, 2));
    one = tu_from(RL_FLOAT32, DIMS(1), (const double[]){2.5});
    REQUIRE_OK(rl_tensor_expand(&ex, one, DIMS(3, 5)));
    CHECK(!rl_tensor_is_contiguous(tr) && !rl_tensor_is_contiguous(nar) && !rl_tensor_is_contiguous(ex));
    const char *names[3] = {"tr", "nar", "ex"};
    rl_tensor *ts[3] = {tr, nar, ex};
    REQUIRE_OK(rl_safetensors_save(path, 3, names, ts, 0, NULL, NULL));
    rl_safetensors_file *f;
    REQUIRE_OK(rl_safetensors_load(&f, path));
    for (int i = 0; i < 3; i++) {
        int j = find_name(f, names[i]);
        CHECK(j >= 0);
        if (j >= 0) CHECK_SAME(f->tensors[j], ts[i]);
    }
    rl_safetensors_free(f);
    rl_tensor_release(tr);
    rl_tensor_release(nar);
    rl_tensor_release(ex);
    rl_tensor_release(one);
    rl_tensor_release(base);
    tmpdir_remove();
}

/* The exact bytes: compact JSON, metadata first, tensors in data order,
 * spaces to a multiple of 8, F64 data before F32, little-endian. */
static void safetensors_writes_the_reference_layout(void)
{
    REQUIRE(tmpdir_make());
    char path[512];
    tmp_path(path, sizeof path, "x.safetensors");
    rl_tensor *a = tu_from(RL_FLOAT32, DIMS(2), (const double[]){1, -2});
    rl_tensor *b = tu_from(RL_FLOAT64, DIMS(1), (const double[]){0.5});
    const char *names[2] = {"a", "b"};
    rl_tensor *ts[2] = {a, b};
    const char *mk[1] = {"k"}, *mv[1] = {"v"};
    REQUIRE_OK(rl_safetensors_save(path, 2, names, ts, 1, mk, mv));
    const char *json = "{\"__metadata__\":{\"k\":\"v\"},\"b\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}";
    size_t jl = strlen(json), hl = (jl + 7) / 8 * 8;
    unsigned char want[512];
    memset(want, 0, sizeof want);
    want[0] = (unsigned char)hl;
    memcpy(want + 8, json, jl);
    memset(want + 8 + jl, ' ', hl - jl);
    const unsigned char data[16] = {0, 0, 0, 0, 0, 0, 0xe0, 0x3f, 0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0};
    memcpy(want + 8 + hl, data, 16);
    size_t len;
    unsigned char *got = read_all(path, &len);
    REQUIRE(got);
    CHECK_EQ_INT(len, 8 + hl + 16);
    CHECK_MSG(len == 8 + hl + 16 && !memcmp(got, want, len), "bytes differ from the reference layout: %.*s",
              (int)(len > 8 ? len - 8 : 0), (const char *)got + 8);
    free(got);

    /* the same tensors in another order: the same bytes */
    char path2[512];
    tmp_path(path2, sizeof path2, "y.safetensors");
    const char *names2[2] = {"b", "a"};
    rl_tensor *ts2[2] = {b, a};
    REQUIRE_OK(rl_safetensors_save(path2, 2, names2, ts2, 1, mk, mv));
    size_t len2;
    unsigned char *got2 = read_all(path2, &len2);
    REQUIRE(got2);
    CHECK(len2 == len && !memcmp(got2, want, len2));
    free(got2);
    rl_tensor_release(a);
    rl_tensor_release(b);
    tmpdir_remove();
}

/* The reference library's own test vectors (safetensors/src/tensor.rs:
 * test_serialization, test_serialization_forced_alignement, test_empty). */
static void safetensors_matches_the_reference_test_vectors(void)
{
    REQUIRE(tmpdir_make());
    char path[512];
    tmp_path(path, sizeof path, "r.safetensors");
    const unsigned char v1[] = {
        64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34,
        58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97,
        116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0,
        128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64};
    const unsigned char v2[] = {
        72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58,
        34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100,
        97, 116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32,
        32, 32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64};
    const unsigned char v3[] = {
        40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58, 123, 34, 102,
        114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112, 116, 34, 125, 125, 32, 32, 32, 32, 32};
    const double vals[6] = {0, 1, 2, 3, 4, 5};
    rl_tensor *a = tu_from(RL_FLOAT32, DIMS(1, 2, 3), vals), *b = tu_from(RL_FLOAT32, DIMS(1, 1, 2, 3), vals);
    const char *na[1] = {"attn.0"}, *nb[1] = {"attn0"}, *mk[1] = {"framework"}, *mv[1] = {"pt"};
    struct { int n; const char **names; rl_tensor **t; int nmeta; const unsigned char *want; size_t len; } cases[] = {
        {1, na, &a, 0, v1, sizeof v1}, {1, nb, &b, 0, v2, sizeof v2}, {0, NULL, NULL, 1, v3, sizeof v3}};
    for (int i = 0; i < 3; i++) {
        REQUIRE_OK(rl_safetensors_save(path, cases[i].n, cases[i].names, cases[i].t, cases[i].nmeta, mk, mv));
        size_t len;
        unsigned char *got = read_all(path, &len);
        REQUIRE(got);
        CHECK_MSG(len == cases[i].len && !memcmp(got, cases[i].want, len), "vector %d: bytes differ", i + 1);
        rl_safetensors_file *f;
        CHECK_OK(rl_safetensors_load_buffer(&f, cases[i].want, cases[i].len, "vector"));
        rl_safetensors_free(f);
        free(got);
    }
    rl_tensor_release(a);
    rl_tensor_release(b);
    tmpdir_remove();
}

static void safetensors_saves_and_loads_no_tensors(void)
{
    REQUIRE(tmpdir_make());
    char path[512];
    tmp_path(path, sizeof path, "e.safetensors");
    REQUIRE_OK(rl_safetensors_save(path, 0, NULL, NULL, 0, NULL, NULL));
    size_t len;
    unsigned char *b = read_all(path, &len);
    REQUIRE(b);
    CHECK(len == 16 && b[0] == 8 && !memcmp(b + 8, "{}      ", 8));
    free(b);
    rl_safetensors_file *f;
    REQUIRE_OK(rl_safetensors_load(&f, path));
    CHECK_EQ_INT(f->count, 0);
    CHECK_EQ_INT(f->nmeta, 0);
    rl_safetensors_free(f);
    tmpdir_remove();
}

/* ---- atomicity and save errors ---- */

static void safetensors_failed_saves_leave_the_file_untouched(void)
{
    REQUIRE(tmpdir_make());
    char path[512];
    tmp_path(path, sizeof path, "keep.safetensors");
    rl_tensor *a = tu_rand(RL_FLOAT32, DIMS(4), 1, 0, 1, 0), *b = tu_rand(RL_FLOAT64, DIMS(2), 2, 0, 1, 0);
    const char *n1[1] = {"a"};
    REQUIRE_OK(rl_safetensors_save(path, 1, n1, &a, 0, NULL, NULL));
    size_t len0;
    unsigned char *orig = read_all(path, &len0);
    REQUIRE(orig);

    struct {
        int n;
        const char *names[2];
        rl_tensor *ts[2];
        int nmeta;
        const char *mk[2], *mv[2];
        rl_status want;
        const char *needle;
    } cases[] = {
        {2, {"x", "x"}, {a, b}, 0, {0}, {0}, RL_ERR_ARG, "two tensors are named 'x'"},
        {1, {""}, {a}, 0, {0}, {0}, RL_ERR_ARG, "empty name"},
        {1, {NULL}, {a}, 0, {0}, {0}, RL_ERR_ARG, "empty name"},
        {1, {"__metadata__"}, {a}, 0, {0}, {0}, RL_ERR_ARG, "reserved"},
        {1, {"a"}, {NULL}, 0, {0}, {0}, RL_ERR_ARG, "'a' is NULL"},
        {1, {"a"}, {a}, 2, {"k", "k"}, {"1", "2"}, RL_ERR_ARG, "metadata key 'k' appears twice"},
        {1, {"a"}, {a}, 1, {"k"}, {NULL}, RL_ERR_ARG, "NULL key or value"},
        {1, {"\xff\xfe"}, {a}, 0, {0}, {0}, RL_ERR_ARG, "not valid UTF-8"},
        {1, {"a"}, {a}, 1, {"k"}, {"\xc3("}, RL_ERR_ARG, "not valid UTF-8"},
        {1, {"a"}, {a}, 1, {"\xc3("}, {"v"}, RL_ERR_ARG, "not valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rl_status st = rl_safetensors_save(path, cases[i].n, cases[i].names, cases[i].ts, cases[i].nmeta, cases[i].mk,
                                           cases[i].mv);
        CHECK_MSG(st == cases[i].want, "case %zu: status %s", i, tu_status_name(st));
        CHECK_CONTAINS(rl_last_error(), cases[i].needle);
        CHECK_CONTAINS(rl_last_error(), path);
    }
    /* into a directory that does not exist */
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no/such/dir/m.safetensors", tmp_dir);
    CHECK_STATUS(rl_safetensors_save(missing, 1, n1, &a, 0, NULL, NULL), RL_ERR_IO);
    CHECK_CONTAINS(rl_last_error(), missing);
    CHECK_CONTAINS(rl_last_error(), strerror(ENOENT));
    /* over a path that is a directory: the rename fails after the write */
    char sub[600];
    snprintf(sub, sizeof sub, "%s/adir", tmp_dir);
    REQUIRE(mkdir(sub, 0700) == 0);
    char inner[700];
    snprintf(inner, sizeof inner, "%s/f", sub);
    REQUIRE(write_all(inner, "x", 1));
    CHECK_STATUS(rl_safetensors_save(sub, 1, n1, &a, 0, NULL, NULL), RL_ERR_IO);
    CHECK_CONTAINS(rl_last_error(), "rename");
    unlink(inner);
    rmdir(sub);
    /* a write that fails half-way (the file size limit) */
    rl_tensor *big = tu_empty(RL_FLOAT64, DIMS(1 << 17)); /* 1 MiB */
    REQUIRE(big);
    struct rlimit old;
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
    if (old.rlim_cur == RLIM_INFINITY || old.rlim_cur > 65536) {
        void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim = old;
        lim.rlim_cur = 65536;
        int set = setrlimit(RLIMIT_FSIZE, &lim) == 0;
        const char *nb[1] = {"big"};
        rl_status st = rl_safetensors_save(path, 1, nb, &big, 0, NULL, NULL);
        setrlimit(RLIMIT_FSIZE, &old);
        signal(SIGXFSZ, prev);
        if (set) {
            CHECK_STATUS(st, RL_ERR_IO);
            CHECK_CONTAINS(rl_last_error(), strerror(EFBIG));
            CHECK_CONTAINS(rl_last_error(), "'big'");
        }
    }
    rl_tensor_release(big);

    size_t len1;
    unsigned char *now = read_all(path, &len1);
    REQUIRE(now);
    CHECK(len1 == len0 && !memcmp(orig, now, len0));
    CHECK_EQ_INT(tmpdir_count(), 1); /* temporary files removed */
    free(orig);
    free(now);

    /* and a successful save replaces it */
    REQUIRE_OK(rl_safetensors_save(path, 1, n1, &b, 0, NULL, NULL));
    rl_safetensors_file *f;
    REQUIRE_OK(rl_safetensors_load(&f, path));
    CHECK(f->count == 1 && f->tensors[0]->dtype == RL_FLOAT64);
    rl_safetensors_free(f);
    CHECK_EQ_INT(tmpdir_count(), 1);
    rl_tensor_release(a);
    rl_tensor_release(b);
    tmpdir_remove();
}

/* ---- reading what others write ---- */

static void safetensors_reads_f16_bf16_i32_in_any_order(void)
{
    /* entries out of data order and not sorted by dtype; an extra field and a
     * null __metadata__, both accepted (as the reference library does) */
    const char *json = "{\"i\":{\"dtype\":\"I32\",\"shape\":[3],\"data_offsets\":[32,44]},"
                       "\"__metadata__\":null,"
                       "\"h\":{\"shape\":[2,4],\"dtype\":\"F16\",\"data_offsets\":[0,16],\"extra\":[1]},"
                       "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[16,24]},"
                       "\"z\":{\"dtype\":\"F16\",\"shape\":[0],\"data_offsets\":[24,24]},"
                       "\"l\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[24,32]}}";
    unsigned char data[44];
    const uint16_t h[8] = {0x3c00, 0xc000, 0x3800, 0x0001, 0x7c00, 0xfbff, 0x8000, 0x7e00};
    const uint16_t bf[4] = {0x3f80, 0xc040, 0xff80, 0x0001};
    const int32_t i32[3] = {-1, INT32_MAX, INT32_MIN};
    for (int i = 0; i < 8; i++) data[2 * i] = h[i] & 0xff, data[2 * i + 1] = h[i] >> 8;
    for (int i = 0; i < 4; i++) data[16 + 2 * i] = bf[i] & 0xff, data[16 + 2 * i + 1] = bf[i] >> 8;
    int64_t l = -1234567890123456789;
    for (int i = 0; i < 8; i++) data[24 + i] = (unsigned char)((uint64_t)l >> (8 * i));
    for (int j = 0; j < 3; j++)
        for (int i = 0; i < 4; i++) data[32 + 4 * j + i] = (unsigned char)((uint32_t)i32[j] >> (8 * i));
    size_t len;
    unsigned char *file = build(json, data, sizeof data, &len);
    rl_safetensors_file *f;
    REQUIRE_OK(rl_safetensors_load_buffer(&f, file, len, "mem"));
    CHECK_EQ_INT(f->count, 5);
    CHECK_EQ_INT(f->nmeta, 0);
    /* file order */
    CHECK(f->count == 5 && !strcmp(f->names[0], "h") && !strcmp(f->names[1], "b") && !strcmp(f->names[4], "i"));
    int jh = find_name(f, "h"), jb = find_name(f, "b"), ji = find_name(f, "i"), jz = find_name(f, "z"),
        jl = find_name(f, "l");
    REQUIRE(jh >= 0 && jb >= 0 && ji >= 0 && jz >= 0 && jl >= 0);
    rl_tensor *th = f->tensors[jh];
    CHECK(th->dtype == RL_FLOAT32);
    CHECK_SHAPE(th, DIMS(2, 4));
    const double wh[8] = {1, -2, 0.5, ldexp(1, -24), INFINITY, -65504, 0, NAN};
    const float *ph = rl_tensor_data(th);
    for (int i = 0; i < 8; i++) CHECK_MSG(th_close(ph[i], wh[i], 0), "F16 element %d: got %.9g want %.9g", i, ph[i], wh[i]);
    CHECK(signbit(ph[6]));
    const float *pb = rl_tensor_data(f->tensors[jb]);
    CHECK(f->tensors[jb]->dtype == RL_FLOAT32);
    CHECK(pb[0] == 1 && pb[1] == -3 && pb[2] == -INFINITY && pb[3] == ldexpf(1, -133));
    CHECK(f->tensors[ji]->dtype == RL_INT64);
    const int64_t *pi = rl_tensor_data(f->tensors[ji]);
    CHECK(pi[0] == -1 && pi[1] == INT32_MAX && pi[2] == INT32_MIN);
    CHECK_SHAPE(f->tensors[jz], DIMS(0));
    CHECK(f->tensors[jz]->dtype == RL_FLOAT32);
    CHECK_SHAPE(f->tensors[jl], 0, NULL);
    CHECK(*(int64_t *)rl_tensor_data(f->tensors[jl]) == l);
    rl_safetensors_free(f);
    free(file);
}

static void safetensors_reads_fixtures_written_with_pytorch(void)
{
    /* committed by tests/fixtures/safetensors/make_fixtures.py */
    rl_safetensors_file *f;
    const char *path = "tests/fixtures/safetensors/dtypes.safetensors";
    if (access(path, R_OK) != 0) return; /* run from elsewhere: the Lua spec covers it */
    REQUIRE_OK(rl_safetensors_load(&f, path));
    CHECK(f->count >= 6);
    int j = find_name(f, "f16");
    CHECK(j >= 0 && f->tensors[j]->dtype == RL_FLOAT32);
    j = find_name(f, "i32");
    CHECK(j >= 0 && f->tensors[j]->dtype == RL_INT64);
    CHECK(find_meta(f, "format") && !strcmp(find_meta(f, "format"), "pt"));
    rl_safetensors_free(f);
}

/* ---- corrupt files ---- */

/* The header json with dlen data bytes must fail, from memory and from a
 * file, with status want and a message naming the file and holding needle. */
static void expect_bad(int line, const char *json, size_t dlen, rl_status want, const char *needle)
{
    size_t len;
    unsigned char *file = build(json, NULL, dlen, &len);
    rl_safetensors_file *f = (rl_safetensors_file *)1;
    rl_status st = rl_safetensors_load_buffer(&f, file, len, "bad.safetensors");
    if (st != want) th_fail(__FILE__, line, "status %s, want %s (%s)", tu_status_name(st), tu_status_name(want), rl_last_error());
    if (f) th_fail(__FILE__, line, "*out not NULL after a failure");
    if (!strstr(rl_last_error(), needle)) th_fail(__FILE__, line, "message \"%s\" lacks \"%s\"", rl_last_error(), needle);
    if (strncmp(rl_last_error(), "safetensors_load: bad.safetensors: ", 35))
        th_fail(__FILE__, line, "message \"%s\" does not name the file", rl_last_error());
    char path[512];
    tmp_path(path, sizeof path, "bad.safetensors");
    if (!write_all(path, file, len)) th_fail(__FILE__, line, "cannot write %s", path);
    st = rl_safetensors_load(&f, path);
    if (st != want) th_fail(__FILE__, line, "from the file: status %s, want %s", tu_status_name(st), tu_status_name(want));
    if (!strstr(rl_last_error(), needle) || !strstr(rl_last_error(), path))
        th_fail(__FILE__, line, "from the file: message \"%s\" lacks \"%s\" or the path", rl_last_error(), needle);
    free(file);
}
#define BAD(json, dlen, want, needle) expect_bad(__LINE__, json, dlen, want, needle)

static void safetensors_rejects_every_corrupt_header(void)
{
    REQUIRE(tmpdir_make());
    /* the JSON itself */
    BAD("", 0, RL_ERR_IO, "invalid JSON header");
    BAD("{\"a\":", 0, RL_ERR_IO, "line 1, column");
    BAD("{\"a\":{}} x", 0, RL_ERR_IO, "invalid JSON header");
    BAD("{\"a\":1,\n\"a\":2}", 0, RL_ERR_IO, "duplicate");
    BAD("{\"\xff\":1}", 0, RL_ERR_IO, "invalid JSON header");
    BAD("[]", 0, RL_ERR_IO, "header must be a JSON object, got an array");
    BAD("{\"a\":3}", 0, RL_ERR_IO, "tensor 'a': entry must be an object");
    /* metadata */
    BAD("{\"__metadata__\":{\"k\":1}}", 0, RL_ERR_IO, "value for key 'k' must be a string");
    BAD("{\"__metadata__\":[\"k\"]}", 0, RL_ERR_IO, "\"__metadata__\" must be an object");
    /* dtype */
    BAD("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, RL_ERR_IO, "tensor 'a': missing \"dtype\"");
    BAD("{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, RL_ERR_IO, "tensor 'a': \"dtype\" must be a string");
    BAD("{\"a\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}}", 16, RL_ERR_IO, "tensor 'a': unknown dtype 'F128'");
    const char *unsupported[] = {"BOOL", "U8", "I8", "I16", "U16", "U32", "U64", "F8_E4M3", "F8_E5M2", "C64"};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        char json[200], needle[100];
        snprintf(json, sizeof json, "{\"m\":{\"dtype\":\"%s\",\"shape\":[1],\"data_offsets\":[0,1]}}", unsupported[i]);
        snprintf(needle, sizeof needle, "tensor 'm': dtype %s is not supported", unsupported[i]);
        BAD(json, 1, RL_ERR_DTYPE, needle);
    }
    /* shape */
    BAD("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, RL_ERR_IO, "tensor 'a': missing \"shape\"");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,4]}}", 4, RL_ERR_IO, "tensor 'a': \"shape\" must be an array");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, RL_ERR_IO, "shape entry 1 is -1");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,2.0],\"data_offsets\":[0,8]}}", 8, RL_ERR_IO, "shape entry 2 must be an integer, got a real");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8, RL_ERR_IO, "shape entry 1 must be an integer");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}", 4, RL_ERR_IO, "invalid JSON header");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,4]}}", 4, RL_ERR_IO,
        "tensor 'a': shape (4294967296,4294967296,4) is too large");
    BAD("{\"a\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952,2],\"data_offsets\":[0,4]}}", 4, RL_ERR_IO, "too large");
    BAD("{\"a\":{\"dtype\":\"F64\",\"shape\":[1152921504606846976,2],\"data_offsets\":[0,4]}}", 4, RL_ERR_IO, "too large");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, RL_ERR_IO,
        "tensor 'a': shape has 9 dimensions, at most 8");
    /* data_offsets */
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, RL_ERR_IO, "tensor 'a': missing \"data_offsets\"");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{}}}", 4, RL_ERR_IO, "must be an array [begin, end]");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4, RL_ERR_IO, "must be an array [begin, end]");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, RL_ERR_IO, "two integers >= 0");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.0]}}", 4, RL_ERR_IO, "two integers >= 0");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8, RL_ERR_IO, "[8, 4] end before they begin");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, RL_ERR_IO,
        "tensor 'a': data_offsets [0, 4] hold 4 bytes, but shape (2) of F32 needs 8");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, RL_ERR_IO, "go past the end of the data (4 bytes");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[9223372036854775800,9223372036854775808]}}", 4, RL_ERR_IO,
        "invalid JSON header"); /* too big for jansson's integer */
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[9223372036854775799,9223372036854775807]}}", 4,
        RL_ERR_IO, "go past the end of the data");
    /* the ranges together */
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],"
        "\"data_offsets\":[4,8]}}", 8, RL_ERR_IO, "tensor 'b': data_offsets [4, 8] overlap those of tensor 'a' [0, 8]");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],"
        "\"data_offsets\":[0,8]}}", 8, RL_ERR_IO, "overlap");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"z\":{\"dtype\":\"F32\",\"shape\":[0],"
        "\"data_offsets\":[4,4]}}", 8, RL_ERR_IO, "tensor 'z': data_offsets [4, 4] overlap");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],"
        "\"data_offsets\":[8,12]}}", 12, RL_ERR_IO, "bytes [4, 8) of the data belong to no tensor (a gap before tensor 'b')");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, RL_ERR_IO, "bytes [0, 4)");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 6, RL_ERR_IO,
        "the data is 6 bytes but the tensors cover only 4");
    BAD("{}", 3, RL_ERR_IO, "in a file without tensors");

    /* the length field */
    unsigned char raw[16] = {0};
    rl_safetensors_file *f;
    for (size_t n = 0; n < 8; n++) {
        CHECK_STATUS(rl_safetensors_load_buffer(&f, raw, n, "short"), RL_ERR_IO);
        CHECK_CONTAINS(rl_last_error(), "too short");
    }
    raw[0] = 9; /* 9 > 16 - 8 */
    CHECK_STATUS(rl_safetensors_load_buffer(&f, raw, 16, "long"), RL_ERR_IO);
    CHECK_CONTAINS(rl_last_error(), "header length 9 is more than the 8 bytes after it");
    memset(raw, 0xff, 8);
    CHECK_STATUS(rl_safetensors_load_buffer(&f, raw, 16, "huge"), RL_ERR_IO);
    CHECK_CONTAINS(rl_last_error(), "over the limit");
    raw[0] = 0x01, raw[1] = 0xe1, raw[2] = 0xf5, raw[3] = 0x05, raw[4] = raw[5] = raw[6] = raw[7] = 0; /* 1e8 + 1 */
    CHECK_STATUS(rl_safetensors_load_buffer(&f, raw, 16, "huge"), RL_ERR_IO);
    CHECK_CONTAINS(rl_last_error(), "over the limit");

    /* not a file */
    char path[512];
    CHECK_STATUS(rl_safetensors_load(&f, tmp_path(path, sizeof path, "nothing.safetensors")), RL_ERR_IO);
    CHECK_CONTAINS(rl_last_error(), path);
    CHECK_CONTAINS(rl_last_error(), strerror(ENOENT));
    CHECK_STATUS(rl_safetensors_load(&f, tmp_dir), RL_ERR_IO);
    CHECK_CONTAINS(rl_last_error(), "not a regular file");
    CHECK_STATUS(rl_safetensors_load(&f, ""), RL_ERR_ARG);
    tmpdir_remove();
}

/* ---- fuzzing: truncation and flipped header bytes ---- */

static unsigned char *sample_file(size_t *len, size_t *hlen)
{
    if (!tmpdir_make()) return NULL;
    char path[512];
    tmp_path(path, sizeof path, "s.safetensors");
    rl_tensor *t[4] = {tu_rand(RL_FLOAT32, DIMS(3, 2), 1, -1, 1, 0), tu_rand(RL_FLOAT64, DIMS(2), 2, -1, 1, 0),
                       tu_from(RL_INT64, DIMS(2), (const double[]){7, -7}), tu_empty(RL_FLOAT32, DIMS(0, 2))};
    const char *names[4] = {"weight_ih_l0", "bias", "idx", "empty"};
    const char *mk[1] = {"step"}, *mv[1] = {"12"};
    unsigned char *b = NULL;
    if (rl_safetensors_save(path, 4, names, t, 1, mk, mv) == RL_OK) b = read_all(path, len);
    for (int i = 0; i < 4; i++) rl_tensor_release(t[i]);
    tmpdir_remove();
    if (b) *hlen = (size_t)b[0] | (size_t)b[1] << 8;
    return b;
}

/* Loading a mutated file either fails or gives tensors whose bytes fit in it. */
static void load_mutant(const unsigned char *b, size_t len, int *ok, int *bad)
{
    unsigned char *copy = malloc(len ? len : 1); /* exact size: ASan sees any overread */
    memcpy(copy, b, len);
    rl_safetensors_file *f = NULL;
    rl_status st = rl_safetensors_load_buffer(&f, copy, len, "fuzz");
    if (st == RL_OK) {
        (*ok)++;
        uint64_t total = 0;
        for (int i = 0; i < f->count; i++) total += (uint64_t)rl_tensor_numel(f->tensors[i]);
        CHECK(total <= len);
        rl_safetensors_free(f);
    } else {
        (*bad)++;
        CHECK(f == NULL);
        CHECK(strncmp(rl_last_error(), "safetensors_load: fuzz: ", 24) == 0);
    }
    free(copy);
}

static void safetensors_fuzz_truncated_at_every_length(void)
{
    size_t len, hlen;
    unsigned char *b = sample_file(&len, &hlen);
    REQUIRE(b);
    int ok = 0, bad = 0;
    for (size_t n = 0; n < len; n++) load_mutant(b, n, &ok, &bad);
    CHECK_EQ_INT(ok, 0); /* every proper prefix is an error */
    CHECK_EQ_INT(bad, (long long)len);
    load_mutant(b, len, &ok, &bad);
    CHECK_EQ_INT(ok, 1);
    /* the same through files, for a spread of lengths */
    REQUIRE(tmpdir_make());
    char path[512];
    tmp_path(path, sizeof path, "t.safetensors");
    for (size_t n = 0; n < len; n += 7) {
        REQUIRE(write_all(path, b, n));
        rl_safetensors_file *f;
        CHECK_MSG(rl_safetensors_load(&f, path) != RL_OK, "truncated to %zu bytes: loaded", n);
    }
    tmpdir_remove();
    free(b);
}

static void safetensors_fuzz_flipped_header_bytes(void)
{
    size_t len, hlen;
    unsigned char *b = sample_file(&len, &hlen);
    REQUIRE(b);
    unsigned char *m = malloc(len);
    int ok = 0, bad = 0;
    const unsigned char masks[] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff};
    for (size_t i = 0; i < 8 + hlen; i++)
        for (size_t k = 0; k < sizeof masks; k++) {
            memcpy(m, b, len);
            m[i] ^= masks[k];
            load_mutant(m, len, &ok, &bad);
        }
    /* characters that keep the JSON plausible, at random places, several at once */
    const char interesting[] = "0123456789[]{}\",:- .eE\\u";
    tu_rng r;
    tu_seed(&r, 4242);
    for (int it = 0; it < 20000; it++) {
        memcpy(m, b, len);
        int edits = 1 + (int)(tu_next_u64(&r) % 3);
        for (int e = 0; e < edits; e++) {
            size_t pos = 8 + (size_t)(tu_next_u64(&r) % hlen);
            m[pos] = (unsigned char)interesting[tu_next_u64(&r) % (sizeof interesting - 1)];
        }
        load_mutant(m, len, &ok, &bad);
    }
    CHECK(bad > 0 && ok > 0); /* some mutations are harmless (e.g. inside a name) */
    free(m);
    free(b);
}

void suite_io(void)
{
    TH_RUN(safetensors_round_trip_every_dtype);
    TH_RUN(safetensors_saves_views_row_major);
    TH_RUN(safetensors_writes_the_reference_layout);
    TH_RUN(safetensors_matches_the_reference_test_vectors);
    TH_RUN(safetensors_saves_and_loads_no_tensors);
    TH_RUN(safetensors_failed_saves_leave_the_file_untouched);
    TH_RUN(safetensors_reads_f16_bf16_i32_in_any_order);
    TH_RUN(safetensors_reads_fixtures_written_with_pytorch);
    TH_RUN(safetensors_rejects_every_corrupt_header);
    TH_RUN(safetensors_fuzz_truncated_at_every_length);
    TH_RUN(safetensors_fuzz_flipped_header_bytes);
}
