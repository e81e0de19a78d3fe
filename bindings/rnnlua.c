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
 *   - the REPL uses readline's callback interface (so Ctrl-C at the prompt
 *     can be handled outside a signal handler), keeps a persistent history
 *     file and completes table fields (`rnn.ma<TAB>` -> `rnn.matmul`).
 */

#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

#ifndef RNNLUA_VERSION
#define RNNLUA_VERSION "0.1.0"
#endif

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

#define PROGNAME "rnnlua"
#define HISTORY_MAX 1000
#define PROMPT1 "> "
#define PROMPT2 ">> "

/* The C half of the library; linked into the executable from bindings/. */
extern int luaopen_rnn_core(lua_State *L);

/* Name prefixed to error messages: argv[0], as lua.c does (so a message
 * names the command the user typed); NULL inside the REPL. */
static const char *progname = PROGNAME;

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

static void set_sigint(void (*handler)(int), struct sigaction *old)
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
    set_sigint(SIG_DFL, NULL);
    (void)sig;
    lua_sethook(globalL, lstop, flag, 1);
}

/* Set by the handler installed while the REPL waits at the prompt. */
static volatile sig_atomic_t prompt_sigint = 0;

static void prompt_action(int sig)
{
    (void)sig;
    prompt_sigint = 1;
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
        "With no arguments, " PROGNAME " starts the REPL if stdin is a terminal\n"
        "and runs stdin as a script otherwise. The rnn library is loaded as the\n"
        "global 'rnn'. REPL history: $RNNLUA_HISTORY or ~/.rnnlua_history.\n",
        progname);
    fflush(out);
}

/* Our name first, then Lua's own banner line as `lua -v` prints it (tools
 * and Lua's test suite look for "PUC-Rio" at the end). */
static void print_version(void)
{
    printf(PROGNAME " " RNNLUA_VERSION " (" LUA_RELEASE ")\n");
    printf(LUA_COPYRIGHT "\n");
    fflush(stdout);
}

static void l_message(const char *pname, const char *msg)
{
    if (pname)
        fprintf(stderr, "%s: ", pname);
    fprintf(stderr, "%s\n", msg);
    fflush(stderr);
}

/* The error object at idx as a message; never raises (no metamethods:
 * the message handler below has already used __tostring where it could). */
static const char *errstring(lua_State *L, int idx)
{
    const char *msg = lua_tostring(L, idx);
    if (msg == NULL)
        msg = lua_pushfstring(L, "(error object is a %s value)",
                              luaL_typename(L, idx));
    return msg;
}

/* Print the error message on the top of the stack (if status is an error)
 * and pop it. */
static int report(lua_State *L, int status)
{
    if (status != LUA_OK) {
        int top = lua_gettop(L);
        l_message(progname, errstring(L, top));
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
static int pcall_intr(lua_State *L, int narg, int nres, int msgh)
{
    struct sigaction old;
    int status;
    globalL = L;
    set_sigint(laction, &old);
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
static int docall(lua_State *L, int narg, int nres)
{
    int status;
    int base = lua_gettop(L) - narg;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    status = pcall_intr(L, narg, nres, base);
    lua_remove(L, base);
    return status;
}

static int dochunk(lua_State *L, int status)
{
    if (status == LUA_OK)
        status = docall(L, 0, 0);
    return report(L, status);
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
    status = docall(L, 1, 1);
    if (status == LUA_OK) {
        /* global name: before the '=', else the module name itself */
        lua_pushlstring(L, spec, eq ? (size_t)(eq - spec) : strlen(spec));
        lua_insert(L, -2);
        lua_setglobal(L, lua_tostring(L, -2));
        lua_pop(L, 1);
    }
    return report(L, status);
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
        status = docall(L, n, LUA_MULTRET);
    }
    return report(L, status);
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
    status = docall(L, 1, 1);
    if (status != LUA_OK) {
        report(L, status);
        return 0;
    }
    lua_setglobal(L, "rnn");
    return 1;
}

/* ------------------------------------------------------------------------ */
/* REPL: line input                                                         */
/* ------------------------------------------------------------------------ */

/*
 * Buffers handed to us by readline/getline are kept in this static struct
 * rather than in locals: pushing a line onto the Lua stack can raise (out
 * of memory), and a longjmp would leak a local. Whatever is left here is
 * freed by repl_cleanup(), called on every way out of main.
 */
static struct {
    int use_rl;          /* stdin is a terminal: use readline */
    char *rl_line;       /* last line from readline */
    char *gl_buf;        /* getline buffer (non-terminal input) */
    size_t gl_cap;
    char *hist_path;     /* history file, or NULL */
    char **comp;         /* pending completion candidates */
    size_t comp_next;
    lua_State *L;        /* for the completion function */
} repl;

enum { LINE_OK, LINE_EOF, LINE_INTR };

static void free_completions(void)
{
    if (repl.comp) {
        size_t i;
        for (i = repl.comp_next; repl.comp[i]; i++)
            free(repl.comp[i]);
        free(repl.comp);
        repl.comp = NULL;
    }
}

static void repl_cleanup(void)
{
    free(repl.rl_line);
    repl.rl_line = NULL;
    free(repl.gl_buf);
    repl.gl_buf = NULL;
    repl.gl_cap = 0;
    free(repl.hist_path);
    repl.hist_path = NULL;
    free_completions();
    repl.L = NULL;
}

/* readline callback state */
static int rl_done_flag;

static void on_line(char *line)
{
    repl.rl_line = line;
    rl_done_flag = 1;
    /* Removing the handler here stops readline from printing a fresh prompt
     * right after the line is accepted. */
    rl_callback_handler_remove();
}

/*
 * One line through readline's callback interface. Using select() ourselves
 * lets Ctrl-C at the prompt be seen as EINTR in normal code (the handler
 * only sets a flag) instead of being handled inside a signal handler.
 */
static int read_line_rl(const char *prompt)
{
    int fd;
    free(repl.rl_line);
    repl.rl_line = NULL;
    rl_done_flag = 0;
    prompt_sigint = 0;
    rl_callback_handler_install(prompt, on_line);
    fd = fileno(rl_instream ? rl_instream : stdin);
    while (!rl_done_flag) {
        fd_set fds;
        int r;
        if (prompt_sigint) {
            /* Abandon the line, as Python's REPL does. The mark goes out
             * first, while the cursor still sits after the typed text;
             * the cleanup below returns the cursor to column 0. */
            fputs("^C\n", stdout);
            fflush(stdout);
            rl_free_line_state();
#if RL_READLINE_VERSION >= 0x0700
            rl_callback_sigcleanup();
#endif
            rl_cleanup_after_signal();
            rl_callback_handler_remove();
            return LINE_INTR;
        }
        FD_ZERO(&fds);
        FD_SET(fd, &fds);
        r = select(fd + 1, &fds, NULL, NULL, NULL);
        if (r < 0) {
            if (errno == EINTR)
                continue; /* the flag is checked at the top */
            rl_callback_handler_remove();
            return LINE_EOF;
        }
        rl_callback_read_char();
    }
    return repl.rl_line ? LINE_OK : LINE_EOF;
}

static int read_line_plain(const char *prompt)
{
    ssize_t n;
    fputs(prompt, stdout);
    fflush(stdout);
    n = getline(&repl.gl_buf, &repl.gl_cap, stdin);
    if (n < 0)
        return LINE_EOF;
    if (n > 0 && repl.gl_buf[n - 1] == '\n')
        repl.gl_buf[--n] = '\0';
    if (n > 0 && repl.gl_buf[n - 1] == '\r')
        repl.gl_buf[--n] = '\0';
    /* Echo the line after its prompt, as lua5.4 (readline) does on piped
     * input: a transcript then reads like the session it replays. */
    fwrite(repl.gl_buf, 1, (size_t)n, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    return LINE_OK;
}

static void history_add(const char *line)
{
    HIST_ENTRY *last;
    const char *p;
    for (p = line; *p == ' ' || *p == '\t'; p++)
        ;
    if (*p == '\0')
        return;
    last = history_length > 0 ? history_get(history_base + history_length - 1)
                              : NULL;
    if (last && strcmp(last->line, line) == 0)
        return;
    add_history(line);
    /* Written at once, so the line survives os.exit() or a crash. */
    if (repl.hist_path)
        append_history(1, repl.hist_path);
}

static int prompt_tostring(lua_State *L)
{
    luaL_tolstring(L, 1, NULL);
    return 1;
}

/*
 * Push the prompt and return it: _PROMPT (or _PROMPT2) through tostring,
 * as lua.c does, so any value with __tostring may be a prompt. The string
 * stays on the stack while the line is read (a __tostring result has no
 * other reference). Unlike lua.c, a failing __tostring does not end the
 * session: its error is shown and the default prompt used.
 */
static const char *get_prompt(lua_State *L, int firstline)
{
    const char *def = firstline ? PROMPT1 : PROMPT2;
    if (lua_getglobal(L, firstline ? "_PROMPT" : "_PROMPT2") == LUA_TNIL) {
        lua_pop(L, 1);
        return lua_pushstring(L, def);
    }
    lua_pushcfunction(L, prompt_tostring);
    lua_insert(L, -2);
    if (report(L, pcall_intr(L, 1, 1, 0)) != LUA_OK)
        return lua_pushstring(L, def);
    return lua_tostring(L, -1); /* luaL_tolstring left a string */
}

/* Read a line and push it (a first line starting with '=' becomes
 * "return ..."). Returns LINE_OK, LINE_EOF or LINE_INTR. */
static int pushline(lua_State *L, int firstline)
{
    const char *prompt = get_prompt(L, firstline);
    const char *b;
    int r = repl.use_rl ? read_line_rl(prompt) : read_line_plain(prompt);
    lua_pop(L, 1); /* the prompt: readline has copied or printed it */
    if (r != LINE_OK)
        return r;
    b = repl.use_rl ? repl.rl_line : repl.gl_buf;
    if (repl.use_rl)
        history_add(b);
    if (firstline && b[0] == '=')
        lua_pushfstring(L, "return %s", b + 1);
    else
        lua_pushstring(L, b);
    if (repl.use_rl) {
        free(repl.rl_line);
        repl.rl_line = NULL;
    }
    return LINE_OK;
}

/* ------------------------------------------------------------------------ */
/* REPL: history file                                                       */
/* ------------------------------------------------------------------------ */

static char *history_path(void)
{
    const char *env = getenv("RNNLUA_HISTORY");
    const char *home;
    char *path;
    size_t n;
    if (env && env[0])
        return strdup(env);
    home = getenv("HOME");
    if (home == NULL || home[0] == '\0') {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : NULL;
    }
    if (home == NULL || home[0] == '\0')
        return NULL;
    n = strlen(home) + sizeof "/.rnnlua_history";
    path = malloc(n);
    if (path)
        snprintf(path, n, "%s/.rnnlua_history", home);
    return path;
}

/* Every failure here is silent: no history is better than no REPL. */
static void history_open(void)
{
    int fd;
    using_history();
    stifle_history(HISTORY_MAX);
    repl.hist_path = history_path();
    if (repl.hist_path == NULL)
        return;
    /* append_history() does not create the file, so make sure it exists. */
    fd = open(repl.hist_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0) {
        free(repl.hist_path);
        repl.hist_path = NULL;
        return;
    }
    close(fd);
    history_truncate_file(repl.hist_path, HISTORY_MAX);
    read_history(repl.hist_path);
}

static void history_close(void)
{
    if (repl.hist_path)
        history_truncate_file(repl.hist_path, HISTORY_MAX);
    clear_history();
}

/* ------------------------------------------------------------------------ */
/* REPL: tab completion                                                     */
/* ------------------------------------------------------------------------ */

static const char *const lua_keywords[] = {
    "and", "break", "do", "else", "elseif", "end", "false", "for",
    "function", "goto", "if", "in", "local", "nil", "not", "or", "repeat",
    "return", "then", "true", "until", "while", NULL
};

static int is_ident(const char *s, size_t len)
{
    size_t i;
    if (len == 0)
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
            return 0;
    }
    return 1;
}

/* Limit on __index chains, so a cyclic chain cannot loop forever. */
#define INDEX_DEPTH 16

/*
 * Replace the value on top of the stack by the next table where its fields
 * are looked up, and return 1; leave it and return 0 if there is none.
 * Only raw accesses: completion never runs user code, so an __index
 * function cannot be asked. For one, the names are guessed from its
 * metatable instead: the table in its `methods` field (tensors: the binding
 * keeps the methods there, behind a C __index that also serves t[i] and
 * t.grad), else the metatable itself (a class whose __index function
 * returns cls[k] after handling integer keys: nn.Sequential, optimizers),
 * whose own __index then leads on to the parent class.
 */
static int step_index(lua_State *L)
{
    int t;
    if (!lua_getmetatable(L, -1))
        return 0;
    lua_pushliteral(L, "__index");
    t = lua_rawget(L, -2);
    if (t == LUA_TTABLE) {
        lua_remove(L, -2);
        lua_remove(L, -2);
        return 1;
    }
    lua_pop(L, 1);
    if (t != LUA_TFUNCTION) {
        lua_pop(L, 1);
        return 0;
    }
    lua_pushliteral(L, "methods");
    if (lua_rawget(L, -2) == LUA_TTABLE)
        lua_remove(L, -2);
    else
        lua_pop(L, 1);
    lua_remove(L, -2);
    return 1;
}

/* Replace the value on top by its field `key` (raw, following __index
 * tables). Returns 0 (and pops) if there is no such field. */
static int safe_field(lua_State *L, const char *key, size_t klen)
{
    int depth;
    for (depth = 0; depth < INDEX_DEPTH; depth++) {
        if (lua_istable(L, -1)) {
            lua_pushlstring(L, key, klen);
            lua_rawget(L, -2);
            if (!lua_isnil(L, -1)) {
                lua_remove(L, -2);
                return 1;
            }
            lua_pop(L, 1);
        }
        if (!step_index(L))
            break;
    }
    lua_pop(L, 1);
    return 0;
}

/* Add prefix..key to the result array `res` unless already in `seen`. */
static void add_candidate(lua_State *L, int res, int seen, int prefix,
                          int key)
{
    lua_pushvalue(L, key);
    if (lua_rawget(L, seen) != LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    lua_pushvalue(L, key);
    lua_pushboolean(L, 1);
    lua_rawset(L, seen);
    lua_pushvalue(L, prefix);
    lua_pushvalue(L, key);
    lua_concat(L, 2);
    lua_rawseti(L, res, (lua_Integer)lua_rawlen(L, res) + 1);
}

/* Collect the fields of the value on top (and of its __index tables) whose
 * names start with `word`. Pops the value. */
static void collect_fields(lua_State *L, int res, int seen, int prefix,
                           const char *word, size_t wlen, int methods_only)
{
    int depth;
    for (depth = 0; depth < INDEX_DEPTH; depth++) {
        if (lua_istable(L, -1)) {
            int t = lua_gettop(L);
            lua_pushnil(L);
            while (lua_next(L, t)) {
                size_t klen;
                const char *k;
                /* Only string keys; lua_tolstring on a number key would
                 * change it and break lua_next. */
                if (lua_type(L, -2) == LUA_TSTRING &&
                    (!methods_only || lua_isfunction(L, -1))) {
                    k = lua_tolstring(L, -2, &klen);
                    /* _private names, _G, _VERSION, __index...: only
                     * once the user has typed the '_' */
                    if (klen >= wlen && memcmp(k, word, wlen) == 0 &&
                        is_ident(k, klen) && (k[0] != '_' || wlen > 0))
                        add_candidate(L, res, seen, prefix, lua_gettop(L) - 1);
                }
                lua_pop(L, 1);
            }
        }
        if (!step_index(L))
            break;
    }
    lua_pop(L, 1);
}

/* lcomplete(text) -> array of completions of `text`. Run under pcall. */
static int lcomplete(lua_State *L)
{
    size_t tlen, wlen;
    const char *text = luaL_checklstring(L, 1, &tlen);
    const char *sep = NULL;
    const char *p, *word;
    int res, seen, prefix, top;

    for (p = text; *p; p++)
        if (*p == '.' || *p == ':')
            sep = p;
    lua_newtable(L);
    res = lua_gettop(L);
    lua_newtable(L);
    seen = lua_gettop(L);

    if (sep == NULL) { /* a global name or keyword */
        int i;
        lua_pushliteral(L, "");
        prefix = lua_gettop(L);
        for (i = 0; lua_keywords[i]; i++) {
            if (strncmp(lua_keywords[i], text, tlen) == 0) {
                lua_pushstring(L, lua_keywords[i]);
                add_candidate(L, res, seen, prefix, lua_gettop(L));
                lua_pop(L, 1);
            }
        }
        lua_pushglobaltable(L);
        top = lua_gettop(L);
        collect_fields(L, res, seen, prefix, text, tlen, 0);
        lua_settop(L, top - 1);
    } else if (sep == text) { /* ".x" or ":x": nothing to resolve */
        lua_pushvalue(L, res);
        return 1;
    } else { /* a.b.c.wo or a.b:wo: resolve a.b first */
        lua_pushlstring(L, text, (size_t)(sep - text) + 1);
        prefix = lua_gettop(L);
        lua_pushglobaltable(L);
        for (p = text; p < sep;) {
            const char *q = memchr(p, '.', (size_t)(sep - p));
            if (q == NULL)
                q = sep;
            if (!is_ident(p, (size_t)(q - p)) ||
                !safe_field(L, p, (size_t)(q - p))) {
                lua_pushvalue(L, res);
                return 1; /* no such path: nothing to offer */
            }
            p = q + 1;
        }
        word = sep + 1;
        wlen = tlen - (size_t)(word - text);
        top = lua_gettop(L);
        collect_fields(L, res, seen, prefix, word, wlen, *sep == ':');
        lua_settop(L, top - 1);
    }
    lua_pushvalue(L, res);
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *completion_generator(const char *text, int state)
{
    (void)text;
    (void)state;
    /* Ownership of each string passes to readline. */
    if (repl.comp && repl.comp[repl.comp_next])
        return repl.comp[repl.comp_next++];
    return NULL;
}

static char **rnnlua_completion(const char *text, int start, int end)
{
    lua_State *L = repl.L;
    char **matches;
    size_t n, i;
    int top;
    (void)start;
    (void)end;
    rl_attempted_completion_over = 1; /* never fall back to file names */
    rl_completion_append_character = '\0';
    if (L == NULL || !lua_checkstack(L, 10))
        return NULL;
    top = lua_gettop(L);
    lua_pushcfunction(L, lcomplete);
    lua_pushstring(L, text);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_istable(L, -1)) {
        lua_settop(L, top);
        return NULL;
    }
    n = (size_t)lua_rawlen(L, -1);
    free_completions();
    repl.comp = n ? calloc(n + 1, sizeof *repl.comp) : NULL;
    if (repl.comp == NULL) {
        lua_settop(L, top);
        return NULL;
    }
    repl.comp_next = 0;
    for (i = 0; i < n; i++) {
        const char *s;
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        s = lua_tostring(L, -1);
        repl.comp[i] = s ? strdup(s) : NULL;
        lua_pop(L, 1);
        if (repl.comp[i] == NULL)
            break; /* out of memory: offer what we have */
    }
    lua_settop(L, top);
    n = i;
    qsort(repl.comp, n, sizeof *repl.comp, cmp_str);
    matches = rl_completion_matches(text, completion_generator);
    free_completions();
    return matches;
}

/* ------------------------------------------------------------------------ */
/* REPL: evaluation                                                         */
/* ------------------------------------------------------------------------ */

#define EOFMARK "<eof>"
#define MARKLEN (sizeof(EOFMARK) - 1)

/* A syntax error ending in "<eof>" means the statement is not finished. */
static int incomplete(lua_State *L, int status)
{
    if (status == LUA_ERRSYNTAX) {
        size_t lmsg;
        const char *msg = lua_tolstring(L, -1, &lmsg);
        if (lmsg >= MARKLEN && strcmp(msg + lmsg - MARKLEN, EOFMARK) == 0) {
            lua_pop(L, 1);
            return 1;
        }
    }
    return 0;
}

/* Try the line on top as an expression ("return <line>;"). On success the
 * line is replaced by the compiled chunk. */
static int addreturn(lua_State *L)
{
    const char *line = lua_tostring(L, -1);
    const char *retline = lua_pushfstring(L, "return %s;", line);
    int status = luaL_loadbuffer(L, retline, strlen(retline), "=stdin");
    if (status == LUA_OK)
        lua_remove(L, -2); /* the modified line */
    else
        lua_pop(L, 2); /* error message and modified line */
    return status;
}

/* Compile the line on top as a statement, reading continuation lines while
 * it is incomplete. Returns a load status, or -1 (EOF) / -2 (Ctrl-C). */
static int multiline(lua_State *L)
{
    for (;;) {
        size_t len;
        const char *line = lua_tolstring(L, 1, &len);
        int status = luaL_loadbuffer(L, line, len, "=stdin");
        int r;
        if (!incomplete(L, status))
            return status;
        r = pushline(L, 0);
        if (r == LINE_INTR)
            return -2; /* drop the unfinished statement */
        if (r == LINE_EOF) {
            /* Report the incomplete statement, then end at the next read. */
            return luaL_loadbuffer(L, line, len, "=stdin");
        }
        lua_pushliteral(L, "\n");
        lua_insert(L, -2);
        lua_concat(L, 3);
    }
}

/* Leave a compiled chunk (or an error message) at index 1. Returns the load
 * status, -1 at end of input, -2 when Ctrl-C abandoned the input. */
static int loadline(lua_State *L)
{
    int status, r;
    lua_settop(L, 0);
    r = pushline(L, 1);
    if (r == LINE_EOF)
        return -1;
    if (r == LINE_INTR)
        return -2;
    if ((status = addreturn(L)) != LUA_OK)
        status = multiline(L);
    if (status < 0)
        return status;
    lua_remove(L, 1); /* the source line */
    return status;
}

/* Print the values on the stack with the global print, as lua.c does: a
 * print redefined by the user is used, and a missing one is reported. */
static void print_results(lua_State *L)
{
    int n = lua_gettop(L);
    if (n > 0) {
        luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
        lua_getglobal(L, "print");
        lua_insert(L, 1);
        if (pcall_intr(L, n, 0, 0) != LUA_OK)
            l_message(progname, lua_pushfstring(L, "error calling 'print' (%s)",
                                                errstring(L, -1)));
    }
}

static void doREPL(lua_State *L)
{
    struct sigaction old;
    int status;
    const char *oldprogname = progname;
    progname = NULL; /* no "rnnlua:" before errors in interactive mode */

    repl.use_rl = isatty(STDIN_FILENO);
    repl.L = L;
    if (repl.use_rl) {
        rl_readline_name = PROGNAME; /* for $if rnnlua in ~/.inputrc */
        /* '.' and ':' are not word breaks, so "rnn.ma" is one word. */
        rl_basic_word_break_characters = " \t\n\"\\'`@$><=;|&{}()[],+-*/%^~#";
        rl_completer_word_break_characters = rl_basic_word_break_characters;
        rl_attempted_completion_function = rnnlua_completion;
        history_open();
        set_sigint(prompt_action, &old);
    }
    printf(PROGNAME " " RNNLUA_VERSION " \xE2\x80\x94 " LUA_RELEASE
           ", type rnn.<TAB> to explore, Ctrl-D to exit\n");
    fflush(stdout);

    while ((status = loadline(L)) != -1) {
        if (status == -2)
            continue; /* Ctrl-C at the prompt: start over */
        if (status == LUA_OK)
            status = docall(L, 0, LUA_MULTRET);
        if (status == LUA_OK)
            print_results(L);
        else
            report(L, status);
    }
    lua_settop(L, 0);
    fputc('\n', stdout);
    fflush(stdout);

    if (repl.use_rl) {
        sigaction(SIGINT, &old, NULL);
        history_close();
    }
    repl_cleanup();
    progname = oldprogname;
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
            fprintf(stderr, "%s: '%s' needs argument\n", progname, bad);
        else
            fprintf(stderr, "%s: unrecognized option '%s'\n", progname, bad);
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
        doREPL(L);
    } else if (script == 0 && !(args & (has_e | has_v | has_l))) {
        if (isatty(STDIN_FILENO))
            doREPL(L);
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
        progname = argv[0];
    L = luaL_newstate();
    if (L == NULL) {
        l_message(progname, "cannot create state: not enough memory");
        return EXIT_FAILURE;
    }
    lua_gc(L, LUA_GCSTOP); /* no GC while building the state */
    lua_pushcfunction(L, pmain);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    status = lua_pcall(L, 2, 1, 0);
    result = lua_toboolean(L, -1);
    report(L, status);
    lua_close(L);
    repl_cleanup(); /* after an error escaped the REPL */
    return (result && status == LUA_OK) ? EXIT_SUCCESS : EXIT_FAILURE;
}
