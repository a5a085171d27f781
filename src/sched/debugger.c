/* What a debugger needs to find every task without debug information:
 * the list of live schedulers, and a table of the offsets of the fields it
 * reads, both under stable symbols. tools/gdb/weft.py reads them (from a
 * running process or a core file). A scheduler joins the list when
 * weft_run starts and leaves it when weft_run returns: one lock, twice per
 * weft_run, nothing on the switch path. */
#include "sched/sched.h"

#include <pthread.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Bump when a field's meaning or the table's order changes. */
#define WEFT_DEBUGGER_VERSION 1

/* After the header, every entry is a byte offset or size, and
 * tools/gdb/weft.py lists them in this order. */
typedef struct weft__debugger_layout {
    uint32_t magic, version, ptr_size, size;
    const char *const *reason_names;
    uint32_t n_reasons;
    uint32_t sched_all, sched_current, sched_loop, sched_heap, sched_dbg_next, sched_tid;
    uint32_t timer_size, timer_when;
    uint32_t task_co, task_resume, task_next_all, task_state, task_cancelled, task_flags,
        task_reason, task_obj, task_since, task_heap_idx;
    uint32_t co_sp, co_resumer, co_state, co_kind, co_id, co_name, co_stack_size, co_sh_on,
        co_image_ext, co_image_len, co_size, co_inl_cap;
    uint32_t shared_lo, shared_hi, shared_owner;
} weft__debugger_layout;

__attribute__((used)) const weft__debugger_layout weft__debugger = {
    .magic = 0x74666577, /* "weft" */
    .version = WEFT_DEBUGGER_VERSION,
    .ptr_size = sizeof(void *),
    .size = sizeof(weft__debugger_layout),
    .reason_names = weft__reason_names,
    .n_reasons = WR__COUNT,
    .sched_all = offsetof(weft__sched, all),
    .sched_current = offsetof(weft__sched, current),
    .sched_loop = offsetof(weft__sched, loop),
    .sched_heap = offsetof(weft__sched, heap),
    .sched_dbg_next = offsetof(weft__sched, dbg_next),
    .sched_tid = offsetof(weft__sched, tid),
    .timer_size = sizeof(weft__timer),
    .timer_when = offsetof(weft__timer, when),
    .task_co = offsetof(weft__task, co),
    .task_resume = offsetof(weft__task, resume),
    .task_next_all = offsetof(weft__task, next_all),
    .task_state = offsetof(weft__task, state),
    .task_cancelled = offsetof(weft__task, cancelled),
    .task_flags = offsetof(weft__task, flags),
    .task_reason = offsetof(weft__task, reason),
    .task_obj = offsetof(weft__task, obj),
    .task_since = offsetof(weft__task, since),
    .task_heap_idx = offsetof(weft__task, heap_idx),
    .co_sp = offsetof(weft_co, sp),
    .co_resumer = offsetof(weft_co, resumer),
    .co_state = offsetof(weft_co, state),
    .co_kind = offsetof(weft_co, kind),
    .co_id = offsetof(weft_co, id),
    .co_name = offsetof(weft_co, name),
    .co_stack_size = offsetof(weft_co, stack_size),
    .co_sh_on = offsetof(weft_co, u.sh.on),
    .co_image_ext = offsetof(weft_co, u.sh.image.ext),
    .co_image_len = offsetof(weft_co, u.sh.image.len),
    .co_size = sizeof(weft_co),
    .co_inl_cap = WEFT_INL_CAP,
    .shared_lo = offsetof(weft__shared, lo),
    .shared_hi = offsetof(weft__shared, hi),
    .shared_owner = offsetof(weft__shared, owner),
};

/* The head of the list of live schedulers, newest first. */
__attribute__((used)) weft__sched *weft__debugger_scheds;
static pthread_mutex_t scheds_lock = PTHREAD_MUTEX_INITIALIZER;

void weft__debugger_add(weft__sched *s)
{
    s->tid = (int)syscall(SYS_gettid);
    pthread_mutex_lock(&scheds_lock);
    s->dbg_prev = NULL;
    s->dbg_next = weft__debugger_scheds;
    if (s->dbg_next)
        s->dbg_next->dbg_prev = s;
    weft__debugger_scheds = s;
    pthread_mutex_unlock(&scheds_lock);
}

void weft__debugger_remove(weft__sched *s)
{
    pthread_mutex_lock(&scheds_lock);
    if (s->dbg_prev)
        s->dbg_prev->dbg_next = s->dbg_next;
    else
        weft__debugger_scheds = s->dbg_next;
    if (s->dbg_next)
        s->dbg_next->dbg_prev = s->dbg_prev;
    pthread_mutex_unlock(&scheds_lock);
}
