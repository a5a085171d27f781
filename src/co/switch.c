/* The switch paths that need more than the bare register switch: the
 * sanitizer annotations around it, and shared stacks, whose frames are
 * copied back before a coroutine runs (from another stack, or through the
 * scratch context when two coroutines of one stack hand over). */
#include <string.h>

#include "arch/arch.h"
#include "co/co.h"
#include "co/switch.h"
#include "base/tools.h"

/* Headroom for the frames a running coroutine pushes between making room
 * for its own image (weft__prepare) and switching, a few small calls (more
 * under the sanitizers, whose switch makes calls of its own). */
#define SWITCH_SLACK (weft__tools_fibers ? 1024 : 256)

static void evict(weft_co *o, weft__shared *s)
{
    size_t len = (size_t)(s->hi - weft__frames_lo(o));
    /* Room was made before the switch; frames deeper than foreseen take
     * more, which only a process out of memory cannot have. */
    if (!weft__image_fits(&o->u.sh.image, len, WEFT_INL_CAP) &&
        weft__image_reserve(&o->u.sh.image, len, WEFT_INL_CAP) != 0)
        weft__co_die(o, "out of memory saving a shared stack");
    weft__image_save(&o->u.sh.image, weft__frames_lo(o), s->hi, weft__co_inl(o), WEFT_INL_CAP);
}

/* A value yielded or returned to a resumer whose frames are not on its
 * shared stack: its out slot is in those frames, so the value is written
 * once claim has brought them back (written earlier, it would land in the
 * frames of whoever holds the stack, and be overwritten by the restore). */
static __thread void **pending_slot __attribute__((tls_model("initial-exec")));
static __thread void *pending_val __attribute__((tls_model("initial-exec")));

void weft__put_out(const weft_co *to, void **slot, void *val)
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
    /* The scheduler never resumes a task onto a pinned stack. */
    if (unlikely(s->pinned))
        weft__co_die(to,
                     "resumed onto a shared stack whose owner lends its memory to another thread");
    if (o != NULL && o->state != ST_DEAD)
        evict(o, s);
    /* Under ASan an unowned stack is poisoned whole (see landed). */
    weft__tools_stack_reset(s->lo, (size_t)(s->hi - s->lo));
    if (to->sp == NULL) { /* its first run: a context at the top */
        weft__tools_writable(s->hi - WEFT_ARCH_FRAME - 64, WEFT_ARCH_FRAME + 64);
        to->sp = weft__ctx_make(s->hi, weft__co_main, to);
    } else {
        weft__image_restore(&to->u.sh.image, s->hi, weft__co_inl(to), WEFT_INL_CAP);
    }
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
int weft__claim_from_elsewhere(weft_co *to)
{
    weft__shared *s = to->u.sh.on;
    weft_co *o = s->owner;
    if (o == to)
        return 0;
    if (o != NULL && o->state != ST_DEAD &&
        weft__image_reserve(&o->u.sh.image, (size_t)(s->hi - weft__frames_lo(o)), WEFT_INL_CAP) !=
            0)
        return -1;
    claim(to);
    return 0;
}

int weft__co_copy(weft_co *co, void *at, void *buf, size_t n, int dir)
{
    weft__shared *s = co->kind == WEFT_STACK_SHARED ? co->u.sh.on : NULL;
    char *a = at;
    if (s == NULL || a < s->lo || a >= s->hi || s->owner == co)
        return 0;
    if (weft__image_access(&co->u.sh.image, weft__co_inl(co), WEFT_INL_CAP, s->hi, a, buf, n,
                           dir) != 0)
        weft__co_die(co, "use of memory below the frames of a suspended coroutine");
    return 1;
}

/* The longest chain of resumers whose stacks a new coroutine avoids. */
#define AVOID_MAX 16

/* Collects the shared stacks of c and its resumers into avoid. */
static size_t chain_stacks(const weft_co *c, weft__shared **avoid, size_t n)
{
    for (; c != NULL && n < AVOID_MAX; c = c->resumer)
        if (c->kind == WEFT_STACK_SHARED && c->u.sh.on)
            avoid[n++] = c->u.sh.on;
    return n;
}

/* The first switch to a shared coroutine settles it on a stack that holds
 * no frame of `from`'s chain or of its own resumer's, so that a resumer's
 * locals stay where they are while it runs; claim lays its first context
 * there. A task settled when spawned may be on its spawner's stack, which
 * the scratch context then hands over. */
int weft__co_settle(weft_co *co, const weft_co *from)
{
    weft__shared *avoid[AVOID_MAX];
    size_t n = chain_stacks(from, avoid, 0);
    if (co->resumer != from)
        n = chain_stacks(co->resumer, avoid, n);
    weft__shared *s = weft__shared_pick(co->stack_size, avoid, n);
    if (s == NULL)
        return -1;
    co->u.sh.on = s;
    return 0;
}

/* Under ASan, the coroutine that switched last; see landed. */
static __thread weft_co *leaving __attribute__((tls_model("initial-exec")));

/* First thing on arrival in `self` after an annotated switch. */
void weft__landed(weft_co *self)
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
     * suspended is reported instead of reading whatever runs there next;
     * not one that resumed self (its locals are self's to use while it
     * runs), nor one whose frames are pinned for another thread. */
    weft_co *o = leaving;
    if (o && o->kind == WEFT_STACK_SHARED && o->u.sh.on->owner == o && self != weft__th.scratch &&
        !weft__on_same_shared(o, self) && self->resumer != o && !o->u.sh.on->pinned) {
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
    weft__landed(from);
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
        weft__landed(self);
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
static int reserve_running(weft_co *from, size_t slack)
{
    weft__shared *s = from->u.sh.on;
    char *here = (char *)__builtin_frame_address(0) - slack;
    size_t len = (size_t)(s->hi - (here < s->lo ? s->lo : here));
    return weft__image_reserve(&from->u.sh.image, len, WEFT_INL_CAP);
}

static int prepare(weft_co *from, weft_co *to, size_t slack)
{
    /* Under ASan a shared coroutine is saved whenever it leaves. */
    if (weft__tools_asan && from->kind == WEFT_STACK_SHARED && from->state != ST_DEAD &&
        reserve_running(from, slack) != 0)
        return -1;
    if (to->kind != WEFT_STACK_SHARED)
        return 0;
    if (to->u.sh.on == NULL && weft__co_settle(to, from) != 0)
        return -1;
    weft__shared *s = to->u.sh.on;
    weft_co *o = s->owner;
    if (o == to || o == NULL || o->state == ST_DEAD)
        return 0;
    if (o == from)
        return scratch_ready() != 0 || reserve_running(from, slack) != 0 ? -1 : 0;
    return weft__image_reserve(&o->u.sh.image, (size_t)(s->hi - weft__frames_lo(o)), WEFT_INL_CAP);
}

int weft__prepare(weft_co *from, weft_co *to)
{
    return prepare(from, to, SWITCH_SLACK);
}

__attribute__((noinline)) void *weft__switch_slow(weft_co *from, weft_co *to, void *val)
{
    if (to->kind == WEFT_STACK_SHARED && to->u.sh.on->owner != to) {
        if (weft__on_same_shared(from, to)) {
            sc_from = from;
            sc_val = val;
            return raw_switch(from, weft__th.scratch, to);
        }
        claim(to);
    }
    return raw_switch(from, to, val);
}

/* A switch that has no caller to report ENOMEM to. */
void *weft__switch_or_die(weft_co *from, weft_co *to, void *val)
{
    if (unlikely(to->slow) && weft__prepare(from, to) != 0)
        weft__co_die(from, "out of memory saving a shared stack");
    return weft__switch_to(from, to, val);
}

int weft__co_prepare(weft_co *to)
{
    /* Twice the slack: the jump that follows prepares again from a few
     * frames deeper, and must find the room made here. */
    return prepare(weft__th.cur, to, 2 * SWITCH_SLACK);
}

void *weft__co_jump(weft_co *to, void *val)
{
    weft_co *from = weft__th.cur;
    if (to->state == ST_CREATED)
        to->state = ST_ACTIVE;
    weft__th.cur = to;
    return weft__switch_or_die(from, to, val);
}

void weft__switch_thread_exit(void)
{
    weft_co *sc = weft__th.scratch;
    if (sc == NULL)
        return;
    if (weft__tools_tsan && sc->tsan_fiber)
        weft__tools_tsan_free(sc->tsan_fiber);
    weft__stack_unmap(&sc->u.stack);
    weft__th.scratch = NULL;
}
