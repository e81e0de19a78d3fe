/* isa.h — which instruction set rnnlua's own kernels run: generic x86-64
 * (or any other CPU), AVX2 or AVX-512.
 *
 * The level is the CPU's best unless the environment variable RNNLUA_ISA
 * (generic, avx2 or avx512), read once at the first query, forces a lower
 * one, so that the AVX2 and baseline paths — what most laptops and many
 * servers run — can be tested on an AVX-512 machine. OpenBLAS chooses its
 * own kernels (OPENBLAS_CORETYPE) and is not affected.
 *
 * A vectorised loop is compiled once per level and chosen at each call
 * (RL_ISA_DISPATCH below). GCC's target_clones did this before, but their
 * ifunc resolvers run when the program loads, before any of our code, and
 * cannot obey an environment variable. */
#ifndef RL_ISA_H
#define RL_ISA_H

#include "status.h"

#include <stdatomic.h>

typedef enum { RL_ISA_GENERIC = 0, RL_ISA_AVX2 = 1, RL_ISA_AVX512 = 2 } rl_isa_level;

/* "generic", "avx2" or "avx512" */
const char *rl_isa_name(rl_isa_level level);

/* The best level this CPU runs (avx512: AVX-512F; avx2: AVX2; on other
 * architectures always generic). */
rl_isa_level rl_isa_cpu(void);

/* The level for a value of RNNLUA_ISA on a CPU of level cpu: cpu for NULL
 * or ""; RL_ERR_ARG, with a message naming RNNLUA_ISA, the value, the
 * allowed values and what the CPU has, for an unknown value or a level the
 * CPU lacks (its code would stop on an illegal instruction). */
rl_status rl_isa_choose(const char *value, rl_isa_level cpu, rl_isa_level *out);

/* Reads RNNLUA_ISA (once per process; later calls return the same). Not
 * RL_OK when its value is refused (see rl_isa_choose; the message is set
 * again at each call): the level in use is then generic. */
rl_status rl_isa_init(void);

/* The level in use. */
extern atomic_int rl_isa_cached_; /* -1 until rl_isa_init has run */
rl_isa_level rl_isa_slow_(void);
static inline rl_isa_level rl_isa(void)
{
    int v = atomic_load_explicit(&rl_isa_cached_, memory_order_acquire);
    return v >= 0 ? (rl_isa_level)v : rl_isa_slow_();
}

/* RL_ISA_DISPATCH(NAME, PARAMS, ARGS) defines `static void NAME PARAMS`
 * running NAME##_body ARGS compiled for the level in use, with
 *   RL_ISA_BODY void NAME##_body PARAMS { ... }
 * defined before it. The copies use exactly the instruction sets of the
 * target_clones they replace ("avx512f", "avx2" alone, without FMA, and
 * the default), so results keep their bits: the same operations, in wider
 * lanes (the build has -ffp-contract=off). They are ordinary functions (no
 * ifunc), so they stay on under the sanitizers and with clang. */
/* (NAME may be a macro call, such as FN(name) in core/rnn_kernels.h:
 * expanded here before the ## of RL_ISA_DISPATCH_ pastes it) */
#define RL_ISA_DISPATCH(NAME, PARAMS, ARGS) RL_ISA_DISPATCH_(NAME, PARAMS, ARGS)
#if defined(__x86_64__) && defined(__GNUC__)
#define RL_ISA_BODY __attribute__((always_inline, unused)) static inline
#define RL_ISA_DISPATCH_(NAME, PARAMS, ARGS)                                                   \
    __attribute__((target("avx512f"), noinline, unused)) static void NAME##_avx512 PARAMS     \
    {                                                                                          \
        NAME##_body ARGS;                                                                      \
    }                                                                                          \
    __attribute__((target("avx2"), noinline, unused)) static void NAME##_avx2 PARAMS          \
    {                                                                                          \
        NAME##_body ARGS;                                                                      \
    }                                                                                          \
    __attribute__((noinline, unused)) static void NAME##_generic PARAMS                       \
    {                                                                                          \
        NAME##_body ARGS;                                                                      \
    }                                                                                          \
    __attribute__((unused)) static void NAME PARAMS                                            \
    {                                                                                          \
        switch (rl_isa()) {                                                                    \
        case RL_ISA_AVX512: NAME##_avx512 ARGS; break;                                         \
        case RL_ISA_AVX2: NAME##_avx2 ARGS; break;                                             \
        default: NAME##_generic ARGS;                                                          \
        }                                                                                      \
    }
#else
#define RL_ISA_BODY __attribute__((unused)) static inline
#define RL_ISA_DISPATCH_(NAME, PARAMS, ARGS)                                                   \
    __attribute__((unused)) static void NAME PARAMS                                            \
    {                                                                                          \
        NAME##_body ARGS;                                                                      \
    }
#endif

#endif
