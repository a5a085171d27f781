/* The C side of the context switch: three functions and a few constants.
 * Each ABI's assembly lives in its own file beside this one. Supported:
 * x86_64 System V (switch_x86_64_sysv_elf.S), aarch64 AAPCS64
 * (switch_aarch64_aapcs_elf.S) and riscv64 LP64D, that is RV64 with double
 * floating-point registers (switch_riscv64_lp64d_elf.S), all ELF on Linux. */
#ifndef WEFT_ARCH_H
#define WEFT_ARCH_H

#include <stdint.h>
#include <ucontext.h>

/* Saves the caller's context into *save, switches to the context whose
 * stack pointer is `to`, and returns `val` there. */
void *weft__ctx_switch(void **save, void *to, void *val);

/* The same switch, for a caller that returns what comes back as an int
 * (weft_co_send tail-calls it: 1 from a yield, 0 from a return). */
int weft__ctx_resume(void **save, void *to, void *val) __asm__("weft__ctx_switch");

/* Lays a context at `top` (the high end of a stack) that will call
 * fn(arg, val) on its first switch; returns its stack pointer. */
void *weft__ctx_make(void *top, void (*fn)(void *arg, void *val), void *arg);

#if defined(__x86_64__) && defined(__LP64__)
/* Bytes below a saved stack pointer that the switch uses (red zone). */
#define WEFT_ARCH_BELOW_SP 8
/* Bytes of a saved context at and above its stack pointer. */
#define WEFT_ARCH_FRAME 56
static inline uintptr_t weft__arch_fault_sp(const ucontext_t *uc)
{
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
}
#elif defined(__aarch64__) && defined(__LP64__)
#define WEFT_ARCH_BELOW_SP 0
#define WEFT_ARCH_FRAME 176
static inline uintptr_t weft__arch_fault_sp(const ucontext_t *uc)
{
    return (uintptr_t)uc->uc_mcontext.sp;
}
#elif defined(__riscv) && __riscv_xlen == 64 && defined(__riscv_float_abi_double)
#define WEFT_ARCH_BELOW_SP 0
#define WEFT_ARCH_FRAME 208
static inline uintptr_t weft__arch_fault_sp(const ucontext_t *uc)
{
    return (uintptr_t)uc->uc_mcontext.__gregs[REG_SP];
}
#else
#error "weft: unsupported architecture"
#endif

#endif
