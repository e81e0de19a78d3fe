/*
 * rnnlua.c -- the rnnlua executable: a Lua 5.4 interpreter with the rnn
 * library preloaded, usable as a script runner and as an interactive REPL.
 *
 * The command line and the script-running behaviour follow the stock lua.c
 * of Lua 5.4 closely (same `arg` table, same -e/-l/-i/-v/-E/-W/--/- options,
 * same "<eof>" trick for multi-line input, same SIGINT-to-hook technique),
 * so that tools written for `lua` -- busted in particular -- run unchanged
 * under `rnnlua`. On top of that:
 *
 *   - `rnn.core` (the C half) is registered in package.preload, the Lua half
 *     is found relative to the executable, and `require 'rnn'` is stored in
 *     the global `rnn` before anything else runs;
 *   - the REPL (repl.c) uses readline's callback interface (so Ctrl-C at
 *     the prompt can be handled outside a signal handler), keeps a
 *     persistent history file and completes table fields (`rnn.ma<TAB>` ->
 *     `rnn.matmul`).
 *
 * This file: the command line, messages and calls, finding the library,
 * main. cli.h: what it shares with repl.c.
 */

#define _POSIX_C_SOURCE 200809L

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

#include "cli.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* The C half of the library; linked into the executable from bindings/. */
extern int luaopen_rnn_core(lua_State *L);

/* argv[0] once main has it (cli.h) */
const char *cli_progname = CLI_PROGNAME;

/* ------------------------------------------------------------------------ */
/* Interruption (Ctrl-C while Lua code runs)                                */
/* ------------------------------------------------------------------------ */

/*
 * A signal handler cannot raise a Lua error directly. Instead it installs a
 * hook that fires at the next Lua instruction, call or return, and the hook
 * raises the error from a safe point. The handler also resets SIGINT to its
 * default action so that a second Ctrl-C kills a process stuck in C code
 * (a long BLAS call, say) that never reaches the hook.
 */
static lua_State *globalL = NULL;

void cli_set_sigint(void (*handler)(int), struct sigaction *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a blocking read in io.read returns EINTR, so the
     * interruption takes effect instead of waiting for input. */
    sa.sa_flags = 0;
    sigaction(SIGINT, &sa, old);
}

static void lstop(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
}

static void laction(int sig)
{
    int flag = LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT;
    cli_set_sigint(SIG_DFL, NULL);
    (void)sig;
    lua_sethook(globalL, lstop, flag, 1);
}

/* ------------------------------------------------------------------------ */
/* Messages, calls, chunks                                                  */
/* ------------------------------------------------------------------------ */

static void print_usage(FILE *out)
{
    fprintf(out,
        "usage: %s [options] [script [args]]\n"
        "Available options are:\n"
        "  -e stat   execute string 'stat'\n"
        "  -i        enter interactive mode after executing 'script'\n"
        "  -l mod    require library 'mod' into global 'mod'\n"
        "  -l g=mod  require library 'mod' into global 'g'\n"
        "  -v        show version information\n"
        "  -E        ignore environment variables (LUA_PATH, LUA_INIT, ...)\n"
        "  -W        turn warnings on\n"
        "  -h        show this help\n"
        "  --        stop handling options\n"
        "  -         stop handling options and execute stdin\n"
        "With no arguments, " CLI_PROGNAME " starts the REPL if stdin is a terminal\n"
        "and runs stdin as a script otherwise. The rnn library is loaded as the\n"
        "global 'rnn'. REPL history: $RNNLUA_HISTORY or ~/.rnnlua_history.\n",
        cli_progname);
    fflush(out);
}

/* Our name first, then Lua's own banner line as `lua -v` prints it (tools
 * and Lua's test suite look for "PUC-Rio" at the end). */
static void print_version(void)
{
    printf(CLI_PROGNAME " " RNNLUA_VERSION " (" LUA_RELEASE ")\n");
    printf(LUA_COPYRIGHT "\n");
    fflush(stdout);
}

void cli_message(const char *pname, const char *msg)
{
    if (pname)
        fprintf(stderr, "%s: ", pname);
    fprintf(stderr, "%s\n", msg);
    fflush(stderr);
}

/* The error object at idx as a message; never raises (no metamethods:
 * the message handler below has already used __tostring where it could). */
const char *cli_errstring(lua_State *L, int idx)
{
    const char *msg = lua_tostring(L, idx);
    if (msg == NULL)
        msg = lua_pushfstring(L, "(error object is a %s value)",
                              luaL_typename(L, idx));
    return msg;
}

/* Print the error message on the top of the stack (if status is an error)
 * and pop it. */
int cli_report(lua_State *L, int status)
{
    if (status != LUA_OK) {
        int top = lua_gettop(L);
        cli_message(cli_progname, cli_errstring(L, top));
        lua_settop(L, top - 1);
    }
    return status;
}

/* Message handler: turn the error object into a string with a traceback. */
static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1; /* an object that renders itself: no traceback */
        msg = lua_pushfstring(L, "(error object is a %s value)",
                              luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* lua_pcall with Ctrl-C turned into a Lua error for the duration of the
 * call; msgh as in lua_pcall (0: none). */
int cli_pcall(lua_State *L, int narg, int nres, int msgh)
{
    struct sigaction old;
    int status;
    globalL = L;
    cli_set_sigint(laction, &old);
    status = lua_pcall(L, narg, nres, msgh);
    sigaction(SIGINT, &old, NULL);
    /* A Ctrl-C landing just as the call returned leaves our hook armed; it
     * must not hit whatever runs next. Hooks set by the user stay. */
    if (lua_gethook(L) == lstop)
        lua_sethook(L, NULL, 0, 0);
    return status;
}

/* Call the function below `narg` arguments with a traceback handler,
 * interruptible by Ctrl-C. */
int cli_docall(lua_State *L, int narg, int nres)
{
    int status;
    int base = lua_gettop(L) - narg;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    status = cli_pcall(L, narg, nres, base);
    lua_remove(L, base);
    return status;
}

static int dochunk(lua_State *L, int status)
{
    if (status == LUA_OK)
        status = cli_docall(L, 0, 0);
    return cli_report(L, status);
}

static int dofile(lua_State *L, const char *name)
{
    return dochunk(L, luaL_loadfile(L, name));
}

static int dostring(lua_State *L, const char *s, const char *name)
{
    return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* `-l mod` or `-l g=mod`: require mod and store it in global g. */
static int dolibrary(lua_State *L, char *spec)
{
    int status;
    char *eq = strchr(spec, '=');
    const char *modname = eq ? eq + 1 : spec;
    lua_getglobal(L, "require");
    lua_pushstring(L, modname);
    status = cli_docall(L, 1, 1);
    if (status == LUA_OK) {
        /* global name: before the '=', else the module name itself */
        lua_pushlstring(L, spec, eq ? (size_t)(eq - spec) : strlen(spec));
        lua_insert(L, -2);
        lua_setglobal(L, lua_tostring(L, -2));
        lua_pop(L, 1);
    }
    return cli_report(L, status);
}

/* Push the elements of the global `arg` (1..n) as the script's `...`. */
static int pushargs(lua_State *L)
{
    int i, n;
    if (lua_getglobal(L, "arg") != LUA_TTABLE)
        luaL_error(L, "'arg' is not a table");
    n = (int)luaL_len(L, -1);
    luaL_checkstack(L, n + 3, "too many arguments to script");
    for (i = 1; i <= n; i++)
        lua_rawgeti(L, -i, i);
    lua_remove(L, -i);
    return n;
}

static int handle_script(lua_State *L, char **argv)
{
    int status;
    const char *fname = argv[0];
    /* A bare "-" means stdin, unless it came after "--" (then it is a file
     * literally named "-"). */
    if (strcmp(fname, "-") == 0 && strcmp(argv[-1], "--") != 0)
        fname = NULL;
    status = luaL_loadfile(L, fname); /* skips a leading '#!' line */
    if (status == LUA_OK) {
        int n = pushargs(L);
        status = cli_docall(L, n, LUA_MULTRET);
    }
    return cli_report(L, status);
}

static int handle_luainit(lua_State *L)
{
    const char *name = "=LUA_INIT_" LUA_VERSION_MAJOR "_" LUA_VERSION_MINOR;
    const char *init = getenv(name + 1);
    if (init == NULL) {
        name = "=LUA_INIT";
        init = getenv(name + 1);
    }
    if (init == NULL)
        return LUA_OK;
    if (init[0] == '@')
        return dofile(L, init + 1);
    return dostring(L, init, name);
}

/* ------------------------------------------------------------------------ */
/* Command line                                                             */
/* ------------------------------------------------------------------------ */

enum {
    has_error = 1, has_i = 2, has_v = 4, has_e = 8, has_E = 16,
    has_h = 32, has_l = 64
};

/*
 * Scan the options. Sets *script to the index of the script name (0 if
 * none), *optlim to the index one past the last option, and *bad to the
 * offending argument on error.
 */
static int collectargs(int argc, char **argv, int *script, int *optlim,
                       const char **bad)
{
    int args = 0;
    int i;
    *script = 0;
    *bad = NULL;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        *optlim = i;
        if (a[0] != '-') { /* first non-option: the script */
            *script = i;
            return args;
        }
        if (strcmp(a, "--help") == 0) {
            args |= has_h;
            continue;
        }
        if (strcmp(a, "--version") == 0) {
            args |= has_v;
            continue;
        }
        switch (a[1]) {
        case '-': /* "--" */
            if (a[2] != '\0')
                goto bad_option;
            *optlim = i + 1;
            *script = (i + 1 < argc) ? i + 1 : 0;
            return args;
        case '\0': /* "-": the script is stdin */
            *script = i;
            return args;
        case 'E': case 'W': case 'i': case 'v': case 'h':
            if (a[2] != '\0')
                goto bad_option;
            args |= a[1] == 'E' ? has_E : a[1] == 'i' ? has_i :
                    a[1] == 'v' ? has_v : a[1] == 'h' ? has_h : 0;
            break;
        case 'e': case 'l':
            args |= a[1] == 'e' ? has_e : has_l;
            if (a[2] == '\0') { /* argument in the next word */
                /* as lua.c: "-e -x" is a missing argument, not code */
                if (i + 1 >= argc || argv[i + 1][0] == '-') {
                    *bad = a;
                    return has_error;
                }
                i++;
            }
            break;
        default:
            goto bad_option;
        }
    }
    *optlim = argc;
    return args;
bad_option:
    *bad = argv[i];
    return has_error;
}

/* arg[0] is the script, arg[1..] its arguments, negative indices the
 * interpreter and its options -- exactly as lua.c builds it. */
static void createargtable(lua_State *L, char **argv, int argc, int script)
{
    int i, narg;
    narg = argc - (script + 1);
    lua_createtable(L, narg > 0 ? narg : 0, script + 1);
    for (i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

/* Run -e and -l (and -W) in command-line order. */
static int runargs(lua_State *L, char **argv, int optlim)
{
    int i;
    for (i = 1; i < optlim; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || strcmp(a, "--help") == 0 ||
            strcmp(a, "--version") == 0)
            continue;
        switch (a[1]) {
        case 'e': case 'l': {
            char *extra = argv[i] + 2;
            int status;
            if (*extra == '\0')
                extra = argv[++i];
            status = a[1] == 'e' ? dostring(L, extra, "=(command line)")
                                 : dolibrary(L, extra);
            if (status != LUA_OK)
                return 0;
            break;
        }
        case 'W':
            lua_warning(L, "@on", 0);
            break;
        default:
            break;
        }
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* The rnn library                                                          */
/* ------------------------------------------------------------------------ */

/* Directory of the running executable (symlinks resolved), or 0. */
static int exe_dir(char *buf, size_t size)
{
    char *slash;
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    if (n <= 0 || (size_t)n >= size - 1)
        return 0;
    buf[n] = '\0';
    slash = strrchr(buf, '/');
    if (slash == NULL)
        return 0;
    if (slash == buf)
        slash[1] = '\0'; /* executable in "/" */
    else
        *slash = '\0';
    return 1;
}

#define LUA_VDIR LUA_VERSION_MAJOR "." LUA_VERSION_MINOR

/*
 * package.searchers entry for `rnn` and `rnn.*` (and nothing else), with
 * upvalues: 1 the Lua template path, 2 the C template path,
 * 3 package.searchpath, 4 package.loadlib. It works like Lua's own file
 * searchers, but on rnnlua's folders. Why a searcher rather than folders
 * prepended to package.path: the user's LUA_PATH, LUA_PATH_5_4, ";;" and
 * -E must give exactly the package.path that lua5.4 gives, and scripts and
 * tools (busted, luarocks loaders) read package.path.
 */
static int rnn_searcher(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const char *file;
    int luamsg;
    if (strcmp(name, "rnn") != 0 && strncmp(name, "rnn.", 4) != 0)
        return 0; /* not ours: no message, the next searcher decides */

    lua_pushvalue(L, lua_upvalueindex(3));
    lua_pushvalue(L, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_call(L, 2, 2);
    if (lua_type(L, -2) == LUA_TSTRING) {
        file = lua_tostring(L, -2);
        if (luaL_loadfile(L, file) != LUA_OK)
            return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s",
                              name, file, lua_tostring(L, -1));
        lua_pushstring(L, file);
        return 2; /* the chunk, and its file name as require's 2nd value */
    }
    luamsg = lua_gettop(L);

    lua_pushvalue(L, lua_upvalueindex(3));
    lua_pushvalue(L, 1);
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_call(L, 2, 2);
    if (lua_type(L, -2) == LUA_TSTRING) {
        file = lua_tostring(L, -2);
        lua_pushvalue(L, lua_upvalueindex(4));
        lua_pushvalue(L, -3);
        /* "rnn.mpi" -> luaopen_rnn_mpi, as Lua's C searcher names it */
        lua_pushliteral(L, "luaopen_");
        luaL_gsub(L, name, ".", "_");
        lua_concat(L, 2);
        lua_call(L, 2, 2);
        if (!lua_isfunction(L, -2))
            return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s",
                              name, file, lua_tostring(L, -1));
        lua_pop(L, 1);
        lua_pushstring(L, file);
        return 2;
    }
    /* Not found: both lists of tried files, for require's message. */
    lua_pushvalue(L, luamsg);
    lua_pushliteral(L, "\n\t");
    lua_pushvalue(L, -3);
    lua_concat(L, 3);
    return 1;
}

/*
 * Put rnn_searcher second in package.searchers: after package.preload
 * (which holds rnn.core, the C half linked into this executable) and before
 * package.path, so that rnnlua loads the Lua half that matches its own C
 * half even when another copy of rnn is on the user's path. Both the build
 * tree (<bin>/scripts, rnnlua at the repository root) and an installed tree
 * (<prefix>/bin, <prefix>/share/lua/5.4, <prefix>/lib/lua/5.4) are searched.
 */
static void add_rnn_searcher(lua_State *L)
{
    char dir[PATH_MAX], parent[PATH_MAX];
    char *slash;
    lua_Integer i, n;

    if (!exe_dir(dir, sizeof dir))
        return; /* no /proc: package.path alone may still find rnn */
    /* <bin>/.. spelt as the folder itself, so that require's messages
     * name real paths */
    memcpy(parent, dir, sizeof parent);
    slash = strrchr(parent, '/');
    if (slash == NULL || slash == parent)
        parent[0] = '\0'; /* <bin> is "/" or "/bin": the prefix is "/" */
    else
        *slash = '\0';

    lua_getglobal(L, "package");
    if (!lua_istable(L, -1) ||
        lua_getfield(L, -1, "searchers") != LUA_TTABLE) {
        lua_pop(L, 2);
        return;
    }
    lua_pushfstring(L,
        "%s/scripts/?.lua;%s/scripts/?/init.lua;"
        "%s/share/lua/" LUA_VDIR "/?.lua;%s/share/lua/" LUA_VDIR "/?/init.lua",
        dir, dir, parent, parent);
    lua_pushfstring(L, "%s/scripts/?.so;%s/lib/lua/" LUA_VDIR "/?.so",
                    dir, parent);
    lua_getfield(L, -4, "searchpath");
    lua_getfield(L, -5, "loadlib");
    lua_pushcclosure(L, rnn_searcher, 4);
    n = (lua_Integer)lua_rawlen(L, -2);
    for (i = n; i >= 2; i--) { /* table.insert(searchers, 2, f) */
        lua_rawgeti(L, -2, i);
        lua_rawseti(L, -3, i + 1);
    }
    lua_rawseti(L, -2, 2);
    lua_pop(L, 2);
}

/*
 * The global help(...): require('rnn').help(...), looked up at each call,
 * so that the documentation (scripts/rnn/help.lua) is loaded only when
 * someone asks, and a build without it says so instead of failing.
 * rnn.help prints the text and also returns it; the global returns
 * nothing, or the REPL would print the text a second time.
 */
static int l_help(lua_State *L)
{
    int n = lua_gettop(L);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "rnn");
    lua_call(L, 1, 1);
    if (lua_istable(L, -1) && lua_getfield(L, -1, "help") != LUA_TNIL) {
        lua_insert(L, 1);
        lua_settop(L, n + 1); /* rnn.help and the arguments */
        lua_call(L, n, 0);
        return 0;
    }
    fputs("help: not available in this build\n", stdout);
    fflush(stdout);
    return 0;
}

static int setup_rnn(lua_State *L)
{
    int status;

    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_rnn_core);
    lua_setfield(L, -2, "rnn.core");
    lua_pop(L, 1);
    add_rnn_searcher(L);

    lua_pushcfunction(L, l_help);
    lua_setglobal(L, "help");

    lua_getglobal(L, "require");
    lua_pushliteral(L, "rnn");
    status = cli_docall(L, 1, 1);
    if (status != LUA_OK) {
        cli_report(L, status);
        return 0;
    }
    lua_setglobal(L, "rnn");
    return 1;
}

/* ------------------------------------------------------------------------ */
/* main                                                                     */
/* ------------------------------------------------------------------------ */

static int pmain(lua_State *L)
{
    int argc = (int)lua_tointeger(L, 1);
    char **argv = (char **)lua_touserdata(L, 2);
    int script, optlim;
    const char *bad;
    int args = collectargs(argc, argv, &script, &optlim, &bad);

    luaL_checkversion(L);
    if (args == has_error) {
        if ((bad[1] == 'e' || bad[1] == 'l') && bad[2] == '\0')
            fprintf(stderr, "%s: '%s' needs argument\n", cli_progname, bad);
        else
            fprintf(stderr, "%s: unrecognized option '%s'\n", cli_progname, bad);
        print_usage(stderr);
        return 0;
    }
    if (args & has_h) {
        print_usage(stdout);
        lua_pushboolean(L, 1);
        return 1;
    }
    if (args & has_v) {
        print_version();
        /* `rnnlua -v` alone does not need (or load) the library. */
        if (script == 0 && !(args & (has_e | has_l | has_i))) {
            lua_pushboolean(L, 1);
            return 1;
        }
    }
    if (args & has_E) { /* tells the package library to ignore LUA_PATH */
        lua_pushboolean(L, 1);
        lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
    }
    luaL_openlibs(L);
    createargtable(L, argv, argc, script);
    lua_gc(L, LUA_GCRESTART);
    lua_gc(L, LUA_GCGEN, 0, 0); /* as lua.c does */
    if (!setup_rnn(L))
        return 0;
    if (!(args & has_E) && handle_luainit(L) != LUA_OK)
        return 0;
    if (!runargs(L, argv, optlim))
        return 0;
    if (script > 0 && handle_script(L, argv + script) != LUA_OK)
        return 0;
    if (args & has_i) {
        cli_repl(L);
    } else if (script == 0 && !(args & (has_e | has_v | has_l))) {
        if (isatty(STDIN_FILENO))
            cli_repl(L);
        else if (dofile(L, NULL) != LUA_OK)
            return 0;
    }
    lua_pushboolean(L, 1);
    return 1;
}

int main(int argc, char **argv)
{
    int status, result;
    lua_State *L;
    if (argv[0] && argv[0][0])
        cli_progname = argv[0];
    L = luaL_newstate();
    if (L == NULL) {
        cli_message(cli_progname, "cannot create state: not enough memory");
        return EXIT_FAILURE;
    }
    lua_gc(L, LUA_GCSTOP); /* no GC while building the state */
    lua_pushcfunction(L, pmain);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    status = lua_pcall(L, 2, 1, 0);
    result = lua_toboolean(L, -1);
    cli_report(L, status);
    lua_close(L);
    cli_repl_cleanup(); /* after an error escaped the REPL */
    return (result && status == LUA_OK) ? EXIT_SUCCESS : EXIT_FAILURE;
}
