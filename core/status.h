/* status.h — status codes and the last error message of the core.
 *
 * Every core function that can fail returns an rl_status. On failure it
 * has set a message (rl_last_error) that names the operation and the shapes
 * involved, e.g. "matmul: shapes (3,4) and (5,2) do not match". The core
 * never exits or aborts on bad input. */
#ifndef RL_STATUS_H
#define RL_STATUS_H

typedef enum {
    RL_OK = 0,
    RL_ERR_ARG,     /* an argument is invalid (value, range) */
    RL_ERR_SHAPE,   /* shapes do not fit together */
    RL_ERR_DTYPE,   /* dtypes do not fit together or are not supported */
    RL_ERR_INDEX,   /* an index is out of range */
    RL_ERR_NOMEM,   /* allocation failed or a size overflowed */
    RL_ERR_IO,      /* a file operation failed */
    RL_ERR_STATE    /* an object is in the wrong state for the call */
} rl_status;

/* Sets the message for the current thread; returns `code` for tail calls:
 *   return rl_fail(RL_ERR_SHAPE, "matmul: ...", ...); */
rl_status rl_fail(rl_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

const char *rl_last_error(void);

#endif
