/* The switch paths of the co layer, for co.c and switch.c. */
#ifndef WEFT_SWITCH_H
#define WEFT_SWITCH_H

#include "arch/arch.h"
#include "co/co.h"

/* The lowest byte of a suspended coroutine's frames. */
static inline char *weft__frames_lo(const weft_co *co)
{
    return (char *)co->sp - WEFT_ARCH_BELOW_SP;
}

static inline int weft__on_same_shared(const weft_co *a, const weft_co *b)
{
    return a->kind == WEFT_STACK_SHARED && b->kind == WEFT_STACK_SHARED && a->u.sh.on == b->u.sh.on;
}

/* The switch to `to` when it is slow: sanitizer annotations, and its
 * frames brought back to its shared stack. Cannot fail after
 * weft__prepare. Returns the value of the switch that comes back. */
void *weft__switch_slow(weft_co *from, weft_co *to, void *val);

static inline void *weft__switch_to(weft_co *from, weft_co *to, void *val)
{
    if (__builtin_expect(!to->slow, 1))
        return weft__ctx_switch(&from->sp, to->sp, val);
    return weft__switch_slow(from, to, val);
}

/* Makes sure the switch from `from` to `to` cannot fail for want of
 * memory (room for the image of whoever `to` displaces), and places a
 * shared coroutine that has not run yet. Returns 0, or -1 with errno
 * ENOMEM having changed nothing visible. */
int weft__prepare(weft_co *from, weft_co *to);

/* weft__prepare and the switch, for callers with nobody to report ENOMEM
 * to: aborts instead. */
void *weft__switch_or_die(weft_co *from, weft_co *to, void *val);

/* Brings a shared coroutine's frames back from a caller on another stack,
 * making room for the displaced owner's first. Returns 0, or -1 with errno
 * ENOMEM having changed nothing. */
int weft__claim_from_elsewhere(weft_co *to);

/* Stores a value yielded or returned to `to` in its out slot, once its
 * frames (where the slot lives) are in place. */
void weft__put_out(const weft_co *to, void **slot, void *val);

/* The entry of every coroutine (co.c). */
void weft__co_main(void *arg, void *val);

/* First thing on arrival in a coroutine after an annotated switch. */
void weft__landed(weft_co *self);

/* Frees this thread's scratch context (thread exit). */
void weft__switch_thread_exit(void);

#endif
