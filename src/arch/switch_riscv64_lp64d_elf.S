/*
 * Context switch for riscv64, LP64D ABI (RV64GC: hardware double floats),
 * ELF.
 *
 * A suspended context is a stack pointer. The 208 bytes at and above it:
 *
 *   offset  contents
 *     0     ra              weft__ctx_start for a new context
 *     8     s0 (fp)         0 for a new context: ends frame chains
 *    16     s1              argument of a new context
 *    24     s2              entry function of a new context
 *    32     s3 .. s11       nine words, up to offset 103
 *   104     fs0 .. fs11     twelve doubles, up to offset 199
 *   200     fcsr            rounding mode and accrued exception flags
 *
 * The stack pointer itself is the context; it stays 16-byte aligned, as
 * the ABI requires at every call. The other registers are caller-saved.
 */

    .text

/* void *weft__ctx_switch(void **save, void *to, void *val)
 * Saves the caller's context into *save, resumes `to`, and returns `val`
 * there. The CFI describes the frame of the context being saved, and after
 * the stack changes the same layout describes the target's: a debugger
 * stopped in either half unwinds to a caller. */
    .globl  weft__ctx_switch
    .hidden weft__ctx_switch
    .type   weft__ctx_switch, %function
    .p2align 2
weft__ctx_switch:
    .cfi_startproc
    addi    sp, sp, -208            /* room for the saved context */
    .cfi_adjust_cfa_offset 208
    sd      ra, 0(sp)               /* save the return address */
    .cfi_rel_offset ra, 0
    sd      s0, 8(sp)               /* save the frame pointer */
    .cfi_rel_offset s0, 8
    sd      s1, 16(sp)              /* save callee-saved s1 */
    sd      s2, 24(sp)              /* save s2 */
    sd      s3, 32(sp)              /* save s3 */
    sd      s4, 40(sp)              /* save s4 */
    sd      s5, 48(sp)              /* save s5 */
    sd      s6, 56(sp)              /* save s6 */
    sd      s7, 64(sp)              /* save s7 */
    sd      s8, 72(sp)              /* save s8 */
    sd      s9, 80(sp)              /* save s9 */
    sd      s10, 88(sp)             /* save s10 */
    sd      s11, 96(sp)             /* save s11 */
    fsd     fs0, 104(sp)            /* save callee-saved fs0 */
    fsd     fs1, 112(sp)            /* save fs1 */
    fsd     fs2, 120(sp)            /* save fs2 */
    fsd     fs3, 128(sp)            /* save fs3 */
    fsd     fs4, 136(sp)            /* save fs4 */
    fsd     fs5, 144(sp)            /* save fs5 */
    fsd     fs6, 152(sp)            /* save fs6 */
    fsd     fs7, 160(sp)            /* save fs7 */
    fsd     fs8, 168(sp)            /* save fs8 */
    fsd     fs9, 176(sp)            /* save fs9 */
    fsd     fs10, 184(sp)           /* save fs10 */
    fsd     fs11, 192(sp)           /* save fs11 */
    frcsr   t0                      /* read the floating-point control/status */
    sd      t0, 200(sp)             /* save it */
    sd      sp, 0(a0)               /* publish our stack pointer in *save */
    mv      sp, a1                  /* adopt the target's stack */
    ld      t0, 200(sp)             /* the target's floating-point control/status */
    fscsr   t0                      /* restore it */
    fld     fs0, 104(sp)            /* restore fs0 */
    fld     fs1, 112(sp)            /* restore fs1 */
    fld     fs2, 120(sp)            /* restore fs2 */
    fld     fs3, 128(sp)            /* restore fs3 */
    fld     fs4, 136(sp)            /* restore fs4 */
    fld     fs5, 144(sp)            /* restore fs5 */
    fld     fs6, 152(sp)            /* restore fs6 */
    fld     fs7, 160(sp)            /* restore fs7 */
    fld     fs8, 168(sp)            /* restore fs8 */
    fld     fs9, 176(sp)            /* restore fs9 */
    fld     fs10, 184(sp)           /* restore fs10 */
    fld     fs11, 192(sp)           /* restore fs11 */
    ld      s11, 96(sp)             /* restore s11 */
    ld      s10, 88(sp)             /* restore s10 */
    ld      s9, 80(sp)              /* restore s9 */
    ld      s8, 72(sp)              /* restore s8 */
    ld      s7, 64(sp)              /* restore s7 */
    ld      s6, 56(sp)              /* restore s6 */
    ld      s5, 48(sp)              /* restore s5 */
    ld      s4, 40(sp)              /* restore s4 */
    ld      s3, 32(sp)              /* restore s3 */
    ld      s2, 24(sp)              /* restore s2 */
    ld      s1, 16(sp)              /* restore s1 */
    ld      s0, 8(sp)               /* restore the frame pointer */
    .cfi_restore s0
    ld      ra, 0(sp)               /* the target's resume address */
    .cfi_restore ra
    addi    sp, sp, 208             /* drop the saved context */
    .cfi_adjust_cfa_offset -208
    mv      a0, a2                  /* hand the value across */
    ret                             /* continue where the target stopped */
    .cfi_endproc
    .size   weft__ctx_switch, .-weft__ctx_switch

/* void *weft__ctx_make(void *top, void (*fn)(void *arg, void *val), void *arg)
 * Lays a new context at the top of a stack and returns its stack pointer;
 * when first entered, sp is 16-byte aligned as the ABI requires. The
 * floating-point control/status is the caller's, as a new thread inherits
 * it. */
    .globl  weft__ctx_make
    .hidden weft__ctx_make
    .type   weft__ctx_make, %function
    .p2align 2
weft__ctx_make:
    .cfi_startproc
    andi    a0, a0, -16             /* align top down to 16 */
    addi    a0, a0, -208            /* room for one saved context */
    lla     t0, weft__ctx_start     /* address of the entry trampoline */
    sd      t0, 0(a0)               /* ra = trampoline */
    sd      zero, 8(a0)             /* s0 = 0 ends frame-pointer chains */
    sd      a2, 16(a0)              /* s1 = arg */
    sd      a1, 24(a0)              /* s2 = fn */
    sd      zero, 32(a0)            /* s3 = 0 */
    sd      zero, 40(a0)            /* s4 = 0 */
    sd      zero, 48(a0)            /* s5 = 0 */
    sd      zero, 56(a0)            /* s6 = 0 */
    sd      zero, 64(a0)            /* s7 = 0 */
    sd      zero, 72(a0)            /* s8 = 0 */
    sd      zero, 80(a0)            /* s9 = 0 */
    sd      zero, 88(a0)            /* s10 = 0 */
    sd      zero, 96(a0)            /* s11 = 0 */
    sd      zero, 104(a0)           /* fs0 = +0.0 */
    sd      zero, 112(a0)           /* fs1 = +0.0 */
    sd      zero, 120(a0)           /* fs2 = +0.0 */
    sd      zero, 128(a0)           /* fs3 = +0.0 */
    sd      zero, 136(a0)           /* fs4 = +0.0 */
    sd      zero, 144(a0)           /* fs5 = +0.0 */
    sd      zero, 152(a0)           /* fs6 = +0.0 */
    sd      zero, 160(a0)           /* fs7 = +0.0 */
    sd      zero, 168(a0)           /* fs8 = +0.0 */
    sd      zero, 176(a0)           /* fs9 = +0.0 */
    sd      zero, 184(a0)           /* fs10 = +0.0 */
    sd      zero, 192(a0)           /* fs11 = +0.0 */
    frcsr   t0                      /* new context inherits the control/status */
    sd      t0, 200(a0)             /* store it */
    ret                             /* return the new stack pointer */
    .cfi_endproc
    .size   weft__ctx_make, .-weft__ctx_make

/* First code of every context: calls fn(arg, val) and never returns.
 * s1 = arg, s2 = fn, a0 = the value of the first switch. The return
 * address is marked undefined so that debuggers end the backtrace here. */
    .type   weft__ctx_start, %function
    .p2align 2
weft__ctx_start:
    .cfi_startproc
    .cfi_undefined ra               /* outermost frame: stop unwinding */
    mv      a1, a0                  /* second argument: the value sent in */
    mv      a0, s1                  /* first argument: arg */
    jalr    s2                      /* run the entry function */
    unimp                           /* it must never return */
    .cfi_endproc
    .size   weft__ctx_start, .-weft__ctx_start

    .section .note.GNU-stack,"",%progbits
