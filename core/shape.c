#include "shape.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *rl_dtype_name(rl_dtype dt)
{
    switch (dt) {
    case RL_FLOAT32: return "float32";
    case RL_FLOAT64: return "float64";
    case RL_INT64: return "int64";
    }
    return "?";
}

rl_status rl_dtype_parse(const char *name, rl_dtype *out)
{
    if (!strcmp(name, "float32") || !strcmp(name, "float")) *out = RL_FLOAT32;
    else if (!strcmp(name, "float64") || !strcmp(name, "double")) *out = RL_FLOAT64;
    else if (!strcmp(name, "int64") || !strcmp(name, "long")) *out = RL_INT64;
    else return rl_fail(RL_ERR_DTYPE, "unknown dtype '%s' (expected 'float32', 'float64' or 'int64')", name);
    return RL_OK;
}

char *rl_shape_str(char *buf, size_t n, int ndim, const int64_t *shape)
{
    size_t len = 0;
    len += (size_t)snprintf(buf + len, n - len, "(");
    for (int i = 0; i < ndim && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (len < n) snprintf(buf + len, n - len, ")");
    return buf;
}

int64_t rl_shape_numel(int ndim, const int64_t *shape)
{
    /* The product of the non-zero sizes must fit as well, even when a zero
     * makes the count 0: it is what contiguous strides are computed from. */
    int64_t n = 1;
    bool empty = false;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return -1;
        if (shape[i] == 0) {
            empty = true;
            continue;
        }
        if (__builtin_mul_overflow(n, shape[i], &n) || n > (INT64_C(1) << 62)) return -1;
    }
    return empty ? 0 : n;
}

const char *rl_int64_misfit(char *buf, size_t n, double v)
{
    if (v != v) snprintf(buf, n, "nan (not a number)");
    else if (isinf(v)) snprintf(buf, n, "%sinf (not finite)", v < 0 ? "-" : "");
    else if (!rl_fits_int64(v)) snprintf(buf, n, "%.17g (outside the int64 range)", v);
    else if (v != floor(v)) snprintf(buf, n, "%.17g (not an integer)", v);
    else snprintf(buf, n, "%.17g", v);
    return buf;
}
