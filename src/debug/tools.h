/* Annotations for the tools that watch memory: AddressSanitizer (found at
 * run time through weak references, so an ordinary build of weft serves a
 * sanitized program) and valgrind (client requests, free when not under
 * valgrind). */
#ifndef WEFT_TOOLS_H
#define WEFT_TOOLS_H

#include <stddef.h>

/* Nonzero when the ASan runtime is in the process, or the process runs
 * under valgrind; set once by weft__tools_init. */
extern int weft__tools_asan;
extern int weft__tools_valgrind;

/* Looks for the sanitizer runtime; idempotent. */
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

#endif
