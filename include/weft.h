/*
 * weft: stackful coroutines for C on Linux.
 *
 * This header is the documentation of record. Every function says what it
 * does, what it returns and each errno it sets. Errors follow POSIX: -1 or
 * NULL, and errno. Misuse that would corrupt memory (freeing a running
 * coroutine, overflowing a stack) prints one line starting with "weft: " on
 * stderr and aborts the process.
 *
 * Threads: a coroutine runs on the thread that created it. Each thread has
 * its own current coroutine and its own stack pool; nothing in this section
 * takes a lock.
 */
#ifndef WEFT_H
#define WEFT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define WEFT_API __attribute__((visibility("default")))
#else
#define WEFT_API
#endif

/* ------------------------------------------------------------------------ */
/* Coroutines (the co layer)                                                 */
/* ------------------------------------------------------------------------ */

/* A coroutine: a function with its own stack that can suspend itself
 * (weft_co_yield) and be resumed (weft_co_send), passing one pointer each
 * way, like a Python generator. */
typedef struct weft_co weft_co;

/* The body of a coroutine. Its return value is handed to the last
 * weft_co_send, which then returns 0 (Python's StopIteration). */
typedef void *(*weft_fn)(void *arg);

/* Stack kinds.
 *
 * A private stack belongs to one coroutine: its own mapping with a guard
 * page below it, committed by the kernel page by page as it is touched, and
 * returned to a per-thread pool on weft_co_free, so that creating and
 * freeing in a loop makes no system call. A private coroutine costs at least
 * one page of memory. Where the kernel has guard regions (Linux 6.13,
 * MADV_GUARD_INSTALL) the guard costs no memory map; elsewhere it is a
 * PROT_NONE page, each stack costs two of the process's vm.max_map_count
 * (65,530 by default) maps, and creation stops with ENOMEM near 32,000 live
 * private coroutines. WEFT_GUARD=mprotect in the environment forces the
 * PROT_NONE page.
 *
 * A shared stack is one guarded stack that many coroutines run on, a few per
 * thread and size. The coroutine whose frames are on it runs; when another
 * coroutine of the same stack runs, the frames of the first are copied to a
 * buffer the size of what it used, and back when it runs again. A suspended
 * shared coroutine costs a few hundred bytes, so millions fit. A new
 * coroutine goes on a different shared stack from the coroutine creating it,
 * so that a generator and its consumer do not copy on every switch.
 *
 * HAZARD: the frames of a suspended shared-stack coroutine may be moved
 * away. A pointer to one of its local variables is valid only while that
 * coroutine runs or is the resumer of the one that runs; do not hand such a
 * pointer to another coroutine that uses it while the owner is suspended.
 * Under AddressSanitizer, memory that moved away is poisoned, so such a use
 * is reported. */
enum {
    WEFT_STACK_AUTO = 0, /* the process default: private unless changed */
    WEFT_STACK_PRIVATE = 1,
    WEFT_STACK_SHARED = 2
};

/* Default usable size of a stack: 256 KiB of address space, of which only
 * the touched pages cost memory. */
#define WEFT_STACK_DEFAULT ((size_t)256 * 1024)
/* Smallest accepted stack_size. */
#define WEFT_STACK_MIN ((size_t)16 * 1024)
/* Largest accepted stack_size (1 GiB). */
#define WEFT_STACK_MAX ((size_t)1 << 30)
/* Names longer than this many bytes are truncated. */
#define WEFT_NAME_MAX 31

typedef struct weft_opts {
    size_t stack_size; /* usable bytes; 0: WEFT_STACK_DEFAULT. Rounded up to
                          a whole number of pages. */
    int stack_kind;    /* WEFT_STACK_AUTO (0), _PRIVATE or _SHARED */
    const char *name;  /* shown in reports and dumps; copied, NULL: none */
} weft_opts;           /* a NULL weft_opts * means all defaults */

/* Coroutine states, as in Lua. */
enum {
    WEFT_SUSPENDED = 0, /* created and not started, or stopped in yield */
    WEFT_RUNNING = 1,   /* the coroutine that is executing */
    WEFT_NORMAL = 2,    /* it resumed another one and waits for it */
    WEFT_DEAD = 3       /* its function returned */
};

/* Creates a suspended coroutine that will run fn(arg) on its own stack; the
 * first weft_co_send starts it. opts may be NULL.
 * Returns the coroutine, or NULL with errno:
 *   EINVAL  fn is NULL, opts->stack_kind is unknown, or opts->stack_size is
 *           nonzero and outside [WEFT_STACK_MIN, WEFT_STACK_MAX];
 *   ENOMEM  no memory for the stack or the object, or the process is out
 *           of memory maps (vm.max_map_count) or address space
 *           (RLIMIT_AS). */
WEFT_API weft_co *weft_co_new(weft_fn fn, void *arg, const weft_opts *opts);

/* Resumes co, which must be suspended, and runs it until it yields or
 * returns. The first send starts fn(arg) and its `in` must be NULL; later,
 * `in` becomes the return value of the weft_co_yield at which co stopped.
 * On return, if out is not NULL, *out is the value co yielded or returned.
 * The caller (a coroutine or the thread itself) is WEFT_NORMAL meanwhile.
 * Returns 1 when co yielded, 0 when fn returned (co is now WEFT_DEAD), or
 * -1 with errno:
 *   EINVAL  co is NULL, dead or freed; or this is the first send and in is
 *           not NULL (as Python refuses to send a value to a just-started
 *           generator); or co belongs to a scheduler (a task);
 *   EBUSY   co is running or normal: it is the caller itself or is on the
 *           caller's chain of resumers (Python's "generator already
 *           executing");
 *   ENOMEM  co runs on a shared stack and there is no memory to save the
 *           frames of the coroutine it displaces (nothing changed). */
WEFT_API int weft_co_send(weft_co *co, void *in, void **out);

/* Suspends the calling coroutine, hands `out` to its resumer (whose
 * weft_co_send returns 1), and returns the `in` of the next weft_co_send.
 * Outside any coroutine it returns NULL with errno EPERM. When the resumer
 * runs on a shared stack and there is no memory to save the frames it
 * displaces, it returns NULL with errno ENOMEM and the caller goes on. */
WEFT_API void *weft_co_yield(void *out);

/* Returns the state of co: WEFT_SUSPENDED, WEFT_RUNNING, WEFT_NORMAL or
 * WEFT_DEAD; -1 with errno EINVAL when co is NULL or freed. */
WEFT_API int weft_co_status(const weft_co *co);

/* Frees a suspended or dead coroutine and its stack. A coroutine suspended
 * in weft_co_yield first runs its cleanup handlers, on its own stack, as if
 * its yield had unwound. NULL is ignored. Freeing a running or normal
 * coroutine, or one already freed, prints a "weft: " line and aborts. */
WEFT_API void weft_co_free(weft_co *co);

/* Returns the calling coroutine, or NULL on the thread's own stack. */
WEFT_API weft_co *weft_co_self(void);

/* Sets the process's default stack kind (WEFT_STACK_PRIVATE or
 * WEFT_STACK_SHARED) and size (0: WEFT_STACK_DEFAULT), used by weft_co_new
 * when opts is NULL, opts->stack_kind is WEFT_STACK_AUTO or opts->stack_size
 * is 0. The environment sets them too, read once at the first use of weft:
 * WEFT_STACK=shared|private and WEFT_STACK_SIZE=bytes (suffix k or m);
 * this call overrides them. Returns 0, or -1 with errno EINVAL for an
 * unknown kind or a size outside [WEFT_STACK_MIN, WEFT_STACK_MAX]. */
WEFT_API int weft_set_stack_defaults(int kind, size_t size);

/* Returns co's name ("" when it has none); NULL with errno EINVAL when co
 * is NULL. The string lives as long as co. */
WEFT_API const char *weft_co_name(const weft_co *co);

/* Registers fn(arg) as a cleanup handler of the calling coroutine. Handlers
 * run last-in first-out, on the coroutine's stack, when its function
 * returns or when it is freed while suspended, as pthread_cleanup_push
 * handlers do. Returns 0, or -1 with errno:
 *   EINVAL  fn is NULL;
 *   EPERM   called outside a coroutine;
 *   ENOMEM  no memory to record the handler (fn is not called). */
WEFT_API int weft_co_defer(void (*fn)(void *), void *arg);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_H */
