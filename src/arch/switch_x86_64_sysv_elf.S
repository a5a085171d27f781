/*
 * Context switch for x86_64, System V ABI, ELF.
 *
 * A suspended context is a stack pointer. The words at and above it:
 *
 *   offset  contents                 note
 *   -8      MXCSR (4 bytes)          in the red zone, below the saved sp
 *   -4      x87 control word (2)     in the red zone, below the saved sp
 *    0      r15
 *    8      r14
 *   16      r13
 *   24      r12                      entry function of a new context
 *   32      rbx                      its argument
 *   40      rbp
 *   48      return address           weft__ctx_start for a new context
 *
 * The red zone (128 bytes below rsp) is never touched by signal handlers,
 * so the control words are safe there while the context is suspended.
 */

    .text

/* void *weft__ctx_switch(void **save, void *to, void *val)
 * Saves the caller's context into *save, resumes `to`, and returns `val`
 * there; the value returned here is the one passed by whoever switches back. */
    .globl  weft__ctx_switch
    .hidden weft__ctx_switch
    .type   weft__ctx_switch, @function
    .align  16
weft__ctx_switch:
    .cfi_startproc
    pushq   %rbp                    /* save frame pointer */
    .cfi_adjust_cfa_offset 8
    pushq   %rbx                    /* save callee-saved rbx */
    .cfi_adjust_cfa_offset 8
    pushq   %r12                    /* save callee-saved r12 */
    .cfi_adjust_cfa_offset 8
    pushq   %r13                    /* save callee-saved r13 */
    .cfi_adjust_cfa_offset 8
    pushq   %r14                    /* save callee-saved r14 */
    .cfi_adjust_cfa_offset 8
    pushq   %r15                    /* save callee-saved r15 */
    .cfi_adjust_cfa_offset 8
    stmxcsr -8(%rsp)                /* save SSE control/status into red zone */
    fnstcw  -4(%rsp)                /* save x87 control word into red zone */
    movq    %rsp, (%rdi)            /* publish our stack pointer in *save */
    movq    %rsi, %rsp              /* adopt the target's stack */
    ldmxcsr -8(%rsp)                /* restore the target's SSE control */
    fldcw   -4(%rsp)                /* restore the target's x87 control word */
    popq    %r15                    /* restore r15 */
    popq    %r14                    /* restore r14 */
    popq    %r13                    /* restore r13 */
    popq    %r12                    /* restore r12 */
    popq    %rbx                    /* restore rbx */
    popq    %rbp                    /* restore frame pointer */
    movq    %rdx, %rax              /* hand the value across */
    popq    %rcx                    /* the target's resume address */
    jmp     *%rcx                   /* continue there: an indirect jump is
                                       predicted from history, a ret that
                                       crosses stacks never is */
    .cfi_endproc
    .size   weft__ctx_switch, .-weft__ctx_switch

/* void *weft__ctx_make(void *top, void (*fn)(void *arg, void *val), void *arg)
 * Lays a new context at the top of a stack and returns its stack pointer.
 * The first switch to it calls fn(arg, val) with the stack aligned as the
 * ABI requires at a call: rsp % 16 == 0 before the call instruction. The
 * control words are the caller's, as a new thread inherits them. */
    .globl  weft__ctx_make
    .hidden weft__ctx_make
    .type   weft__ctx_make, @function
    .align  16
weft__ctx_make:
    .cfi_startproc
    movq    %rdi, %rax              /* rax = top */
    andq    $-16, %rax              /* align top down to 16 */
    subq    $72, %rax               /* room for 7 words; rax % 16 == 8 */
    leaq    weft__ctx_start(%rip), %rcx /* address of the entry trampoline */
    movq    %rcx, 48(%rax)          /* return address slot -> trampoline */
    movq    $0, 40(%rax)            /* rbp = 0 ends frame-pointer chains */
    movq    %rdx, 32(%rax)          /* rbx = arg */
    movq    %rsi, 24(%rax)          /* r12 = fn */
    movq    $0, 16(%rax)            /* r13 = 0 */
    movq    $0, 8(%rax)             /* r14 = 0 */
    movq    $0, (%rax)              /* r15 = 0 */
    stmxcsr -8(%rax)                /* new context inherits SSE control */
    fnstcw  -4(%rax)                /* and the x87 control word */
    ret                             /* return the new stack pointer */
    .cfi_endproc
    .size   weft__ctx_make, .-weft__ctx_make

/* First code of every context: calls fn(arg, val) and never returns.
 * Entered by the switch's jump with rsp = top - 16 (aligned), rbx = arg, r12 = fn,
 * rax = the value of the first switch. The return address is marked
 * undefined so that debuggers end the backtrace here. */
    .type   weft__ctx_start, @function
    .align  16
weft__ctx_start:
    .cfi_startproc
    .cfi_undefined rip              /* outermost frame: stop unwinding */
    movq    %rbx, %rdi              /* first argument: arg */
    movq    %rax, %rsi              /* second argument: the value sent in */
    callq   *%r12                   /* run the entry function */
    ud2                             /* it must never return */
    .cfi_endproc
    .size   weft__ctx_start, .-weft__ctx_start

    .section .note.GNU-stack,"",@progbits
