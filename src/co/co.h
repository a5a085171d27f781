/* The coroutine object, shared by the layers above co (sched, io, debug). */
#ifndef WEFT_CO_H
#define WEFT_CO_H

#include <stddef.h>
#include <stdint.h>

#include "co/defer.h"
#include "stack/stack.h"
#include "weft.h"

/* Internal states. WEFT_RUNNING and WEFT_NORMAL are both ST_ACTIVE: the one
 * that is th.cur runs, the others on its chain of resumers are normal. */
enum {
    ST_DEAD = 0,
    ST_SUSPENDED = 1, /* stopped in weft_co_yield */
    ST_ACTIVE = 2,
    ST_CREATED = 3, /* not started yet */
    ST_FREED = 4    /* back in the pool; any use is a bug */
};

struct weft_co {
    void *sp;          /* saved context while not running */
    weft_co *resumer;  /* who sent to us; the target of our yield */
    uint8_t state;     /* ST_* */
    uint8_t slow;      /* switches to it need more than the bare switch:
                          sanitizer annotations, or a shared stack */
    uint8_t kind;      /* WEFT_STACK_* */
    uint8_t unwinding; /* being freed while suspended */
    uint8_t task;      /* driven by a scheduler: weft_co_send refuses it */
    uint32_t id;
    weft_fn fn;
    void *arg;
    char *lo;          /* lowest usable stack byte (above the guard) */
    size_t stack_size; /* usable bytes, as reported */
    weft__stack stack;
    void *asan_fake; /* ASan's fake stack while suspended */
    weft__defers defers;
    void *task_data; /* the scheduler's record of a task */
    char name[WEFT_NAME_MAX + 1];
};

/* Per-thread state. cur is NULL until the thread first uses weft; then it
 * is the running coroutine, or &root on the thread's own stack. */
typedef struct weft__thread {
    weft_co *cur;
    weft_co root;
} weft__thread;

extern __thread weft__thread weft__th __attribute__((tls_model("initial-exec")));

/* Called once per thread before its first coroutine. */
void weft__thread_init(void);

/* Switches from the running coroutine to `to` without changing the state
 * or the resumer of either: the scheduler's primitive to park (jump to the
 * scheduler's context) and to wake (jump back into the coroutine at which a
 * task parked, which may be a generator that the task drives). Sets the
 * running coroutine to `to`; returns the value of the jump that comes back
 * here. `to` must be ST_ACTIVE or ST_CREATED (its first jump starts it). */
void *weft__co_jump(weft_co *to, void *val);

/* Aborts the process with one line "weft: <what>" naming co. */
__attribute__((noreturn)) void weft__co_die(const weft_co *co, const char *what);

#endif
