/* signals.c — stop requests for long-running Lua loops (the experiment
 * harness): a signal sets a flag that the loop reads at a safe point (a
 * training step's end), where it can save a checkpoint and stop cleanly.
 *
 *   rnn.core._signals_catch({'INT', 'TERM', 'USR1'} [, {'INT', 'TERM'}])
 *   rnn.core._signals_caught()   -> name of the first signal caught and the
 *                                   number caught so far, or nil
 *   rnn.core._signals_release()  -> the previous handlers are back
 *   rnn.core._signals_ignore_pipe(), _signals_ignore_xfsz() -> SIGPIPE,
 *                                   SIGXFSZ ignored: the write fails instead
 *
 * A signal of the second list that comes after a first one takes its
 * default action at once: a second Ctrl-C stops a process stuck in a long
 * step. Others may repeat harmlessly (Slurm's scancel sends its signal
 * again while it retries). A signal handler may only touch
 * sig_atomic_t flags and call async-signal-safe functions, which is why the
 * Lua side polls instead of being called back. */
#include "lrl.h"

#include <signal.h>
#include <string.h>

static const struct {
    const char *name;
    int sig;
} known[] = {
    {"INT", SIGINT}, {"TERM", SIGTERM}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"HUP", SIGHUP},
};
#define NKNOWN ((int)(sizeof known / sizeof known[0]))

static volatile sig_atomic_t caught = 0;       /* index + 1 of the first signal */
static volatile sig_atomic_t count = 0;        /* signals of the set caught */
static volatile sig_atomic_t hard[NKNOWN];    /* a second one is immediate */
static struct sigaction saved[NKNOWN];
static int installed[NKNOWN];

static void on_signal(int sig)
{
    int i;
    for (i = 0; i < NKNOWN; i++)
        if (known[i].sig == sig)
            break;
    if (i == NKNOWN)
        return;
    if (caught && hard[i]) {
        signal(sig, SIG_DFL);
        raise(sig); /* delivered when this handler returns */
        return;
    }
    if (!caught)
        caught = (sig_atomic_t)(i + 1);
    if (count < 1000)
        count++;
}

static void release_all(void)
{
    for (int i = 0; i < NKNOWN; i++) {
        if (installed[i]) {
            sigaction(known[i].sig, &saved[i], NULL);
            installed[i] = 0;
        }
    }
    caught = 0;
    count = 0;
}

/* Marks in `out` the signals named by the array at idx (absent: none). */
static void check_names(lua_State *L, int idx, int *out)
{
    if (lua_isnoneornil(L, idx))
        return;
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_Integer n = luaL_len(L, idx);
    for (lua_Integer k = 1; k <= n; k++) {
        lua_geti(L, idx, k);
        const char *name = lua_tostring(L, -1);
        int i;
        for (i = 0; i < NKNOWN; i++)
            if (name && strcmp(name, known[i].name) == 0)
                break;
        if (i == NKNOWN)
            rlua_error(L, "_signals_catch", "unknown signal '%s' (known: INT, TERM, USR1, USR2, HUP)",
                       name ? name : luaL_typename(L, -1));
        out[i] = 1;
        lua_pop(L, 1);
    }
}

static int l_catch(lua_State *L)
{
    int wanted[NKNOWN] = {0}, second[NKNOWN] = {0};
    luaL_checktype(L, 1, LUA_TTABLE);
    check_names(L, 1, wanted);
    check_names(L, 2, second);
    release_all();
    for (int i = 0; i < NKNOWN; i++)
        hard[i] = (sig_atomic_t)second[i];
    for (int i = 0; i < NKNOWN; i++) {
        if (!wanted[i])
            continue;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART; /* file writes of the harness go on */
        if (sigaction(known[i].sig, &sa, &saved[i]) == 0)
            installed[i] = 1;
    }
    return 0;
}

static int l_caught(lua_State *L)
{
    int i = (int)caught;
    if (i <= 0)
        return 0;
    lua_pushstring(L, known[i - 1].name);
    lua_pushinteger(L, (lua_Integer)count);
    return 2;
}

/* _signals_ignore_pipe(): a write to a pipe whose reader is gone fails
 * with EPIPE instead of killing the process (a worker whose parent died
 * then stops cleanly at its next step). */
static int l_ignore_pipe(lua_State *L)
{
    (void)L;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/* _signals_ignore_xfsz(): a write past the file-size limit (ulimit -f,
 * RLIMIT_FSIZE) fails with EFBIG instead of killing the process with
 * SIGXFSZ, so that the harness can say which file could not be written and
 * keep the old one (rnn.experiment.files). */
static int l_ignore_xfsz(lua_State *L)
{
    (void)L;
    signal(SIGXFSZ, SIG_IGN);
    return 0;
}

static int l_release(lua_State *L)
{
    (void)L;
    release_all();
    return 0;
}

void rlua_open_signals(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"_signals_catch", l_catch},
        {"_signals_caught", l_caught},
        {"_signals_release", l_release},
        {"_signals_ignore_pipe", l_ignore_pipe},
        {"_signals_ignore_xfsz", l_ignore_xfsz},
        {NULL, NULL},
    };
    luaL_setfuncs(L, fns, 0);
}
