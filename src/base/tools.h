/* Annotations for the tools that watch memory: AddressSanitizer and
 * ThreadSanitizer (found at run time through weak references, so an
 * ordinary build of weft serves a sanitized program) and valgrind (client
 * requests, free when not under valgrind). */
#ifndef WEFT_TOOLS_H
#define WEFT_TOOLS_H

#include <stddef.h>

/* Nonzero when the ASan runtime is in the process, the TSan runtime is, or
 * the process runs under valgrind; set once by weft__tools_init.
 * weft__tools_fibers is nonzero when every switch must be told to a
 * sanitizer (ASan or TSan): every coroutine then takes the slow path. */
extern int weft__tools_asan;
extern int weft__tools_tsan;
extern int weft__tools_fibers;
extern int weft__tools_valgrind;

/* Looks for the sanitizer runtime, once per process; idempotent and
 * thread-safe. */
void weft__tools_init(void);

unsigned weft__tools_stack_register(void *lo, void *hi);
void weft__tools_stack_unregister(unsigned id);

/* Tells ASan that memory may be used again (its shadow is stale). */
void weft__tools_unpoison_slow(const void *p, size_t n);
static inline void weft__tools_unpoison(const void *p, size_t n)
{
    if (__builtin_expect(weft__tools_asan, 0))
        weft__tools_unpoison_slow(p, n);
}

/* The frames of a stack are gone. */
static inline void weft__tools_stack_reset(const void *lo, size_t n)
{
    weft__tools_unpoison(lo, n);
}

/* Stack memory below a stack pointer that is about to be written while
 * another stack runs (frames copied back, a context laid): valgrind holds
 * it inaccessible, ASan may hold it poisoned. */
void weft__tools_writable_slow(const void *p, size_t n);
static inline void weft__tools_writable(const void *p, size_t n)
{
    if (__builtin_expect(weft__tools_asan | weft__tools_valgrind, 0))
        weft__tools_writable_slow(p, n);
}

/* Marks memory as not to be touched (ASan), e.g. a saved stack region. */
void weft__tools_poison(const void *p, size_t n);

/* Brackets a switch to the stack [lo, lo + size): start before, finish
 * once back. A NULL fake_save at start says the leaving context is dead. */
void weft__tools_switch_start(void **fake_save, const void *lo, size_t size);
void weft__tools_switch_finish(void *fake_save, const void **old_lo, size_t *old_size);

/* TSan's fibers: the one running now (the thread's own at thread start),
 * a new one, and one no longer needed (not the running one). Only when
 * weft__tools_tsan. */
void *weft__tools_tsan_current(void);
void *weft__tools_tsan_new(const char *name);
void weft__tools_tsan_free(void *fiber);

/* The switch to a fiber, made right before the register switch, with flags
 * 0 (synchronising: the switch is a happens-before edge). Inline, never a
 * call: TSan would see the call enter on one fiber and return on the other,
 * and its shadow call stack of the new fiber would underflow. */
void __tsan_switch_to_fiber(void *fiber, unsigned flags) __attribute__((weak));
static inline __attribute__((always_inline)) void weft__tools_tsan_switch(void *fiber)
{
    __tsan_switch_to_fiber(fiber, 0);
}

#endif
