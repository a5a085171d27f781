/* The context switch keeps the ABI: each coroutine has its own floating
 * point rounding mode, the stack is aligned at the call of fn (and in
 * handlers run while freeing), and callee-saved registers survive switches.
 * Built with -O2 so that values live in registers across the yields. */
#include <fenv.h>
#include <math.h>
#include <stdarg.h>
#include <weft.h>

#include "check.h"

/* ---- rounding modes ----------------------------------------------------- */

static volatile double one = 1.0, three = 3.0;
static volatile long double lone = 1.0L, lthree = 3.0L;
static double q_down, q_up, q_near;
static long double lq_down, lq_up, lq_near;

static void quotients(double *q, long double *lq)
{
    *q = one / three;
    *lq = lone / lthree;
}

/* valgrind keeps the rounding mode registers but computes SSE arithmetic
 * to nearest whatever they say: there only fegetround is checked. */
static int computes;

static void check_mode(int mode)
{
    CHECK_INT(fegetround(), mode);
    if (!computes)
        return;
    double q;
    long double lq;
    quotients(&q, &lq);
    double want = mode == FE_UPWARD ? q_up : mode == FE_DOWNWARD ? q_down : q_near;
    long double lwant = mode == FE_UPWARD ? lq_up : mode == FE_DOWNWARD ? lq_down : lq_near;
    CHECK(q == want);
    CHECK(lq == lwant);
    CHECK(rint(2.5) == (mode == FE_UPWARD ? 3.0 : 2.0));
    CHECK(nearbyint(-0.5) == (mode == FE_DOWNWARD ? -1.0 : -0.0));
}

static void *rounding(void *arg)
{
    int mode = (int)(intptr_t)arg;
    CHECK_INT(fegetround(), FE_TONEAREST); /* inherited from the creator */
    CHECK_INT(fesetround(mode), 0);
    for (int i = 0; i < 20; i++) {
        check_mode(mode);
        weft_co_yield(NULL);
        check_mode(mode);
    }
    return NULL;
}

static void test_rounding(void)
{
    CHECK_INT(fesetround(FE_DOWNWARD), 0);
    quotients(&q_down, &lq_down);
    CHECK_INT(fesetround(FE_UPWARD), 0);
    quotients(&q_up, &lq_up);
    CHECK_INT(fesetround(FE_TONEAREST), 0);
    quotients(&q_near, &lq_near);
    computes = !test_under_is("valgrind");
    if (computes) {
        CHECK(q_down < q_up); /* the measure can tell the modes apart */
        CHECK(lq_down < lq_up);
    }

    weft_co *up = weft_co_new(rounding, (void *)(intptr_t)FE_UPWARD, NULL);
    weft_co *down = weft_co_new(rounding, (void *)(intptr_t)FE_DOWNWARD, NULL);
    int ru = 1, rd = 1;
    while (ru == 1 || rd == 1) {
        if (ru == 1)
            ru = weft_co_send(up, NULL, NULL);
        check_mode(FE_TONEAREST);
        if (rd == 1)
            rd = weft_co_send(down, NULL, NULL);
        check_mode(FE_TONEAREST);
    }
    CHECK_INT(ru, 0);
    CHECK_INT(rd, 0);
    weft_co_free(up);
    weft_co_free(down);
}

/* ---- alignment ---------------------------------------------------------- */

static __attribute__((noinline)) int format(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

static char expected_text[256];

static __attribute__((noinline)) void check_alignment(void)
{
    CHECK_INT((uintptr_t)__builtin_frame_address(0) % 16, 0);
    _Alignas(32) char a32[32];
    double __attribute__((aligned(16))) d16[2] = {1.5, 2.5};
    __asm__ volatile("" : : "r"(a32), "r"(d16) : "memory");
    CHECK_INT((uintptr_t)a32 % 32, 0);
    CHECK_INT((uintptr_t)d16 % 16, 0);
    char buf[256];
    format(buf, sizeof buf, "%.3f %g %.10Lf %Lg %e %d", d16[0] * 0.1, d16[1], 1.0L / 3.0L,
           (long double)12345.678, 6.02e23, 42);
    CHECK_STR(buf, expected_text);
}

static void aligned_handler(void *arg)
{
    (void)arg;
    check_alignment();
}

static void *aligned_body(void *arg)
{
    (void)arg;
    CHECK_INT((uintptr_t)__builtin_frame_address(0) % 16, 0);
    check_alignment();
    CHECK_INT(weft_co_defer(aligned_handler, NULL), 0);
    weft_co_yield(NULL);
    check_alignment();
    weft_co_yield(NULL);
    return NULL;
}

static void test_alignment(void)
{
    format(expected_text, sizeof expected_text, "%.3f %g %.10Lf %Lg %e %d", 1.5 * 0.1, 2.5,
           1.0L / 3.0L, (long double)12345.678, 6.02e23, 42);
    check_alignment();
    /* Run to the end (handler at return) and freed while suspended
     * (handler on the unwound stack). */
    for (int freed_early = 0; freed_early < 2; freed_early++) {
        weft_co *co = weft_co_new(aligned_body, NULL, NULL);
        CHECK_INT(weft_co_send(co, NULL, NULL), 1);
        CHECK_INT(weft_co_send(co, NULL, NULL), 1);
        if (!freed_early)
            CHECK_INT(weft_co_send(co, NULL, NULL), 0);
        weft_co_free(co);
    }
}

/* ---- callee-saved registers --------------------------------------------- */

typedef struct regs_arg {
    long seed;
    int rounds;
    long result;
} regs_arg;

static __attribute__((noinline)) unsigned long mix(unsigned long x)
{
    __asm__ volatile("" : "+r"(x));
    return x * 6364136223846793005UL + 1442695040888963407UL;
}

/* Sixteen integers and eight doubles, all live across every yield. */
#define LIVE_BODY(seed, rounds, yield_stmt, result)                                                \
    do {                                                                                           \
        unsigned long a = mix((unsigned long)(seed)), b = mix(a), c = mix(b), d = mix(c),          \
                      e = mix(d), f = mix(e);                                                      \
        unsigned long g = mix(f), h = mix(g), i = mix(h), j = mix(i), k = mix(j), l = mix(k);      \
        unsigned long m = mix(l), n = mix(m), o = mix(n), p = mix(o);                              \
        double x1 = (double)(a & 0xff), x2 = (double)(b & 0xff), x3 = (double)(c & 0xff);          \
        double x4 = (double)(d & 0xff), x5 = (double)(e & 0xff), x6 = (double)(f & 0xff);          \
        double x7 = (double)(g & 0xff), x8 = (double)(h & 0xff);                                   \
        for (int r = 0; r < (rounds); r++) {                                                       \
            yield_stmt;                                                                            \
            a += b ^ (unsigned long)r;                                                             \
            b += c;                                                                                \
            c ^= d;                                                                                \
            d += e;                                                                                \
            e ^= f;                                                                                \
            f += g;                                                                                \
            g ^= h;                                                                                \
            h += i;                                                                                \
            i ^= j;                                                                                \
            j += k;                                                                                \
            k ^= l;                                                                                \
            l += m;                                                                                \
            m ^= n;                                                                                \
            n += o;                                                                                \
            o ^= p;                                                                                \
            p += a;                                                                                \
            x1 = x1 * 0.5 + x2;                                                                    \
            x2 = x2 * 0.25 + x3;                                                                   \
            x3 = x3 * 0.5 + x4;                                                                    \
            x4 = x4 * 0.75 + x5;                                                                   \
            x5 = x5 * 0.5 + x6;                                                                    \
            x6 = x6 * 0.25 + x7;                                                                   \
            x7 = x7 * 0.5 + x8;                                                                    \
            x8 = x8 * 0.125 + x1;                                                                  \
        }                                                                                          \
        result = (long)(a ^ b ^ c ^ d ^ e ^ f ^ g ^ h ^ i ^ j ^ k ^ l ^ m ^ n ^ o ^ p);            \
        result ^= (long)(x1 + x2 * 3 + x3 * 5 + x4 * 7 + x5 * 11 + x6 * 13 + x7 * 17 + x8 * 19);   \
    } while (0)

static __attribute__((noinline)) long live_plain(long seed, int rounds)
{
    long result;
    LIVE_BODY(seed, rounds, __asm__ volatile("" ::: "memory"), result);
    return result;
}

static __attribute__((noinline)) long live_yielding(long seed, int rounds)
{
    long result;
    LIVE_BODY(seed, rounds, weft_co_yield(NULL), result);
    return result;
}

static void *regs_body(void *arg)
{
    regs_arg *ra = arg;
    ra->result = live_yielding(ra->seed, ra->rounds);
    return &ra->result;
}

/* The driver keeps its own live values while it switches. */
static __attribute__((noinline)) void drive_pair(weft_co *x, weft_co *y, long *rx, long *ry)
{
    long result;
    int sx = 1, sy = 1;
    void *ox = NULL, *oy = NULL;
    LIVE_BODY(99, 1000, if (sx == 1) sx = weft_co_send(x, NULL, &ox);
              if (sy == 1) sy = weft_co_send(y, NULL, &oy), result);
    CHECK_INT(result, live_plain(99, 1000));
    while (sx == 1)
        sx = weft_co_send(x, NULL, &ox);
    while (sy == 1)
        sy = weft_co_send(y, NULL, &oy);
    CHECK_INT(sx, 0);
    CHECK_INT(sy, 0);
    *rx = *(long *)ox;
    *ry = *(long *)oy;
}

static void *regs_outer(void *arg)
{
    /* Drives two more from inside a coroutine: three levels of switching. */
    regs_arg *ra = arg;
    regs_arg a = {ra->seed + 1, 300, 0}, b = {ra->seed + 2, 5000, 0};
    weft_co *x = weft_co_new(regs_body, &a, NULL);
    weft_co *y = weft_co_new(regs_body, &b, NULL);
    long rx, ry;
    drive_pair(x, y, &rx, &ry);
    CHECK_INT(rx, live_plain(a.seed, a.rounds));
    CHECK_INT(ry, live_plain(b.seed, b.rounds));
    weft_co_free(x);
    weft_co_free(y);
    return NULL;
}

static void test_registers(void)
{
    regs_arg a = {1, 700, 0}, b = {2, 1200, 0};
    weft_co *x = weft_co_new(regs_body, &a, NULL);
    weft_co *y = weft_co_new(regs_body, &b, NULL);
    long rx, ry;
    drive_pair(x, y, &rx, &ry);
    CHECK_INT(rx, live_plain(a.seed, a.rounds));
    CHECK_INT(ry, live_plain(b.seed, b.rounds));
    weft_co_free(x);
    weft_co_free(y);

    regs_arg c = {10, 0, 0};
    weft_co *outer = weft_co_new(regs_outer, &c, NULL);
    CHECK_INT(weft_co_send(outer, NULL, NULL), 0);
    weft_co_free(outer);
}

int main(void)
{
    test_rounding();
    test_alignment();
    test_registers();
    return 0;
}
