/* Coroutines: create, send/yield, status, free. The fast paths of send and
 * yield touch a few fields around the bare register switch; anything
 * unusual (first start, errors, sanitizer annotations, shared stacks) goes
 * through the slow paths. */
#include "co/co.h"

#include <errno.h>
#include <malloc.h>
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

/* Headroom for the frames a coroutine pushes between deciding to switch
 * and switching, when it must guess its own image size. */
#define FRAME_SLACK 2048

/* ---- process defaults ---------------------------------------------------- */

static int default_kind = WEFT_STACK_PRIVATE;
static size_t default_size = WEFT_STACK_DEFAULT;
static pthread_once_t defaults_once = PTHREAD_ONCE_INIT;

static int check_size(size_t size)
{
    return size >= WEFT_STACK_MIN && size <= WEFT_STACK_MAX;
}

static void read_env_defaults(void)
{
    const char *kind = getenv("WEFT_STACK");
    if (kind && strcmp(kind, "shared") == 0)
        default_kind = WEFT_STACK_SHARED;
    const char *size = getenv("WEFT_STACK_SIZE");
    if (size && *size) {
        char *end;
        unsigned long long v = strtoull(size, &end, 10);
        if (*end == 'k' || *end == 'K')
            v <<= 10, end++;
        else if (*end == 'm' || *end == 'M')
            v <<= 20, end++;
        if (*end == '\0' && check_size((size_t)v))
            default_size = (size_t)v;
    }
}

int weft_set_stack_defaults(int kind, size_t size)
{
    if ((kind != WEFT_STACK_PRIVATE && kind != WEFT_STACK_SHARED) ||
        (size != 0 && !check_size(size))) {
        errno = EINVAL;
        return -1;
    }
    pthread_once(&defaults_once, read_env_defaults);
    __atomic_store_n(&default_kind, kind, __ATOMIC_RELAXED);
    __atomic_store_n(&default_size, size ? size : WEFT_STACK_DEFAULT, __ATOMIC_RELAXED);
    return 0;
}

/* ---- ids and threads ------------------------------------------------------ */

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

static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;

static void thread_exit(void *unused)
{
    (void)unused;
    if (weft__th.scratch) {
        if (weft__tools_tsan && weft__th.scratch->tsan_fiber)
            weft__tools_tsan_free(weft__th.scratch->tsan_fiber);
        weft__stack_unmap(&weft__th.scratch->u.stack);
        weft__th.scratch = NULL;
    }
    weft__shared_drain();
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
    pthread_once(&defaults_once, read_env_defaults);
    weft__tools_init();
    weft__overflow_thread_init();
    pthread_once(&thread_key_once, thread_key_init);
    if (thread_key != (pthread_key_t)-1)
        pthread_setspecific(thread_key, &weft__th);
    weft__th.root.state = ST_ACTIVE;
    weft__th.root.kind = WEFT_STACK_PRIVATE;
    weft__th.root.slow = (uint8_t)weft__tools_fibers;
    if (weft__tools_tsan)
        weft__th.root.tsan_fiber = weft__tools_tsan_current();
    weft__th.cur = &weft__th.root;
}

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

/* ---- switching ---------------------------------------------------------- */

/* The lowest byte of a suspended coroutine's frames. */
static inline char *frames_lo(const weft_co *co)
{
    return (char *)co->sp - WEFT_ARCH_BELOW_SP;
}

static inline int on_same_shared(const weft_co *a, const weft_co *b)
{
    return a->kind == WEFT_STACK_SHARED && b->kind == WEFT_STACK_SHARED && a->u.sh.on == b->u.sh.on;
}

static void evict(weft_co *o, weft__shared *s)
{
    size_t len = (size_t)(s->hi - frames_lo(o));
    if (!weft__image_fits(&o->u.sh.image, len, WEFT_INL_CAP))
        weft__co_die(o, "shared stack image larger than reserved");
    weft__image_save(&o->u.sh.image, frames_lo(o), s->hi, weft__co_inl(o), WEFT_INL_CAP);
}

/* A value yielded or returned to a resumer whose frames are not on its
 * shared stack: its out slot is in those frames, so the value is written
 * once claim has brought them back (written earlier, it would land in the
 * frames of whoever holds the stack, and be overwritten by the restore). */
static __thread void **pending_slot __attribute__((tls_model("initial-exec")));
static __thread void *pending_val __attribute__((tls_model("initial-exec")));

static void put_out(const weft_co *to, void **slot, void *val)
{
    if (to->kind == WEFT_STACK_SHARED && to->u.sh.on->owner != to) {
        pending_slot = slot;
        pending_val = val;
    } else {
        *slot = val;
    }
}

/* Puts `to`'s frames on its shared stack in place of the owner's. Runs on
 * another stack. */
static void claim(weft_co *to)
{
    weft__shared *s = to->u.sh.on;
    weft_co *o = s->owner;
    if (o != NULL && o->state != ST_DEAD)
        evict(o, s);
    /* Under ASan an unowned stack is poisoned whole (see landed). */
    weft__tools_stack_reset(s->lo, (size_t)(s->hi - s->lo));
    weft__image_restore(&to->u.sh.image, s->hi, weft__co_inl(to), WEFT_INL_CAP);
    s->owner = to;
    /* Only a coroutine whose frames are away needs the slow path: switches
     * between owners take the bare switch. */
    if (o != NULL)
        o->slow = 1;
    to->slow = (uint8_t)weft__tools_fibers;
    if (pending_slot) {
        *pending_slot = pending_val;
        pending_slot = NULL;
    }
}

/* claim, for a caller that runs on another stack and can still fail:
 * makes room for the owner's image first. Returns 0, or -1 with errno
 * ENOMEM having changed nothing. */
static int claim_from_elsewhere(weft_co *to)
{
    weft__shared *s = to->u.sh.on;
    weft_co *o = s->owner;
    if (o == to)
        return 0;
    if (o != NULL && o->state != ST_DEAD &&
        weft__image_reserve(&o->u.sh.image, (size_t)(s->hi - frames_lo(o)), WEFT_INL_CAP) != 0)
        return -1;
    claim(to);
    return 0;
}

/* Under ASan, the coroutine that switched last; see landed. */
static __thread weft_co *leaving __attribute__((tls_model("initial-exec")));

/* First thing on arrival in `self` after an annotated switch. */
static void landed(weft_co *self)
{
    if (!weft__tools_asan)
        return;
    /* Thread-local, not on the stack: the compiler cannot follow the
     * switch and would see pointers to dead locals. */
    static __thread const void *old_lo;
    static __thread size_t old_size;
    weft__tools_switch_finish(self->asan_fake, &old_lo, &old_size);
    /* The very first arrival on a thread comes from the thread's own
     * stack: that is how its bounds become known. */
    if (weft__th.root_lo == NULL) {
        weft__th.root_lo = (char *)old_lo;
        weft__th.root_hi = (char *)old_lo + old_size;
    }
    /* A shared coroutine that left its stack is saved at once and the
     * stack poisoned, so that a pointer into its frames used while it is
     * suspended is reported instead of reading whatever runs there next. */
    weft_co *o = leaving;
    if (o && o->kind == WEFT_STACK_SHARED && o->u.sh.on->owner == o && self != weft__th.scratch &&
        !on_same_shared(o, self)) {
        weft__shared *s = o->u.sh.on;
        if (o->state != ST_DEAD)
            evict(o, s);
        s->owner = NULL;
        weft__tools_poison(s->lo, (size_t)(s->hi - s->lo));
    }
}

/* TSan's fiber for `to`, made at the first switch to it (a coroutine that
 * never runs costs TSan nothing). Aborts when TSan cannot make one. */
static void *tsan_fiber(weft_co *to)
{
    if (unlikely(to->tsan_fiber == NULL)) {
        to->tsan_fiber = weft__tools_tsan_new(to->name);
        if (to->tsan_fiber == NULL)
            weft__co_die(to, "out of memory for a ThreadSanitizer fiber");
    }
    return to->tsan_fiber;
}

/* The bare switch, bracketed for the sanitizer. */
static void *raw_switch(weft_co *from, weft_co *to, void *val)
{
    if (weft__tools_asan) {
        leaving = from;
        {
            char *lo = to == &weft__th.root ? weft__th.root_lo : weft__co_lo(to);
            char *hi = to == &weft__th.root ? weft__th.root_hi : weft__co_hi(to);
            weft__tools_switch_start(from->state == ST_DEAD ? NULL : &from->asan_fake, lo,
                                     (size_t)(hi - lo));
        }
    }
    if (weft__tools_tsan)
        weft__tools_tsan_switch(tsan_fiber(to));
    void *v = weft__ctx_switch(&from->sp, to->sp, val);
    landed(from);
    return v;
}

/* The scratch context copies frames when a coroutine hands its shared stack
 * to another coroutine of the same stack: neither can copy while running
 * on it. */
static __thread weft_co *sc_from __attribute__((tls_model("initial-exec")));
static __thread void *sc_val __attribute__((tls_model("initial-exec")));

static void scratch_main(void *arg, void *first)
{
    weft_co *self = arg;
    weft_co *to = first;
    if (self->slow)
        landed(self);
    for (;;)
        to = raw_switch(self, (claim(to), to), sc_val);
}

static int scratch_ready(void)
{
    if (weft__th.scratch)
        return 0;
    weft__stack st;
    if (weft__stack_get(&st, WEFT_STACK_MIN) != 0)
        return -1;
    weft_co *sc = (weft_co *)(((uintptr_t)weft__stack_hi(&st) - sizeof(weft_co)) & ~(uintptr_t)63);
    memset(sc, 0, sizeof *sc);
    sc->state = ST_ACTIVE;
    sc->kind = WEFT_STACK_PRIVATE;
    sc->slow = (uint8_t)weft__tools_fibers;
    sc->u.stack = st;
    sc->sp = weft__ctx_make(weft__co_hi(sc), scratch_main, sc);
    weft__th.scratch = sc;
    return 0;
}

/* Makes sure the switch from `from` to `to` cannot fail for want of memory:
 * room for the image of the coroutine that `to` will evict. Changes nothing
 * visible. Returns 0, or -1 with errno ENOMEM. */
/* Room for the image of `from`, which is still running: its frames will
 * end a little below this function's. */
static int reserve_running(weft_co *from)
{
    weft__shared *s = from->u.sh.on;
    char *here = (char *)__builtin_frame_address(0) - FRAME_SLACK;
    size_t len = (size_t)(s->hi - (here < s->lo ? s->lo : here));
    return weft__image_reserve(&from->u.sh.image, len, WEFT_INL_CAP);
}

static int prepare(weft_co *from, weft_co *to)
{
    /* Under ASan a shared coroutine is saved whenever it leaves. */
    if (weft__tools_asan && from->kind == WEFT_STACK_SHARED && from->state != ST_DEAD &&
        reserve_running(from) != 0)
        return -1;
    if (to->kind != WEFT_STACK_SHARED)
        return 0;
    weft__shared *s = to->u.sh.on;
    weft_co *o = s->owner;
    if (o == to || o == NULL || o->state == ST_DEAD)
        return 0;
    if (o == from)
        return scratch_ready() != 0 || reserve_running(from) != 0 ? -1 : 0;
    return weft__image_reserve(&o->u.sh.image, (size_t)(s->hi - frames_lo(o)), WEFT_INL_CAP);
}

static __attribute__((noinline)) void *switch_slow(weft_co *from, weft_co *to, void *val)
{
    if (to->kind == WEFT_STACK_SHARED && to->u.sh.on->owner != to) {
        if (on_same_shared(from, to)) {
            sc_from = from;
            sc_val = val;
            return raw_switch(from, weft__th.scratch, to);
        }
        claim(to);
    }
    return raw_switch(from, to, val);
}

static inline void *switch_to(weft_co *from, weft_co *to, void *val)
{
    if (likely(!to->slow))
        return weft__ctx_switch(&from->sp, to->sp, val);
    return switch_slow(from, to, val);
}

/* A switch that has no caller to report ENOMEM to. */
static void *switch_or_die(weft_co *from, weft_co *to, void *val)
{
    if (unlikely(to->slow) && prepare(from, to) != 0)
        weft__co_die(from, "out of memory saving a shared stack");
    return switch_to(from, to, val);
}

void *weft__co_jump(weft_co *to, void *val)
{
    weft_co *from = weft__th.cur;
    if (to->state == ST_CREATED)
        to->state = ST_ACTIVE;
    weft__th.cur = to;
    return switch_or_die(from, to, val);
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
            put_out(co->resumer, co->out_slot, ret);
        val = (void *)0;
    }
    weft_co *to = co->resumer;
    weft__th.cur = to;
    switch_or_die(co, to, val);
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
    co->sp = weft__ctx_make(weft__co_hi(co), co_main, co);
    return co;
}

static weft_co *new_shared(size_t size)
{
    weft_co *cur = weft__th.cur;
    weft__shared *s = weft__shared_pick(size, cur->kind == WEFT_STACK_SHARED ? cur->u.sh.on : NULL);
    if (s == NULL)
        return NULL;
    weft_co *co = malloc(WEFT_SHARED_BLOCK);
    if (co == NULL) {
        weft__shared_drop(s);
        errno = ENOMEM;
        return NULL;
    }
    co->kind = WEFT_STACK_SHARED;
    co->u.sh.on = s;
    co->u.sh.image = (weft__image){.ext = NULL, .len = 0, .ext_cap = 0};
    co->sp = s->hi;
    if (image_push_context(co, co_main) != 0) {
        weft__shared_drop(s);
        free(co);
        errno = ENOMEM;
        return NULL;
    }
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
        if (s->owner == co)
            s->owner = NULL;
        weft__shared_drop(s);
        weft__image_free(&co->u.sh.image);
        free(co);
        shared_gone();
    } else {
        weft__stack_put(&co->u.stack);
    }
}

weft_co *weft_co_new(weft_fn fn, void *arg, const weft_opts *opts)
{
    if (unlikely(weft__th.cur == NULL))
        weft__thread_init();
    size_t size = __atomic_load_n(&default_size, __ATOMIC_RELAXED);
    int kind = WEFT_STACK_AUTO;
    const char *name = NULL;
    if (opts) {
        if (opts->stack_size) {
            if (!check_size(opts->stack_size))
                goto invalid;
            size = opts->stack_size;
        }
        kind = opts->stack_kind;
        name = opts->name;
    }
    if (kind == WEFT_STACK_AUTO)
        kind = __atomic_load_n(&default_kind, __ATOMIC_RELAXED);
    if (fn == NULL || (kind != WEFT_STACK_PRIVATE && kind != WEFT_STACK_SHARED))
        goto invalid;

    size_t page = weft__page_size();
    size = (size + page - 1) & ~(page - 1);
    weft_co *co = kind == WEFT_STACK_PRIVATE ? new_private(size) : new_shared(size);
    if (co == NULL)
        return NULL;
    co->resumer = NULL;
    co->out_slot = NULL;
    co->state = ST_CREATED;
    co->slow = (uint8_t)(weft__tools_fibers || kind == WEFT_STACK_SHARED);
    co->task = 0;
    co->id = new_id();
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
        if (!weft__tools_asan && co->kind == WEFT_STACK_SHARED && !on_same_shared(from, co)) {
            /* The common case of shared stacks (a driver on another stack
             * resuming coroutines in turn): bring co's frames back here,
             * then take the bare switch. */
            if (claim_from_elsewhere(co) != 0)
                return -1;
        } else if (prepare(from, co) != 0) {
            return -1;
        }
    }
    co->resumer = from;
    co->out_slot = out;
    co->state = ST_ACTIVE;
    weft__th.cur = co;
    /* 1 from its yield, 0 from its return; the value went to *out. */
    return (int)(intptr_t)switch_to(from, co, in);
invalid:
    errno = EINVAL;
    return -1;
}

int weft_co_send(weft_co *co, void *in, void **out)
{
    weft_co *from = weft__th.cur;
    /* Separate byte loads (atomic, relaxed: plain moves) so the compiler
     * does not merge them into one wider load, which would stall on the
     * byte store of state made by the switch that stopped co. */
    if (likely(co != NULL && from != NULL &&
               __atomic_load_n(&co->state, __ATOMIC_RELAXED) == ST_SUSPENDED &&
               !__atomic_load_n(&co->slow, __ATOMIC_RELAXED))) {
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
    if (prepare(self, to) != 0)
        return NULL;
    if (self->out_slot)
        put_out(to, self->out_slot, out);
    self->state = ST_SUSPENDED;
    weft__th.cur = to;
    return switch_slow(self, to, (void *)1);
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
        if (image_push_context(co, co_unwind) != 0 || prepare(from, co) != 0) {
            /* No memory to bring its frames back: run them from here. */
            weft__defer_run(&co->defers);
            co->state = ST_DEAD;
            return;
        }
    } else {
        char *top = frames_lo(co) - 16;
        weft__tools_writable(top - WEFT_ARCH_FRAME - 32, WEFT_ARCH_FRAME + 32);
        co->sp = weft__ctx_make(top, co_unwind, co);
    }
    co->resumer = from;
    co->out_slot = NULL;
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
