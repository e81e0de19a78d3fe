/* distributed.c — rnn.mpi, the OpenMPI half of rnn.distributed
 * (scripts/rnn/distributed.lua is the user-facing module; it checks the
 * arguments, builds the descriptors and words the errors).
 *
 * A Lua C module of its own (rnn/mpi.so), loaded only when a script uses
 * rnn.distributed under a launcher, so that no other rnnlua process loads
 * libmpi. It cannot link the core (its global state would exist twice), so
 * it works on raw memory that the core hands out (core._tensor_memory).
 *
 *   mpi.init() -> rank, size         MPI_Init once; later calls return the same
 *   mpi.finalize()                   MPI_Finalize (the caller checked that all
 *                                    ranks are finalizing: see agree)
 *   mpi.is_initialized(), mpi.is_finalized()
 *   mpi.agree(desc) -> boolean       desc: an array of DESC_LEN integers
 *                                    describing the collective about to run;
 *                                    true when every rank passed the same
 *   mpi.allgather(values) -> {{...rank 0}, {...rank 1}, ...}
 *   mpi.allreduce(ptr, count, dtype, op)   in place; dtype 'float32' |
 *                                    'float64' | 'int64', op 'sum' | 'mean' |
 *                                    'max' | 'min' (no 'mean' for int64)
 *   mpi.broadcast(ptr, nbytes, root)
 *   mpi.abort(code)
 *   mpi.library_version() -> string
 *
 * Errors are raised as plain strings without a position; the Lua side
 * prefixes the function and points at the user's line.
 *
 * Exit. A rank that calls MPI_Finalize while another waits in a collective
 * for it blocks for ever (OpenMPI's finalize is a fence of all ranks), and a
 * rank that exits without finalizing is only noticed by mpirun, not by
 * every launcher. So the end of the process decides, in an on_exit handler
 * (glibc; it sees the exit status, runs after lua_close whichever
 * interpreter — rnnlua or lua5.4 — and for os.exit too):
 *   - status 0 (a normal end) and not yet finalized: the same agreement as
 *     before a collective, as kind 'finalize'; when every rank is ending it
 *     is followed by MPI_Finalize, and when another rank is waiting in a
 *     collective both sides get a mismatch (this one aborts, the other
 *     raises a Lua error, exits non-zero and aborts) instead of a hang;
 *   - status non-zero (an uncaught error, os.exit(false)): MPI_Abort, which
 *     ends every rank of the job within a fraction of a second.
 * The module pins itself in memory (RTLD_NODELETE) so that the handler
 * survives lua_close's dlclose of C modules. */
#define _GNU_SOURCE /* on_exit, dladdr, RTLD_NODELETE */

#include <dlfcn.h>
#include <limits.h>
#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

/* The module's one exported name (built with -fvisibility=hidden). */
__attribute__((visibility("default"))) int luaopen_rnn_mpi(lua_State *L);

/* The descriptor exchanged before every collective (distributed.lua builds
 * it): kind, op, root, dtype, ndim, 8 sizes, and three more slots. */
#define DESC_LEN 16
enum { KIND_BARRIER = 1, KIND_ALLREDUCE, KIND_BROADCAST, KIND_AVERAGE, KIND_FINALIZE };

/* Counts of one MPI call are ints: bigger buffers go in pieces. */
#define CHUNK_ELEMS ((int64_t)1 << 28)

static struct {
    bool owner;     /* MPI_Init was ours: so are finalize and abort at exit */
    bool hooked;    /* the exit handler is registered */
    pid_t pid;      /* of the process that called MPI_Init */
    int rank, size;
} g;

static int is_finalized(void)
{
    int fin = 0;
    MPI_Finalized(&fin);
    return fin;
}

static int is_initialized(void)
{
    int init = 0;
    MPI_Initialized(&init);
    return init && !is_finalized();
}

static int fail(lua_State *L, const char *what, int rc)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "error %d", rc);
    return luaL_error(L, "%s failed on rank %d: %s", what, g.rank, msg);
}

static void need_init(lua_State *L)
{
    if (!is_initialized()) luaL_error(L, "MPI is not initialized (or was finalized)");
}

/* max and min of every slot over all ranks in one call: MAX of [d, -d].
 * Slots must be > INT64_MIN. */
static int agree_raw(const int64_t *d, int *equal)
{
    int64_t buf[2 * DESC_LEN];
    for (int i = 0; i < DESC_LEN; i++) {
        buf[i] = d[i];
        buf[DESC_LEN + i] = -d[i];
    }
    int rc = MPI_Allreduce(MPI_IN_PLACE, buf, 2 * DESC_LEN, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return rc;
    *equal = 1;
    for (int i = 0; i < DESC_LEN; i++)
        if (buf[i] != -buf[DESC_LEN + i]) *equal = 0;
    return MPI_SUCCESS;
}

static const char *kind_name(int64_t k)
{
    switch (k) {
    case KIND_BARRIER: return "barrier";
    case KIND_ALLREDUCE: return "allreduce_";
    case KIND_BROADCAST: return "broadcast_";
    case KIND_AVERAGE: return "average_gradients";
    case KIND_FINALIZE: return "finalize";
    default: return "an unknown collective";
    }
}

/* ---- the end of the process ---- */

/* Under LeakSanitizer (make asan): MPI_Finalize unloads OpenMPI's plugins,
 * whose globals held much of what MPI_Init allocated, and leaves that memory
 * unreachable; with the fast unwinder its allocation stacks end in the
 * unloaded plugins, where no suppression can name them. So the leak check
 * runs here, just before MPI_Finalize, when OpenMPI's state is still
 * reachable (OpenMPI's true leaks are matched by tests/lsan.supp): at exit
 * the Lua state is already closed, so every leak of ours is seen. The check
 * at the end of the process is then skipped. */
static void leak_check_before_finalize(void)
{
#ifdef __SANITIZE_ADDRESS__
    __lsan_do_leak_check();
#endif
}

/* Before MPI_Abort: the other ranks that failed at the same collective (a
 * disagreement is seen by all of them at once) get a moment to print their
 * own message before the abort kills them. */
static void abort_all(int code)
{
    fflush(NULL); /* MPI_Abort ends with _exit: buffered output would be lost */
    struct timespec grace = {0, 100 * 1000 * 1000};
    nanosleep(&grace, NULL);
    MPI_Abort(MPI_COMM_WORLD, code);
}

static void at_exit(int status, void *arg)
{
    (void)arg;
    /* a child forked without exec inherits the handler, not the MPI rank */
    if (!g.owner || getpid() != g.pid || !is_initialized()) return;
    fflush(NULL);
    if (status != 0) abort_all((status & 0xff) ? (status & 0xff) : 1);

    int64_t d[DESC_LEN] = {KIND_FINALIZE};
    int equal = 0;
    int rc = agree_raw(d, &equal);
    if (rc == MPI_SUCCESS && !equal) {
        /* name what another rank is doing: every rank saw the mismatch, so
         * all of them take part in this gather */
        int64_t *all = malloc(sizeof *all * DESC_LEN * (size_t)g.size);
        int other = -1;
        if (all && MPI_Allgather(d, DESC_LEN, MPI_INT64_T, all, DESC_LEN, MPI_INT64_T, MPI_COMM_WORLD) == MPI_SUCCESS)
            for (int r = 0; r < g.size && other < 0; r++)
                if (all[(size_t)r * DESC_LEN] != KIND_FINALIZE) other = r;
        if (other >= 0)
            fprintf(stderr, "rnn.distributed: rank %d reached the end of its script (finalize at exit) while rank %d "
                    "called rnn.distributed.%s; aborting all ranks\n", g.rank, other,
                    kind_name(all[(size_t)other * DESC_LEN]));
        else
            fprintf(stderr, "rnn.distributed: rank %d reached the end of its script (finalize at exit) while another "
                    "rank called a collective; aborting all ranks\n", g.rank);
        free(all);
        abort_all(1);
    }
    if (rc != MPI_SUCCESS) abort_all(1);
    leak_check_before_finalize();
    MPI_Finalize();
}

/* ---- Lua functions ---- */

static int l_init(lua_State *L)
{
    if (is_finalized()) return luaL_error(L, "MPI was finalized; it cannot be initialized again");
    int init = 0;
    MPI_Initialized(&init);
    if (!init) {
#ifdef __SANITIZE_ADDRESS__
        /* MPI_Init loads plugins, tries them and unloads those it does not
         * keep, leaking what they allocated, with allocation stacks in
         * unloaded code that no suppression can name; it runs no code of
         * ours, so LeakSanitizer ignores what this thread allocates in it */
        __lsan_disable();
#endif
        int rc = MPI_Init(NULL, NULL);
#ifdef __SANITIZE_ADDRESS__
        __lsan_enable();
#endif
        if (rc != MPI_SUCCESS) return fail(L, "MPI_Init", rc);
        g.owner = true;
        g.pid = getpid();
        /* errors come back as return codes and become Lua errors */
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &g.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g.size);
    if (g.owner && !g.hooked) {
        /* keep this library mapped after lua_close for the handler */
        Dl_info info;
        if (dladdr((void *)luaopen_rnn_mpi, &info) && info.dli_fname)
            dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
        if (on_exit(at_exit, NULL) != 0) return luaL_error(L, "cannot register the exit handler");
        g.hooked = true;
    }
    lua_pushinteger(L, g.rank);
    lua_pushinteger(L, g.size);
    return 2;
}

static int l_finalize(lua_State *L)
{
    if (!is_initialized()) return 0;
    fflush(NULL);
    leak_check_before_finalize(); /* (later leaks then go unchecked) */
    int rc = MPI_Finalize();
    if (rc != MPI_SUCCESS) return fail(L, "MPI_Finalize", rc);
    return 0;
}

static int l_is_initialized(lua_State *L)
{
    lua_pushboolean(L, is_initialized());
    return 1;
}

static int l_is_finalized(lua_State *L)
{
    lua_pushboolean(L, is_finalized());
    return 1;
}

static void read_ints(lua_State *L, int idx, int64_t *out, lua_Integer n)
{
    for (lua_Integer i = 1; i <= n; i++) {
        int isint = 0;
        lua_geti(L, idx, i);
        lua_Integer v = lua_tointegerx(L, -1, &isint);
        if (!isint || v == LUA_MININTEGER) luaL_error(L, "descriptor slot %d is not an integer > minint", (int)i);
        out[i - 1] = (int64_t)v;
        lua_pop(L, 1);
    }
}

static int l_agree(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    need_init(L);
    if (luaL_len(L, 1) != DESC_LEN) return luaL_error(L, "a descriptor has %d slots", DESC_LEN);
    int64_t d[DESC_LEN];
    read_ints(L, 1, d, DESC_LEN);
    int equal = 0;
    int rc = agree_raw(d, &equal);
    if (rc != MPI_SUCCESS) return fail(L, "MPI_Allreduce (descriptor)", rc);
    lua_pushboolean(L, equal);
    return 1;
}

static int l_allgather(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    need_init(L);
    lua_Integer n = luaL_len(L, 1);
    if (n < 1 || n > (1 << 20)) return luaL_error(L, "allgather of %d values", (int)n);
    /* userdata: freed by the collector whatever is raised */
    int64_t *mine = lua_newuserdatauv(L, sizeof *mine * (size_t)n, 0);
    int64_t *all = lua_newuserdatauv(L, sizeof *all * (size_t)n * (size_t)g.size, 0);
    read_ints(L, 1, mine, n);
    int rc = MPI_Allgather(mine, (int)n, MPI_INT64_T, all, (int)n, MPI_INT64_T, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return fail(L, "MPI_Allgather", rc);
    lua_createtable(L, g.size, 0);
    for (int r = 0; r < g.size; r++) {
        lua_createtable(L, (int)n, 0);
        for (lua_Integer i = 0; i < n; i++) {
            lua_pushinteger(L, (lua_Integer)all[(size_t)r * (size_t)n + (size_t)i]);
            lua_rawseti(L, -2, i + 1);
        }
        lua_rawseti(L, -2, r + 1);
    }
    return 1;
}

static void *check_ptr(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TLIGHTUSERDATA) luaL_error(L, "argument %d must be a pointer", idx);
    return lua_touserdata(L, idx);
}

static int64_t check_count(lua_State *L, int idx)
{
    lua_Integer n = luaL_checkinteger(L, idx);
    if (n < 0) luaL_error(L, "negative count");
    return (int64_t)n;
}

/* Floating-point sums are not associative, so the order of the additions
 * decides the last bits. MPI_Allreduce does not promise that every rank
 * gets the same bits (OpenMPI picks algorithms by size and communicator,
 * and with more than two ranks some of them add in a different order on
 * different ranks; even with two, max and min of a NaN depend on the
 * operand order). Every rank must hold the same bits afterwards — the
 * ranks' parameters would drift apart otherwise — so floating-point
 * reductions are an MPI_Reduce to rank 0 followed by an MPI_Bcast of rank
 * 0's result: one order of additions, computed once, copied everywhere
 * (for a given number of ranks and size, OpenMPI's choice of algorithm and
 * so the bits are also the same from run to run). It costs a second pass
 * over the data (on two ranks here, 5 MB: about 2 ms against 1-1.5 ms for
 * an MPI_Allreduce; a reduce-scatter and allgather, which would also give
 * every rank the same bits, measured between the two, and OpenMPI's
 * nonblocking collectives 2-3x slower), small against a training step. int64 sum, max and min
 * are exact in any order: MPI_Allreduce. A mean is the broadcast sum
 * divided by the number of ranks on every rank. */
/* (this file is compiled at -O3, where these loops vectorise) */
static void divide_f32(float *restrict f, int n, float s)
{
    for (int i = 0; i < n; i++) f[i] /= s;
}

static void divide_f64(double *restrict f, int n, double s)
{
    for (int i = 0; i < n; i++) f[i] /= s;
}

static int l_allreduce(lua_State *L)
{
    char *p = check_ptr(L, 1);
    int64_t count = check_count(L, 2);
    const char *dtype = luaL_checkstring(L, 3);
    const char *op = luaL_checkstring(L, 4);
    need_init(L);
    MPI_Datatype dt;
    size_t esize;
    if (!strcmp(dtype, "float32")) dt = MPI_FLOAT, esize = 4;
    else if (!strcmp(dtype, "float64")) dt = MPI_DOUBLE, esize = 8;
    else if (!strcmp(dtype, "int64")) dt = MPI_INT64_T, esize = 8;
    else return luaL_error(L, "unknown dtype %s", dtype);
    bool mean = !strcmp(op, "mean");
    MPI_Op mop;
    if (!strcmp(op, "sum") || mean) mop = MPI_SUM;
    else if (!strcmp(op, "max")) mop = MPI_MAX;
    else if (!strcmp(op, "min")) mop = MPI_MIN;
    else return luaL_error(L, "unknown op %s", op);
    if (mean && dt == MPI_INT64_T) return luaL_error(L, "no mean of int64");

    for (int64_t done = 0; done < count;) {
        int n = (int)(count - done < CHUNK_ELEMS ? count - done : CHUNK_ELEMS);
        void *q = p + (size_t)done * esize;
        int rc;
        if (dt == MPI_INT64_T) {
            rc = MPI_Allreduce(MPI_IN_PLACE, q, n, dt, mop, MPI_COMM_WORLD);
            if (rc != MPI_SUCCESS) return fail(L, "MPI_Allreduce", rc);
        } else {
            rc = MPI_Reduce(g.rank == 0 ? MPI_IN_PLACE : q, q, n, dt, mop, 0, MPI_COMM_WORLD);
            if (rc != MPI_SUCCESS) return fail(L, "MPI_Reduce", rc);
            rc = MPI_Bcast(q, n, dt, 0, MPI_COMM_WORLD);
            if (rc != MPI_SUCCESS) return fail(L, "MPI_Bcast", rc);
            /* every rank divides its copy of the same bits: the same
             * correctly rounded quotients, computed in parallel */
            if (mean && dt == MPI_FLOAT) divide_f32(q, n, (float)g.size);
            else if (mean) divide_f64(q, n, (double)g.size);
        }
        done += n;
    }
    return 0;
}

static int l_broadcast(lua_State *L)
{
    char *p = check_ptr(L, 1);
    int64_t nbytes = check_count(L, 2);
    lua_Integer root = luaL_checkinteger(L, 3);
    need_init(L);
    if (root < 0 || root >= g.size) return luaL_error(L, "root %d out of range", (int)root);
    for (int64_t done = 0; done < nbytes;) {
        int n = (int)(nbytes - done < CHUNK_ELEMS ? nbytes - done : CHUNK_ELEMS);
        int rc = MPI_Bcast(p + done, n, MPI_BYTE, (int)root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return fail(L, "MPI_Bcast", rc);
        done += n;
    }
    return 0;
}

static int l_abort(lua_State *L)
{
    lua_Integer code = luaL_optinteger(L, 1, 1);
    need_init(L);
    fflush(NULL);
    MPI_Abort(MPI_COMM_WORLD, (int)code);
    return 0;
}

static int l_library_version(lua_State *L)
{
    char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(v, &len);
    lua_pushlstring(L, v, (size_t)len);
    return 1;
}

static const luaL_Reg funcs[] = {
    {"init", l_init},
    {"finalize", l_finalize},
    {"is_initialized", l_is_initialized},
    {"is_finalized", l_is_finalized},
    {"agree", l_agree},
    {"allgather", l_allgather},
    {"allreduce", l_allreduce},
    {"broadcast", l_broadcast},
    {"abort", l_abort},
    {"library_version", l_library_version},
    {NULL, NULL},
};

int luaopen_rnn_mpi(lua_State *L)
{
    /* Lua's require opens C modules with RTLD_LOCAL, so libmpi (loaded as
     * our dependency) is not in the global scope, and the plugins OpenMPI
     * dlopens at MPI_Init (mca_*.so, linked without libmpi) cannot resolve
     * its symbols. Promote the already loaded libmpi, found from one of its
     * functions, to RTLD_GLOBAL (with its dependencies, libopen-pal and
     * libopen-rte). */
    Dl_info info;
    void *h = NULL;
    if (dladdr((void *)MPI_Init, &info) && info.dli_fname)
        h = dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
    if (!h) h = dlopen("libmpi.so.40", RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
    if (!h) return luaL_error(L, "cannot make libmpi's symbols global: %s", dlerror());
    luaL_newlib(L, funcs);
    lua_pushinteger(L, DESC_LEN);
    lua_setfield(L, -2, "DESC_LEN");
    return 1;
}
