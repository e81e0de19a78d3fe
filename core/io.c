/* io.c — safetensors files: atomic save, fully validated load. See io.h.
 *
 * The JSON header is parsed and written with jansson. Loading checks the
 * whole header against the file's size before it allocates any tensor, so a
 * corrupt header cannot make it allocate more than the file holds (times two
 * for F16/BF16/I32, which widen). */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <jansson.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define RL_HOST_LE 0
#else
#define RL_HOST_LE 1
#endif

#define NAME_FMT "%.200s" /* tensor names in messages: long ones cut */

/* ---- messages ---- */

/* "<op>: <path>: <formatted>" */
static rl_status vfail(rl_status code, const char *op, const char *path, const char *fmt, va_list ap)
{
    char body[900];
    vsnprintf(body, sizeof body, fmt, ap);
    return rl_fail(code, "%s: %s: %s", op, path, body);
}

static rl_status load_fail(rl_status code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static rl_status load_fail(rl_status code, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rl_status st = vfail(code, "safetensors_load", path, fmt, ap);
    va_end(ap);
    return st;
}

static rl_status save_fail(rl_status code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static rl_status save_fail(rl_status code, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rl_status st = vfail(code, "safetensors_save", path, fmt, ap);
    va_end(ap);
    return st;
}

/* ---- dtypes of the format ---- */

typedef enum { ST_F32, ST_F64, ST_F16, ST_BF16, ST_I64, ST_I32, ST_UNSUPPORTED } st_kind;

static const struct {
    const char *name;
    st_kind kind;
    int size;
    rl_dtype to;
} st_dtypes[] = {
    {"F32", ST_F32, 4, RL_FLOAT32},   {"F64", ST_F64, 8, RL_FLOAT64},   {"F16", ST_F16, 2, RL_FLOAT32},
    {"BF16", ST_BF16, 2, RL_FLOAT32}, {"I64", ST_I64, 8, RL_INT64},     {"I32", ST_I32, 4, RL_INT64},
    /* known to the format, not readable here */
    {"BOOL", ST_UNSUPPORTED, 1, 0},   {"U8", ST_UNSUPPORTED, 1, 0},     {"I8", ST_UNSUPPORTED, 1, 0},
    {"I16", ST_UNSUPPORTED, 2, 0},    {"U16", ST_UNSUPPORTED, 2, 0},    {"U32", ST_UNSUPPORTED, 4, 0},
    {"U64", ST_UNSUPPORTED, 8, 0},    {"F8_E5M2", ST_UNSUPPORTED, 1, 0}, {"F8_E4M3", ST_UNSUPPORTED, 1, 0},
    {"F8_E8M0", ST_UNSUPPORTED, 1, 0}, {"F6_E2M3", ST_UNSUPPORTED, 1, 0}, {"F6_E3M2", ST_UNSUPPORTED, 1, 0},
    {"F4", ST_UNSUPPORTED, 1, 0},     {"C64", ST_UNSUPPORTED, 8, 0},
};
#define ST_READABLE "F32, F64, F16, BF16 (as float32), I64, I32 (as int64)"

static int find_dtype(const char *name)
{
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strcmp(st_dtypes[i].name, name) == 0) return (int)i;
    return -1;
}

static const char *save_dtype_name(rl_dtype dt)
{
    switch (dt) {
    case RL_FLOAT32: return "F32";
    case RL_FLOAT64: return "F64";
    case RL_INT64: return "I64";
    }
    return NULL;
}

/* ---- little-endian bytes ---- */

static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | (unsigned)p[1] << 8); }
static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, bits;
    float f;
    if (exp == 0) { /* zero or subnormal: mant * 2^-24, exact in float */
        f = (float)mant * 5.9604644775390625e-8f;
        return sign ? -f : f;
    }
    if (exp == 31) bits = sign | 0x7f800000u | mant << 13; /* inf, NaN (payload kept) */
    else bits = sign | (exp + 112) << 23 | mant << 13;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static float bf16_to_float(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* count elements of `kind` from little-endian bytes into dst (the core dtype) */
static void decode(void *dst, const unsigned char *src, size_t count, st_kind kind)
{
    switch (kind) {
    case ST_F32:
        for (size_t i = 0; i < count; i++) {
            uint32_t b = rd32(src + 4 * i);
            memcpy((float *)dst + i, &b, 4);
        }
        break;
    case ST_F64:
    case ST_I64:
        for (size_t i = 0; i < count; i++) {
            uint64_t b = rd64(src + 8 * i);
            memcpy((char *)dst + 8 * i, &b, 8);
        }
        break;
    case ST_F16:
        for (size_t i = 0; i < count; i++) ((float *)dst)[i] = half_to_float(rd16(src + 2 * i));
        break;
    case ST_BF16:
        for (size_t i = 0; i < count; i++) ((float *)dst)[i] = bf16_to_float(rd16(src + 2 * i));
        break;
    case ST_I32:
        for (size_t i = 0; i < count; i++) ((int64_t *)dst)[i] = (int32_t)rd32(src + 4 * i);
        break;
    case ST_UNSUPPORTED: break;
    }
}

/* ---- where the bytes come from: a file descriptor or memory ---- */

typedef struct {
    int fd; /* -1 for memory */
    const unsigned char *mem;
    uint64_t size;
    const char *path;
} source;

/* Reads exactly n bytes at off. 0 on success; else an errno value, or -1
 * when the file ended early (it shrank while being read). */
static int source_read(const source *s, uint64_t off, void *buf, size_t n)
{
    if (off > s->size || n > s->size - off) return -1;
    if (s->fd < 0) {
        if (n) memcpy(buf, s->mem + off, n);
        return 0;
    }
    char *p = buf;
    while (n > 0) {
        size_t chunk = n > ((size_t)1 << 30) ? (size_t)1 << 30 : n;
        ssize_t got = pread(s->fd, p, chunk, (off_t)off);
        if (got < 0) {
            if (errno == EINTR) continue;
            return errno ? errno : -1;
        }
        if (got == 0) return -1;
        p += got;
        off += (uint64_t)got;
        n -= (size_t)got;
    }
    return 0;
}

static rl_status read_fail(const source *s, int err, const char *what)
{
    if (err < 0) return load_fail(RL_ERR_IO, s->path, "unexpected end of file reading %s (file changed while read?)", what);
    return load_fail(RL_ERR_IO, s->path, "cannot read %s: %s", what, strerror(err));
}

/* ---- load ---- */

typedef struct {
    const char *name; /* owned by the JSON tree */
    int dtype;        /* index into st_dtypes */
    int ndim;
    int64_t shape[RL_MAX_DIMS];
    uint64_t begin, end; /* relative to the data buffer */
} entry;

static int entry_cmp(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

/* A non-negative JSON integer, else -1. */
static json_int_t json_nonneg_int(const json_t *v)
{
    if (!json_is_integer(v)) return -1;
    json_int_t i = json_integer_value(v);
    return i < 0 ? -1 : i;
}

/* One tensor's header entry into *e; checks everything that does not need
 * the other entries. */
static rl_status parse_entry(const source *s, const char *name, json_t *v, uint64_t buflen, entry *e)
{
    const char *path = s->path;
    char sb[RL_SHAPE_BUF];
    e->name = name;
    if (!json_is_object(v))
        return load_fail(RL_ERR_IO, path, "tensor '" NAME_FMT "': entry must be an object with dtype, shape and "
                         "data_offsets, got %s", name, json_type_name(v));

    json_t *dt = json_object_get(v, "dtype");
    if (!dt) return load_fail(RL_ERR_IO, path, "tensor '" NAME_FMT "': missing \"dtype\"", name);
    if (!json_is_string(dt))
        return load_fail(RL_ERR_IO, path, "tensor '" NAME_FMT "': \"dtype\" must be a string, got %s", name,
                         json_type_name(dt));
    const char *dts = json_string_value(dt);
    e->dtype = find_dtype(dts);
    if (e->dtype < 0)
        return load_fail(RL_ERR_IO, path, "tensor '" NAME_FMT "': unknown dtype '%.40s'", name, dts);
    if (st_dtypes[e->dtype].kind == ST_UNSUPPORTED)
        return load_fail(RL_ERR_DTYPE, path, "tensor '" NAME_FMT "': dtype %s is not supported (readable: " ST_READABLE ")",
                         name, dts);

    json_t *sh = json_object_get(v, "shape");
    if (!sh) return load_fail(RL_ERR_IO, path, "tensor '" NAME_FMT "': missing \"shape\"", name);
    if (!json_is_array(sh))
        return load_fail(RL_ERR_IO, path, "tensor '" NAME_FMT "': \"shape\" must be an array of sizes, got %s", name,
                         json_type_name(sh));
    size_t nd = json_array_size(sh);
    if (nd > RL_MAX_DIMS)
        return load_fail(RL_ERR_IO, path, "tensor '" NAME_FMT "': shape has %zu dimensions, at most %d supported", name, nd,
                         RL_MAX_DIMS);
    e->ndim = (int)nd;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(sh, i);
        json_int_t size = json_nonneg_int(d);
        if (size < 0) {
            if (json_is_integer(d))
                return load_fail(RL_ERR_IO, path, "tensor '" NAME_FMT "': shape entry %zu is %" JSON_INTEGER_FORMAT
                                 "; sizes must be >= 0", name, i + 1, json_integer_value(d));
            return load_fail(RL_ERR_IO, path, "tensor '" NAME_FMT "': shape entry %zu must be an integer, got %s", name,
                             i + 1, json_type_name(d));
        }
        e->shape[i] = (int64_t)size;
    }
    int64_t numel = rl_shape_numel(e->ndim, e->shape);
    uint64_t esize = (uint64_t)st_dtypes[e->dtype].size;
    if (numel < 0 || (uint64_t)numel > UINT64_MAX / esize)
        return load_fail(RL_ERR_IO, path, "tensor '" NAME_FMT "': shape %s is too large (the size overflows)", name,
                         rl_shape_str(sb, sizeof sb, e->ndim, e->shape));
    uint64_t nbytes = (uint64_t)numel * esize;

    json_t *off = json_object_get(v, "data_offsets");
    if (!off) return load_fail(RL_ERR_IO, path, "tensor '" NAME_FMT "': missing \"data_offsets\"", name);
    if (!json_is_array(off) || json_array_size(off) != 2)
        return load_fail(RL_ERR_IO, path, "tensor '" NAME_FMT "': \"data_offsets\" must be an array [begin, end], got %s",
                         name, json_is_array(off) ? "an array of another length" : json_type_name(off));
    json_int_t b = json_nonneg_int(json_array_get(off, 0)), en = json_nonneg_int(json_array_get(off, 1));
    if (b < 0 || en < 0)
        return load_fail(RL_ERR_IO, path, "tensor '" NAME_FMT "': \"data_offsets\" must hold two integers >= 0", name);
    if (b > en)
        return load_fail(RL_ERR_IO, path, "tensor '" NAME_FMT "': data_offsets [%" JSON_INTEGER_FORMAT
                         ", %" JSON_INTEGER_FORMAT "] end before they begin", name, b, en);
    e->begin = (uint64_t)b;
    e->end = (uint64_t)en;
    if (e->end - e->begin != nbytes)
        return load_fail(RL_ERR_IO, path, "tensor '" NAME_FMT "': data_offsets [%llu, %llu] hold %llu bytes, but shape %s "
                         "of %s needs %llu", name, (unsigned long long)e->begin, (unsigned long long)e->end,
                         (unsigned long long)(e->end - e->begin), rl_shape_str(sb, sizeof sb, e->ndim, e->shape),
                         st_dtypes[e->dtype].name, (unsigned long long)nbytes);
    if (e->end > buflen)
        return load_fail(RL_ERR_IO, path, "tensor '" NAME_FMT "': data_offsets [%llu, %llu] go past the end of the data "
                         "(%llu bytes; file truncated?)", name, (unsigned long long)e->begin,
                         (unsigned long long)e->end, (unsigned long long)buflen);
    return RL_OK;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

/* Reads one validated entry from the data buffer at data_start into a new tensor. */
static rl_status read_tensor(const source *s, uint64_t data_start, const entry *e, rl_tensor **out)
{
    st_kind kind = st_dtypes[e->dtype].kind;
    rl_status st = rl_tensor_empty(out, st_dtypes[e->dtype].to, e->ndim, e->shape);
    if (st) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", rl_last_error());
        return load_fail(st, s->path, "tensor '" NAME_FMT "': %s", e->name, msg);
    }
    size_t count = (size_t)rl_tensor_numel(*out);
    size_t esize = (size_t)st_dtypes[e->dtype].size;
    char what[300];
    snprintf(what, sizeof what, "tensor '" NAME_FMT "'", e->name);
    unsigned char *dst = rl_tensor_data(*out);
    uint64_t off = data_start + e->begin;
    int err;
    if (count == 0) return RL_OK;
    if (RL_HOST_LE && (kind == ST_F32 || kind == ST_F64 || kind == ST_I64)) {
        /* the file's bytes are the tensor's bytes */
        err = source_read(s, off, dst, count * esize);
        if (err) goto fail;
        return RL_OK;
    }
    /* widen or byte-swap through a bounded buffer */
    unsigned char buf[1 << 14];
    size_t per = sizeof buf / esize, osize = rl_dtype_size((*out)->dtype);
    for (size_t i = 0; i < count; i += per) {
        size_t k = count - i < per ? count - i : per;
        err = source_read(s, off + (uint64_t)i * esize, buf, k * esize);
        if (err) goto fail;
        decode(dst + i * osize, buf, k, kind);
    }
    return RL_OK;
fail:
    rl_tensor_release(*out);
    *out = NULL;
    return read_fail(s, err, what);
}

/* The header's bytes (after the 8-byte length) into *header (malloc'd),
 * their count into *hlen: the length checked against the limit and the file. */
static rl_status read_header(const source *s, char **header, uint64_t *hlen)
{
    const char *path = s->path;
    unsigned char lenbuf[8];
    *header = NULL;
    if (s->size < 8)
        return load_fail(RL_ERR_IO, path, "file is %llu bytes, too short for the 8-byte header length "
                         "(not a safetensors file, or truncated)", (unsigned long long)s->size);
    int err = source_read(s, 0, lenbuf, 8);
    if (err) return read_fail(s, err, "the header length");
    uint64_t n = rd64(lenbuf);
    if (n > RL_SAFETENSORS_MAX_HEADER)
        return load_fail(RL_ERR_IO, path, "header length %llu is over the limit of %llu bytes (not a safetensors file?)",
                         (unsigned long long)n, RL_SAFETENSORS_MAX_HEADER);
    if (n > s->size - 8)
        return load_fail(RL_ERR_IO, path, "header length %llu is more than the %llu bytes after it (file truncated?)",
                         (unsigned long long)n, (unsigned long long)(s->size - 8));
    char *h = malloc(n ? (size_t)n : 1);
    if (!h) return load_fail(RL_ERR_NOMEM, path, "out of memory for a %llu-byte header", (unsigned long long)n);
    err = source_read(s, 8, h, (size_t)n);
    if (err) {
        free(h);
        return read_fail(s, err, "the header");
    }
    *header = h;
    *hlen = n;
    return RL_OK;
}

/* The header as a JSON object into *root. */
static rl_status parse_header(const source *s, const char *header, uint64_t hlen, json_t **root)
{
    json_error_t jerr;
    *root = json_loadb(header, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!*root)
        return load_fail(RL_ERR_IO, s->path, "invalid JSON header: %s (line %d, column %d)", jerr.text, jerr.line,
                         jerr.column);
    if (!json_is_object(*root))
        return load_fail(RL_ERR_IO, s->path, "header must be a JSON object, got %s", json_type_name(*root));
    return RL_OK;
}

/* "__metadata__", when there, must be an object of strings: it into *meta
 * (NULL when absent; a JSON null stays, as no entries) and its size into
 * *nmeta. */
static rl_status check_metadata(const source *s, json_t *root, json_t **meta, size_t *nmeta)
{
    *meta = json_object_get(root, "__metadata__");
    *nmeta = 0;
    if (!*meta || json_is_null(*meta)) return RL_OK;
    if (!json_is_object(*meta))
        return load_fail(RL_ERR_IO, s->path, "\"__metadata__\" must be an object of strings, got %s",
                         json_type_name(*meta));
    const char *k;
    json_t *v;
    json_object_foreach(*meta, k, v) {
        if (!json_is_string(v))
            return load_fail(RL_ERR_IO, s->path, "\"__metadata__\" value for key '" NAME_FMT "' must be a string, got %s",
                             k, json_type_name(v));
    }
    *nmeta = json_object_size(*meta);
    return RL_OK;
}

/* The tensors' entries, each checked on its own, into *entries (calloc'd,
 * freed by the caller even on an error), their count into *n. has_meta: the
 * root holds a "__metadata__" key (null or not) that is no tensor. */
static rl_status parse_entries(const source *s, json_t *root, bool has_meta, uint64_t buflen, entry **entries,
                               size_t *n)
{
    size_t count = json_object_size(root) - (has_meta ? 1 : 0);
    *n = 0;
    *entries = calloc(count ? count : 1, sizeof **entries);
    if (!*entries) return load_fail(RL_ERR_NOMEM, s->path, "out of memory for %zu header entries", count);
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) continue;
        rl_status st = parse_entry(s, key, val, buflen, &(*entries)[(*n)++]);
        if (st) return st;
    }
    return RL_OK;
}

/* The entries together: sorted by offset, their ranges tile the data buffer
 * (no overlap, no gap, nothing after the last). */
static rl_status check_tiling(const source *s, entry *entries, size_t n, uint64_t buflen)
{
    const char *path = s->path;
    qsort(entries, n, sizeof *entries, entry_cmp);
    uint64_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        const entry *e = &entries[i];
        if (e->begin < pos) {
            const entry *p = &entries[i - 1];
            return load_fail(RL_ERR_IO, path, "tensor '" NAME_FMT "': data_offsets [%llu, %llu] overlap those of tensor '"
                             NAME_FMT "' [%llu, %llu]", e->name, (unsigned long long)e->begin,
                             (unsigned long long)e->end, p->name, (unsigned long long)p->begin,
                             (unsigned long long)p->end);
        }
        if (e->begin > pos)
            return load_fail(RL_ERR_IO, path, "bytes [%llu, %llu) of the data belong to no tensor (a gap before tensor '"
                             NAME_FMT "')", (unsigned long long)pos, (unsigned long long)e->begin, e->name);
        pos = e->end;
    }
    if (pos != buflen)
        return load_fail(RL_ERR_IO, path, "the data is %llu bytes but the tensors cover only %llu (trailing bytes %s)",
                         (unsigned long long)buflen, (unsigned long long)pos,
                         n ? "after the last tensor" : "in a file without tensors");
    return RL_OK;
}

/* An empty result with room for n tensors and nmeta metadata entries into
 * *out; on failure *out holds what was allocated (for rl_safetensors_free). */
static rl_status file_new(const source *s, size_t n, size_t nmeta, rl_safetensors_file **out)
{
    rl_safetensors_file *f = *out = calloc(1, sizeof *f);
    if (!f) return load_fail(RL_ERR_NOMEM, s->path, "out of memory");
    f->names = calloc(n ? n : 1, sizeof *f->names);
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    f->meta_keys = calloc(nmeta ? nmeta : 1, sizeof *f->meta_keys);
    f->meta_values = calloc(nmeta ? nmeta : 1, sizeof *f->meta_values);
    if (!f->names || !f->tensors || !f->meta_keys || !f->meta_values)
        return load_fail(RL_ERR_NOMEM, s->path, "out of memory");
    return RL_OK;
}

/* The metadata's keys and values copied into f (meta may be NULL). */
static rl_status copy_metadata(const source *s, json_t *meta, size_t nmeta, rl_safetensors_file *f)
{
    if (!nmeta) return RL_OK;
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v) {
        f->meta_keys[f->nmeta] = dup_str(k);
        f->meta_values[f->nmeta] = dup_str(json_string_value(v));
        f->nmeta++;
        if (!f->meta_keys[f->nmeta - 1] || !f->meta_values[f->nmeta - 1])
            return load_fail(RL_ERR_NOMEM, s->path, "out of memory");
    }
    return RL_OK;
}

/* The validated entries' names and tensors into f, in data order. */
static rl_status read_tensors(const source *s, uint64_t data_start, const entry *entries, size_t n,
                              rl_safetensors_file *f)
{
    for (size_t i = 0; i < n; i++) {
        f->names[i] = dup_str(entries[i].name);
        f->count = (int)i + 1;
        if (!f->names[i]) return load_fail(RL_ERR_NOMEM, s->path, "out of memory");
        rl_status st = read_tensor(s, data_start, &entries[i], &f->tensors[i]);
        if (st) return st;
    }
    return RL_OK;
}

/* The whole header is checked (each entry, then how they tile the data)
 * before any tensor is allocated or read. */
static rl_status load_source(rl_safetensors_file **out, const source *s)
{
    char *header = NULL;
    json_t *root = NULL, *meta = NULL;
    entry *entries = NULL;
    rl_safetensors_file *f = NULL;
    uint64_t hlen = 0;
    size_t nmeta = 0, n = 0;
    *out = NULL;

    rl_status st = read_header(s, &header, &hlen);
    if (st) return st;
    uint64_t data_start = 8 + hlen, buflen = s->size - data_start;
    if (!(st = parse_header(s, header, hlen, &root)) &&
        !(st = check_metadata(s, root, &meta, &nmeta)) &&
        !(st = parse_entries(s, root, meta != NULL, buflen, &entries, &n)) &&
        !(st = check_tiling(s, entries, n, buflen)) &&
        !(st = file_new(s, n, nmeta, &f)) &&
        !(st = copy_metadata(s, meta, nmeta, f)) &&
        !(st = read_tensors(s, data_start, entries, n, f))) {
        *out = f;
        f = NULL;
    }
    rl_safetensors_free(f);
    free(entries);
    json_decref(root);
    free(header);
    return st;
}

rl_status rl_safetensors_load(rl_safetensors_file **out, const char *path)
{
    *out = NULL;
    if (!path || !*path) return rl_fail(RL_ERR_ARG, "safetensors_load: the path is empty");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return load_fail(RL_ERR_IO, path, "cannot open: %s", strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return load_fail(RL_ERR_IO, path, "cannot stat: %s", strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return load_fail(RL_ERR_IO, path, "not a regular file");
    }
    source s = {fd, NULL, (uint64_t)sb.st_size, path};
    rl_status st = load_source(out, &s);
    close(fd);
    return st;
}

rl_status rl_safetensors_load_buffer(rl_safetensors_file **out, const void *data, size_t size, const char *name)
{
    *out = NULL;
    if (!name) name = "(buffer)";
    if (!data && size) return rl_fail(RL_ERR_ARG, "safetensors_load: %s: NULL data", name);
    source s = {-1, data, (uint64_t)size, name};
    return load_source(out, &s);
}

void rl_safetensors_free(rl_safetensors_file *f)
{
    if (!f) return;
    for (int i = 0; i < f->count; i++) {
        if (f->names) free(f->names[i]);
        if (f->tensors && f->tensors[i]) rl_tensor_release(f->tensors[i]);
    }
    for (int i = 0; i < f->nmeta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->names);
    free(f->tensors);
    free(f->meta_keys);
    free(f->meta_values);
    free(f);
}

/* ---- save ---- */

typedef struct {
    const char *name;
    rl_tensor *t;
    size_t esize;
} slot;

static int slot_by_name(const void *a, const void *b)
{
    return strcmp(((const slot *)a)->name, ((const slot *)b)->name);
}

/* The reference library's layout: by its dtype order descending (I64, F64,
 * F32: larger alignment first), then by name. */
static int dtype_rank(rl_dtype dt)
{
    return dt == RL_INT64 ? 3 : dt == RL_FLOAT64 ? 2 : 1;
}

static int slot_by_layout(const void *a, const void *b)
{
    const slot *x = a, *y = b;
    int rx = dtype_rank(x->t->dtype), ry = dtype_rank(y->t->dtype);
    if (rx != ry) return rx > ry ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Writes a tensor's values, row-major, little-endian. */
static int write_tensor(FILE *fp, rl_tensor *t, char *errbuf, size_t errlen)
{
    rl_tensor *c = NULL;
    if (rl_tensor_contiguous(&c, t)) {
        snprintf(errbuf, errlen, "%s", rl_last_error());
        return -1;
    }
    size_t nbytes = (size_t)rl_tensor_numel(c) * rl_dtype_size(c->dtype);
    int ok = 1;
    if (nbytes) {
        const unsigned char *p = rl_tensor_data(c);
        if (RL_HOST_LE) {
            ok = fwrite(p, 1, nbytes, fp) == nbytes;
        } else {
            unsigned char buf[1 << 14];
            size_t es = rl_dtype_size(c->dtype);
            for (size_t i = 0; ok && i < nbytes; i += sizeof buf) {
                size_t k = nbytes - i < sizeof buf ? nbytes - i : sizeof buf;
                for (size_t j = 0; j < k; j += es)
                    for (size_t b = 0; b < es; b++) buf[j + b] = p[i + j + es - 1 - b];
                ok = fwrite(buf, 1, k, fp) == k;
            }
        }
        if (!ok) snprintf(errbuf, errlen, "write failed: %s", strerror(errno));
    }
    rl_tensor_release(c);
    return ok ? 0 : -1;
}

/* fsync the directory holding path, so that the rename is durable. */
static int sync_dir(const char *path, char *errbuf, size_t errlen)
{
    size_t len = strlen(path);
    char *dir = malloc(len + 2);
    if (!dir) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    const char *slash = strrchr(path, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == path) strcpy(dir, "/");
    else {
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = 0;
    }
    int rc = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(errbuf, errlen, "the file was written, but its directory %.300s cannot be opened to sync it: %s", dir,
                 strerror(errno));
        rc = -1;
    } else {
        /* some file systems cannot sync directories: nothing more to do there */
        if (fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP) {
            snprintf(errbuf, errlen, "the file was written, but syncing its directory %.300s failed: %s", dir,
                     strerror(errno));
            rc = -1;
        }
        close(fd);
    }
    free(dir);
    return rc;
}

/* The tensor arguments checked and into slots (n of them), sorted by name:
 * names non-empty, not "__metadata__", unique; tensors not NULL, of a dtype
 * the format has. */
static rl_status check_tensor_args(const char *path, int n, const char *const *names, rl_tensor *const *tensors,
                                   slot *slots)
{
    for (int i = 0; i < n; i++) {
        if (!names[i] || !*names[i]) return save_fail(RL_ERR_ARG, path, "tensor %d has an empty name", i + 1);
        if (strcmp(names[i], "__metadata__") == 0)
            return save_fail(RL_ERR_ARG, path, "tensor %d: the name \"__metadata__\" is reserved by the format", i + 1);
        if (!tensors[i]) return save_fail(RL_ERR_ARG, path, "tensor '" NAME_FMT "' is NULL", names[i]);
        if (!save_dtype_name(tensors[i]->dtype))
            return save_fail(RL_ERR_DTYPE, path, "tensor '" NAME_FMT "': unsupported dtype %d", names[i],
                             (int)tensors[i]->dtype);
        slots[i] = (slot){names[i], tensors[i], rl_dtype_size(tensors[i]->dtype)};
    }
    qsort(slots, (size_t)n, sizeof *slots, slot_by_name);
    for (int i = 1; i < n; i++)
        if (strcmp(slots[i - 1].name, slots[i].name) == 0)
            return save_fail(RL_ERR_ARG, path, "two tensors are named '" NAME_FMT "'; names must be unique",
                             slots[i].name);
    return RL_OK;
}

/* The metadata keys checked (not NULL, nor their values; unique) and into
 * keys (nmeta of them), sorted. */
static rl_status check_meta_args(const char *path, int nmeta, const char *const *meta_keys,
                                 const char *const *meta_values, const char **keys)
{
    for (int i = 0; i < nmeta; i++) {
        if (!meta_keys[i] || !meta_values[i])
            return save_fail(RL_ERR_ARG, path, "metadata entry %d has a NULL key or value", i + 1);
        keys[i] = meta_keys[i];
    }
    qsort(keys, (size_t)nmeta, sizeof *keys, str_cmp);
    for (int i = 1; i < nmeta; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            return save_fail(RL_ERR_ARG, path, "metadata key '" NAME_FMT "' appears twice", keys[i]);
    return RL_OK;
}

/* "__metadata__" into the header root, its keys in sorted order (keys:
 * meta_keys sorted, the same pointers). RL_ERR_NOMEM unreported. */
static rl_status header_metadata(const char *path, json_t *root, int nmeta, const char **keys,
                                 const char *const *meta_keys, const char *const *meta_values)
{
    if (nmeta == 0) return RL_OK;
    json_t *meta = json_object();
    if (!meta || json_object_set_new(root, "__metadata__", meta)) return RL_ERR_NOMEM;
    for (int i = 0; i < nmeta; i++) {
        const char *value = NULL;
        for (int j = 0; j < nmeta && !value; j++)
            if (meta_keys[j] == keys[i]) value = meta_values[j];
        json_t *v = json_string(value);
        if (!v) return save_fail(RL_ERR_ARG, path, "metadata value for key '" NAME_FMT "' is not valid UTF-8", keys[i]);
        if (json_object_set_new(meta, keys[i], v))
            return save_fail(RL_ERR_ARG, path, "metadata key '" NAME_FMT "' is not valid UTF-8", keys[i]);
    }
    return RL_OK;
}

/* One tensor's entry {dtype, shape, data_offsets [offset, offset + nbytes]},
 * fields in the reference library's order, into the header root.
 * RL_ERR_NOMEM unreported. */
static rl_status header_entry(const char *path, json_t *root, const slot *sl, uint64_t offset, uint64_t nbytes)
{
    const rl_tensor *t = sl->t;
    json_t *e = json_object(), *shape = json_array(), *offs = json_array();
    int bad = !e || !shape || !offs;
    for (int d = 0; !bad && d < t->ndim; d++) bad = json_array_append_new(shape, json_integer(t->shape[d]));
    bad = bad || json_array_append_new(offs, json_integer((json_int_t)offset)) ||
          json_array_append_new(offs, json_integer((json_int_t)(offset + nbytes)));
    bad = bad || json_object_set_new(e, "dtype", json_string(save_dtype_name(t->dtype)));
    if (!bad) {
        bad = json_object_set_new(e, "shape", shape);
        shape = NULL;
    }
    if (!bad) {
        bad = json_object_set_new(e, "data_offsets", offs);
        offs = NULL;
    }
    json_decref(shape);
    json_decref(offs);
    if (bad) {
        json_decref(e);
        return RL_ERR_NOMEM;
    }
    if (json_object_set_new(root, sl->name, e))
        return save_fail(RL_ERR_ARG, path, "tensor name '" NAME_FMT "' is not valid UTF-8", sl->name);
    return RL_OK;
}

/* The header's JSON text into *json (malloc'd): metadata (keys sorted), then
 * the tensors in data order (slots re-sorted so). jansson keeps insertion
 * order, so one file is byte-identical to the reference library's
 * save_file's (whose metadata order is that of a hash map when there are
 * several keys). */
static rl_status header_json(const char *path, slot *slots, int n, int nmeta, const char **keys,
                             const char *const *meta_keys, const char *const *meta_values, char **json)
{
    /* RL_ERR_NOMEM: not yet reported (the helpers report every other error) */
    rl_status st = RL_ERR_NOMEM;
    json_t *root = json_object();
    if (!root) goto out;
    if ((st = header_metadata(path, root, nmeta, keys, meta_keys, meta_values))) goto out;
    qsort(slots, (size_t)n, sizeof *slots, slot_by_layout);
    uint64_t offset = 0;
    for (int i = 0; i < n; i++) {
        uint64_t nbytes = (uint64_t)rl_tensor_numel(slots[i].t) * slots[i].esize;
        if (offset + nbytes > (uint64_t)INT64_MAX) {
            st = save_fail(RL_ERR_ARG, path, "the tensors are too large for one file");
            goto out;
        }
        if ((st = header_entry(path, root, &slots[i], offset, nbytes))) goto out;
        offset += nbytes;
    }
    *json = json_dumps(root, JSON_COMPACT);
    st = *json ? RL_OK : RL_ERR_NOMEM;
out:
    json_decref(root);
    if (st == RL_ERR_NOMEM) st = save_fail(RL_ERR_NOMEM, path, "out of memory building the header");
    return st;
}

/* A new temporary file next to path, "<path>.tmp.<pid>[.<k>]": its name into
 * *tmp (malloc'd), it open for writing into *fp. *tmp is NULL unless the
 * file was made (what the caller removes on a later failure: never a name
 * that existed before). */
static rl_status create_temp(const char *path, char **tmp, FILE **fp)
{
    size_t plen = strlen(path);
    char *name = malloc(plen + 64);
    *tmp = NULL;
    if (!name) return save_fail(RL_ERR_NOMEM, path, "out of memory building the header");
    int fd = -1;
    for (int k = 0; k < 100 && fd < 0; k++) {
        if (k == 0) snprintf(name, plen + 64, "%s.tmp.%ld", path, (long)getpid());
        else snprintf(name, plen + 64, "%s.tmp.%ld.%d", path, (long)getpid(), k);
        fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        rl_status st = save_fail(RL_ERR_IO, path, "cannot create the temporary file %s: %s", name, strerror(errno));
        free(name);
        return st;
    }
    *tmp = name;
    *fp = fdopen(fd, "wb");
    if (!*fp) {
        rl_status st = save_fail(RL_ERR_IO, path, "cannot open the temporary file %s: %s", name, strerror(errno));
        close(fd);
        return st;
    }
    return RL_OK;
}

/* The whole file into fp (the temporary file tmp): the header length, the
 * header padded with spaces to a multiple of 8 bytes, the tensors in slot
 * order; flushed and synced to disk. */
static rl_status write_contents(const char *path, const char *tmp, FILE *fp, const char *json, const slot *slots,
                                int n)
{
    char errbuf[600];
    size_t jlen = strlen(json), hlen = (jlen + 7) / 8 * 8;
    unsigned char lenbuf[8];
    for (int b = 0; b < 8; b++) lenbuf[b] = (unsigned char)((uint64_t)hlen >> (8 * b));
    int ok = fwrite(lenbuf, 1, 8, fp) == 8 && fwrite(json, 1, jlen, fp) == jlen;
    for (size_t p = jlen; ok && p < hlen; p++) ok = fputc(' ', fp) != EOF;
    if (!ok) return save_fail(RL_ERR_IO, path, "writing %s failed: %s", tmp, strerror(errno));
    for (int i = 0; i < n; i++)
        if (write_tensor(fp, slots[i].t, errbuf, sizeof errbuf))
            return save_fail(RL_ERR_IO, path, "tensor '" NAME_FMT "': writing %s: %s", slots[i].name, tmp, errbuf);
    if (fflush(fp) != 0) return save_fail(RL_ERR_IO, path, "writing %s failed: %s", tmp, strerror(errno));
    if (fsync(fileno(fp)) != 0) return save_fail(RL_ERR_IO, path, "fsync of %s failed: %s", tmp, strerror(errno));
    return RL_OK;
}

/* Written to a temporary file next to path, synced, renamed over path, and
 * the directory synced: path holds the old file or the whole new one. */
rl_status rl_safetensors_save(const char *path, int n, const char *const *names, rl_tensor *const *tensors, int nmeta,
                              const char *const *meta_keys, const char *const *meta_values)
{
    if (!path || !*path) return rl_fail(RL_ERR_ARG, "safetensors_save: the path is empty");
    if (n < 0 || nmeta < 0) return save_fail(RL_ERR_ARG, path, "negative count (%d tensors, %d metadata)", n, nmeta);
    if ((n > 0 && (!names || !tensors)) || (nmeta > 0 && (!meta_keys || !meta_values)))
        return save_fail(RL_ERR_ARG, path, "NULL array of names, tensors or metadata");

    rl_status st = RL_OK;
    slot *slots = calloc(n ? (size_t)n : 1, sizeof *slots);
    const char **keys = calloc(nmeta ? (size_t)nmeta : 1, sizeof *keys);
    char *json = NULL, *tmp = NULL;
    FILE *fp = NULL;
    if (!slots || !keys) {
        st = save_fail(RL_ERR_NOMEM, path, "out of memory");
        goto done;
    }
    if ((st = check_tensor_args(path, n, names, tensors, slots)) ||
        (st = check_meta_args(path, nmeta, meta_keys, meta_values, keys)) ||
        (st = header_json(path, slots, n, nmeta, keys, meta_keys, meta_values, &json)) ||
        (st = create_temp(path, &tmp, &fp)) ||
        (st = write_contents(path, tmp, fp, json, slots, n)))
        goto done;
    int rc = fclose(fp);
    fp = NULL;
    if (rc != 0) {
        st = save_fail(RL_ERR_IO, path, "closing %s failed: %s", tmp, strerror(errno));
        goto done;
    }
    if (rename(tmp, path) != 0) {
        st = save_fail(RL_ERR_IO, path, "cannot rename %s over it: %s", tmp, strerror(errno));
        goto done;
    }
    free(tmp); /* renamed: nothing to remove */
    tmp = NULL;
    char errbuf[600];
    if (sync_dir(path, errbuf, sizeof errbuf)) st = save_fail(RL_ERR_IO, path, "%s", errbuf);

done:
    if (fp) fclose(fp);
    if (tmp && st) unlink(tmp);
    free(tmp);
    free(json);
    free(keys);
    free(slots);
    return st;
}
