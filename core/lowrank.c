#include "lowrank.h"
#include "blas.h"

#include <string.h>

/* A few buffers at once: the weights of a cell (input and recurrent). When
 * all slots are taken, the oldest is flushed to make room. */
#define SLOTS 4

typedef struct {
    rl_tensor *acc;     /* (r, c); not referenced: see lowrank.h */
    rl_tensor *p, *q;   /* panels (rows, r) and (rows, c) */
    int64_t rows;       /* panel_rows(acc) */
    int64_t used;       /* rows of the panels filled */
    uint64_t age;
} pending;

static pending slots[SLOTS];
static uint64_t clock_;

/* Adds the filled rows into the buffer; the panels stay for more. */
static rl_status add_rows(pending *s)
{
    rl_status st = RL_OK;
    if (s->used > 0) {
        rl_tensor *pu = NULL, *qu = NULL;
        st = rl_tensor_narrow(&pu, s->p, 0, 0, s->used);
        if (st == RL_OK) st = rl_tensor_narrow(&qu, s->q, 0, 0, s->used);
        /* (r, c) += (used, r)^T (used, c) */
        if (st == RL_OK) st = rl_gemm(s->acc, pu, true, qu, false, 1.0, 1.0);
        rl_tensor_release(pu);
        rl_tensor_release(qu);
    }
    s->used = 0;
    return st;
}

/* Adds the filled rows and frees the slot. */
static rl_status flush_slot(pending *s)
{
    rl_status st = add_rows(s);
    rl_tensor_release(s->p);
    rl_tensor_release(s->q);
    memset(s, 0, sizeof *s);
    return st;
}

rl_status rl_lowrank_flush(const rl_tensor *acc)
{
    for (int i = 0; i < SLOTS; i++)
        if (slots[i].acc && slots[i].acc == acc) return flush_slot(&slots[i]);
    return RL_OK;
}

rl_status rl_lowrank_flush_all(void)
{
    rl_status first = RL_OK;
    for (int i = 0; i < SLOTS; i++) {
        if (!slots[i].acc) continue;
        rl_status st = flush_slot(&slots[i]);
        if (first == RL_OK) first = st;
    }
    return first;
}

/* rows [at, at + k) of panel = x (k, n) */
static rl_status append(rl_tensor *panel, int64_t at, const rl_tensor *x)
{
    rl_tensor *rows = NULL;
    rl_status st = rl_tensor_narrow(&rows, panel, 0, at, x->shape[0]);
    if (st == RL_OK) st = rl_tensor_copy_(rows, x);
    rl_tensor_release(rows);
    return st;
}

/* rows of acc's panels: RL_LOWRANK_ROWS, or fewer (down to
 * RL_LOWRANK_MIN_ROWS) so that both take at most RL_LOWRANK_PANEL_BYTES */
static int64_t panel_rows(const rl_tensor *acc)
{
    size_t row_bytes = (size_t)(acc->shape[0] + acc->shape[1]) * rl_dtype_size(acc->dtype);
    int64_t rows = row_bytes ? (int64_t)(RL_LOWRANK_PANEL_BYTES / row_bytes) : RL_LOWRANK_ROWS;
    return rows > RL_LOWRANK_ROWS ? RL_LOWRANK_ROWS : rows < RL_LOWRANK_MIN_ROWS ? RL_LOWRANK_MIN_ROWS : rows;
}

int64_t rl_lowrank_max_rows(const rl_tensor *acc)
{
    return panel_rows(acc) / 2;
}

rl_status rl_lowrank_add(rl_tensor *acc, const rl_tensor *u, const rl_tensor *v)
{
    int64_t k = u->shape[0];
    int64_t rows = panel_rows(acc);
    if (k > rows / 2) return rl_gemm(acc, u, true, v, false, 1.0, 1.0);
    pending *s = NULL;
    for (int i = 0; i < SLOTS && !s; i++)
        if (slots[i].acc == acc) s = &slots[i];
    rl_status st;
    if (!s) { /* a free slot, or the oldest flushed */
        for (int i = 0; i < SLOTS && !s; i++)
            if (!slots[i].acc) s = &slots[i];
        if (!s) {
            s = &slots[0];
            for (int i = 1; i < SLOTS; i++)
                if (slots[i].age < s->age) s = &slots[i];
            if ((st = flush_slot(s))) return st;
        }
        int64_t pshape[2] = {rows, acc->shape[0]}, qshape[2] = {rows, acc->shape[1]};
        if ((st = rl_tensor_empty(&s->p, acc->dtype, 2, pshape)) ||
            (st = rl_tensor_empty(&s->q, acc->dtype, 2, qshape))) {
            rl_tensor_release(s->p);
            memset(s, 0, sizeof *s);
            return st;
        }
        s->acc = acc;
        s->rows = rows;
    } else if (s->used + k > s->rows && (st = add_rows(s))) {
        return st;
    }
    s->age = ++clock_;
    if ((st = append(s->p, s->used, u)) || (st = append(s->q, s->used, v))) return st;
    s->used += k;
    return RL_OK;
}
