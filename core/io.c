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

static rl_status load_source(rl_safetensors_file **out, const source *s)
{
    const char *path = s->path;
    rl_status st = RL_OK;
    unsigned char lenbuf[8];
    char *header = NULL;
    json_t *root = NULL;
    entry *entries = NULL;
    rl_safetensors_file *f = NULL;
    *out = NULL;

    if (s->size < 8)
        return load_fail(RL_ERR_IO, path, "file is %llu bytes, too short for the 8-byte header length "
                         "(not a safetensors file, or truncated)", (unsigned long long)s->size);
    int err = source_read(s, 0, lenbuf, 8);
    if (err) return read_fail(s, err, "the header length");
    uint64_t hlen = rd64(lenbuf);
    if (hlen > RL_SAFETENSORS_MAX_HEADER)
        return load_fail(RL_ERR_IO, path, "header length %llu is over the limit of %llu bytes (not a safetensors file?)",
                         (unsigned long long)hlen, RL_SAFETENSORS_MAX_HEADER);
    if (hlen > s->size - 8)
        return load_fail(RL_ERR_IO, path, "header length %llu is more than the %llu bytes after it (file truncated?)",
                         (unsigned long long)hlen, (unsigned long long)(s->size - 8));
    uint64_t data_start = 8 + hlen, buflen = s->size - data_start;

    header = malloc(hlen ? (size_t)hlen : 1);
    if (!header) return load_fail(RL_ERR_NOMEM, path, "out of memory for a %llu-byte header", (unsigned long long)hlen);
    err = source_read(s, 8, header, (size_t)hlen);
    if (err) {
        st = read_fail(s, err, "the header");
        goto done;
    }
    json_error_t jerr;
    root = json_loadb(header, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        st = load_fail(RL_ERR_IO, path, "invalid JSON header: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
        goto done;
    }
    if (!json_is_object(root)) {
        st = load_fail(RL_ERR_IO, path, "header must be a JSON object, got %s", json_type_name(root));
        goto done;
    }

    /* metadata */
    json_t *meta = json_object_get(root, "__metadata__");
    size_t nmeta = 0;
    if (meta && !json_is_null(meta)) {
        if (!json_is_object(meta)) {
            st = load_fail(RL_ERR_IO, path, "\"__metadata__\" must be an object of strings, got %s", json_type_name(meta));
            goto done;
        }
        const char *k;
        json_t *v;
        json_object_foreach(meta, k, v) {
            if (!json_is_string(v)) {
                st = load_fail(RL_ERR_IO, path, "\"__metadata__\" value for key '" NAME_FMT "' must be a string, got %s", k,
                               json_type_name(v));
                goto done;
            }
        }
        nmeta = json_object_size(meta);
    }

    /* tensors, each checked on its own */
    size_t count = json_object_size(root) - (meta ? 1 : 0);
    entries = calloc(count ? count : 1, sizeof *entries);
    if (!entries) {
        st = load_fail(RL_ERR_NOMEM, path, "out of memory for %zu header entries", count);
        goto done;
    }
    size_t n = 0;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) continue;
        st = parse_entry(s, key, val, buflen, &entries[n++]);
        if (st) goto done;
    }

    /* together: the ranges tile the data buffer in offset order */
    qsort(entries, n, sizeof *entries, entry_cmp);
    uint64_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        const entry *e = &entries[i];
        if (e->begin < pos) {
            const entry *p = &entries[i - 1];
            st = load_fail(RL_ERR_IO, path, "tensor '" NAME_FMT "': data_offsets [%llu, %llu] overlap those of tensor '"
                           NAME_FMT "' [%llu, %llu]", e->name, (unsigned long long)e->begin, (unsigned long long)e->end,
                           p->name, (unsigned long long)p->begin, (unsigned long long)p->end);
            goto done;
        }
        if (e->begin > pos) {
            st = load_fail(RL_ERR_IO, path, "bytes [%llu, %llu) of the data belong to no tensor (a gap before tensor '"
                           NAME_FMT "')", (unsigned long long)pos, (unsigned long long)e->begin, e->name);
            goto done;
        }
        pos = e->end;
    }
    if (pos != buflen) {
        st = load_fail(RL_ERR_IO, path, "the data is %llu bytes but the tensors cover only %llu (trailing bytes %s)",
                       (unsigned long long)buflen, (unsigned long long)pos,
                       n ? "after the last tensor" : "in a file without tensors");
        goto done;
    }

    /* everything checked: read */
    f = calloc(1, sizeof *f);
    if (!f) {
        st = load_fail(RL_ERR_NOMEM, path, "out of memory");
        goto done;
    }
    f->names = calloc(n ? n : 1, sizeof *f->names);
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    f->meta_keys = calloc(nmeta ? nmeta : 1, sizeof *f->meta_keys);
    f->meta_values = calloc(nmeta ? nmeta : 1, sizeof *f->meta_values);
    if (!f->names || !f->tensors || !f->meta_keys || !f->meta_values) {
        st = load_fail(RL_ERR_NOMEM, path, "out of memory");
        goto done;
    }
    if (nmeta) {
        const char *k;
        json_t *v;
        json_object_foreach(meta, k, v) {
            f->meta_keys[f->nmeta] = dup_str(k);
            f->meta_values[f->nmeta] = dup_str(json_string_value(v));
            f->nmeta++;
            if (!f->meta_keys[f->nmeta - 1] || !f->meta_values[f->nmeta - 1]) {
                st = load_fail(RL_ERR_NOMEM, path, "out of memory");
                goto done;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        f->names[i] = dup_str(entries[i].name);
        if (!f->names[i]) {
            f->count = (int)i + 1;
            st = load_fail(RL_ERR_NOMEM, path, "out of memory");
            goto done;
        }
        f->count = (int)i + 1;
        st = read_tensor(s, data_start, &entries[i], &f->tensors[i]);
        if (st) goto done;
    }
    *out = f;
    f = NULL;

done:
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
    json_t *root = NULL;
    char *json = NULL, *tmp = NULL;
    FILE *fp = NULL;
    int tmp_made = 0;
    char errbuf[600];
    if (!slots || !keys) {
        st = save_fail(RL_ERR_NOMEM, path, "out of memory");
        goto done;
    }

    /* arguments */
    for (int i = 0; i < n; i++) {
        if (!names[i] || !*names[i]) {
            st = save_fail(RL_ERR_ARG, path, "tensor %d has an empty name", i + 1);
            goto done;
        }
        if (strcmp(names[i], "__metadata__") == 0) {
            st = save_fail(RL_ERR_ARG, path, "tensor %d: the name \"__metadata__\" is reserved by the format", i + 1);
            goto done;
        }
        if (!tensors[i]) {
            st = save_fail(RL_ERR_ARG, path, "tensor '" NAME_FMT "' is NULL", names[i]);
            goto done;
        }
        if (!save_dtype_name(tensors[i]->dtype)) {
            st = save_fail(RL_ERR_DTYPE, path, "tensor '" NAME_FMT "': unsupported dtype %d", names[i],
                           (int)tensors[i]->dtype);
            goto done;
        }
        slots[i] = (slot){names[i], tensors[i], rl_dtype_size(tensors[i]->dtype)};
    }
    qsort(slots, (size_t)n, sizeof *slots, slot_by_name);
    for (int i = 1; i < n; i++)
        if (strcmp(slots[i - 1].name, slots[i].name) == 0) {
            st = save_fail(RL_ERR_ARG, path, "two tensors are named '" NAME_FMT "'; names must be unique", slots[i].name);
            goto done;
        }
    for (int i = 0; i < nmeta; i++) {
        if (!meta_keys[i] || !meta_values[i]) {
            st = save_fail(RL_ERR_ARG, path, "metadata entry %d has a NULL key or value", i + 1);
            goto done;
        }
        keys[i] = meta_keys[i];
    }
    qsort(keys, (size_t)nmeta, sizeof *keys, str_cmp);
    for (int i = 1; i < nmeta; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0) {
            st = save_fail(RL_ERR_ARG, path, "metadata key '" NAME_FMT "' appears twice", keys[i]);
            goto done;
        }

    /* header */
    root = json_object();
    if (!root) goto nomem;
    if (nmeta > 0) {
        json_t *meta = json_object();
        if (!meta || json_object_set_new(root, "__metadata__", meta)) goto nomem;
        for (int i = 0; i < nmeta; i++) { /* in key order */
            const char *value = NULL;
            for (int j = 0; j < nmeta && !value; j++)
                if (meta_keys[j] == keys[i]) value = meta_values[j];
            json_t *v = json_string(value);
            if (!v) {
                st = save_fail(RL_ERR_ARG, path, "metadata value for key '" NAME_FMT "' is not valid UTF-8", keys[i]);
                goto done;
            }
            if (json_object_set_new(meta, keys[i], v)) {
                st = save_fail(RL_ERR_ARG, path, "metadata key '" NAME_FMT "' is not valid UTF-8", keys[i]);
                goto done;
            }
        }
    }
    qsort(slots, (size_t)n, sizeof *slots, slot_by_layout);
    uint64_t offset = 0;
    for (int i = 0; i < n; i++) {
        rl_tensor *t = slots[i].t;
        uint64_t nbytes = (uint64_t)rl_tensor_numel(t) * slots[i].esize;
        if (offset + nbytes > (uint64_t)INT64_MAX) {
            st = save_fail(RL_ERR_ARG, path, "the tensors are too large for one file");
            goto done;
        }
        json_t *e = json_object(), *shape = json_array(), *offs = json_array();
        int bad = !e || !shape || !offs;
        for (int d = 0; !bad && d < t->ndim; d++) bad = json_array_append_new(shape, json_integer(t->shape[d]));
        bad = bad || json_array_append_new(offs, json_integer((json_int_t)offset)) ||
              json_array_append_new(offs, json_integer((json_int_t)(offset + nbytes)));
        /* fields in the reference library's order */
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
            goto nomem;
        }
        if (json_object_set_new(root, slots[i].name, e)) {
            st = save_fail(RL_ERR_ARG, path, "tensor name '" NAME_FMT "' is not valid UTF-8", slots[i].name);
            goto done;
        }
        offset += nbytes;
    }
    /* jansson keeps insertion order: metadata (keys sorted), then the tensors
     * in data order, each as dtype, shape, data_offsets; as the reference
     * library writes, so one file is byte-identical to its save_file's (whose
     * metadata order is that of a hash map when there are several keys). */
    json = json_dumps(root, JSON_COMPACT);
    if (!json) goto nomem;
    size_t jlen = strlen(json), hlen = (jlen + 7) / 8 * 8;

    /* the temporary file, next to path */
    size_t plen = strlen(path);
    tmp = malloc(plen + 64);
    if (!tmp) goto nomem;
    int fd = -1;
    for (int k = 0; k < 100 && fd < 0; k++) {
        if (k == 0) snprintf(tmp, plen + 64, "%s.tmp.%ld", path, (long)getpid());
        else snprintf(tmp, plen + 64, "%s.tmp.%ld.%d", path, (long)getpid(), k);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        st = save_fail(RL_ERR_IO, path, "cannot create the temporary file %s: %s", tmp, strerror(errno));
        goto done;
    }
    tmp_made = 1;
    fp = fdopen(fd, "wb");
    if (!fp) {
        st = save_fail(RL_ERR_IO, path, "cannot open the temporary file %s: %s", tmp, strerror(errno));
        close(fd);
        goto done;
    }
    unsigned char lenbuf[8];
    for (int b = 0; b < 8; b++) lenbuf[b] = (unsigned char)((uint64_t)hlen >> (8 * b));
    int ok = fwrite(lenbuf, 1, 8, fp) == 8 && fwrite(json, 1, jlen, fp) == jlen;
    for (size_t p = jlen; ok && p < hlen; p++) ok = fputc(' ', fp) != EOF;
    if (!ok) {
        st = save_fail(RL_ERR_IO, path, "writing %s failed: %s", tmp, strerror(errno));
        goto done;
    }
    for (int i = 0; i < n; i++)
        if (write_tensor(fp, slots[i].t, errbuf, sizeof errbuf)) {
            st = save_fail(RL_ERR_IO, path, "tensor '" NAME_FMT "': writing %s: %s", slots[i].name, tmp, errbuf);
            goto done;
        }
    if (fflush(fp) != 0) {
        st = save_fail(RL_ERR_IO, path, "writing %s failed: %s", tmp, strerror(errno));
        goto done;
    }
    if (fsync(fileno(fp)) != 0) {
        st = save_fail(RL_ERR_IO, path, "fsync of %s failed: %s", tmp, strerror(errno));
        goto done;
    }
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
    tmp_made = 0;
    if (sync_dir(path, errbuf, sizeof errbuf)) st = save_fail(RL_ERR_IO, path, "%s", errbuf);
    goto done;

nomem:
    st = save_fail(RL_ERR_NOMEM, path, "out of memory building the header");
done:
    if (fp) fclose(fp);
    if (tmp_made) unlink(tmp);
    free(tmp);
    free(json);
    json_decref(root);
    free(keys);
    free(slots);
    return st;
}
