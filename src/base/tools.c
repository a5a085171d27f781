#include "base/tools.h"

#include <pthread.h>

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

/* Defined by the TSan runtime when the program was built with
 * -fsanitize=thread; NULL otherwise. */
void *__tsan_get_current_fiber(void) __attribute__((weak));
void *__tsan_create_fiber(unsigned flags) __attribute__((weak));
void __tsan_destroy_fiber(void *fiber) __attribute__((weak));
void __tsan_set_fiber_name(void *fiber, const char *name) __attribute__((weak));

int weft__tools_asan;
int weft__tools_tsan;
int weft__tools_fibers;
int weft__tools_valgrind;

static pthread_once_t tools_once = PTHREAD_ONCE_INIT;

static void tools_init_once(void)
{
#ifdef WEFT_HAVE_VALGRIND_H
    weft__tools_valgrind = RUNNING_ON_VALGRIND != 0;
#endif
    weft__tools_asan = __sanitizer_start_switch_fiber != NULL &&
                       __sanitizer_finish_switch_fiber != NULL &&
                       __asan_unpoison_memory_region != NULL;
    weft__tools_tsan = __tsan_get_current_fiber != NULL && __tsan_create_fiber != NULL &&
                       __tsan_destroy_fiber != NULL && __tsan_switch_to_fiber != NULL;
    weft__tools_fibers = weft__tools_asan | weft__tools_tsan;
}

/* Once: threads that start together would otherwise all write the flags
 * while others read them (the same values, but a data race). */
void weft__tools_init(void)
{
    pthread_once(&tools_once, tools_init_once);
}

/* The arguments are marked used in every build: on a platform valgrind
 * does not support (riscv64), its macros expand to nothing that uses them. */
unsigned weft__tools_stack_register(void *lo, void *hi)
{
    (void)lo;
    (void)hi;
#ifdef WEFT_HAVE_VALGRIND_H
    return VALGRIND_STACK_REGISTER(lo, hi);
#else
    return 0;
#endif
}

void weft__tools_stack_unregister(unsigned id)
{
    (void)id;
#ifdef WEFT_HAVE_VALGRIND_H
    VALGRIND_STACK_DEREGISTER(id);
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

void *weft__tools_tsan_current(void)
{
    return __tsan_get_current_fiber();
}

void *weft__tools_tsan_new(const char *name)
{
    void *f = __tsan_create_fiber(0);
    if (f && name && __tsan_set_fiber_name)
        __tsan_set_fiber_name(f, name);
    return f;
}

void weft__tools_tsan_free(void *fiber)
{
    __tsan_destroy_fiber(fiber);
}
