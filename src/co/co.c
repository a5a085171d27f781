/* Coroutines: create, send/yield, status, free. The fast paths of send and
 * yield touch a few fields around the bare register switch; anything
 * unusual (first start, errors, sanitizer annotations, shared stacks) goes
 * through the slow paths. */
#include "co/co.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "co/switch.h"
#include "co/overflow.h"
#include "base/tools.h"

/* ---- messages ----------------------------------------------------------- */

size_t weft__co_label(const weft_co *co, char *buf, size_t cap)
{
    size_t n = 0;
    if (cap == 0)
        return 0;
    if (co->name) {
        for (const char *s = co->name; *s && n + 1 < cap; s++)
            buf[n++] = *s;
    } else {
        char digits[12];
        int d = 0;
        uint32_t v = co->id;
        do
            digits[d++] = (char)('0' + v % 10);
        while ((v /= 10) != 0);
        if (n + 1 < cap)
            buf[n++] = '#';
        while (d > 0 && n + 1 < cap)
            buf[n++] = digits[--d];
    }
    buf[n] = '\0';
    return n;
}

void weft__co_die(const weft_co *co, const char *what)
{
    char label[WEFT_NAME_MAX + 16];
    weft__co_label(co, label, sizeof label);
    fprintf(stderr, "weft: %s in coroutine '%s'\n", what, label);
    fflush(stderr);
    abort();
}

/* ---- life of a coroutine ------------------------------------------------ */

static __attribute__((noreturn)) void co_exit(weft_co *co, void *ret)
{
    if (weft__defer_any(&co->defers))
        weft__defer_run(&co->defers);
    co->state = ST_DEAD;
    /* A sender gets 0 and the value in its `out`; the scheduler that
     * jumped into a task gets the value itself. */
    void *val = ret;
    if (!co->task) {
        if (co->out_slot)
            weft__put_out(co->resumer, co->out_slot, ret);
        val = (void *)0;
    }
    weft_co *to = co->resumer;
    weft__th.cur = to;
    weft__switch_or_die(co, to, val);
    weft__co_die(co, "dead coroutine resumed");
}

/* What a new coroutine may have to do on arrival, out of line so that
 * co_main's frame, which every coroutine keeps, stays small: the sanitizer
 * annotations after a slow switch, and refusing a first value. The fast
 * path of weft_co_send does not look at `in`, so a value sent to a
 * just-created coroutine is refused here, as Python refuses one for a
 * just-started generator, and the coroutine waits, not started, for a send
 * without one. (A slow first send has checked `in` already.) */
static __attribute__((noinline, cold)) void co_arrive(weft_co *co, void *val)
{
    if (co->slow)
        weft__landed(co);
    while (val != NULL) {
        co->state = ST_CREATED;
        weft_co *to = co->resumer;
        weft__th.cur = to;
        errno = EINVAL;
        val = weft__switch_to(co, to, (void *)(intptr_t)-1);
    }
}

void weft__co_main(void *arg, void *val)
{
    weft_co *co = arg;
    if (unlikely(val != NULL || co->slow))
        co_arrive(co, val);
    co_exit(co, co->fn(co->arg));
}

/* Entered on the stack of a coroutine that is freed while suspended: its
 * frames stay where they are, and the handlers run below them. */
static void co_unwind(void *arg, void *val)
{
    weft_co *co = arg;
    (void)val;
    if (co->slow)
        weft__landed(co);
    co_exit(co, NULL);
}

/* A private coroutine keeps its name in its mapping, just below the
 * object, where it outlives a free (so that a double free is reported by
 * name); a shared one allocates it. */
static int copy_name(weft_co *co, const char *name)
{
    co->name = NULL;
    if (name == NULL || name[0] == '\0')
        return 0;
    size_t n = strnlen(name, WEFT_NAME_MAX);
    char *buf = co->kind == WEFT_STACK_PRIVATE ? weft__co_hi(co) : malloc(n + 1);
    if (buf == NULL)
        return -1;
    memcpy(buf, name, n);
    buf[n] = '\0';
    co->name = buf;
    return 0;
}

/* Lays a new context whose entry is fn into the image of a coroutine whose
 * frames are not on a stack, below those frames. */
static int image_push_context(weft_co *co, void (*fn)(void *, void *))
{
    _Alignas(16) char ctx[WEFT_ARCH_FRAME + WEFT_ARCH_BELOW_SP + 32];
    char *ctx_top = ctx + sizeof ctx;
    char *ctx_sp = weft__ctx_make(ctx_top, fn, co);
    size_t ctx_len = (size_t)(ctx_top - ctx_sp) + WEFT_ARCH_BELOW_SP;
    weft__image *im = &co->u.sh.image;
    /* Contexts are position-independent: lay this one 16-aligned below the
     * frames, as weft__ctx_make would have on the stack itself. */
    char *hi = weft__co_hi(co);
    char *frames = hi - im->len;
    char *top = (char *)((uintptr_t)(frames - 16) & ~(uintptr_t)15);
    char *sp = top - (ctx_top - ctx_sp);
    size_t len = (size_t)(hi - (sp - WEFT_ARCH_BELOW_SP));
    char *buf = malloc(len);
    if (buf == NULL)
        return -1;
    memset(buf, 0, len);
    memcpy(buf, ctx_sp - WEFT_ARCH_BELOW_SP, ctx_len);
    /* Restored before the reserve: a larger heap part replaces the old
     * one without copying it. */
    weft__image_restore(im, buf + len, weft__co_inl(co), WEFT_INL_CAP);
    if (weft__image_reserve(im, len, WEFT_INL_CAP) != 0) {
        free(buf);
        return -1;
    }
    weft__image_save(im, buf, buf + len, weft__co_inl(co), WEFT_INL_CAP);
    free(buf);
    co->sp = sp;
    return 0;
}

/* Live shared coroutines on this thread, and the most there were since
 * memory was last given back. */
static __thread size_t shared_live, shared_peak __attribute__((tls_model("initial-exec")));

/* Millions of small blocks freed leave malloc's heap full of holes that it
 * keeps; when most of a large population is gone, hand the pages back. */
static void shared_gone(void)
{
    shared_live--;
    if (shared_peak >= 65536 && shared_live <= shared_peak / 4) {
#ifdef __GLIBC__
        malloc_trim(0);
#endif
        shared_peak = shared_live;
    }
}

/* Freed shared coroutine records, for the next ones: a tree of short
 * tasks frees and makes them in bursts larger than malloc's per-thread
 * cache. Linked through `resumer`; `state` stays ST_FREED, so a stale
 * handle is still recognised. Not under ASan or valgrind, which must see
 * each block freed. */
#define SHARED_POOL_MAX 1024
static __thread weft_co *shared_pool __attribute__((tls_model("initial-exec")));
static __thread unsigned shared_pooled __attribute__((tls_model("initial-exec")));

void weft__co_pool_drain(void)
{
    while (shared_pool) {
        weft_co *co = shared_pool;
        shared_pool = co->resumer;
        free(co);
    }
    shared_pooled = 0;
}

static weft_co *new_private(size_t size)
{
    weft__stack st;
    /* The coroutine object sits at the top of its own stack mapping. */
    if (weft__stack_get(&st, size + sizeof(weft_co) + WEFT_NAME_MAX + 1 + 64) != 0)
        return NULL;
    uintptr_t top = (uintptr_t)weft__stack_hi(&st) - sizeof(weft_co);
    weft_co *co = (weft_co *)(top & ~(uintptr_t)63);
    co->kind = WEFT_STACK_PRIVATE;
    co->u.stack = st;
    co->sp = weft__ctx_make(weft__co_hi(co), weft__co_main, co);
    return co;
}

/* A shared coroutine gets its stack when it first runs (weft__place), so
 * that the stack holds none of its resumers' frames. */
static weft_co *new_shared(void)
{
    weft_co *co = shared_pool;
    if (co) {
        shared_pool = co->resumer;
        shared_pooled--;
    } else if (!(co = malloc(WEFT_SHARED_BLOCK))) {
        errno = ENOMEM;
        return NULL;
    }
    co->kind = WEFT_STACK_SHARED;
    co->u.sh.on = NULL;
    co->u.sh.image = (weft__image){.ext = NULL, .len = 0, .ext_cap = 0};
    co->sp = NULL;
    if (++shared_live > shared_peak)
        shared_peak = shared_live;
    return co;
}

/* Out of line: inlined, gcc's -Wstringop-overflow takes the object found
 * through a pool node for a region of size 0. */
static __attribute__((noinline)) void release(weft_co *co)
{
    co->state = ST_FREED;
    if (weft__tools_tsan && co->tsan_fiber) {
        weft__tools_tsan_free(co->tsan_fiber);
        co->tsan_fiber = NULL;
    }
    if (co->kind == WEFT_STACK_SHARED) {
        free(co->name);
        weft__shared *s = co->u.sh.on;
        if (s != NULL) {
            if (s->owner == co)
                s->owner = NULL;
            weft__shared_drop(s);
        }
        weft__image_free(&co->u.sh.image);
        if (shared_pooled < SHARED_POOL_MAX && !weft__tools_asan && !weft__tools_valgrind) {
            co->resumer = shared_pool;
            shared_pool = co;
            shared_pooled++;
        } else {
            free(co);
        }
        shared_gone();
    } else {
        weft__stack_put(&co->u.stack);
    }
}

void weft__co_retire(weft_co *co)
{
    if (co->kind != WEFT_STACK_SHARED || co->state != ST_DEAD || !co->u.sh.on)
        return;
    weft__shared *s = co->u.sh.on;
    if (s->owner == co)
        s->owner = NULL;
    weft__shared_drop(s);
    co->u.sh.on = NULL;
    weft__image_free(&co->u.sh.image);
}

weft_co *weft_co_new(weft_fn fn, void *arg, const weft_opts *opts)
{
    if (unlikely(weft__th.cur == NULL))
        weft__thread_init();
    size_t size = weft__stack_default_size();
    int kind = WEFT_STACK_AUTO;
    const char *name = NULL;
    if (opts) {
        if (opts->stack_size) {
            if (!weft__stack_size_ok(opts->stack_size))
                goto invalid;
            size = opts->stack_size;
        }
        kind = opts->stack_kind;
        name = opts->name;
    }
    if (kind == WEFT_STACK_AUTO)
        kind = weft__stack_default_kind();
    if (fn == NULL || (kind != WEFT_STACK_PRIVATE && kind != WEFT_STACK_SHARED))
        goto invalid;

    size_t page = weft__page_size();
    size = (size + page - 1) & ~(page - 1);
    weft_co *co = kind == WEFT_STACK_PRIVATE ? new_private(size) : new_shared();
    if (co == NULL)
        return NULL;
    co->resumer = NULL;
    co->out_slot = NULL;
    co->state = ST_CREATED;
    co->slow = (uint8_t)(weft__tools_fibers || kind == WEFT_STACK_SHARED);
    co->task = 0;
    co->id = weft__co_new_id();
    co->fn = fn;
    co->arg = arg;
    co->asan_fake = NULL; /* and tsan_fiber, the same slot */
    co->defers.top = NULL;
    co->task_data = NULL;
    co->stack_size = (uint32_t)size;
    if (copy_name(co, name) != 0) {
        release(co);
        errno = ENOMEM;
        return NULL;
    }
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
    if (co->slow) {
        if (!weft__tools_asan && co->kind == WEFT_STACK_SHARED && co->u.sh.on &&
            !weft__on_same_shared(from, co)) {
            /* The common case of shared stacks (a driver on another stack
             * resuming coroutines in turn): bring co's frames back here,
             * then take the bare switch. */
            if (weft__claim_from_elsewhere(co) != 0)
                return -1;
        } else if (weft__prepare(from, co) != 0) {
            return -1;
        }
    }
    co->resumer = from;
    co->out_slot = out;
    co->state = ST_ACTIVE;
    weft__th.cur = co;
    /* 1 from its yield, 0 from its return; the value went to *out. */
    return (int)(intptr_t)weft__switch_to(from, co, in);
invalid:
    errno = EINVAL;
    return -1;
}

int weft_co_send(weft_co *co, void *in, void **out)
{
    weft_co *from = weft__th.cur;
    /* Suspended or never started ((state | 2) == 3), not a task, nothing
     * to do around the switch. state is loaded on its own (an atomic,
     * relaxed load is a plain move the compiler does not merge): a wider
     * load would stall on the byte store of state that the switch which
     * stopped co made. task and slow are rarely written: one load serves. */
    if (likely(co != NULL && from != NULL &&
               (__atomic_load_n(&co->state, __ATOMIC_RELAXED) | 2) == 3 &&
               !(co->task | co->slow))) {
        co->resumer = from;
        co->out_slot = out;
        co->state = ST_ACTIVE;
        weft__th.cur = co;
        /* A tail call: whoever switches back returns straight to our
         * caller, with 1 (a yield) or 0 (a return). */
        return weft__ctx_resume(&from->sp, co->sp, in);
    }
    return send_slow(co, in, out);
}

static __attribute__((noinline)) void *yield_slow(void *out)
{
    weft_co *self = weft__th.cur;
    if (self == NULL || self->resumer == NULL) {
        errno = EPERM;
        return NULL;
    }
    weft_co *to = self->resumer;
    if (weft__prepare(self, to) != 0)
        return NULL;
    if (self->out_slot)
        weft__put_out(to, self->out_slot, out);
    self->state = ST_SUSPENDED;
    weft__th.cur = to;
    return weft__switch_slow(self, to, (void *)1);
}

void *weft_co_yield(void *out)
{
    weft_co *self = weft__th.cur;
    weft_co *to;
    if (likely(self != NULL && (to = self->resumer) != NULL && !to->slow)) {
        void **slot = self->out_slot;
        if (slot)
            *slot = out;
        self->state = ST_SUSPENDED;
        weft__th.cur = to;
        return weft__ctx_switch(&self->sp, to->sp, (void *)1);
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

/* Runs the cleanup handlers of a suspended coroutine on its own stack, as
 * if its pending yield had unwound. */
static void unwind(weft_co *co)
{
    weft_co *from = weft__th.cur;
    if (co->kind == WEFT_STACK_SHARED && co->u.sh.on->owner != co) {
        if (image_push_context(co, co_unwind) != 0 || weft__prepare(from, co) != 0) {
            /* No memory to bring its frames back: run them from here. */
            weft__defer_run(&co->defers);
            co->state = ST_DEAD;
            return;
        }
    } else {
        char *top = weft__frames_lo(co) - 16;
        weft__tools_writable(top - WEFT_ARCH_FRAME - 32, WEFT_ARCH_FRAME + 32);
        co->sp = weft__ctx_make(top, co_unwind, co);
    }
    co->resumer = from;
    co->out_slot = NULL;
    co->state = ST_ACTIVE;
    weft__th.cur = co;
    weft__switch_to(from, co, NULL);
}

void weft__co_free(weft_co *co)
{
    if (co == NULL)
        return;
    switch (co->state) {
    case ST_ACTIVE:
        weft__co_die(co, co == weft__th.cur ? "weft_co_free of the running coroutine"
                                            : "weft_co_free of a normal coroutine");
    case ST_SUSPENDED:
        if (weft__th.cur == NULL)
            weft__thread_init();
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
    release(co);
}

void weft_co_free(weft_co *co)
{
    /* Its scheduler frees a task (weft_join, its group, weft_run's end). */
    if (co && co->task && co->state != ST_FREED)
        weft__co_die(co, "weft_co_free of a task (weft_join frees it)");
    weft__co_free(co);
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
    return co->name ? co->name : "";
}

int weft_co_set_name(weft_co *co, const char *name)
{
    if (co == NULL && weft__th.cur != &weft__th.root)
        co = weft__th.cur;
    if (co == NULL || co->state == ST_FREED) {
        errno = EINVAL;
        return -1;
    }
    char *old = co->name;
    if (copy_name(co, name) != 0) {
        co->name = old;
        errno = ENOMEM;
        return -1;
    }
    if (co->kind == WEFT_STACK_SHARED)
        free(old);
    return 0;
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
