/* A spinlock of one int, for the few instructions that tasks of several
 * worker threads spend on a shared object (a channel, a lock, a queue of
 * unstarted tasks). Taking a free lock is one atomic exchange; a waiter
 * spins briefly, then yields the CPU, so that a holder preempted on a
 * machine with fewer cores than workers gets to finish. */
#ifndef WEFT_SPIN_H
#define WEFT_SPIN_H

#include "base/compiler.h"

void weft__spin_wait(int *l);

/* Tells the CPU that this is a spin-wait loop. */
static inline void weft__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static inline void weft__spin_lock(int *l)
{
    if (likely(!__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE)))
        return;
    weft__spin_wait(l);
}

static inline void weft__spin_unlock(int *l)
{
    __atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

#endif
