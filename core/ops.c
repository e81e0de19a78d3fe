#include "ops.h"
#include "iter.h"
#include "vmath.h"

#include <math.h>
#include <string.h>

static const char *binop_names[RL_BINOP_COUNT] = {
    "add", "sub", "mul", "div", "pow", "maximum", "minimum",
    "eq", "ne", "lt", "le", "gt", "ge",
};

static const char *unop_names[RL_UNOP_COUNT] = {
    "neg", "abs", "exp", "log", "sqrt", "tanh", "sigmoid", "relu",
    "sin", "cos", "log1p", "expm1", "sign", "floor", "ceil", "round",
    "reciprocal", "square", "rsqrt",
};

const char *rl_binop_name(rl_binop op) { return binop_names[op]; }
const char *rl_unop_name(rl_unop op) { return unop_names[op]; }

/* Elements per thread (iter.h's grains): pow goes through libm, one call
 * per element; the rest are a few instructions, vectorised. */
static int64_t binop_grain(rl_binop op)
{
    return op == RL_POW ? RL_GRAIN_HEAVY : RL_GRAIN_LIGHT;
}

/* libm calls per element (exp, log, sin, ...), a few vectorised
 * instructions (sigmoid and tanh have vectorised forms, below), or less */
static int64_t unop_grain(rl_unop op)
{
    switch (op) {
    case RL_EXP: case RL_LOG: case RL_SIN: case RL_COS: case RL_LOG1P: case RL_EXPM1:
        return RL_GRAIN_HEAVY;
    case RL_TANH: case RL_SIGMOID: case RL_SQRT: case RL_RSQRT: case RL_FLOOR: case RL_CEIL: case RL_ROUND:
        return RL_GRAIN_MEDIUM;
    default:
        return RL_GRAIN_LIGHT;
    }
}

/* A walk of n contiguous (or repeated: stride 0) elements of nops operands,
 * without rl_iter_init's checks. */
static void flat_iter(rl_iter *it, int nops, int64_t n, char *const *p, const int64_t *s)
{
    it->nops = nops;
    it->ndim = 1;
    it->shape[0] = n;
    for (int k = 0; k < nops; k++) {
        it->base[k] = p[k];
        it->stride[k][0] = s[k];
    }
}

/* ---- binary ---- */

/* NaN-propagating maximum/minimum, like torch.maximum */
#define NANMAX(x, y) ((x) != (x) || (x) > (y) ? (x) : (y))
#define NANMIN(x, y) ((x) != (x) || (x) < (y) ? (x) : (y))
#define PLAINMAX(x, y) ((x) > (y) ? (x) : (y))
#define PLAINMIN(x, y) ((x) < (y) ? (x) : (y))

/* int64 tensors reject div and pow before reaching a kernel; these keep the
 * kernel generic and defined should that check ever move. */
#define IPOW(x, y) ((x) * 0 + (y) * 0)
#define IDIV(x, y) ((x) * 0 + (y) * 0)

#define FDIV(x, y) ((x) / (y))

/* Defines `static void NAME(op, n, o, so, a, sa, b, sb)`: one run of
 * o = a op b with strides in elements. It is always inlined into the
 * dispatcher below with constant strides for the common layouts, so those
 * loops vectorise. */
/* U: the type +, -, * run in; uint64_t for int64, so overflow wraps (as in
 * PyTorch and the int64 unary ops below) instead of being undefined */
#define DEFINE_BINARY(NAME, T, U, MAXF, MINF, POWF, DIVF)                              \
    static inline __attribute__((always_inline)) void NAME(                            \
        rl_binop op, int64_t n, T *restrict o, int64_t so, const T *a, int64_t sa,     \
        const T *b, int64_t sb)                                                        \
    {                                                                                  \
        switch (op) {                                                                  \
        case RL_ADD: BLOOP((T)((U)x + (U)y)); break;                                   \
        case RL_SUB: BLOOP((T)((U)x - (U)y)); break;                                   \
        case RL_MUL: BLOOP((T)((U)x * (U)y)); break;                                   \
        case RL_DIV: BLOOP(DIVF(x, y)); break;                                         \
        case RL_POW: BLOOP(POWF(x, y)); break;                                         \
        case RL_MAXIMUM: BLOOP(MAXF(x, y)); break;                                     \
        case RL_MINIMUM: BLOOP(MINF(x, y)); break;                                     \
        case RL_EQ: BLOOP((T)(x == y)); break;                                         \
        case RL_NE: BLOOP((T)(x != y)); break;                                         \
        case RL_LT: BLOOP((T)(x < y)); break;                                          \
        case RL_LE: BLOOP((T)(x <= y)); break;                                         \
        case RL_GT: BLOOP((T)(x > y)); break;                                          \
        case RL_GE: BLOOP((T)(x >= y)); break;                                         \
        default: break;                                                                \
        }                                                                              \
    }
#define BLOOP(EXPR)                                                                    \
    for (int64_t i = 0; i < n; i++) {                                                  \
        __typeof__(*o) x = a[i * sa], y = b[i * sb];                                   \
        o[i * so] = (EXPR);                                                            \
    }

DEFINE_BINARY(binary_f32, float, float, NANMAX, NANMIN, powf, FDIV)
DEFINE_BINARY(binary_f64, double, double, NANMAX, NANMIN, pow, FDIV)
DEFINE_BINARY(binary_i64, int64_t, uint64_t, PLAINMAX, PLAINMIN, IPOW, IDIV)

#define DISPATCH_BINARY(FN, T)                                                         \
    do {                                                                               \
        T *o = (T *)p[0];                                                              \
        const T *a = (const T *)p[1], *b = (const T *)p[2];                            \
        int64_t so = s[0] / (int64_t)sizeof(T), sa = s[1] / (int64_t)sizeof(T),        \
                sb = s[2] / (int64_t)sizeof(T);                                        \
        if (so == 1 && sa == 1 && sb == 1) FN(op, n, o, 1, a, 1, b, 1);                \
        else if (so == 1 && sa == 1 && sb == 0) FN(op, n, o, 1, a, 1, b, 0);           \
        else if (so == 1 && sa == 0 && sb == 1) FN(op, n, o, 1, a, 0, b, 1);           \
        else FN(op, n, o, so, a, sa, b, sb);                                           \
    } while (0)

typedef struct {
    rl_binop op;
    rl_dtype dt;
} binary_ctx;

static void binary_run(void *vctx, int64_t n, char **p, const int64_t *s)
{
    const binary_ctx *c = vctx;
    rl_binop op = c->op;
    switch (c->dt) {
    case RL_FLOAT32: DISPATCH_BINARY(binary_f32, float); break;
    case RL_FLOAT64: DISPATCH_BINARY(binary_f64, double); break;
    case RL_INT64: DISPATCH_BINARY(binary_i64, int64_t); break;
    }
}

static rl_status check_dtypes(const char *op, const rl_tensor *a, const rl_tensor *b)
{
    if (a->dtype != b->dtype)
        return rl_fail(RL_ERR_DTYPE, "%s: dtypes %s and %s do not match (convert one with :to('%s'))", op,
                       rl_dtype_name(a->dtype), rl_dtype_name(b->dtype),
                       rl_dtype_name(a->dtype == RL_INT64 ? b->dtype : a->dtype));
    return RL_OK;
}

/* a and b of one dtype, and one op is defined for */
static rl_status check_operands(rl_binop op, const rl_tensor *a, const rl_tensor *b)
{
    const char *name = binop_names[op];
    rl_status st = check_dtypes(name, a, b);
    if (st == RL_OK && a->dtype == RL_INT64 && (op == RL_DIV || op == RL_POW))
        return rl_fail(RL_ERR_DTYPE, "%s: not defined for int64 tensors (convert with :to('float64'))", name);
    return st;
}

rl_status rl_binary_into(rl_tensor *out, rl_binop op, const rl_tensor *a, const rl_tensor *b)
{
    const char *name = binop_names[op];
    rl_status st = check_dtypes(name, a, b);
    if (st || (st = check_dtypes(name, out, a)) || (st = check_operands(op, a, b))) return st;
    /* an input that overlaps the output other than element for element
     * (a:add_(a:t()), shifted views) is read from a copy */
    rl_tensor *ca = NULL, *cb = NULL;
    if (rl_tensor_overlaps(out, a) && !rl_tensor_same_view(out, a) && (st = rl_tensor_clone(&ca, a))) return st;
    if (rl_tensor_overlaps(out, b) && !rl_tensor_same_view(out, b) && (st = rl_tensor_clone(&cb, b))) {
        rl_tensor_release(ca);
        return st;
    }
    rl_iter it;
    const rl_tensor *ops[3] = {out, ca ? ca : a, cb ? cb : b};
    if ((st = rl_iter_init(&it, name, 3, ops, out->ndim, out->shape)) == RL_OK) {
        binary_ctx c = {op, a->dtype};
        rl_iter_run_parallel(&it, 1, binop_grain(op), binary_run, &c);
    }
    rl_tensor_release(ca);
    rl_tensor_release(cb);
    return st;
}

/* Operand x seen as one flat run over the elements of `like` (contiguous):
 * x has like's shape and is contiguous, or x is one element (stride 0) with
 * no more dims than like. */
static bool flat_operand(const rl_tensor *x, const rl_tensor *like, int64_t *stride)
{
    if (x->ndim == like->ndim && !memcmp(x->shape, like->shape, sizeof(int64_t) * (size_t)x->ndim) &&
        rl_tensor_is_contiguous(x)) {
        *stride = (int64_t)rl_dtype_size(x->dtype);
        return true;
    }
    if (x->ndim <= like->ndim && rl_tensor_numel(x) == 1) {
        *stride = 0;
        return true;
    }
    return false;
}

/* The common case without the general iterator: both operands contiguous
 * with one shape, or one of them a single element. A fresh output cannot
 * overlap an input. Returns false when the case does not apply. */
static bool binary_flat(rl_tensor **out, rl_binop op, const rl_tensor *a, const rl_tensor *b, rl_status *st)
{
    int64_t na = rl_tensor_numel(a), nb = rl_tensor_numel(b);
    const rl_tensor *big = nb > na || (nb == na && b->ndim > a->ndim) ? b : a;
    int64_t sa, sb;
    if (!rl_tensor_is_contiguous(big) || !flat_operand(a, big, &sa) || !flat_operand(b, big, &sb)) return false;
    if ((*st = rl_tensor_empty(out, a->dtype, big->ndim, big->shape))) return true;
    char *p[3] = {rl_tensor_data(*out), rl_tensor_data(a), rl_tensor_data(b)};
    int64_t s[3] = {(int64_t)rl_dtype_size(a->dtype), sa, sb};
    binary_ctx c = {op, a->dtype};
    rl_iter it;
    flat_iter(&it, 3, rl_tensor_numel(*out), p, s);
    rl_iter_run_parallel(&it, 1, binop_grain(op), binary_run, &c);
    return true;
}

rl_status rl_binary(rl_tensor **out, rl_binop op, const rl_tensor *a, const rl_tensor *b)
{
    const char *name = binop_names[op];
    int ndim;
    int64_t shape[RL_MAX_DIMS];
    rl_status st = check_operands(op, a, b);
    if (st) return st;
    if (binary_flat(out, op, a, b, &st)) return st;
    if ((st = rl_broadcast_shape(name, a->ndim, a->shape, b->ndim, b->shape, &ndim, shape))) return st;
    if ((st = rl_tensor_empty(out, a->dtype, ndim, shape))) return st;
    st = rl_binary_into(*out, op, a, b);
    if (st) {
        rl_tensor_release(*out);
        *out = NULL;
    }
    return st;
}

/* A 0-d tensor on the stack holding s in dtype dt, for scalar operands. */
typedef struct {
    rl_tensor t;
    rl_storage st;
    union { float f; double d; int64_t i; } v;
} scalar_tensor;

static void scalar_init(scalar_tensor *sc, rl_dtype dt, double s)
{
    memset(sc, 0, sizeof *sc);
    switch (dt) {
    case RL_FLOAT32: sc->v.f = (float)s; break;
    case RL_FLOAT64: sc->v.d = s; break;
    case RL_INT64: sc->v.i = rl_to_int64(s); break;
    }
    sc->st.data = &sc->v;
    sc->st.nbytes = sizeof sc->v;
    sc->st.refcount = 1;
    sc->t.storage = &sc->st;
    sc->t.dtype = dt;
    sc->t.refcount = 1;
}

/* An int64 tensor takes only integral scalars it can hold exactly. */
static rl_status check_scalar(rl_binop op, const rl_tensor *a, double s)
{
    if (a->dtype == RL_INT64 && !(s == (double)rl_to_int64(s) && fabs(s) < 9223372036854775808.0))
        return rl_fail(RL_ERR_DTYPE, "%s: scalar %g is not an integer in the int64 range, for an int64 tensor "
                       "(convert the tensor with :to('float64'))", binop_names[op], s);
    return RL_OK;
}

rl_status rl_binary_scalar_into(rl_tensor *out, rl_binop op, const rl_tensor *a, double s, bool scalar_first)
{
    rl_status st = check_scalar(op, a, s);
    if (st) return st;
    scalar_tensor sc;
    scalar_init(&sc, a->dtype, s);
    return scalar_first ? rl_binary_into(out, op, &sc.t, a) : rl_binary_into(out, op, a, &sc.t);
}

rl_status rl_binary_scalar(rl_tensor **out, rl_binop op, const rl_tensor *a, double s, bool scalar_first)
{
    rl_status st = check_scalar(op, a, s);
    if (st) return st;
    scalar_tensor sc;
    scalar_init(&sc, a->dtype, s);
    return scalar_first ? rl_binary(out, op, &sc.t, a) : rl_binary(out, op, a, &sc.t);
}

/* ---- unary ---- */

static inline float sigmoidf_(float x)
{
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

static inline double sigmoid_(double x)
{
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

#define SIGN(x) ((x) > 0 ? 1 : ((x) < 0 ? -1 : (x)))  /* sign(NaN) = NaN, sign(-0) = -0 */
#define RELU(x) ((x) > 0 || (x) != (x) ? (x) : 0) /* relu(NaN) = NaN, as PyTorch */

#define DEFINE_UNARY(NAME, T, SUF)                                                     \
    static inline __attribute__((always_inline)) void NAME(                            \
        rl_unop op, int64_t n, T *restrict o, int64_t so, const T *a, int64_t sa)      \
    {                                                                                  \
        switch (op) {                                                                  \
        case RL_NEG: ULOOP(-x); break;                                                 \
        case RL_ABS: ULOOP(fabs##SUF(x)); break;                                       \
        case RL_EXP: ULOOP(exp##SUF(x)); break;                                        \
        case RL_LOG: ULOOP(log##SUF(x)); break;                                        \
        case RL_SQRT: ULOOP(sqrt##SUF(x)); break;                                      \
        case RL_TANH: ULOOP(tanh##SUF(x)); break;                                      \
        case RL_SIGMOID: ULOOP(sigmoid##SUF##_(x)); break;                             \
        case RL_RELU: ULOOP(RELU(x)); break;                                           \
        case RL_SIN: ULOOP(sin##SUF(x)); break;                                        \
        case RL_COS: ULOOP(cos##SUF(x)); break;                                        \
        case RL_LOG1P: ULOOP(log1p##SUF(x)); break;                                    \
        case RL_EXPM1: ULOOP(expm1##SUF(x)); break;                                    \
        case RL_SIGN: ULOOP(SIGN(x)); break;                                           \
        case RL_FLOOR: ULOOP(floor##SUF(x)); break;                                    \
        case RL_CEIL: ULOOP(ceil##SUF(x)); break;                                      \
        case RL_ROUND: ULOOP(nearbyint##SUF(x)); break; /* half to even, as PyTorch */ \
        case RL_RECIPROCAL: ULOOP(1 / x); break;                                       \
        case RL_SQUARE: ULOOP(x * x); break;                                           \
        case RL_RSQRT: ULOOP(1 / sqrt##SUF(x)); break;                                 \
        default: break;                                                                \
        }                                                                              \
    }
#define ULOOP(EXPR)                                                                    \
    for (int64_t i = 0; i < n; i++) {                                                  \
        __typeof__(*o) x = a[i * sa];                                                  \
        o[i * so] = (EXPR);                                                            \
    }

DEFINE_UNARY(unary_f32, float, f)
DEFINE_UNARY(unary_f64, double, )

static void unary_i64(rl_unop op, int64_t n, int64_t *o, int64_t so, const int64_t *a, int64_t sa)
{
    switch (op) {
    case RL_NEG: ULOOP((int64_t)(0 - (uint64_t)x)); break;
    case RL_ABS: ULOOP(x < 0 ? (int64_t)(0 - (uint64_t)x) : x); break;
    case RL_SIGN: ULOOP(SIGN(x)); break;
    case RL_SQUARE: ULOOP((int64_t)((uint64_t)x * (uint64_t)x)); break;
    case RL_RELU: ULOOP(RELU(x)); break;
    case RL_FLOOR: case RL_CEIL: case RL_ROUND: ULOOP(x); break;
    default: break;
    }
}

static bool unary_defined_for_int(rl_unop op)
{
    return op == RL_NEG || op == RL_ABS || op == RL_SIGN || op == RL_SQUARE || op == RL_RELU ||
           op == RL_FLOOR || op == RL_CEIL || op == RL_ROUND;
}

typedef struct {
    rl_unop op;
    rl_dtype dt;
} unary_ctx;

#define DISPATCH_UNARY(FN, T)                                                          \
    do {                                                                               \
        T *o = (T *)p[0];                                                              \
        const T *a = (const T *)p[1];                                                  \
        int64_t so = s[0] / (int64_t)sizeof(T), sa = s[1] / (int64_t)sizeof(T);        \
        if (so == 1 && sa == 1) FN(op, n, o, 1, a, 1);                                 \
        else FN(op, n, o, so, a, sa);                                                  \
    } while (0)

static void unary_run(void *vctx, int64_t n, char **p, const int64_t *s)
{
    const unary_ctx *c = vctx;
    rl_unop op = c->op;
    /* contiguous sigmoid and tanh: the vectorised forms the recurrent
     * kernels use (float32 within 1 ulp of libm, float64 within 3), for
     * cells written by hand */
    if (c->dt == RL_FLOAT32 && s[0] == 4 && s[1] == 4 && (op == RL_SIGMOID || op == RL_TANH)) {
        if (op == RL_SIGMOID) rl_vsigmoid_f32((float *)p[0], (const float *)p[1], n);
        else rl_vtanh_f32((float *)p[0], (const float *)p[1], n);
        return;
    }
    if (c->dt == RL_FLOAT64 && s[0] == 8 && s[1] == 8 && (op == RL_SIGMOID || op == RL_TANH)) {
        if (op == RL_SIGMOID) rl_vsigmoid_f64((double *)p[0], (const double *)p[1], n);
        else rl_vtanh_f64((double *)p[0], (const double *)p[1], n);
        return;
    }
    switch (c->dt) {
    case RL_FLOAT32: DISPATCH_UNARY(unary_f32, float); break;
    case RL_FLOAT64: DISPATCH_UNARY(unary_f64, double); break;
    case RL_INT64: DISPATCH_UNARY(unary_i64, int64_t); break;
    }
}

rl_status rl_unary_into(rl_tensor *out, rl_unop op, const rl_tensor *a)
{
    const char *name = unop_names[op];
    if (a->dtype == RL_INT64 && !unary_defined_for_int(op))
        return rl_fail(RL_ERR_DTYPE, "%s: not defined for int64 tensors (convert with :to('float64'))", name);
    rl_status st = check_dtypes(name, out, a);
    if (st) return st;
    rl_iter it;
    const rl_tensor *ops[2] = {out, a};
    if ((st = rl_iter_init(&it, name, 2, ops, out->ndim, out->shape))) return st;
    unary_ctx c = {op, a->dtype};
    rl_iter_run_parallel(&it, 1, unop_grain(op), unary_run, &c);
    return RL_OK;
}

rl_status rl_unary(rl_tensor **out, rl_unop op, const rl_tensor *a)
{
    rl_status st = rl_tensor_empty(out, a->dtype, a->ndim, a->shape);
    if (st) return st;
    if ((st = rl_unary_into(*out, op, a))) {
        rl_tensor_release(*out);
        *out = NULL;
    }
    return st;
}

/* ---- unary backward, beside the forward above ---- */

typedef struct {
    rl_unop op;
    rl_dtype dt;
} unary_bw_ctx;

/* one run of gin = g * f'(x), with y = f(x) */
#define UNARY_BW_LOOP(T, SUF)                                                          \
    for (int64_t i = 0; i < n; i++) {                                                  \
        T g = *(const T *)(p[1] + i * s[1]), x = *(const T *)(p[2] + i * s[2]);        \
        T y = *(const T *)(p[3] + i * s[3]), d;                                        \
        switch (c->op) {                                                               \
        case RL_NEG: d = -g; break;                                                    \
        case RL_ABS: d = x > 0 ? g : (x < 0 ? -g : 0); break;                          \
        case RL_EXP: d = g * y; break;                                                 \
        case RL_LOG: d = g / x; break;                                                 \
        case RL_SQRT: d = g / (2 * y); break;                                          \
        case RL_TANH: d = g * (1 - y * y); break;                                      \
        case RL_SIGMOID: d = g * y * (1 - y); break;                                   \
        case RL_RELU: d = x > 0 ? g : 0; break;                                        \
        case RL_SIN: d = g * cos##SUF(x); break;                                       \
        case RL_COS: d = -g * sin##SUF(x); break;                                      \
        case RL_LOG1P: d = g / (1 + x); break;                                         \
        case RL_EXPM1: d = g * (y + 1); break;                                         \
        case RL_RECIPROCAL: d = -g * y * y; break;                                     \
        case RL_SQUARE: d = 2 * g * x; break;                                          \
        case RL_RSQRT: d = -(T)0.5 * g * y * y * y; break;                             \
        default: d = 0; break; /* sign, floor, ceil, round: flat almost everywhere */  \
        }                                                                              \
        *(T *)(p[0] + i * s[0]) = d;                                                   \
    }

/* d = g (1 - y²) (tanh) or g y (1 - y) (sigmoid), y the op's output */
#define DEFINE_TANH_SIGMOID_BW(T, SUF)                                                 \
    static void tanh_sigmoid_bw_##SUF(bool tanh_, int64_t n, T *restrict d, const T *restrict g, \
                                      const T *restrict y)                             \
    {                                                                                  \
        if (tanh_)                                                                     \
            for (int64_t i = 0; i < n; i++) d[i] = g[i] * (1 - y[i] * y[i]);           \
        else                                                                           \
            for (int64_t i = 0; i < n; i++) d[i] = g[i] * y[i] * (1 - y[i]);           \
    }
DEFINE_TANH_SIGMOID_BW(float, f32)
DEFINE_TANH_SIGMOID_BW(double, f64)

/* rl_iter callback over contiguous (grad_in, g, out) */
static void tanh_sigmoid_bw_run(void *vctx, int64_t n, char **p, const int64_t *s)
{
    (void)s;
    const unary_bw_ctx *c = vctx;
    if (c->dt == RL_FLOAT32) tanh_sigmoid_bw_f32(c->op == RL_TANH, n, (float *)p[0], (const float *)p[1],
                                                 (const float *)p[2]);
    else tanh_sigmoid_bw_f64(c->op == RL_TANH, n, (double *)p[0], (const double *)p[1], (const double *)p[2]);
}

static void unary_bw_run(void *vctx, int64_t n, char **p, const int64_t *s)
{
    const unary_bw_ctx *c = vctx;
    if (c->dt == RL_FLOAT32) {
        UNARY_BW_LOOP(float, f)
    } else {
        UNARY_BW_LOOP(double, )
    }
}

rl_status rl_unary_backward(rl_tensor **grad_in, rl_unop op, const rl_tensor *g, const rl_tensor *a,
                            const rl_tensor *out)
{
    const char *name = unop_names[op];
    if (a->dtype == RL_INT64)
        return rl_fail(RL_ERR_DTYPE, "%s: no gradient for int64 tensors", name);
    rl_status st = rl_tensor_empty(grad_in, a->dtype, a->ndim, a->shape);
    if (st) return st;
    if ((op == RL_TANH || op == RL_SIGMOID) && rl_tensor_is_contiguous(g) && rl_tensor_is_contiguous(out) &&
        rl_tensor_same_shape(g, a) && rl_tensor_same_shape(out, a)) {
        /* the gates of a cell written by hand: loops without the per-element
         * switch, which vectorise (the same expressions, the same bits) */
        int64_t es = (int64_t)rl_dtype_size(a->dtype);
        char *p[3] = {rl_tensor_data(*grad_in), rl_tensor_data(g), rl_tensor_data(out)};
        int64_t s[3] = {es, es, es};
        rl_iter fit;
        flat_iter(&fit, 3, rl_tensor_numel(a), p, s);
        unary_bw_ctx c = {op, a->dtype};
        rl_iter_run_parallel(&fit, 1, RL_GRAIN_LIGHT, tanh_sigmoid_bw_run, &c);
        return RL_OK;
    }
    rl_iter it;
    const rl_tensor *ops[4] = {*grad_in, g, a, out};
    if ((st = rl_iter_init(&it, name, 4, ops, a->ndim, a->shape))) {
        rl_tensor_release(*grad_in);
        *grad_in = NULL;
        return st;
    }
    unary_bw_ctx c = {op, a->dtype};
    rl_iter_run_parallel(&it, 1, unop_grain(op), unary_bw_run, &c);
    return RL_OK;
}

/* ---- clamp ---- */

typedef struct {
    rl_dtype dt;
    double lo, hi;
} clamp_ctx;

/* CONV converts a bound to T; for int64 it is rl_to_int64, as (int64_t) of a
 * NaN or infinite bound is undefined */
#define CLAMP_LOOP(T, CONV)                                                            \
    do {                                                                               \
        T lo = CONV(c->lo), hi = CONV(c->hi);                                          \
        bool has_lo = c->lo == c->lo, has_hi = c->hi == c->hi;                         \
        for (int64_t i = 0; i < n; i++) {                                              \
            T x = *(const T *)(p[1] + i * s[1]);                                       \
            if (has_lo && x < lo) x = lo;                                              \
            if (has_hi && x > hi) x = hi;                                              \
            *(T *)(p[0] + i * s[0]) = x;                                               \
        }                                                                              \
    } while (0)

static void clamp_run(void *vctx, int64_t n, char **p, const int64_t *s)
{
    const clamp_ctx *c = vctx;
    switch (c->dt) {
    case RL_FLOAT32: CLAMP_LOOP(float, (float)); break;
    case RL_FLOAT64: CLAMP_LOOP(double, (double)); break;
    case RL_INT64: CLAMP_LOOP(int64_t, rl_to_int64); break;
    }
}

rl_status rl_clamp_into(rl_tensor *out, const rl_tensor *a, double lo, double hi)
{
    if (lo == lo && hi == hi && lo > hi)
        return rl_fail(RL_ERR_ARG, "clamp: min %g is greater than max %g", lo, hi);
    rl_status st = check_dtypes("clamp", out, a);
    if (st) return st;
    rl_iter it;
    const rl_tensor *ops[2] = {out, a};
    if ((st = rl_iter_init(&it, "clamp", 2, ops, out->ndim, out->shape))) return st;
    clamp_ctx c = {a->dtype, lo, hi};
    rl_iter_run_parallel(&it, 1, RL_GRAIN_LIGHT, clamp_run, &c);
    return RL_OK;
}

rl_status rl_clamp(rl_tensor **out, const rl_tensor *a, double lo, double hi)
{
    rl_status st = rl_tensor_empty(out, a->dtype, a->ndim, a->shape);
    if (st) return st;
    if ((st = rl_clamp_into(*out, a, lo, hi))) {
        rl_tensor_release(*out);
        *out = NULL;
    }
    return st;
}
