/* The slow path of the spinlock (spin.h). */
#include "base/spin.h"

#include <sched.h>

void weft__spin_wait(int *l)
{
    for (unsigned n = 0;; n++) {
        while (__atomic_load_n(l, __ATOMIC_RELAXED)) {
            if (n++ < 64) {
                weft__cpu_relax();
            } else {
                sched_yield();
            }
        }
        if (!__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
            return;
    }
}
