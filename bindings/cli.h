/* cli.h — what the rnnlua executable's command line (rnnlua.c) and its REPL
 * (repl.c) share. Neither file is part of rnn/core.so (Makefile: BIND_SRC),
 * and only the REPL uses readline. */
#ifndef RNNLUA_CLI_H
#define RNNLUA_CLI_H

#include <signal.h>

#include "lua.h"

#ifndef RNNLUA_VERSION
#define RNNLUA_VERSION "0.1.0"
#endif

#define CLI_PROGNAME "rnnlua"

/* rnnlua.c: messages and calls, as the stock lua.c has them */

/* Name prefixed to error messages: argv[0], as lua.c does (so a message
 * names the command the user typed); NULL inside the REPL. */
extern const char *cli_progname;
/* SIGINT's handler set (no SA_RESTART), the old action into old (if not NULL). */
void cli_set_sigint(void (*handler)(int), struct sigaction *old);
/* lua_pcall with Ctrl-C turned into a Lua error for the duration of the
 * call; msgh as in lua_pcall (0: none). */
int cli_pcall(lua_State *L, int narg, int nres, int msgh);
/* Call the function below `narg` arguments with a traceback handler,
 * interruptible by Ctrl-C. */
int cli_docall(lua_State *L, int narg, int nres);
/* Print the error message on the top of the stack (if status is an error)
 * and pop it; returns status. */
int cli_report(lua_State *L, int status);
/* "pname: msg" (or msg alone when pname is NULL) on stderr. */
void cli_message(const char *pname, const char *msg);
/* The error object at idx as a message; never raises. */
const char *cli_errstring(lua_State *L, int idx);

/* repl.c: the interactive loop (readline on a terminal, with history and
 * completion of table fields; plain lines otherwise) */

void cli_repl(lua_State *L);
/* Frees what the REPL holds; called on every way out of main (a Lua error
 * can escape the REPL with buffers still held). */
void cli_repl_cleanup(void);

#endif
