#include "isa.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

atomic_int rl_isa_cached_ = -1;

static const char *const names[] = {"generic", "avx2", "avx512"};

const char *rl_isa_name(rl_isa_level level)
{
    return level >= RL_ISA_GENERIC && level <= RL_ISA_AVX512 ? names[level] : "?";
}

rl_isa_level rl_isa_cpu(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init(); /* may run before the constructors that call it */
    if (__builtin_cpu_supports("avx512f")) return RL_ISA_AVX512;
    if (__builtin_cpu_supports("avx2")) return RL_ISA_AVX2;
#endif
    return RL_ISA_GENERIC;
}

rl_status rl_isa_choose(const char *value, rl_isa_level cpu, rl_isa_level *out)
{
    *out = cpu;
    if (!value || !*value) return RL_OK;
    for (int l = RL_ISA_GENERIC; l <= RL_ISA_AVX512; l++) {
        if (strcmp(value, names[l]) != 0) continue;
        if (l > (int)cpu)
            return rl_fail(RL_ERR_ARG, "RNNLUA_ISA=%s: this CPU has only %s (allowed here: %s)", value,
                           rl_isa_name(cpu), cpu == RL_ISA_AVX512 ? "generic, avx2, avx512"
                                             : cpu == RL_ISA_AVX2 ? "generic, avx2"
                                                                  : "generic");
        *out = (rl_isa_level)l;
        return RL_OK;
    }
    return rl_fail(RL_ERR_ARG, "RNNLUA_ISA=%.40s%s: unknown value (allowed: generic, avx2, avx512; this CPU has %s)",
                   value, strlen(value) > 40 ? "..." : "", rl_isa_name(cpu));
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char refused[128]; /* the refused value, or "" */

static void init_once(void)
{
    const char *v = getenv("RNNLUA_ISA");
    rl_isa_level level;
    if (rl_isa_choose(v, rl_isa_cpu(), &level) != RL_OK) {
        /* kept for rl_isa_init's message; generic runs on every CPU */
        strncpy(refused, v, sizeof refused - 1);
        level = RL_ISA_GENERIC;
    }
    atomic_store_explicit(&rl_isa_cached_, (int)level, memory_order_release);
}

rl_status rl_isa_init(void)
{
    pthread_once(&once, init_once);
    if (refused[0]) {
        rl_isa_level ignored;
        return rl_isa_choose(refused, rl_isa_cpu(), &ignored);
    }
    return RL_OK;
}

rl_isa_level rl_isa_slow_(void)
{
    pthread_once(&once, init_once);
    return (rl_isa_level)atomic_load_explicit(&rl_isa_cached_, memory_order_acquire);
}
