#include "debug/tools.h"

#ifdef WEFT_HAVE_VALGRIND_H
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#endif

/* Defined by the ASan runtime when the program was built with
 * -fsanitize=address; NULL otherwise. */
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size)
    __attribute__((weak));
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                     size_t *size_old) __attribute__((weak));
void __asan_unpoison_memory_region(void const volatile *addr, size_t size) __attribute__((weak));
void __asan_poison_memory_region(void const volatile *addr, size_t size) __attribute__((weak));

int weft__tools_asan;
int weft__tools_valgrind;

void weft__tools_init(void)
{
#ifdef WEFT_HAVE_VALGRIND_H
    weft__tools_valgrind = RUNNING_ON_VALGRIND != 0;
#endif
    weft__tools_asan = __sanitizer_start_switch_fiber != NULL &&
                       __sanitizer_finish_switch_fiber != NULL &&
                       __asan_unpoison_memory_region != NULL;
}

unsigned weft__tools_stack_register(void *lo, void *hi)
{
#ifdef WEFT_HAVE_VALGRIND_H
    return VALGRIND_STACK_REGISTER(lo, hi);
#else
    (void)lo;
    (void)hi;
    return 0;
#endif
}

void weft__tools_stack_unregister(unsigned id)
{
#ifdef WEFT_HAVE_VALGRIND_H
    VALGRIND_STACK_DEREGISTER(id);
#else
    (void)id;
#endif
}

void weft__tools_unpoison_slow(const void *p, size_t n)
{
    if (weft__tools_asan)
        __asan_unpoison_memory_region(p, n);
}

void weft__tools_writable_slow(const void *p, size_t n)
{
#ifdef WEFT_HAVE_VALGRIND_H
    VALGRIND_MAKE_MEM_UNDEFINED(p, n);
#endif
    weft__tools_unpoison(p, n);
}

void weft__tools_poison(const void *p, size_t n)
{
    if (weft__tools_asan && __asan_poison_memory_region)
        __asan_poison_memory_region(p, n);
}

void weft__tools_switch_start(void **fake_save, const void *lo, size_t size)
{
    __sanitizer_start_switch_fiber(fake_save, lo, size);
}

void weft__tools_switch_finish(void *fake_save, const void **old_lo, size_t *old_size)
{
    __sanitizer_finish_switch_fiber(fake_save, old_lo, old_size);
}
