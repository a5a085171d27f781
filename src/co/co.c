/* Coroutines: create, send/yield, status, free. The fast paths of send and
 * yield touch a handful of fields around the bare register switch; anything
 * unusual (first start, errors, sanitizer annotations, shared stacks) goes
 * through the slow paths below them. */
#include "co/co.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/arch.h"
#include "debug/overflow.h"
#include "debug/tools.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

__thread weft__thread weft__th __attribute__((tls_model("initial-exec")));

/* Ids are handed to threads in blocks so that creation takes no lock. */
#define ID_BLOCK 1024
static uint32_t id_source = 1;
static __thread uint32_t id_next, id_end __attribute__((tls_model("initial-exec")));

static uint32_t new_id(void)
{
    if (unlikely(id_next == id_end)) {
        id_next = __atomic_fetch_add(&id_source, ID_BLOCK, __ATOMIC_RELAXED);
        id_end = id_next + ID_BLOCK;
    }
    return id_next++;
}

/* ---- threads ------------------------------------------------------------ */

static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;

static void thread_exit(void *unused)
{
    (void)unused;
    weft__stack_pool_drain();
    weft__overflow_thread_exit();
}

static void thread_key_init(void)
{
    if (pthread_key_create(&thread_key, thread_exit) != 0)
        thread_key = (pthread_key_t)-1;
}

void weft__thread_init(void)
{
    weft__tools_init();
    weft__overflow_thread_init();
    pthread_once(&thread_key_once, thread_key_init);
    if (thread_key != (pthread_key_t)-1)
        pthread_setspecific(thread_key, &weft__th);
    weft__th.root.state = ST_ACTIVE;
    weft__th.root.slow = (uint8_t)weft__tools_asan;
    weft__th.cur = &weft__th.root;
}

/* ---- messages ----------------------------------------------------------- */

void weft__co_die(const weft_co *co, const char *what)
{
    if (co->name[0])
        fprintf(stderr, "weft: %s in coroutine '%s'\n", what, co->name);
    else
        fprintf(stderr, "weft: %s in coroutine #%u\n", what, (unsigned)co->id);
    fflush(stderr);
    abort();
}

/* ---- the slow switch ---------------------------------------------------- */

/* First thing on arrival in `self` after a slow switch. */
static void landed(weft_co *self)
{
    if (weft__tools_asan) {
        const void *old_lo;
        size_t old_size;
        weft__tools_switch_finish(self->asan_fake, &old_lo, &old_size);
        /* The very first arrival on a thread comes from the thread's own
         * stack: that is how its bounds become known. */
        if (weft__th.root.lo == NULL) {
            weft__th.root.lo = (char *)old_lo;
            weft__th.root.stack_size = old_size;
        }
    }
}

static size_t usable_bytes(const weft_co *to)
{
    return to == &weft__th.root ? to->stack_size : (size_t)((const char *)to - to->lo);
}

static __attribute__((noinline)) void *switch_slow(weft_co *from, weft_co *to, void *val)
{
    if (weft__tools_asan)
        weft__tools_switch_start(from->state == ST_DEAD ? NULL : &from->asan_fake, to->lo,
                                 usable_bytes(to));
    void *v = weft__ctx_switch(&from->sp, to->sp, val);
    landed(from);
    return v;
}

static inline void *switch_to(weft_co *from, weft_co *to, void *val)
{
    if (likely(!to->slow))
        return weft__ctx_switch(&from->sp, to->sp, val);
    return switch_slow(from, to, val);
}

/* ---- life of a coroutine ------------------------------------------------ */

static __attribute__((noreturn)) void co_exit(weft_co *co, void *ret)
{
    weft__defer_run(&co->defers);
    co->state = ST_DEAD;
    weft_co *to = co->resumer;
    weft__th.cur = to;
    switch_to(co, to, ret);
    weft__co_die(co, "dead coroutine resumed");
}

static void co_main(void *arg, void *val)
{
    weft_co *co = arg;
    (void)val; /* the first send carries NULL */
    if (co->slow)
        landed(co);
    co_exit(co, co->fn(co->arg));
}

/* Entered on the stack of a coroutine that is freed while suspended: its
 * frames stay where they are, and the handlers run below them. */
static void co_unwind(void *arg, void *val)
{
    weft_co *co = arg;
    (void)val;
    if (co->slow)
        landed(co);
    co_exit(co, NULL);
}

static void copy_name(char *dst, const char *src)
{
    size_t n = 0;
    if (src)
        for (; n < WEFT_NAME_MAX && src[n]; n++)
            dst[n] = src[n];
    dst[n] = '\0';
}

weft_co *weft_co_new(weft_fn fn, void *arg, const weft_opts *opts)
{
    size_t size = WEFT_STACK_DEFAULT;
    int kind = WEFT_STACK_PRIVATE;
    const char *name = NULL;
    if (opts) {
        if (opts->stack_size) {
            if (opts->stack_size < WEFT_STACK_MIN || opts->stack_size > WEFT_STACK_MAX)
                goto invalid;
            size = opts->stack_size;
        }
        kind = opts->stack_kind;
        name = opts->name;
    }
    if (fn == NULL || kind != WEFT_STACK_PRIVATE)
        goto invalid;
    if (unlikely(weft__th.cur == NULL))
        weft__thread_init();

    size_t page = weft__page_size();
    size = (size + page - 1) & ~(page - 1);
    weft__stack st;
    /* The coroutine object sits at the top of its own stack mapping. */
    if (weft__stack_get(&st, size + sizeof(weft_co) + 64) != 0)
        return NULL;
    uintptr_t top = (uintptr_t)weft__stack_hi(&st) - sizeof(weft_co);
    weft_co *co = (weft_co *)(top & ~(uintptr_t)63);
    co->resumer = NULL;
    co->state = ST_CREATED;
    co->slow = (uint8_t)weft__tools_asan;
    co->kind = (uint8_t)kind;
    co->unwinding = 0;
    co->id = new_id();
    co->fn = fn;
    co->arg = arg;
    co->lo = weft__stack_lo(&st);
    co->stack_size = size;
    co->stack = st;
    co->asan_fake = NULL;
    co->task = 0;
    co->task_data = NULL;
    co->defers.n = 0;
    co->defers.more = NULL;
    copy_name(co->name, name);
    co->sp = weft__ctx_make(co, co_main, co);
    return co;
invalid:
    errno = EINVAL;
    return NULL;
}

static __attribute__((noinline)) int send_slow(weft_co *co, void *in, void **out)
{
    if (co == NULL || co->task)
        goto invalid;
    if (weft__th.cur == NULL)
        weft__thread_init();
    switch (co->state) {
    case ST_SUSPENDED:
        break;
    case ST_CREATED:
        if (in != NULL)
            goto invalid;
        break;
    case ST_ACTIVE:
        errno = EBUSY;
        return -1;
    default: /* dead or freed */
        goto invalid;
    }
    weft_co *from = weft__th.cur;
    co->resumer = from;
    co->state = ST_ACTIVE;
    weft__th.cur = co;
    void *v = switch_to(from, co, in);
    if (out)
        *out = v;
    return co->state == ST_SUSPENDED;
invalid:
    errno = EINVAL;
    return -1;
}

int weft_co_send(weft_co *co, void *in, void **out)
{
    weft_co *from = weft__th.cur;
    if (likely(co != NULL && from != NULL && co->state == ST_SUSPENDED && !co->slow)) {
        co->resumer = from;
        co->state = ST_ACTIVE;
        weft__th.cur = co;
        void *v = weft__ctx_switch(&from->sp, co->sp, in);
        if (out)
            *out = v;
        return co->state == ST_SUSPENDED;
    }
    return send_slow(co, in, out);
}

void *weft__co_jump(weft_co *to, void *val)
{
    weft_co *from = weft__th.cur;
    if (to->state == ST_CREATED)
        to->state = ST_ACTIVE;
    weft__th.cur = to;
    return switch_to(from, to, val);
}

static __attribute__((noinline)) void *yield_slow(void *out)
{
    weft_co *self = weft__th.cur;
    if (self == NULL || self->resumer == NULL) {
        errno = EPERM;
        return NULL;
    }
    weft_co *to = self->resumer;
    self->state = ST_SUSPENDED;
    weft__th.cur = to;
    return switch_slow(self, to, out);
}

void *weft_co_yield(void *out)
{
    weft_co *self = weft__th.cur;
    weft_co *to;
    if (likely(self != NULL && (to = self->resumer) != NULL && !to->slow)) {
        self->state = ST_SUSPENDED;
        weft__th.cur = to;
        return weft__ctx_switch(&self->sp, to->sp, out);
    }
    return yield_slow(out);
}

int weft_co_status(const weft_co *co)
{
    if (co == NULL)
        goto invalid;
    switch (co->state) {
    case ST_CREATED:
    case ST_SUSPENDED:
        return WEFT_SUSPENDED;
    case ST_ACTIVE:
        return co == weft__th.cur ? WEFT_RUNNING : WEFT_NORMAL;
    case ST_DEAD:
        return WEFT_DEAD;
    default:
        break;
    }
invalid:
    errno = EINVAL;
    return -1;
}

static void unwind(weft_co *co)
{
    if (weft__th.cur == NULL)
        weft__thread_init();
    weft_co *from = weft__th.cur;
    co->unwinding = 1;
    co->sp = weft__ctx_make((char *)co->sp - WEFT_ARCH_BELOW_SP - 16, co_unwind, co);
    co->resumer = from;
    co->state = ST_ACTIVE;
    weft__th.cur = co;
    switch_to(from, co, NULL);
}

void weft_co_free(weft_co *co)
{
    if (co == NULL)
        return;
    switch (co->state) {
    case ST_ACTIVE:
        weft__co_die(co, co == weft__th.cur ? "weft_co_free of the running coroutine"
                                            : "weft_co_free of a normal coroutine");
    case ST_SUSPENDED:
        /* Under ASan the unwind also lets it free the fake stack. */
        if (weft__defer_any(&co->defers) || weft__tools_asan)
            unwind(co);
        break;
    case ST_CREATED:
    case ST_DEAD:
        break;
    case ST_FREED:
        weft__co_die(co, "weft_co_free of a freed coroutine");
    default:
        weft__co_die(co, "weft_co_free of something that is not a coroutine");
    }
    co->state = ST_FREED;
    weft__stack_put(&co->stack);
}

weft_co *weft_co_self(void)
{
    weft_co *cur = weft__th.cur;
    return cur == &weft__th.root ? NULL : cur;
}

const char *weft_co_name(const weft_co *co)
{
    if (co == NULL) {
        errno = EINVAL;
        return NULL;
    }
    return co->name;
}

int weft_co_defer(void (*fn)(void *), void *arg)
{
    weft_co *self = weft__th.cur;
    if (self == NULL || self == &weft__th.root) {
        errno = EPERM;
        return -1;
    }
    if (fn == NULL) {
        errno = EINVAL;
        return -1;
    }
    return weft__defer_push(&self->defers, fn, arg);
}
