/* test_ops.c — elementwise binary and unary kernels and clamp against naive
 * double references (core/ops.c).
 *
 * Tolerances: +, -, *, /, sqrt, reciprocal, square, max/min, comparisons,
 * sign/floor/ceil/round/abs/neg/relu must match the reference bit for bit
 * (for float32 the double result rounded once to float is the correctly
 * rounded float result, since 53 >= 2*24+2). Transcendental functions
 * (exp, log, tanh, pow, ...) may differ by a few ulp: |got - want| <=
 * 1e-6 * max(1, |want|) for float32 and 1e-14 * max(1, |want|) for float64. */
#include "suites.h"
#include "testutil.h"
#include "../../core/ops.h"

#include <math.h>

static const rl_dtype FLOATS[2] = {RL_FLOAT32, RL_FLOAT64};

static double ref_binop(rl_binop op, double x, double y)
{
    switch (op) {
    case RL_ADD: return x + y;
    case RL_SUB: return x - y;
    case RL_MUL: return x * y;
    case RL_DIV: return x / y;
    case RL_POW: return pow(x, y);
    case RL_MAXIMUM: return isnan(x) || isnan(y) ? NAN : (x > y ? x : y);
    case RL_MINIMUM: return isnan(x) || isnan(y) ? NAN : (x < y ? x : y);
    case RL_EQ: return x == y;
    case RL_NE: return x != y;
    case RL_LT: return x < y;
    case RL_LE: return x <= y;
    case RL_GT: return x > y;
    case RL_GE: return x >= y;
    default: return NAN;
    }
}

static double round_half_even(double x)
{
    double r = floor(x), d = x - r;
    if (d > 0.5) r += 1;
    else if (d == 0.5 && fmod(r, 2) != 0) r += 1;
    return r == 0 ? copysign(0.0, x) : r; /* round(-0.25) is -0 */
}

static double ref_unop(rl_unop op, double x)
{
    switch (op) {
    case RL_NEG: return -x;
    case RL_ABS: return x < 0 ? -x : (x == 0 ? 0.0 : x);
    case RL_EXP: return exp(x);
    case RL_LOG: return log(x);
    case RL_SQRT: return sqrt(x);
    case RL_TANH: return tanh(x);
    case RL_SIGMOID: return 1 / (1 + exp(-x));
    case RL_RELU: return x > 0 ? x : 0;
    case RL_SIN: return sin(x);
    case RL_COS: return cos(x);
    case RL_LOG1P: return log1p(x);
    case RL_EXPM1: return expm1(x);
    case RL_SIGN: return x > 0 ? 1 : (x < 0 ? -1 : x);
    case RL_FLOOR: return floor(x);
    case RL_CEIL: return ceil(x);
    case RL_ROUND: return round_half_even(x);
    case RL_RECIPROCAL: return 1 / x;
    case RL_SQUARE: return x * x;
    case RL_RSQRT: return 1 / sqrt(x);
    default: return NAN;
    }
}

static bool unop_exact(rl_unop op)
{
    switch (op) {
    case RL_NEG: case RL_ABS: case RL_SQRT: case RL_RELU: case RL_SIGN: case RL_FLOOR: case RL_CEIL:
    case RL_ROUND: case RL_RECIPROCAL: case RL_SQUARE:
        return true;
    default:
        return false;
    }
}

static double tol_for(rl_dtype dt, bool exact, double want)
{
    if (exact || !isfinite(want)) return 0;
    return (dt == RL_FLOAT32 ? 1e-6 : 1e-14) * fmax(1, fabs(want));
}

/* the value of s as the kernel sees it: converted to the tensor's dtype */
static double as_dtype(rl_dtype dt, double s)
{
    return dt == RL_FLOAT32 ? (double)(float)s : dt == RL_INT64 ? (double)(int64_t)s : s;
}

/* Checks out == a op b (b NULL: the scalar s; scalar_first: s op a) over
 * out's shape, reading a and b through broadcasting by direct arithmetic. */
static void check_binary(int line, const char *what, rl_binop op, const rl_tensor *out, const rl_tensor *a,
                         const rl_tensor *b, double s, bool scalar_first)
{
    int64_t idx[RL_MAX_DIMS] = {0}, ai[RL_MAX_DIMS], bi[RL_MAX_DIMS];
    int bad = 0;
    if (out->dtype != a->dtype)
        th_fail(__FILE__, line, "%s %s: output dtype %s", what, rl_binop_name(op), rl_dtype_name(out->dtype));
    if (rl_tensor_numel(out) == 0) return;
    do {
        tu_bcast_index(a, out->ndim, idx, ai);
        double x = tu_get(a, ai), y;
        if (b) {
            tu_bcast_index(b, out->ndim, idx, bi);
            y = tu_get(b, bi);
        } else {
            y = as_dtype(a->dtype, s);
        }
        if (scalar_first) {
            double t = x;
            x = y;
            y = t;
        }
        double want = ref_binop(op, x, y);
        if (a->dtype == RL_FLOAT32) want = (float)want;
        double tol = tol_for(a->dtype, op != RL_POW, want);
        double got = tu_get(out, idx);
        if (!th_close(got, want, tol) && bad++ < 3)
            th_fail(__FILE__, line, "%s %s %s: %.9g op %.9g gave %.17g, want %.17g (tol %.2g)", what,
                    rl_dtype_name(a->dtype), rl_binop_name(op), x, y, got, want, tol);
    } while (tu_next(out->ndim, out->shape, idx));
}

/* operands suited to op: positive bases for pow, no zero divisors, and
 * values on a 0.25 grid elsewhere so that comparisons meet ties */
static rl_tensor *operand(rl_binop op, int which, rl_dtype dt, int ndim, const int64_t *shape, uint64_t seed)
{
    if (op == RL_POW) return which == 0 ? tu_rand(dt, ndim, shape, seed, 0.25, 2, 0) : tu_rand(dt, ndim, shape, seed, -2, 2, 0);
    rl_tensor *t = tu_rand(dt, ndim, shape, seed, -2, 2, 0.25);
    if (t && op == RL_DIV && which == 1) {
        int64_t idx[RL_MAX_DIMS] = {0};
        do
            if (tu_get(t, idx) == 0) tu_set(t, idx, 0.5);
        while (tu_next(ndim, shape, idx));
    }
    return t;
}

typedef struct {
    const char *name;
    rl_tensor *a, *b; /* broadcast to (3,4,5) */
} layout;

/* Operand pairs of several layouts, each broadcasting to (3,4,5). Views are
 * made from fresh tensors and hold the only reference to them. */
static int make_layouts(layout *L, rl_binop op, rl_dtype dt)
{
    int n = 0;
    rl_tensor *t;
    uint64_t seed = 1000 + 17 * (uint64_t)op + 5 * (uint64_t)dt;

    L[n] = (layout){"contiguous", operand(op, 0, dt, DIMS(3, 4, 5), seed), operand(op, 1, dt, DIMS(3, 4, 5), seed + 1)};
    n++;

    L[n].name = "permuted b";
    L[n].a = operand(op, 0, dt, DIMS(3, 4, 5), seed + 2);
    t = operand(op, 1, dt, DIMS(5, 3, 4), seed + 3);
    rl_tensor_permute(&L[n].b, t, (const int[]){1, 2, 0});
    rl_tensor_release(t);
    n++;

    L[n].name = "transposed a, column b";
    t = operand(op, 0, dt, DIMS(3, 5, 4), seed + 4);
    rl_tensor_transpose(&L[n].a, t, 1, 2);
    rl_tensor_release(t);
    L[n].b = operand(op, 1, dt, DIMS(4, 1), seed + 5);
    n++;

    L[n].name = "narrowed a, row b";
    t = operand(op, 0, dt, DIMS(3, 4, 7), seed + 6);
    rl_tensor_narrow(&L[n].a, t, 2, 1, 5);
    rl_tensor_release(t);
    L[n].b = operand(op, 1, dt, DIMS(5), seed + 7);
    n++;

    L[n] = (layout){"both broadcast", operand(op, 0, dt, DIMS(3, 1, 5), seed + 8), operand(op, 1, dt, DIMS(4, 1), seed + 9)};
    n++;

    L[n] = (layout){"a broadcast inner", operand(op, 0, dt, DIMS(3, 4, 1), seed + 10), operand(op, 1, dt, DIMS(3, 4, 5), seed + 11)};
    n++;

    L[n].name = "expanded a";
    t = operand(op, 0, dt, DIMS(4, 1), seed + 12);
    rl_tensor_expand(&L[n].a, t, DIMS(3, 4, 5));
    rl_tensor_release(t);
    L[n].b = operand(op, 1, dt, DIMS(3, 4, 5), seed + 13);
    n++;

    /* one element on either side: the flat path with a repeated operand */
    L[n] = (layout){"one-element b", operand(op, 0, dt, DIMS(3, 4, 5), seed + 14), operand(op, 1, dt, DIMS(1, 1, 1), seed + 15)};
    n++;
    L[n] = (layout){"0-d a", operand(op, 0, dt, 0, NULL, seed + 16), operand(op, 1, dt, DIMS(3, 4, 5), seed + 17)};
    n++;
    L[n] = (layout){"1-d one-element b", operand(op, 0, dt, DIMS(3, 4, 5), seed + 18), operand(op, 1, dt, DIMS(1), seed + 19)};
    n++;
    return n;
}

static void test_binary_ops_all_layouts_float(void)
{
    for (int k = 0; k < 2; k++)
        for (int op = 0; op < RL_BINOP_COUNT; op++) {
            layout L[12];
            int n = make_layouts(L, (rl_binop)op, FLOATS[k]);
            for (int i = 0; i < n; i++) {
                REQUIRE(L[i].a && L[i].b);
                rl_tensor *out = NULL;
                rl_status st = rl_binary(&out, (rl_binop)op, L[i].a, L[i].b);
                CHECK_MSG(st == RL_OK, "%s %s: %s", L[i].name, rl_binop_name((rl_binop)op), rl_last_error());
                if (st) continue;
                CHECK_SHAPE(out, DIMS(3, 4, 5));
                CHECK(rl_tensor_is_contiguous(out));
                check_binary(__LINE__, L[i].name, (rl_binop)op, out, L[i].a, L[i].b, 0, false);
                rl_tensor_release(out);
                /* the same into a permuted (non-contiguous) output */
                rl_tensor *buf, *pout;
                REQUIRE_OK(rl_tensor_zeros(&buf, FLOATS[k], DIMS(5, 3, 4)));
                REQUIRE_OK(rl_tensor_permute(&pout, buf, (const int[]){1, 2, 0}));
                CHECK_OK(rl_binary_into(pout, (rl_binop)op, L[i].a, L[i].b));
                check_binary(__LINE__, L[i].name, (rl_binop)op, pout, L[i].a, L[i].b, 0, false);
                rl_tensor_release(pout);
                rl_tensor_release(buf);
            }
            for (int i = 0; i < n; i++) {
                rl_tensor_release(L[i].a);
                rl_tensor_release(L[i].b);
            }
        }
}

static void test_binary_scalar_both_sides(void)
{
    for (int k = 0; k < 2; k++)
        for (int op = 0; op < RL_BINOP_COUNT; op++)
            for (int first = 0; first <= 1; first++) {
                rl_dtype dt = FLOATS[k];
                /* the tensor side takes the role the op needs: a base for pow
                 * when it is first, a divisor when the scalar is first */
                int role = first ? 1 : 0;
                rl_tensor *base = operand((rl_binop)op, role, dt, DIMS(4, 3), 77 + (uint64_t)op), *a, *out;
                REQUIRE(base);
                REQUIRE_OK(rl_tensor_transpose(&a, base, 0, 1)); /* (3,4), strided */
                double s = op == RL_POW ? (first ? 1.5 : -0.75) : 0.75; /* on the 0.25 grid: ties */
                REQUIRE_OK(rl_binary_scalar(&out, (rl_binop)op, a, s, first));
                CHECK_SHAPE(out, DIMS(3, 4));
                check_binary(__LINE__, first ? "scalar_first" : "scalar", (rl_binop)op, out, a, NULL, s, first);
                /* into: write over a copy of a */
                rl_tensor *c;
                REQUIRE_OK(rl_tensor_clone(&c, a));
                CHECK_OK(rl_binary_scalar_into(c, (rl_binop)op, a, s, first));
                check_binary(__LINE__, "scalar into", (rl_binop)op, c, a, NULL, s, first);
                rl_tensor_release(c);
                rl_tensor_release(out);
                rl_tensor_release(a);
                rl_tensor_release(base);
            }
    /* a float32 scalar is rounded to float32 first */
    rl_tensor *a, *out;
    REQUIRE_OK(rl_tensor_full(&a, RL_FLOAT32, DIMS(2), 1));
    REQUIRE_OK(rl_binary_scalar(&out, RL_EQ, a, 1 + 1e-10, false));
    CHECK_CLOSE(tu_get(out, IDX(0)), 1, 0);
    rl_tensor_release(out);
    rl_tensor_release(a);
}

static void test_binary_zero_d_and_empty(void)
{
    for (int k = 0; k < 2; k++) {
        rl_tensor *a, *b, *out, *e, *eo;
        REQUIRE_OK(rl_tensor_full(&a, FLOATS[k], 0, NULL, 3));
        REQUIRE_OK(rl_tensor_full(&b, FLOATS[k], 0, NULL, 4));
        REQUIRE_OK(rl_binary(&out, RL_MUL, a, b));
        CHECK_EQ_INT(out->ndim, 0);
        CHECK_CLOSE(tu_get(out, NULL), 12, 0);
        rl_tensor_release(out);
        REQUIRE_OK(rl_tensor_zeros(&e, FLOATS[k], DIMS(2, 0)));
        REQUIRE_OK(rl_binary(&eo, RL_ADD, e, a));
        CHECK_SHAPE(eo, DIMS(2, 0));
        rl_tensor_release(eo);
        rl_tensor_release(e);
        rl_tensor_release(b);
        rl_tensor_release(a);
    }
}

/* The broadcast shape when one operand is a single element with more dims
 * than the other, or both are single elements. */
static void test_binary_one_element_shapes(void)
{
    for (int k = 0; k < 2; k++) {
        rl_tensor *one11, *row3, *one1, *zero_d, *out;
        REQUIRE_OK(rl_tensor_full(&one11, FLOATS[k], DIMS(1, 1), 2));
        REQUIRE_OK(rl_tensor_full(&row3, FLOATS[k], DIMS(3), 5));
        REQUIRE_OK(rl_tensor_full(&one1, FLOATS[k], DIMS(1), 7));
        REQUIRE_OK(rl_tensor_full(&zero_d, FLOATS[k], 0, NULL, 11));
        REQUIRE_OK(rl_binary(&out, RL_SUB, one11, row3));
        CHECK_SHAPE(out, DIMS(1, 3));
        CHECK_CLOSE(tu_get(out, IDX(0, 2)), -3, 0);
        rl_tensor_release(out);
        REQUIRE_OK(rl_binary(&out, RL_SUB, row3, one11));
        CHECK_SHAPE(out, DIMS(1, 3));
        CHECK_CLOSE(tu_get(out, IDX(0, 1)), 3, 0);
        rl_tensor_release(out);
        REQUIRE_OK(rl_binary(&out, RL_SUB, one1, one11));
        CHECK_SHAPE(out, DIMS(1, 1));
        CHECK_CLOSE(tu_get(out, IDX(0, 0)), 5, 0);
        rl_tensor_release(out);
        REQUIRE_OK(rl_binary(&out, RL_SUB, zero_d, one1));
        CHECK_SHAPE(out, DIMS(1));
        CHECK_CLOSE(tu_get(out, IDX(0)), 4, 0);
        rl_tensor_release(out);
        REQUIRE_OK(rl_binary(&out, RL_DIV, one1, zero_d));
        CHECK_SHAPE(out, DIMS(1));
        CHECK_CLOSE(tu_get(out, IDX(0)), 7.0 / 11.0, 1e-6);
        rl_tensor_release(out);
        rl_tensor_release(zero_d);
        rl_tensor_release(one1);
        rl_tensor_release(row3);
        rl_tensor_release(one11);
    }
}

static void test_binary_nan_propagation(void)
{
    const double av[6] = {NAN, 1, NAN, 2, -INFINITY, NAN};
    const double bv[6] = {1, NAN, NAN, 3, NAN, INFINITY};
    for (int k = 0; k < 2; k++) {
        rl_tensor *a = tu_from(FLOATS[k], DIMS(6), av), *b = tu_from(FLOATS[k], DIMS(6), bv);
        REQUIRE(a && b);
        for (int op = 0; op < RL_BINOP_COUNT; op++) {
            rl_tensor *out;
            REQUIRE_OK(rl_binary(&out, (rl_binop)op, a, b));
            check_binary(__LINE__, "nan", (rl_binop)op, out, a, b, 0, false);
            rl_tensor_release(out);
        }
        /* spelled out for maximum/minimum: any NaN wins, either side */
        rl_tensor *mx, *mn;
        REQUIRE_OK(rl_binary(&mx, RL_MAXIMUM, a, b));
        REQUIRE_OK(rl_binary(&mn, RL_MINIMUM, b, a));
        for (int64_t i = 0; i < 6; i++) {
            bool any_nan = isnan(av[i]) || isnan(bv[i]);
            CHECK(isnan(tu_get(mx, &i)) == any_nan);
            CHECK(isnan(tu_get(mn, &i)) == any_nan);
        }
        CHECK_CLOSE(tu_get(mx, IDX(3)), 3, 0);
        CHECK_CLOSE(tu_get(mn, IDX(3)), 2, 0);
        rl_tensor_release(mn);
        rl_tensor_release(mx);
        rl_tensor_release(b);
        rl_tensor_release(a);
    }
}

/* the domain of x for each unary op */
static void unary_domain(rl_unop op, double *lo, double *hi, double *q)
{
    *q = 0;
    switch (op) {
    case RL_LOG: case RL_SQRT: case RL_RSQRT: *lo = 0.01; *hi = 5; break;
    case RL_LOG1P: *lo = -0.9; *hi = 3; break;
    case RL_SIGN: case RL_FLOOR: case RL_CEIL: case RL_ROUND: case RL_RELU: case RL_ABS:
        *lo = -3; *hi = 3; *q = 0.25; break; /* halves and zeros included */
    case RL_SIGMOID: *lo = -30; *hi = 30; break;
    case RL_EXP: case RL_EXPM1: *lo = -10; *hi = 10; break;
    default: *lo = -3; *hi = 3;
    }
}

static void check_unary(int line, const char *what, rl_unop op, const rl_tensor *out, const rl_tensor *a)
{
    int64_t idx[RL_MAX_DIMS] = {0};
    int bad = 0;
    CHECK_MSG(out->dtype == a->dtype, "%s: dtype changed", what);
    do {
        double x = tu_get(a, idx), want = ref_unop(op, x), got = tu_get(out, idx);
        if (a->dtype == RL_FLOAT32) want = (float)want;
        double tol = tol_for(a->dtype, unop_exact(op), want);
        bool ok = th_close(got, want, tol) && (want != 0 || signbit(got) == signbit(want));
        if (!ok && bad++ < 3)
            th_fail(__FILE__, line, "%s %s %s(%.9g) gave %.17g, want %.17g (tol %.2g)", what, rl_dtype_name(a->dtype),
                    rl_unop_name(op), x, got, want, tol);
    } while (tu_next(out->ndim, out->shape, idx));
}

static void test_unary_ops_float(void)
{
    for (int k = 0; k < 2; k++)
        for (int op = 0; op < RL_UNOP_COUNT; op++) {
            double lo, hi, q;
            unary_domain((rl_unop)op, &lo, &hi, &q);
            rl_tensor *a = tu_rand(FLOATS[k], DIMS(3, 4, 5), 500 + (uint64_t)op, lo, hi, q), *out, *p;
            REQUIRE(a);
            REQUIRE_OK(rl_unary(&out, (rl_unop)op, a));
            CHECK_SHAPE(out, DIMS(3, 4, 5));
            check_unary(__LINE__, "contiguous", (rl_unop)op, out, a);
            rl_tensor_release(out);
            /* a permuted input, and into a transposed output */
            REQUIRE_OK(rl_tensor_permute(&p, a, (const int[]){2, 0, 1}));
            REQUIRE_OK(rl_unary(&out, (rl_unop)op, p));
            CHECK_SHAPE(out, DIMS(5, 3, 4));
            check_unary(__LINE__, "permuted", (rl_unop)op, out, p);
            rl_tensor_release(out);
            rl_tensor *buf, *tout;
            REQUIRE_OK(rl_tensor_zeros(&buf, FLOATS[k], DIMS(5, 4, 3)));
            REQUIRE_OK(rl_tensor_transpose(&tout, buf, 0, 2)); /* (3,4,5) */
            CHECK_OK(rl_unary_into(tout, (rl_unop)op, a));
            check_unary(__LINE__, "into transposed", (rl_unop)op, tout, a);
            rl_tensor_release(tout);
            rl_tensor_release(buf);
            rl_tensor_release(p);
            rl_tensor_release(a);
        }
}

static void test_unary_special_values(void)
{
    const double xs[10] = {0.0, -0.0, NAN, INFINITY, -INFINITY, 0.5, -0.5, 2.5, -2.5, 1e-300};
    for (int k = 0; k < 2; k++) {
        rl_tensor *a = tu_from(FLOATS[k], DIMS(10), xs);
        REQUIRE(a);
        const rl_unop ops[] = {RL_NEG, RL_ABS, RL_SIGN, RL_FLOOR, RL_CEIL, RL_ROUND, RL_EXP, RL_TANH,
                               RL_SIGMOID, RL_SQUARE, RL_SQRT, RL_LOG};
        for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
            rl_tensor *out;
            REQUIRE_OK(rl_unary(&out, ops[i], a));
            check_unary(__LINE__, "special", ops[i], out, a);
            rl_tensor_release(out);
        }
        rl_tensor_release(a);
    }
    /* spelled out: round half to even, sign of signed zeros and NaN */
    rl_tensor *a = tu_from(RL_FLOAT64, DIMS(6), (const double[]){0.5, 1.5, 2.5, -0.5, -1.5, -2.5}), *r;
    REQUIRE(a);
    REQUIRE_OK(rl_unary(&r, RL_ROUND, a));
    const double want[6] = {0, 2, 2, -0.0, -2, -2};
    for (int64_t i = 0; i < 6; i++) CHECK_CLOSE(tu_get(r, &i), want[i], 0);
    CHECK(signbit(tu_get(r, IDX(3))));
    rl_tensor_release(r);
    rl_tensor_release(a);
    a = tu_from(RL_FLOAT32, DIMS(3), (const double[]){-0.0, NAN, -7});
    REQUIRE(a);
    REQUIRE_OK(rl_unary(&r, RL_SIGN, a));
    CHECK(tu_get(r, IDX(0)) == 0 && signbit(tu_get(r, IDX(0))));
    CHECK(isnan(tu_get(r, IDX(1))));
    CHECK_CLOSE(tu_get(r, IDX(2)), -1, 0);
    rl_tensor_release(r);
    rl_tensor_release(a);
    /* sigmoid saturates without overflow warnings or NaN */
    a = tu_from(RL_FLOAT32, DIMS(2), (const double[]){-1000, 1000});
    REQUIRE(a);
    REQUIRE_OK(rl_unary(&r, RL_SIGMOID, a));
    CHECK_CLOSE(tu_get(r, IDX(0)), 0, 0);
    CHECK_CLOSE(tu_get(r, IDX(1)), 1, 0);
    rl_tensor_release(r);
    rl_tensor_release(a);
}

/* +, -, * wrap modulo 2^64 on overflow, as in PyTorch */
static int64_t ref_binop_i64(rl_binop op, int64_t x, int64_t y)
{
    switch (op) {
    case RL_ADD: return (int64_t)((uint64_t)x + (uint64_t)y);
    case RL_SUB: return (int64_t)((uint64_t)x - (uint64_t)y);
    case RL_MUL: return (int64_t)((uint64_t)x * (uint64_t)y);
    case RL_MAXIMUM: return x > y ? x : y;
    case RL_MINIMUM: return x < y ? x : y;
    case RL_EQ: return x == y;
    case RL_NE: return x != y;
    case RL_LT: return x < y;
    case RL_LE: return x <= y;
    case RL_GT: return x > y;
    case RL_GE: return x >= y;
    default: return INT64_MIN;
    }
}

static void test_int64_allowed_ops_exact(void)
{
    /* values around 2^55 would not survive a trip through double */
    const int64_t big = INT64_C(1) << 55;
    int64_t av[9] = {big + 1, -3, 7, 0, big, -big - 3, 5, 5, INT64_MAX};
    int64_t bv[9] = {1, -3, 2, -1, big + 1, -big - 3, -5, 6, 1}; /* the last sum wraps */
    rl_tensor *a, *b;
    REQUIRE_OK(rl_tensor_empty(&a, RL_INT64, DIMS(3, 3)));
    REQUIRE_OK(rl_tensor_empty(&b, RL_INT64, DIMS(3, 3)));
    for (int i = 0; i < 9; i++) {
        ((int64_t *)a->storage->data)[i] = av[i];
        ((int64_t *)b->storage->data)[i] = bv[i];
    }
    const rl_binop ok_ops[] = {RL_ADD, RL_SUB, RL_MUL, RL_MAXIMUM, RL_MINIMUM, RL_EQ, RL_NE, RL_LT, RL_LE, RL_GT, RL_GE};
    for (size_t k = 0; k < sizeof ok_ops / sizeof *ok_ops; k++) {
        rl_tensor *out;
        REQUIRE_OK(rl_binary(&out, ok_ops[k], a, b));
        CHECK(out->dtype == RL_INT64);
        for (int i = 0; i < 9; i++) {
            int64_t got = ((int64_t *)out->storage->data)[i], want = ref_binop_i64(ok_ops[k], av[i], bv[i]);
            CHECK_MSG(got == want, "int64 %s(%lld, %lld) = %lld, want %lld", rl_binop_name(ok_ops[k]),
                      (long long)av[i], (long long)bv[i], (long long)got, (long long)want);
        }
        rl_tensor_release(out);
    }
    /* scalar on int64, broadcast over a transposed view */
    rl_tensor *t, *out;
    REQUIRE_OK(rl_tensor_transpose(&t, a, 0, 1));
    REQUIRE_OK(rl_binary_scalar(&out, RL_SUB, t, 10, true)); /* 10 - a^T */
    CHECK_SHAPE(out, DIMS(3, 3));
    for (int64_t i = 0; i < 3; i++)
        for (int64_t j = 0; j < 3; j++)
            CHECK_EQ_INT(tu_get_i64(out, IDX(i, j)), (int64_t)(10 - (uint64_t)av[j * 3 + i]));
    rl_tensor_release(out);
    rl_tensor_release(t);
    /* unary ops defined on int64 */
    const rl_unop uops[] = {RL_NEG, RL_ABS, RL_SIGN, RL_SQUARE, RL_RELU, RL_FLOOR, RL_CEIL, RL_ROUND};
    for (size_t k = 0; k < sizeof uops / sizeof *uops; k++) {
        REQUIRE_OK(rl_unary(&out, uops[k], b));
        for (int i = 0; i < 9; i++) {
            int64_t x = bv[i], want;
            switch (uops[k]) {
            case RL_NEG: want = -x; break;
            case RL_ABS: want = x < 0 ? -x : x; break;
            case RL_SIGN: want = (x > 0) - (x < 0); break;
            case RL_SQUARE: want = (int64_t)((uint64_t)x * (uint64_t)x); break;
            case RL_RELU: want = x > 0 ? x : 0; break;
            default: want = x;
            }
            CHECK_MSG(((int64_t *)out->storage->data)[i] == want, "int64 %s(%lld) = %lld, want %lld",
                      rl_unop_name(uops[k]), (long long)x, (long long)((int64_t *)out->storage->data)[i],
                      (long long)want);
        }
        rl_tensor_release(out);
    }
    rl_tensor_release(b);
    rl_tensor_release(a);
}

static void test_int64_rejects_div_pow_and_float_unops(void)
{
    rl_tensor *a, *b, *out = NULL;
    REQUIRE_OK(rl_tensor_full(&a, RL_INT64, DIMS(3), 4));
    REQUIRE_OK(rl_tensor_full(&b, RL_INT64, DIMS(3), 2));
    CHECK_STATUS(rl_binary(&out, RL_DIV, a, b), RL_ERR_DTYPE);
    CHECK_CONTAINS(rl_last_error(), "div");
    CHECK_CONTAINS(rl_last_error(), "int64");
    CHECK_STATUS(rl_binary(&out, RL_POW, a, b), RL_ERR_DTYPE);
    CHECK_CONTAINS(rl_last_error(), "pow");
    CHECK_STATUS(rl_binary_scalar(&out, RL_DIV, a, 2, false), RL_ERR_DTYPE);
    CHECK_STATUS(rl_binary_scalar(&out, RL_POW, a, 2, true), RL_ERR_DTYPE);
    CHECK(out == NULL);
    /* an int64 tensor takes only integral scalars within range */
    CHECK_STATUS(rl_binary_scalar(&out, RL_ADD, a, 0.5, false), RL_ERR_DTYPE);
    CHECK_STATUS(rl_binary_scalar(&out, RL_ADD, a, NAN, true), RL_ERR_DTYPE);
    CHECK_STATUS(rl_binary_scalar(&out, RL_MUL, a, 1e19, false), RL_ERR_DTYPE);
    CHECK(out == NULL);
    CHECK_STATUS(rl_binary_into(a, RL_DIV, a, b), RL_ERR_DTYPE);
    CHECK_EQ_INT(tu_get_i64(a, IDX(0)), 4); /* untouched */
    const rl_unop bad[] = {RL_EXP, RL_LOG, RL_SQRT, RL_TANH, RL_SIGMOID, RL_SIN, RL_COS, RL_LOG1P, RL_EXPM1,
                           RL_RECIPROCAL, RL_RSQRT};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        CHECK_STATUS(rl_unary(&out, bad[k], a), RL_ERR_DTYPE);
        CHECK_CONTAINS(rl_last_error(), rl_unop_name(bad[k]));
    }
    CHECK(out == NULL);
    rl_tensor_release(b);
    rl_tensor_release(a);
}

static void test_dtype_and_shape_errors(void)
{
    rl_tensor *f, *d, *out = NULL, *g;
    REQUIRE_OK(rl_tensor_zeros(&f, RL_FLOAT32, DIMS(3, 4)));
    REQUIRE_OK(rl_tensor_zeros(&d, RL_FLOAT64, DIMS(3, 4)));
    REQUIRE_OK(rl_tensor_zeros(&g, RL_FLOAT32, DIMS(5, 4)));
    CHECK_STATUS(rl_binary(&out, RL_ADD, f, d), RL_ERR_DTYPE);
    CHECK_CONTAINS(rl_last_error(), "float32");
    CHECK_CONTAINS(rl_last_error(), "float64");
    CHECK_CONTAINS(rl_last_error(), "add");
    CHECK_STATUS(rl_binary_into(d, RL_ADD, f, f), RL_ERR_DTYPE);   /* output dtype */
    CHECK_STATUS(rl_unary_into(d, RL_EXP, f), RL_ERR_DTYPE);
    CHECK_STATUS(rl_clamp_into(d, f, 0, 1), RL_ERR_DTYPE);
    CHECK_STATUS(rl_binary(&out, RL_MUL, f, g), RL_ERR_SHAPE);
    CHECK_CONTAINS(rl_last_error(), "mul");
    CHECK_CONTAINS(rl_last_error(), "(3,4)");
    CHECK_CONTAINS(rl_last_error(), "(5,4)");
    CHECK(out == NULL);
    /* into an output of the wrong shape (even one the inputs broadcast into a
     * different way) */
    CHECK_STATUS(rl_binary_into(g, RL_ADD, f, f), RL_ERR_SHAPE);
    rl_tensor *small;
    REQUIRE_OK(rl_tensor_zeros(&small, RL_FLOAT32, DIMS(4)));
    CHECK_STATUS(rl_binary_into(small, RL_ADD, f, small), RL_ERR_SHAPE); /* out would need (3,4) */
    CHECK_STATUS(rl_unary_into(small, RL_NEG, f), RL_ERR_SHAPE);
    rl_tensor_release(small);
    rl_tensor_release(g);
    rl_tensor_release(d);
    rl_tensor_release(f);
    CHECK(!strcmp(rl_binop_name(RL_MAXIMUM), "maximum"));
    CHECK(!strcmp(rl_unop_name(RL_RSQRT), "rsqrt"));
}

static void check_clamp(int line, const rl_tensor *out, const rl_tensor *a, double lo, double hi)
{
    int64_t idx[RL_MAX_DIMS] = {0};
    int bad = 0;
    do {
        double x = tu_get(a, idx), want = x;
        if (!isnan(lo) && want < as_dtype(a->dtype, lo)) want = as_dtype(a->dtype, lo);
        if (!isnan(hi) && want > as_dtype(a->dtype, hi)) want = as_dtype(a->dtype, hi);
        double got = tu_get(out, idx);
        if (!th_close(got, want, 0) && bad++ < 3)
            th_fail(__FILE__, line, "clamp(%g, [%g, %g]) %s gave %g, want %g", x, lo, hi, rl_dtype_name(a->dtype), got,
                    want);
    } while (tu_next(out->ndim, out->shape, idx));
}

static void test_clamp_with_nan_bounds(void)
{
    const double bounds[5][2] = {{-0.5, 0.5}, {NAN, 0.25}, {-0.25, NAN}, {NAN, NAN}, {0.3, 0.3}};
    const rl_dtype dts[3] = {RL_FLOAT32, RL_FLOAT64, RL_INT64};
    for (int k = 0; k < 3; k++)
        for (int b = 0; b < 5; b++) {
            double lo = bounds[b][0], hi = bounds[b][1];
            if (dts[k] == RL_INT64) {
                lo = isnan(lo) ? lo : lo * 8;
                hi = isnan(hi) ? hi : hi * 8;
            }
            rl_tensor *base = tu_rand(dts[k], DIMS(5, 4), 900 + (uint64_t)b, dts[k] == RL_INT64 ? -9 : -1,
                                      dts[k] == RL_INT64 ? 9 : 1, 0), *a, *out;
            REQUIRE(base);
            if (dts[k] != RL_INT64) tu_set(base, IDX(1, 1), NAN); /* NaN input stays NaN */
            REQUIRE_OK(rl_tensor_transpose(&a, base, 0, 1));
            REQUIRE_OK(rl_clamp(&out, a, lo, hi));
            CHECK_SHAPE(out, DIMS(4, 5));
            check_clamp(__LINE__, out, a, lo, hi);
            if (dts[k] != RL_INT64) CHECK(isnan(tu_get(out, IDX(1, 1))));
            rl_tensor_release(out);
            /* in place through a strided view */
            rl_tensor *c;
            REQUIRE_OK(rl_tensor_clone(&c, base));
            rl_tensor *ct;
            REQUIRE_OK(rl_tensor_transpose(&ct, c, 0, 1));
            CHECK_OK(rl_clamp_into(ct, ct, lo, hi));
            check_clamp(__LINE__, ct, a, lo, hi);
            rl_tensor_release(ct);
            rl_tensor_release(c);
            rl_tensor_release(a);
            rl_tensor_release(base);
        }
    /* infinite and out-of-range bounds on int64 saturate instead of converting
     * out of range (undefined behaviour) */
    rl_tensor *a, *out = NULL;
    REQUIRE_OK(rl_tensor_empty(&a, RL_INT64, DIMS(4)));
    const int64_t iv[4] = {INT64_MIN, -5, 7, INT64_MAX};
    memcpy(a->storage->data, iv, sizeof iv);
    const double ib[4][2] = {{-INFINITY, 3}, {-2, INFINITY}, {-1e30, 1e30}, {-INFINITY, INFINITY}};
    const int64_t iw[4][4] = {{INT64_MIN, -5, 3, 3}, {-2, -2, 7, INT64_MAX}, {INT64_MIN, -5, 7, INT64_MAX},
                              {INT64_MIN, -5, 7, INT64_MAX}};
    for (int b = 0; b < 4; b++) {
        REQUIRE_OK(rl_clamp(&out, a, ib[b][0], ib[b][1]));
        for (int64_t i = 0; i < 4; i++) CHECK_EQ_INT(tu_get_i64(out, &i), iw[b][i]);
        rl_tensor_release(out);
    }
    rl_tensor_release(a);
    out = NULL;
    REQUIRE_OK(rl_tensor_zeros(&a, RL_FLOAT64, DIMS(2)));
    CHECK_STATUS(rl_clamp(&out, a, 1, -1), RL_ERR_ARG);
    CHECK_CONTAINS(rl_last_error(), "clamp");
    CHECK(out == NULL);
    rl_tensor_release(a);
}

void suite_ops(void)
{
    TH_RUN(test_binary_ops_all_layouts_float);
    TH_RUN(test_binary_scalar_both_sides);
    TH_RUN(test_binary_zero_d_and_empty);
    TH_RUN(test_binary_one_element_shapes);
    TH_RUN(test_binary_nan_propagation);
    TH_RUN(test_unary_ops_float);
    TH_RUN(test_unary_special_values);
    TH_RUN(test_int64_allowed_ops_exact);
    TH_RUN(test_int64_rejects_div_pow_and_float_unops);
    TH_RUN(test_dtype_and_shape_errors);
    TH_RUN(test_clamp_with_nan_bounds);
}
