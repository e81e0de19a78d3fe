/*
 * repl.c -- rnnlua's interactive loop: lines read with readline's callback
 * interface on a terminal (Ctrl-C at the prompt seen outside a signal
 * handler, as EINTR), or plainly from a pipe; a persistent history file;
 * completion of table fields (`rnn.ma<TAB>` -> `rnn.matmul`); each line
 * tried as an expression, then as a statement read on while incomplete, as
 * the stock lua.c does. Only the executable links it (readline), not
 * rnn/core.so. cli.h: what it shares with the command line (rnnlua.c).
 */

#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
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

#include "cli.h"

#define HISTORY_MAX 1000
#define PROMPT1 "> "
#define PROMPT2 ">> "

/* Set by the handler installed while the REPL waits at the prompt. */
static volatile sig_atomic_t prompt_sigint = 0;

static void prompt_action(int sig)
{
    (void)sig;
    prompt_sigint = 1;
}

/* ------------------------------------------------------------------------ */
/* REPL: line input                                                         */
/* ------------------------------------------------------------------------ */

/*
 * Buffers handed to us by readline/getline are kept in this static struct
 * rather than in locals: pushing a line onto the Lua stack can raise (out
 * of memory), and a longjmp would leak a local. Whatever is left here is
 * freed by cli_repl_cleanup(), called on every way out of main.
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

void cli_repl_cleanup(void)
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
    if (cli_report(L, cli_pcall(L, 1, 1, 0)) != LUA_OK)
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
        if (cli_pcall(L, n, 0, 0) != LUA_OK)
            cli_message(cli_progname, lua_pushfstring(L, "error calling 'print' (%s)",
                                                      cli_errstring(L, -1)));
    }
}

void cli_repl(lua_State *L)
{
    struct sigaction old;
    int status;
    const char *oldprogname = cli_progname;
    cli_progname = NULL; /* no "rnnlua:" before errors in interactive mode */

    repl.use_rl = isatty(STDIN_FILENO);
    repl.L = L;
    if (repl.use_rl) {
        rl_readline_name = CLI_PROGNAME; /* for $if rnnlua in ~/.inputrc */
        /* '.' and ':' are not word breaks, so "rnn.ma" is one word. */
        rl_basic_word_break_characters = " \t\n\"\\'`@$><=;|&{}()[],+-*/%^~#";
        rl_completer_word_break_characters = rl_basic_word_break_characters;
        rl_attempted_completion_function = rnnlua_completion;
        history_open();
        cli_set_sigint(prompt_action, &old);
    }
    printf(CLI_PROGNAME " " RNNLUA_VERSION " \xE2\x80\x94 " LUA_RELEASE
           ", type rnn.<TAB> to explore, Ctrl-D to exit\n");
    fflush(stdout);

    while ((status = loadline(L)) != -1) {
        if (status == -2)
            continue; /* Ctrl-C at the prompt: start over */
        if (status == LUA_OK)
            status = cli_docall(L, 0, LUA_MULTRET);
        if (status == LUA_OK)
            print_results(L);
        else
            cli_report(L, status);
    }
    lua_settop(L, 0);
    fputc('\n', stdout);
    fflush(stdout);

    if (repl.use_rl) {
        sigaction(SIGINT, &old, NULL);
        history_close();
    }
    cli_repl_cleanup();
    cli_progname = oldprogname;
}
