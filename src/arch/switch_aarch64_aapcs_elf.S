/*
 * Context switch for aarch64, AAPCS64, ELF.
 *
 * A suspended context is a stack pointer. The 176 bytes at and above it:
 *
 *   offset  contents
 *     0     x19, x20        x19 = argument, x20 = entry of a new context
 *    16     x21, x22
 *    32     x23, x24
 *    48     x25, x26
 *    64     x27, x28
 *    80     x29 (fp), x30 (lr)   lr = weft__ctx_start for a new context
 *    96     d8, d9
 *   112     d10, d11
 *   128     d12, d13
 *   144     d14, d15
 *   160     FPCR, padding
 */

    .text

/* void *weft__ctx_switch(void **save, void *to, void *val) */
    .globl  weft__ctx_switch
    .hidden weft__ctx_switch
    .type   weft__ctx_switch, %function
    .p2align 4
weft__ctx_switch:
    .cfi_startproc
    sub     sp, sp, #176            /* room for the saved context */
    stp     x19, x20, [sp, #0]      /* save callee-saved x19, x20 */
    stp     x21, x22, [sp, #16]     /* save x21, x22 */
    stp     x23, x24, [sp, #32]     /* save x23, x24 */
    stp     x25, x26, [sp, #48]     /* save x25, x26 */
    stp     x27, x28, [sp, #64]     /* save x27, x28 */
    stp     x29, x30, [sp, #80]     /* save frame pointer and return address */
    stp     d8, d9, [sp, #96]       /* save low halves of v8, v9 */
    stp     d10, d11, [sp, #112]    /* save v10, v11 */
    stp     d12, d13, [sp, #128]    /* save v12, v13 */
    stp     d14, d15, [sp, #144]    /* save v14, v15 */
    mrs     x9, fpcr                /* read floating-point control */
    str     x9, [sp, #160]          /* save it */
    mov     x9, sp                  /* sp cannot be stored directly */
    str     x9, [x0]                /* publish our stack pointer in *save */
    mov     sp, x1                  /* adopt the target's stack */
    ldr     x9, [sp, #160]          /* the target's floating-point control */
    msr     fpcr, x9                /* restore it */
    ldp     x19, x20, [sp, #0]      /* restore x19, x20 */
    ldp     x21, x22, [sp, #16]     /* restore x21, x22 */
    ldp     x23, x24, [sp, #32]     /* restore x23, x24 */
    ldp     x25, x26, [sp, #48]     /* restore x25, x26 */
    ldp     x27, x28, [sp, #64]     /* restore x27, x28 */
    ldp     x29, x30, [sp, #80]     /* restore frame pointer and return address */
    ldp     d8, d9, [sp, #96]       /* restore v8, v9 */
    ldp     d10, d11, [sp, #112]    /* restore v10, v11 */
    ldp     d12, d13, [sp, #128]    /* restore v12, v13 */
    ldp     d14, d15, [sp, #144]    /* restore v14, v15 */
    add     sp, sp, #176            /* drop the saved context */
    mov     x0, x2                  /* hand the value across */
    ret                             /* continue where the target stopped */
    .cfi_endproc
    .size   weft__ctx_switch, .-weft__ctx_switch

/* void *weft__ctx_make(void *top, void (*fn)(void *arg, void *val), void *arg)
 * Lays a new context at the top of a stack and returns its stack pointer;
 * when first entered, sp is 16-byte aligned as AAPCS64 requires. */
    .globl  weft__ctx_make
    .hidden weft__ctx_make
    .type   weft__ctx_make, %function
    .p2align 4
weft__ctx_make:
    .cfi_startproc
    and     x0, x0, #~15            /* align top down to 16 */
    sub     x0, x0, #176            /* room for one saved context */
    stp     x2, x1, [x0, #0]        /* x19 = arg, x20 = fn */
    stp     xzr, xzr, [x0, #16]     /* x21, x22 = 0 */
    stp     xzr, xzr, [x0, #32]     /* x23, x24 = 0 */
    stp     xzr, xzr, [x0, #48]     /* x25, x26 = 0 */
    stp     xzr, xzr, [x0, #64]     /* x27, x28 = 0 */
    adr     x9, weft__ctx_start     /* address of the entry trampoline */
    stp     xzr, x9, [x0, #80]      /* fp = 0 ends chains; lr = trampoline */
    stp     xzr, xzr, [x0, #96]     /* d8, d9 = 0 */
    stp     xzr, xzr, [x0, #112]    /* d10, d11 = 0 */
    stp     xzr, xzr, [x0, #128]    /* d12, d13 = 0 */
    stp     xzr, xzr, [x0, #144]    /* d14, d15 = 0 */
    mrs     x9, fpcr                /* new context inherits FPCR */
    stp     x9, xzr, [x0, #160]     /* store it, and clear the padding */
    ret                             /* return the new stack pointer */
    .cfi_endproc
    .size   weft__ctx_make, .-weft__ctx_make

/* First code of every context: calls fn(arg, val) and never returns.
 * x19 = arg, x20 = fn, x0 = the value of the first switch. */
    .type   weft__ctx_start, %function
    .p2align 4
weft__ctx_start:
    .cfi_startproc
    .cfi_undefined x30              /* outermost frame: stop unwinding */
    mov     x1, x0                  /* second argument: the value sent in */
    mov     x0, x19                 /* first argument: arg */
    blr     x20                     /* run the entry function */
    brk     #0                      /* it must never return */
    .cfi_endproc
    .size   weft__ctx_start, .-weft__ctx_start

    .section .note.GNU-stack,"",%progbits
