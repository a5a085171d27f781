// Peer: Boost.Context's fcontext, the bare assembly switch under
// boost::context. Two modes:
//   peer_fcontext switch [round_trips] [runs]  ping-pong, as bench/switch.c
//   peer_fcontext create [coroutines] [runs]   make_fcontext on a malloc'd
//       stack of WEFT_STACK_DEFAULT bytes, run to completion, free
// One round trip is two jump_fcontext calls.
#include <boost/context/detail/fcontext.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "../bench.h"
#include "weft.h"

namespace ctx = boost::context::detail;

namespace
{

const long kSwitchWarmup = 10000;
const long kCreateWarmup = 1000;

void echo(ctx::transfer_t t)
{
    for (;;) {
        std::uintptr_t v = reinterpret_cast<std::uintptr_t>(t.data);
        t = ctx::jump_fcontext(t.fctx, reinterpret_cast<void *>(v + 1));
    }
}

// Runs once and jumps back for good: the context is abandoned and its
// stack freed by the caller, which is how a finished fcontext ends.
void once(ctx::transfer_t t)
{
    std::uintptr_t v = reinterpret_cast<std::uintptr_t>(t.data);
    ctx::jump_fcontext(t.fctx, reinterpret_cast<void *>(v + 1));
}

int bench_switch(long n, int runs)
{
    std::size_t size = WEFT_STACK_DEFAULT;
    char *stack = static_cast<char *>(std::malloc(size));
    if (stack == nullptr) {
        std::perror("peer_fcontext");
        return 1;
    }
    ctx::transfer_t t = ctx::jump_fcontext(ctx::make_fcontext(stack + size, size, echo), nullptr);
    std::uintptr_t sum = 0;
    for (long i = 0; i < kSwitchWarmup; i++) {
        t = ctx::jump_fcontext(t.fctx, reinterpret_cast<void *>(i));
        sum += reinterpret_cast<std::uintptr_t>(t.data);
    }
    double ns[BENCH_MAX_RUNS];
    for (int r = 0; r < runs; r++) {
        double t0 = bench_now_ns();
        for (long i = 0; i < n; i++) {
            t = ctx::jump_fcontext(t.fctx, reinterpret_cast<void *>(i));
            sum += reinterpret_cast<std::uintptr_t>(t.data);
        }
        ns[r] = (bench_now_ns() - t0) / (2.0 * static_cast<double>(n));
    }
    volatile std::uintptr_t sink = sum;
    (void)sink;
    std::free(stack);
    bench_report("ns_per_switch", ns, runs, n);
    return 0;
}

std::uintptr_t cycle(long i)
{
    std::size_t size = WEFT_STACK_DEFAULT;
    char *stack = static_cast<char *>(std::malloc(size));
    if (stack == nullptr) {
        std::perror("peer_fcontext");
        std::exit(1);
    }
    ctx::fcontext_t c = ctx::make_fcontext(stack + size, size, once);
    ctx::transfer_t t = ctx::jump_fcontext(c, reinterpret_cast<void *>(i));
    std::free(stack);
    return reinterpret_cast<std::uintptr_t>(t.data);
}

int bench_create(long n, int runs)
{
    std::uintptr_t sum = 0;
    for (long i = 0; i < kCreateWarmup; i++)
        sum += cycle(i);
    double ns[BENCH_MAX_RUNS];
    for (int r = 0; r < runs; r++) {
        double t0 = bench_now_ns();
        for (long i = 0; i < n; i++)
            sum += cycle(i);
        ns[r] = (bench_now_ns() - t0) / static_cast<double>(n);
    }
    volatile std::uintptr_t sink = sum;
    (void)sink;
    bench_report("ns_per_coroutine", ns, runs, n);
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    bool create = argc > 1 && std::strcmp(argv[1], "create") == 0;
    if (argc < 2 || (!create && std::strcmp(argv[1], "switch") != 0)) {
        std::fprintf(stderr, "usage: %s switch|create [iterations] [runs]\n", argv[0]);
        return 2;
    }
    long n = bench_count(argc - 1, argv + 1, 1, create ? 1000000 : 10000000);
    int runs = static_cast<int>(bench_count(argc - 1, argv + 1, 2, 5));
    if (runs > BENCH_MAX_RUNS)
        runs = BENCH_MAX_RUNS;
    return create ? bench_create(n, runs) : bench_switch(n, runs);
}
