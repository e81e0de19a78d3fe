/* io.h — tensors to and from files in the safetensors format.
 *
 * Layout of a file (https://github.com/huggingface/safetensors):
 *   8 bytes   N, little-endian u64: the length of the header
 *   N bytes   a UTF-8 JSON object: {"__metadata__": {str: str},
 *             "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]}, ...}
 *             padded with spaces to a multiple of 8 bytes
 *   the rest  the byte buffer; [b, e) is relative to its start. Tensors are
 *             little-endian, row-major and contiguous; their ranges cover the
 *             buffer exactly, without gaps or overlaps.
 *
 * Saving writes F32, F64 and I64 (the core's dtypes) laid out as the
 * reference library lays them out (I64, then F64, then F32; by name within a
 * dtype), with the same compact header: metadata first (keys sorted), then
 * the tensors in data order, fields dtype, shape, data_offsets. The same
 * tensors and metadata give a byte-identical file, identical to what the
 * reference save_file writes (up to its hash-map order of several metadata
 * keys). The write
 * is atomic: a temporary file in the same directory is written, flushed,
 * fsync'ed and renamed over `path`, and the directory is fsync'ed; on any
 * failure the temporary file is removed and an existing `path` is untouched.
 *
 * Loading reads F32, F64, F16 and BF16 (as float32), I64 and I32 (as int64).
 * Every field of the header is validated before any tensor is allocated; a
 * truncated or corrupt file gives RL_ERR_IO (unreadable, or bad structure) or
 * RL_ERR_DTYPE (a dtype the core cannot hold) with a message naming the file
 * and, where one is involved, the tensor. Messages start with
 * "safetensors_save: <path>: " or "safetensors_load: <path>: ". */
#ifndef RL_IO_H
#define RL_IO_H

#include <stddef.h>

#include "status.h"
#include "tensor.h"

/* Largest JSON header accepted, as the reference library (100 MB). */
#define RL_SAFETENSORS_MAX_HEADER 100000000ull

/* Writes n tensors under the given names (unique, non-empty, valid UTF-8,
 * not "__metadata__") and nmeta metadata pairs (unique keys, string
 * values). Tensors may be non-contiguous views; their values are written
 * row-major. n and nmeta may be 0. */
rl_status rl_safetensors_save(const char *path, int n, const char *const *names, rl_tensor *const *tensors,
                              int nmeta, const char *const *meta_keys, const char *const *meta_values);

/* What a file holds. Tensors are in file order (by data offset); metadata
 * in header order. Every string and tensor is owned by the struct. */
typedef struct rl_safetensors_file {
    int count;
    char **names;
    rl_tensor **tensors;    /* float32, float64 or int64; contiguous */
    int nmeta;
    char **meta_keys;
    char **meta_values;
} rl_safetensors_file;

rl_status rl_safetensors_load(rl_safetensors_file **out, const char *path);
/* The same from bytes in memory; `name` stands for the path in messages. */
rl_status rl_safetensors_load_buffer(rl_safetensors_file **out, const void *data, size_t size, const char *name);
/* Releases the tensors (the caller may have retained them) and the strings.
 * NULL is a no-op. */
void rl_safetensors_free(rl_safetensors_file *f);

#endif
