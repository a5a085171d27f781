/* The coroutine object, shared by the layers above co (sched, io, debug). */
#ifndef WEFT_CO_H
#define WEFT_CO_H

#include <stddef.h>
#include <stdint.h>

#include "base/compiler.h"
#include "co/defer.h"
#include "stack/shared.h"
#include "stack/stack.h"
#include "weft.h"

/* Internal states. WEFT_RUNNING and WEFT_NORMAL are both ST_ACTIVE: the one
 * that is weft__th.cur runs, the others on its chain of resumers are normal. */
enum {
    ST_DEAD = 0,
    ST_SUSPENDED = 1, /* stopped in weft_co_yield */
    ST_ACTIVE = 2,
    ST_CREATED = 3, /* not started yet */
    ST_FREED = 4    /* released; any use is a bug */
};

/* The fields the fast paths touch come first, in one cache line. A private
 * coroutine lives at the top of its own stack mapping; a shared one is a
 * heap block whose tail holds a small image of its frames. */
struct weft_co {
    void *sp;         /* saved context while not running */
    weft_co *resumer; /* who sent to us; the target of our yield */
    uint8_t state;    /* ST_* */
    uint8_t kind;     /* WEFT_STACK_PRIVATE or WEFT_STACK_SHARED */
    uint8_t task;     /* driven by a scheduler: weft_co_send refuses it */
    uint8_t slow;     /* switching to it needs more than the bare switch:
                         sanitizer annotations, or its frames are away from
                         its shared stack. Not next to state: a load of both
                         would wait on the byte store of state that the last
                         switch made. */
    uint32_t id;
    void **out_slot; /* where its next yield or its return value goes: the
                        `out` of the send that resumed it (may be NULL) */
    weft_fn fn;
    void *arg;
    union {               /* ASan and TSan never run together */
        void *asan_fake;  /* ASan's fake stack while suspended */
        void *tsan_fiber; /* TSan's fiber, made at the first switch to it */
    };
    weft__defers defers;
    void *task_data;     /* the scheduler's record of a task */
    char *name;          /* NULL when unnamed */
    uint32_t stack_size; /* usable bytes, as reported */
    union {
        weft__stack stack; /* private: its mapping */
        struct {
            weft__shared *on;
            weft__image image;
        } sh;
    } u;
    /* shared: inline image storage follows the object (co_inl) */
};

/* A shared coroutine is one heap block of this size (a 256-byte malloc
 * chunk); what the object leaves free holds the top of its frames. */
#define WEFT_SHARED_BLOCK 248
#define WEFT_INL_CAP ((uint32_t)(WEFT_SHARED_BLOCK - sizeof(weft_co)))

/* The inline image storage of a shared coroutine, right after the object. */
static inline char *weft__co_inl(weft_co *co)
{
    return (char *)(co + 1);
}

/* A shared coroutine has no stack until it is settled (on == NULL), and no
 * frames until it first runs (sp == NULL): it is settled then, or before
 * by a scheduler, on a stack that none of its resumers is on. */

/* Picks the shared stack of co, not started, from the stacks that hold no
 * frame of from's chain of resumers or of co's resumer's: the first run's
 * work that can fail, for a scheduler to do when it spawns. Returns 0, or
 * -1 with errno ENOMEM. */
int weft__co_settle(weft_co *co, const weft_co *from);

/* Where a coroutine's frames start: the top of its stack (below the room
 * for its name, for a private one). Not for the thread's root, nor for a
 * shared coroutine not yet placed. */
static inline char *weft__co_hi(const weft_co *co)
{
    if (co->kind == WEFT_STACK_SHARED)
        return co->u.sh.on->hi;
    return (char *)co - (WEFT_NAME_MAX + 1);
}

/* The lowest usable byte of the stack a coroutine runs on. */
static inline char *weft__co_lo(const weft_co *co)
{
    if (co->kind == WEFT_STACK_SHARED)
        return co->u.sh.on->lo;
    return weft__stack_lo(&co->u.stack);
}

/* Per-thread state. cur is NULL until the thread first uses weft; then it
 * is the running coroutine, or &root on the thread's own stack. */
typedef struct weft__thread {
    weft_co *cur;
    weft_co root;
    weft_co *scratch;        /* copies frames between coroutines of one shared stack */
    char *root_lo, *root_hi; /* the thread's own stack, once ASan told us */
} weft__thread;

extern __thread weft__thread weft__th __attribute__((tls_model("initial-exec")));

/* Called once per thread before its first coroutine. */
void weft__thread_init(void);

/* thread.c: ids, handed to threads in blocks; the process defaults. */
uint32_t weft__co_new_id(void);
int weft__stack_size_ok(size_t size);
extern int weft__default_kind;
extern size_t weft__default_size;
static inline int weft__stack_default_kind(void)
{
    return __atomic_load_n(&weft__default_kind, __ATOMIC_RELAXED);
}
static inline size_t weft__stack_default_size(void)
{
    return __atomic_load_n(&weft__default_size, __ATOMIC_RELAXED);
}

/* Switches from the running coroutine to `to` without changing the state
 * or the resumer of either: the scheduler's primitive to park (jump to the
 * scheduler's context) and to wake (jump back into the coroutine at which a
 * task parked, which may be a generator that the task drives). Sets the
 * running coroutine to `to`; returns the value of the switch that comes back
 * here: the val of a jump, 1 from a weft_co_yield, and when a coroutine
 * finished, its return value if it is a task (else 0, the value having
 * gone to *out_slot). `to` must be ST_ACTIVE or
 * ST_CREATED (its first jump starts it; set its resumer first). Aborts when
 * memory to save a shared stack runs out. */
void *weft__co_jump(weft_co *to, void *val);

/* Pins (delta 1) or unpins (delta -1) the shared stack of co, if it has
 * one: while pinned, its owner's frames stay in place, because another
 * thread uses that memory. */
static inline void weft__co_pin(weft_co *co, int delta)
{
    if (co->kind == WEFT_STACK_SHARED && co->u.sh.on)
        co->u.sh.on->pinned += (unsigned)delta;
}

/* Would running co displace frames that a pin keeps in place? */
static inline int weft__co_pinned_out(const weft_co *co)
{
    const weft__shared *s = co->kind == WEFT_STACK_SHARED ? co->u.sh.on : NULL;
    return s && s->pinned && s->owner != co;
}

/* Memory of a suspended coroutine, wherever its frames are: when `at`
 * lies on co's shared stack and co's frames are away from it, copies n
 * bytes between buf and co's saved image (into it when dir is 1, out of it
 * when 0) and returns 1; returns 0, copying nothing, when the memory is
 * where it says (not on co's stack, or co's frames in place). Aborts when
 * `at` is on co's stack below its frames. */
int weft__co_copy(weft_co *co, void *at, void *buf, size_t n, int dir);

/* weft_co_free without the check that co is not a task: the scheduler's. */
void weft__co_free(weft_co *co);

/* A finished shared coroutine lets go of its thread's shared stack now,
 * so that another thread may free it later (weft__co_free then touches
 * only its own block). Nothing for other coroutines. */
void weft__co_retire(weft_co *co);

/* Frees the pooled records of shared coroutines (thread exit). */
void weft__co_pool_drain(void);

/* What can fail of a weft__co_jump to `to`, done first, for a scheduler
 * that can still report or retry: room for the image of whoever `to`
 * displaces (the running coroutine too, when it is on to's stack), and
 * to's stack if it has none yet. Only needed when to->slow. Returns 0, or
 * -1 with errno ENOMEM having changed nothing visible. */
int weft__co_prepare(weft_co *to);

/* Aborts the process with one line "weft: <what> in coroutine 'NAME'". */
__attribute__((noreturn)) void weft__co_die(const weft_co *co, const char *what);

/* Writes co's name, or "#id" when it has none, into buf (async-signal-safe). */
size_t weft__co_label(const weft_co *co, char *buf, size_t cap);

#endif
