/* The slow path of the spinlock (spin.h). */
#include "base/spin.h"

#include <sched.h>

void weft__spin_wait(int *l)
{
    for (unsigned n = 0;; n++) {
        while (__atomic_load_n(l, __ATOMIC_RELAXED)) {
            if (n++ < 64) {
#if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
#elif defined(__aarch64__)
                __asm__ __volatile__("yield");
#endif
            } else {
                sched_yield();
            }
        }
        if (!__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
            return;
    }
}
