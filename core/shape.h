/* shape.h — dtypes and shapes as plain values: element sizes and names,
 * int64 conversion, a shape's element count and its text. No tensor here:
 * the units below tensor.c (iter.c) use these without calling into it. */
#ifndef RL_SHAPE_H
#define RL_SHAPE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "status.h"

#define RL_MAX_DIMS 8

typedef enum {
    RL_FLOAT32 = 0,
    RL_FLOAT64 = 1,
    RL_INT64 = 2 /* index tensors: argmax results, gather/index_select indices */
} rl_dtype;

/* dtypes */
static inline size_t rl_dtype_size(rl_dtype dt) { return dt == RL_FLOAT32 ? 4 : 8; }
const char *rl_dtype_name(rl_dtype dt);
rl_status rl_dtype_parse(const char *name, rl_dtype *out);
static inline bool rl_dtype_is_float(rl_dtype dt) { return dt != RL_INT64; }

/* True when v converts to int64 after truncation: finite and in
 * [-2^63, 2^63). The bound is written as 2^63 exactly, not as
 * (double)INT64_MAX, which rounds up to 2^63 and would let 2^63 through. */
static inline bool rl_fits_int64(double v)
{
    return v >= -9223372036854775808.0 && v < 9223372036854775808.0; /* false for NaN */
}

/* "nan", "inf", "1e+30 (outside the int64 range)": what went wrong with a
 * value bound for int64, for error messages; into buf, returned. */
const char *rl_int64_misfit(char *buf, size_t n, double v);

/* double -> int64 without undefined behaviour: truncates toward zero,
 * saturates outside the int64 range, and maps NaN to 0. */
static inline int64_t rl_to_int64(double v)
{
    if (v != v) return 0;
    if (v >= 9223372036854775808.0) return INT64_MAX;
    if (v < -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

/* "(3,4)" into buf; returns buf. A 0-d shape prints as "()". */
char *rl_shape_str(char *buf, size_t n, int ndim, const int64_t *shape);
#define RL_SHAPE_BUF 8 * 24
/* Product of a shape, or -1 on a negative size or overflow past 2^62. */
int64_t rl_shape_numel(int ndim, const int64_t *shape);

#endif
