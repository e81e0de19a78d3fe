/* io.c — rnn.save and rnn.load: tensors in safetensors files (core/io.h).
 *
 *   rnn.save(path, tensors [, metadata])
 *       tensors: a table name -> tensor, or an array of {name, tensor} pairs
 *       (as named_parameters returns); metadata: a table string -> string.
 *   local tensors, metadata = rnn.load(path)
 *       name -> tensor and key -> string tables. */
#include "lrl.h"

#include "../core/io.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILE_MT "rnn.safetensors_file"

/* The string at idx (a key or a value of a table being walked) without
 * converting numbers; NULL if it is not a string. Rejects embedded NULs. */
static const char *plain_string(lua_State *L, int idx, const char *fn, const char *what)
{
    if (lua_type(L, idx) != LUA_TSTRING) return NULL;
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    if (strlen(s) != len) rlua_error(L, fn, "%s '%s' contains a NUL byte", what, s);
    return s;
}

/* Arrays for the core call, in userdata so that an error cannot leak them. */
static void *scratch(lua_State *L, size_t count, size_t size)
{
    return lua_newuserdatauv(L, (count ? count : 1) * size, 0);
}

/* An array of {name, tensor} pairs: t[1] is a table, not a tensor. */
static int is_pairs_form(lua_State *L, int idx)
{
    lua_rawgeti(L, idx, 1);
    int yes = lua_istable(L, -1) && !rlua_totensor(L, -1);
    lua_pop(L, 1);
    return yes;
}

/***
@module rnn
*/

/***
Writes tensors to a safetensors file that PyTorch and the safetensors
library read: float32, float64 and int64 as F32, F64 and I64, row-major;
the same tensors always give the same bytes. The write is atomic (a
temporary file, synced, then renamed over path), so a failed save leaves
an earlier file intact.
@function save
@tparam string path
@tparam table tensors name -> Tensor (`m:state_dict()`), or an array of
{name, tensor} pairs (`m:named_parameters()`)
@tparam[opt] table metadata string -> string (convert numbers with tostring)
@raise naming the file, for a bad name, tensor or metadata value, or an I/O error
@usage rnn.save('model.safetensors', lstm:state_dict(), {step = '100'})
*/
static int l_save(lua_State *L)
{
    const char *fn = "save";
    if (lua_type(L, 1) != LUA_TSTRING)
        rlua_error(L, fn, "argument 1 (path) must be a string, got %s", luaL_typename(L, 1));
    const char *path = plain_string(L, 1, fn, "path");
    if (!lua_istable(L, 2) || rlua_totensor(L, 2))
        rlua_error(L, fn, "argument 2 (tensors) must be a table of name = tensor or an array of {name, tensor} "
                   "pairs, got %s", rlua_totensor(L, 2) ? "a tensor" : luaL_typename(L, 2));
    if (!lua_isnoneornil(L, 3) && !lua_istable(L, 3))
        rlua_error(L, fn, "argument 3 (metadata) must be a table of string = string, got %s", luaL_typename(L, 3));
    if (!lua_isnone(L, 4))
        rlua_error(L, fn, "unexpected argument 4 (%s)", luaL_typename(L, 4));
    lua_settop(L, 3);

    /* count the entries */
    int n = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        lua_pop(L, 1);
        if (n == INT32_MAX) rlua_error(L, fn, "too many tensors");
        n++;
    }
    int nmeta = 0;
    if (lua_istable(L, 3)) {
        lua_pushnil(L);
        while (lua_next(L, 3)) {
            lua_pop(L, 1);
            if (nmeta == INT32_MAX) rlua_error(L, fn, "too many metadata entries");
            nmeta++;
        }
    }
    const char **names = scratch(L, (size_t)n, sizeof *names);        /* 4 */
    rl_tensor **tensors = scratch(L, (size_t)n, sizeof *tensors);     /* 5 */
    const char **keys = scratch(L, (size_t)nmeta, sizeof *keys);      /* 6 */
    const char **values = scratch(L, (size_t)nmeta, sizeof *values);  /* 7 */

    /* the tensors; the strings stay alive in the argument tables */
    if (is_pairs_form(L, 2)) {
        if ((lua_Integer)luaL_len(L, 2) != n)
            rlua_error(L, fn, "argument 2 (tensors): an array of {name, tensor} pairs must hold nothing else "
                       "(%d entries, %d in the array part)", n, (int)luaL_len(L, 2));
        for (int i = 0; i < n; i++) {
            if (lua_rawgeti(L, 2, i + 1) != LUA_TTABLE || rlua_totensor(L, -1))
                rlua_error(L, fn, "argument 2 (tensors): entry %d must be a {name, tensor} pair, got %s", i + 1,
                           rlua_totensor(L, -1) ? "a tensor" : luaL_typename(L, -1));
            lua_rawgeti(L, -1, 1);
            names[i] = plain_string(L, -1, fn, "tensor name");
            if (!names[i])
                rlua_error(L, fn, "argument 2 (tensors): entry %d: the name (element 1) must be a string, got %s", i + 1,
                           luaL_typename(L, -1));
            lua_rawgeti(L, -2, 2);
            tensors[i] = rlua_totensor(L, -1);
            if (!tensors[i])
                rlua_error(L, fn, "argument 2 (tensors): entry %d ('%s'): element 2 must be a tensor, got %s", i + 1,
                           names[i], luaL_typename(L, -1));
            lua_pop(L, 3);
        }
    } else {
        int i = 0;
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            const char *name = plain_string(L, -2, fn, "tensor name");
            if (!name) {
                const char *k = luaL_tolstring(L, -2, NULL);
                rlua_error(L, fn, "argument 2 (tensors): key %s is a %s; names must be strings (or pass an array of "
                           "{name, tensor} pairs)", k, luaL_typename(L, -3));
            }
            rl_tensor *t = rlua_totensor(L, -1);
            if (!t)
                rlua_error(L, fn, "argument 2 (tensors): '%s' must be a tensor, got %s", name, luaL_typename(L, -1));
            /* the allocations above may have run a finalizer that changed the table */
            if (i == n) rlua_error(L, fn, "argument 2 (tensors) was modified while being saved");
            names[i] = name;
            tensors[i] = t;
            i++;
            lua_pop(L, 1);
        }
        if (i != n) rlua_error(L, fn, "argument 2 (tensors) was modified while being saved");
    }

    /* the metadata: strings only, as PyTorch and the safetensors library require */
    if (nmeta) {
        int i = 0;
        lua_pushnil(L);
        while (lua_next(L, 3)) {
            const char *k = plain_string(L, -2, fn, "metadata key");
            if (!k) {
                const char *ks = luaL_tolstring(L, -2, NULL);
                rlua_error(L, fn, "argument 3 (metadata): key %s is a %s; keys must be strings", ks, luaL_typename(L, -3));
            }
            const char *v = plain_string(L, -1, fn, "metadata value");
            if (!v)
                rlua_error(L, fn, "argument 3 (metadata): the value of '%s' is a %s; values must be strings "
                           "(safetensors metadata maps strings to strings: convert with tostring)", k,
                           luaL_typename(L, -1));
            if (i == nmeta) rlua_error(L, fn, "argument 3 (metadata) was modified while being saved");
            keys[i] = k;
            values[i] = v;
            i++;
            lua_pop(L, 1);
        }
        if (i != nmeta) rlua_error(L, fn, "argument 3 (metadata) was modified while being saved");
    }

    rl_status st = rl_safetensors_save(path, n, names, tensors, nmeta, keys, values);
    if (st) rlua_fail(L, fn);
    return 0;
}

static int file_gc(lua_State *L)
{
    rl_safetensors_file **holder = luaL_checkudata(L, 1, FILE_MT);
    rl_safetensors_free(*holder);
    *holder = NULL;
    return 0;
}

/***
Reads a safetensors file: F32, F64, F16 and BF16 (as float32), I64 and I32
(as int64). Every part is checked (header length, JSON, dtypes, shapes
against byte ranges, overlaps and gaps).
@function load
@tparam string path
@treturn table name -> Tensor
@treturn table metadata, string -> string
@raise naming the file and the tensor, for other dtypes, truncated files
and corrupt headers
@usage local tensors, meta = rnn.load('model.safetensors')
lstm:load_state_dict(tensors)
*/
static int l_load(lua_State *L)
{
    const char *fn = "load";
    if (lua_type(L, 1) != LUA_TSTRING)
        rlua_error(L, fn, "argument 1 (path) must be a string, got %s", luaL_typename(L, 1));
    const char *path = plain_string(L, 1, fn, "path");
    if (!lua_isnone(L, 2)) rlua_error(L, fn, "unexpected argument 2 (%s)", luaL_typename(L, 2));

    /* the loaded file lives in a userdata until its tensors are in boxes */
    rl_safetensors_file **holder = lua_newuserdatauv(L, sizeof *holder, 0);
    *holder = NULL;
    luaL_setmetatable(L, FILE_MT);
    if (rl_safetensors_load(holder, path)) rlua_fail(L, fn);
    rl_safetensors_file *f = *holder;

    lua_createtable(L, 0, f->count);
    for (int i = 0; i < f->count; i++) {
        rl_tensor **box = rlua_newbox(L);
        *box = f->tensors[i];
        f->tensors[i] = NULL;
        lua_setfield(L, -2, f->names[i]);
    }
    lua_createtable(L, 0, f->nmeta);
    for (int i = 0; i < f->nmeta; i++) {
        lua_pushstring(L, f->meta_values[i]);
        lua_setfield(L, -2, f->meta_keys[i]);
    }
    rl_safetensors_free(f);
    *holder = NULL;
    rlua_gc_account(L);
    return 2;
}


/* rnn.core._fnv1a64(tensor [, hex]) -> hex: FNV-1a (64 bits) of the
 * tensor's elements, row-major, as stored (native byte order), continuing
 * from the hash `hex` (16 hex digits) when given. For the checksum of the
 * experiment harness's checkpoints (rnn.experiment.checkpoint). */
static int l_fnv1a64(lua_State *L)
{
    const char *fn = "_fnv1a64";
    rl_tensor *t = rlua_check(L, 1, fn, "tensor");
    uint64_t h = 14695981039346656037ULL;
    if (!lua_isnoneornil(L, 2)) {
        const char *s = luaL_checkstring(L, 2);
        char *end = NULL;
        unsigned long long v = strtoull(s, &end, 16);
        if (strlen(s) != 16 || !end || *end) rlua_error(L, fn, "argument 2 (hash) must be 16 hex digits, got '%s'", s);
        h = (uint64_t)v;
    }
    rl_tensor *c = NULL;
    rlua_check_status(L, rl_tensor_contiguous(&c, t), fn);
    int64_t n = 1;
    for (int i = 0; i < c->ndim; i++) n *= c->shape[i];
    size_t bytes = (size_t)n * rl_dtype_size(c->dtype);
    const unsigned char *p = bytes > 0 ? rl_tensor_data(c) : NULL;
    for (size_t i = 0; i < bytes; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    rl_tensor_release(c);
    char out[17];
    snprintf(out, sizeof out, "%016llx", (unsigned long long)h);
    lua_pushstring(L, out);
    return 1;
}

static const luaL_Reg funcs[] = {
    {"save", l_save},
    {"_fnv1a64", l_fnv1a64},
    {"load", l_load},
    {NULL, NULL},
};

void rlua_open_io(lua_State *L)
{
    if (luaL_newmetatable(L, FILE_MT)) {
        lua_pushcfunction(L, file_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    luaL_setfuncs(L, funcs, 0);
}
