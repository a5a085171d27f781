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
 *
 * Platforms: Linux on x86_64 (System V ABI), aarch64 (AAPCS64) and riscv64
 * (LP64D: RV64 with hardware double-precision floats), ELF; other ABIs
 * (x32, ILP32, soft-float riscv) are refused at build time.
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
 * A private stack belongs to one coroutine: its own range of a slab (a
 * mapping of many stacks, made with one mmap) with a 64 KiB guard below it (wide enough for the
 * probes of -fstack-clash-protection on every architecture, which a program should use for code
 * that puts large arrays on a coroutine's stack), committed by the kernel page by page as it is
 * touched, and returned to a per-thread pool on weft_co_free, then to its slab, so that creating
 * and freeing in a loop makes no system call. A private coroutine costs at least one page of
 * memory. Where the kernel has guard regions (Linux 6.13, MADV_GUARD_INSTALL) the guard costs no
 * memory map; elsewhere it is a PROT_NONE range, each stack costs two of the process's
 * vm.max_map_count (65,530 by default) maps, and creation stops with ENOMEM near 32,000 live
 * private coroutines. WEFT_GUARD=mprotect in the environment forces the
 * PROT_NONE range. A fault in the guard prints
 * "weft: stack overflow in coroutine 'NAME' (stack N bytes)" and aborts.
 * weft installs its SIGSEGV handler on first use; any other SIGSEGV goes to
 * the disposition set before, as if weft were not there: the program's
 * handler; the default (the process dies); or SIG_IGN, under which a sent
 * SIGSEGV is ignored and a fault still kills (the kernel lets no fault be
 * ignored).
 *
 * A shared stack is one guarded stack that many coroutines run on, a few per
 * thread and size. The coroutine whose frames are on it runs; when another
 * coroutine of the same stack runs, the frames of the first are copied to a
 * buffer the size of what it used, and back when it runs again. A suspended
 * shared coroutine costs a few hundred bytes, so millions fit. A coroutine
 * gets its shared stack when it first runs, never one that holds a frame of
 * its chain of resumers (the coroutine that sends to it, that one's
 * resumer, and so on; for a task, the scheduler's), so that a generator and
 * its consumer do not copy on every switch, and so that:
 *
 *   - a coroutine may use its resumers' locals while it runs, from its
 *     first run on, as long as it is resumed by coroutines on other stacks
 *     than its own: always so for the resumers of its first run, and for
 *     any coroutine on a private stack or on the thread's own;
 *   - when a coroutine is resumed by another of its own shared stack (one
 *     that started elsewhere, and later drives it), the resumer's frames
 *     are saved away while it runs: pointers to the resumer's locals are
 *     not valid then;
 *   - what weft itself keeps for a waiting task (wait records, select
 *     cases, channel elements in flight) never depends on where the frames
 *     are: channel elements are copied into and out of a suspended task's
 *     saved frames;
 *   - a task in weft_offload (and in file I/O, which offloads) keeps its
 *     frames in place until the call returns, since the worker thread uses
 *     its memory: the other started tasks of that stack wait that long
 *     (new ones are placed elsewhere), so the call must not wait for one
 *     of them.
 *
 * HAZARD: the frames of a suspended shared-stack coroutine may be moved
 * away. A pointer to one of its local variables is valid only while that
 * coroutine runs or is a resumer of the one that runs. Do not hand such a
 * pointer to another task (an argument to weft_spawn that the task keeps
 * using while its spawner waits) or to another thread (a callback that
 * completes a future) while the owner is suspended: use static or heap
 * memory there. Under AddressSanitizer a shared stack is saved and
 * poisoned as soon as its coroutine is suspended, so such a use is
 * reported, except where the bytes are now the running coroutine's own
 * frames (the same-stack resumer above). */
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
 * coroutine, one already freed, or a task (a handle from weft_spawn or
 * weft_group_spawn, which weft_join or the group frees), prints a "weft: "
 * line and aborts. */
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

/* Names co (NULL: the calling coroutine, e.g. weft_run's first task,
 * which has no weft_opts), as weft_opts.name does: copied, truncated to
 * WEFT_NAME_MAX bytes; NULL or "" removes the name. Returns 0, or -1 with
 * errno:
 *   EINVAL  co is NULL outside any coroutine, or co was freed (detected
 *           while its memory has not been reused);
 *   ENOMEM  no memory for the name (a shared-stack coroutine keeps its
 *           old name). */
WEFT_API int weft_co_set_name(weft_co *co, const char *name);

/* Registers fn(arg) as a cleanup handler of the calling coroutine. Handlers
 * run last-in first-out, on the coroutine's stack, when its function
 * returns or when it is freed while suspended, as pthread_cleanup_push
 * handlers do. Returns 0, or -1 with errno:
 *   EINVAL  fn is NULL;
 *   EPERM   called outside a coroutine;
 *   ENOMEM  no memory to record the handler (fn is not called). */
WEFT_API int weft_co_defer(void (*fn)(void *), void *arg);

/* ------------------------------------------------------------------------ */
/* Scheduler, channels, synchronisation (the sched layer)                    */
/* ------------------------------------------------------------------------ */

#include <stdint.h>

/* Tasks are coroutines that a scheduler drives. Each thread has its own
 * scheduler, made by weft_run; tasks run one at a time on that thread and
 * switch only where they block (the calls below) or pause.
 *
 * Run order. What the running task makes ready (tasks it spawns, tasks it
 * wakes by sending, unlocking, signalling, closing, cancelling) runs next,
 * in the order it was made ready and ahead of what was ready before, as
 * Go's runnext does for one task. So a tree of tasks runs depth first and
 * a hand-off runs at once: skynet's 1.1 million tasks never have more than
 * a few dozen alive. Paused tasks (weft_pause, which puts the caller
 * behind every ready task) and tasks the loop wakes (timers, I/O, joins
 * of finished tasks) wait in FIFO order. Fairness: after 128 switches
 * from task to task without a visit to the loop, the loop runs the FIFO's
 * tasks first, so a chain of hand-offs cannot starve them or the timers.
 * No other order is promised.
 *
 * Time is int64_t nanoseconds on CLOCK_MONOTONIC (weft_now). Every call
 * that can block takes an absolute deadline: -1 (any negative value) waits
 * forever; 0 never blocks, and a call that would have to wait fails at
 * once with EAGAIN ("would block", as a non-blocking fd does); a deadline
 * that has passed fails at once with ETIMEDOUT without blocking (weft_sleep
 * returns 0 instead), and one that comes during the wait ends it with
 * ETIMEDOUT. This holds for every blocking call of this header (joins,
 * channels, select, locks, wait groups, semaphores, groups, fd I/O,
 * futures). weft_after(WEFT_MS(100)) is the deadline 100 ms from now.
 *
 * Telling weft's ETIMEDOUT from the kernel's: weft sets ETIMEDOUT only
 * when a deadline of the call (or of a shield, see weft_shield_begin) has
 * come, and weft_now() is then at or past it. A TCP socket's own timeout
 * (retransmissions, keepalive, TCP_USER_TIMEOUT, an unanswered SYN) comes
 * from the kernel, through read(2) or connect's SO_ERROR, and is passed
 * through as ETIMEDOUT too; it is weft's when weft_expired(deadline) is 1
 * (true of every weft timeout; a kernel timeout can only look the same
 * when it happened after the deadline had already passed).
 *
 * Common errors of the blocking calls (weft_join, weft_pause, weft_sleep,
 * weft_chan_send, weft_chan_recv, weft_select, the _lock/_wait calls):
 *   EPERM      called outside a task of weft_run or weft_run_threads (on
 *              the thread's own stack, or with no run active on this
 *              thread; for channels, see weft_chan_send);
 *   ECANCELED  the task was cancelled (weft_cancel) before or during the
 *              call; every later blocking call fails the same way, so that
 *              the task unwinds (except inside a shield, see
 *              weft_shield_begin, and channel calls with deadline 0);
 *   EAGAIN     the deadline is 0 and the call would have to wait;
 *   ETIMEDOUT  the deadline came first;
 *   ENOMEM     no memory for the timer of a deadline, or, for a task on a
 *              shared stack, to save its frames while it waits. (A task
 *              that cannot be resumed for want of memory to save the
 *              frames it displaces waits its turn again; after a million
 *              such tries in a row the process aborts with a "weft: "
 *              line.)
 * Blocking calls allocate nothing except, rarely, to grow the timer heap
 * or a shared-stack task's saved image.
 *
 * A task may drive a generator with weft_co_send, and the generator may
 * itself block (sleep, wait on a channel or a lock): the task is parked and
 * later resumed straight into the generator. weft_co_send refuses to resume
 * a task (EINVAL). A task that calls weft_co_yield itself (not inside a
 * generator) behaves as if it called weft_pause, and the yield returns
 * NULL. */

/* Nanoseconds since an arbitrary point, on CLOCK_MONOTONIC. */
WEFT_API int64_t weft_now(void);

/* Durations in nanoseconds, for weft_after: WEFT_MS(250), WEFT_S(2). */
#define WEFT_US(n) ((int64_t)(n)*1000)
#define WEFT_MS(n) ((int64_t)(n)*1000000)
#define WEFT_S(n) ((int64_t)(n)*1000000000)

/* The deadline ns nanoseconds from now: weft_now() + ns, saturated at
 * INT64_MAX, and never below 1. A negative ns is a moment ago, a deadline
 * that has passed, like weft_after(0) (ETIMEDOUT; unlike deadline 0,
 * EAGAIN): it is never "no deadline", which is -1 itself. Never fails;
 * usable anywhere. */
WEFT_API int64_t weft_after(int64_t ns);

/* 1 when the deadline has come (0 always has, a negative one never), else
 * 0: what weft's blocking calls test. Never fails. */
WEFT_API int weft_expired(int64_t deadline);

/* Runs main(arg) as the first task of this thread's scheduler and returns
 * when it and every task spawned under it have finished (like Python's
 * asyncio.run). Tasks that finished without being joined are freed. Can
 * be called on the thread's own stack or inside a coroutine that is not a
 * task. The first task has no name until it gives itself one
 * (weft_co_set_name(NULL, "main")). On return, if result is not NULL and
 * main finished, *result is its return value. Returns 0, or -1 with errno:
 *   EINVAL   main is NULL;
 *   EBUSY    a weft_run is already active on this thread;
 *   ENOMEM   no memory for the first task;
 *   EDEADLK  the tasks deadlocked: no task was ready, no deadline pending
 *            and nothing outside could wake one. weft_run then prints
 *            "weft: all tasks are asleep - deadlock!" and the task list
 *            (see weft_dump) on stderr, cancels every task so that their
 *            blocking calls return ECANCELED and they unwind, waits for
 *            them, and returns. Tasks that deadlock again after that are
 *            abandoned (reported on stderr, never freed). */
WEFT_API int weft_run(weft_fn main, void *arg, void **result);

/* Runs main(arg) as weft_run does, on n worker threads (n = 0: one per CPU
 * the process may use, sched_getaffinity), each with its own scheduler,
 * poller, timers, stack pool and fd table. main starts on worker 0, which
 * is the calling thread; the others are threads this call starts and
 * joins. Returns when every task of every worker has finished, with
 * weft_run's deadlock check taken across all workers (the report lists
 * the tasks of each). weft_run is the one-thread case and pays nothing
 * for this one.
 *
 * Placement. weft_spawn puts a task on the spawning worker. A worker with
 * nothing to run steals half of the tasks that another worker has spawned
 * and not yet started; a task that has started never changes threads, so
 * that thread-local addresses (errno's) cached across a switch and
 * pthread locks held across a wait stay right. Tasks on shared stacks and
 * tasks of groups are never stolen: they run where they were spawned.
 * Idle workers sleep in their poller; one that finds work while others
 * sleep wakes one more, and a spawn wakes a sleeping worker only when no
 * worker is already looking for work. Nobody spins by default; with the
 * environment variable WEFT_SPIN_US=N an idle worker that watches no fd
 * looks for work for up to N microseconds before it sleeps, which cuts
 * the latency of a wake-up from another worker (an eventfd write and a
 * kernel wake-up, a few microseconds) at the cost of that CPU time.
 *
 * Across workers, channels (and select over them), mutexes, condition
 * variables, wait groups, semaphores, futures, event channels, weft_join
 * and weft_cancel work between tasks of different workers. Objects whose
 * waiters are on different workers must not live in the frames of a
 * shared-stack task (those frames move). Groups, generators and fds
 * belong to the worker that made them. The run order of weft_run holds
 * among the tasks of one worker, except that spawned tasks that may be
 * stolen and have not started run newest first (the oldest are the ones
 * stolen); those never stolen keep weft_run's order. A plain
 * thread that is not a weft worker may send and receive on a channel of
 * such a run (see weft_chan_send) and complete futures.
 *
 * Errors as for weft_run, and:
 *   EINVAL  n is larger than WEFT_WORKERS_MAX;
 *   EAGAIN  a worker thread could not be started (pthread_create). */
#define WEFT_WORKERS_MAX 1024
WEFT_API int weft_run_threads(unsigned n, weft_fn main, void *arg, void **result);

/* Spawns as weft_spawn does, on worker `worker` (0 .. weft_workers() - 1)
 * of the caller's run, for programs that shard by hand; the task is
 * pinned there and never stolen. Returns the task, or NULL with errno:
 *   EPERM   not called from a task of weft_run or weft_run_threads;
 *   EINVAL  worker is out of range, fn is NULL, or opts is invalid;
 *   ENOMEM  as for weft_spawn. */
WEFT_API weft_co *weft_spawn_on(int worker, weft_fn fn, void *arg, const weft_opts *opts);

/* The index of the calling thread's worker (0 under weft_run), or -1 with
 * errno EPERM on a thread that runs no scheduler. */
WEFT_API int weft_worker(void);

/* The number of workers of the calling thread's run (1 under weft_run),
 * or 0 with errno EPERM on a thread that runs no scheduler. */
WEFT_API int weft_workers(void);

/* Creates a task that will run fn(arg) and puts it at the back of the
 * ready queue; it starts when the caller next blocks or pauses. opts as
 * for weft_co_new. The handle is valid until weft_join frees it, or until
 * weft_run returns. Returns the task, or NULL with errno:
 *   EPERM   no weft_run is active on this thread;
 *   EINVAL  fn is NULL, or opts is invalid (see weft_co_new);
 *   ENOMEM  no memory or stack (see weft_co_new). */
WEFT_API weft_co *weft_spawn(weft_fn fn, void *arg, const weft_opts *opts);

/* Waits until task has finished, stores its return value in *result (when
 * result is not NULL) and frees it. Returns 0, or -1 with errno (besides
 * the common errors above; on EAGAIN, ETIMEDOUT or ECANCELED the task is
 * left alone and can be joined later):
 *   EINVAL   task is NULL, not a task, or belongs to a group;
 *   EDEADLK  task is the caller, or another task is already joining it
 *            (weft_run's first task counts as joined by weft_run), or it
 *            is detached (weft_detach), or it
 *            was already joined (detected while its memory has not been
 *            reused; a stale handle is undefined in general, as with
 *            pthread_join). */
WEFT_API int weft_join(weft_co *task, void **result, int64_t deadline);

/* Detaches task: it is freed as soon as it finishes (at once if it has
 * finished), as pthread_detach does, so that tasks nobody joins cost
 * nothing once done; its return value is dropped. The handle must not be
 * used after it finishes. Returns 0, or -1 with errno:
 *   EPERM    no weft_run is active on this thread;
 *   EINVAL   task is NULL, not a task, or belongs to a group (which frees
 *            its tasks itself);
 *   EDEADLK  task is weft_run's first task, is being joined, or is
 *            detached already (or was joined or freed, while its memory
 *            has not been reused). */
WEFT_API int weft_detach(weft_co *task);

/* Cancels task: its current blocking call, and every later one, returns
 * -1 with errno ECANCELED, so that it unwinds; its cleanup handlers
 * (weft_co_defer) run when its function returns. A task may cancel itself.
 * Cancelling a finished task does nothing. Returns 0, or -1 with errno:
 *   EPERM   no weft_run is active on this thread;
 *   EINVAL  task is NULL or not a task. */
WEFT_API int weft_cancel(weft_co *task);

/* ---- shields ---- */

/* A shield lets a cancelled task clean up: between weft_shield_begin and
 * weft_shield_end its blocking calls work again (as in Trio's shielded
 * cancel scope), each ending by the shield's deadline at the latest with
 * ETIMEDOUT, so that cleanup is bounded. A cancellation that comes while
 * the task is shielded does not interrupt it; it is kept, and the first
 * blocking call after the last shield ends fails with ECANCELED. Shields
 * nest: an inner shield's deadline is the earlier of its own and the
 * outer one's. Waits that cannot be cancelled anyway (weft_group_close,
 * the relock of weft_cond_wait, a started weft_offload) are not cut short
 * by a shield's deadline. A deadlock (see weft_run) cancels shielded
 * tasks too. The weft_shield is the caller's (usually a local), private,
 * and must stay in place until its weft_shield_end: a task that returns
 * with a shield open gets a "weft: " line and an abort. */
typedef struct weft_shield {
    unsigned magic;
    void *prev;
    int64_t prev_deadline;
} weft_shield;

/* Opens sh as the calling task's innermost shield, until deadline (-1:
 * none; a deadline that has passed makes every wait fail with ETIMEDOUT,
 * deadline 0 with EAGAIN as always). Returns 0, or -1 with errno:
 *   EPERM   not called from a task of weft_run;
 *   EINVAL  sh is NULL. */
WEFT_API int weft_shield_begin(weft_shield *sh, int64_t deadline);

/* Closes sh, which must be the calling task's innermost open shield (else
 * a "weft: " line and abort: shields end in the reverse order of their
 * begins, and one left open past its frame would dangle). Returns 0, or 1
 * when the task is cancelled and no shield is left (its next blocking call
 * fails with ECANCELED), or -1 with errno:
 *   EPERM   not called from a task of weft_run;
 *   EINVAL  sh is NULL. */
WEFT_API int weft_shield_end(weft_shield *sh);

/* Moves the calling task behind every ready task (FIFO, so all ready tasks
 * get a turn) and returns when its turn comes. Returns 0, or -1 with the
 * common errors EPERM, ECANCELED or ENOMEM (a shared-stack task). */
WEFT_API int weft_pause(void);

/* Blocks the calling task until the deadline. Returns 0 when the deadline
 * has come (at once when it has already passed), or -1 with the common
 * errors EPERM, ECANCELED or ENOMEM, or ETIMEDOUT when a shield's deadline
 * (see weft_shield_begin) cuts the sleep short. A negative deadline sleeps
 * until the task is cancelled. */
WEFT_API int weft_sleep(int64_t deadline);

/* The calling task (the task itself, also while it drives a generator),
 * or NULL outside a task: on the loop's context, on a thread with no
 * weft_run, or on a worker thread. */
WEFT_API weft_co *weft_task_self(void);

/* Prints the tasks of this thread's scheduler on stderr, one line each:
 * "weft:   #<id> '<name>' <state>", where state is ready, running or
 * waiting; a waiting task adds "on <what>" (sleep, join #<id>, or one of
 * chan send, chan recv, mutex, cond, wait group, semaphore, group, group
 * close, future, events followed by the object's address; "fd read <fd>",
 * "fd write <fd>" or "fd read/write <fd>" for a task waiting on an fd;
 * "select of <n> cases") and "for <ms> ms" since it started
 * waiting; a cancelled one adds "(cancelled)". The first line is
 * "weft: <n> tasks". Under weft_run_threads each worker writes its own
 * list, headed "weft: worker <i> of <n>:", when it next passes through its
 * loop (a worker busy in a task that never blocks answers late); a task
 * that calls weft_dump sleeps until all have. Returns 0, or -1 with errno
 * EPERM when no run is active on this thread. */
WEFT_API int weft_dump(void);

/* Opt-in: with on nonzero, SIGQUIT (Ctrl-\) prints the task list of the
 * thread that receives the signal, as weft_dump does, instead of killing
 * the process (a debugging aid, like Go's goroutine dump; the list is read
 * without locking, while the thread is interrupted). With on zero, SIGQUIT
 * gets its default action back. Returns 0, or -1 with the errno of
 * sigaction. */
WEFT_API int weft_dump_on_sigquit(int on);

/* The watchdog, a debugging aid like asyncio's debug mode: with ms > 0,
 * a task that runs longer than ms without giving its thread back (a plain
 * sleep(3), a blocking system call, a long computation: anything but a
 * weft call that waits or pauses) is reported on stderr, once per
 * occurrence:
 *   "weft: task #<id> '<name>' has run for <n> ms without giving the
 *    thread back; where it is:"
 * followed by a backtrace of the stuck thread (backtrace_symbols_fd(3):
 * one line per frame, named for functions the dynamic symbol table
 * knows, so link with -rdynamic to see the program's own). ms = 0 turns
 * it off and returns once its thread has ended (exit() does that too).
 * WEFT_DEBUG=slow:MS in the environment (read by the first weft_run of
 * the process) calls weft_watchdog(MS). A thread that blocks SIGURG is
 * not reported; under valgrind, which runs one thread at a time, a task
 * in a CPU loop may keep the watchdog from looking, and go unreported (a
 * task blocked in a system call is reported).
 *
 * Cost: off, no thread looks, and the switch path only publishes its
 * progress marks with relaxed stores (plain moves; a direct switch to
 * another task costs one instruction more than a plain decrement would).
 * On, one thread wakes four times per ms and reads three words of
 * each running scheduler, so a report comes between ms and 1.25 ms
 * after the task last switched; the report itself is made by a SIGURG
 * sent to the stuck thread (weft installs its handler on the first call
 * that turns the watchdog on, and hands a SIGURG it did not send to the
 * handler that was there before). That signal interrupts what the task
 * is blocked in: a system call may fail with EINTR, sleep(3) and
 * nanosleep(2) return early. Returns 0, or -1 with errno:
 *   EINVAL  ms is negative or too large;
 *   EAGAIN  the watchdog's thread could not be started;
 *   and the errno of sigaction. */
WEFT_API int weft_watchdog(long ms);

/* ---- channels ---- */

/* A channel carries elements of a fixed size, copied in and out, in FIFO
 * order. An unbuffered channel (capacity 0) hands each element from a
 * sender straight to a receiver; a buffered one holds up to capacity. */
typedef struct weft_chan weft_chan;

/* Creates a channel. Returns it, or NULL with errno:
 *   EINVAL  elem_size is 0, or elem_size * capacity overflows;
 *   ENOMEM  no memory. */
WEFT_API weft_chan *weft_chan_new(size_t elem_size, size_t capacity);

/* Frees a channel. It refuses to drop elements silently: empty it first
 * (receive them, or weft_chan_drain). Returns 0, or -1 with errno (the
 * channel is left as it was):
 *   EINVAL     ch is NULL or not a channel;
 *   EBUSY      tasks wait on it;
 *   ENOTEMPTY  elements are still buffered in it. */
WEFT_API int weft_chan_free(weft_chan *ch);

/* Takes every buffered element out of ch, in FIFO order, calling fn(elem,
 * arg) on each (in place; fn may free what an element points to, and must
 * not use ch) unless fn is NULL. Blocked senders move into the freed slots
 * as for a receive, and are drained in turn. Does not block; usable
 * outside tasks. Returns the number of elements taken, or -1 with errno
 * EINVAL when ch is NULL or not a channel. */
WEFT_API long weft_chan_drain(weft_chan *ch, void (*fn)(void *elem, void *arg), void *arg);

/* Copies elem_size bytes from elem into the channel: to a waiting receiver,
 * or into the buffer when there is room; else blocks until a receiver
 * takes it.
 *
 * A plain thread (one that runs no scheduler) may send and receive while
 * the process has a weft_run_threads run, on channels of that run: it
 * takes the channel's lock as a worker does and, where a task would wait,
 * retries after a short sleep (20 us, doubling up to 1 ms) until its
 * deadline; it never queues, so a task's send on an unbuffered channel
 * does not wait for it. A task waiting on a channel that a plain thread
 * has used waits on the world outside, as on an fd: no deadlock is
 * declared for it. Without such a run it gets EPERM. (Under
 * weft_run, channels are lock-free and single-threaded: hand values to
 * tasks from other threads with futures or event channels.)
 *
 * Returns 0, or -1 with errno (and the common errors):
 *   EINVAL  ch is NULL or not a channel, or elem is NULL;
 *   EPIPE   the channel is closed, or was closed while the caller waited. */
WEFT_API int weft_chan_send(weft_chan *ch, const void *elem, int64_t deadline);

/* Receives one element into elem: from the buffer, or from a waiting
 * sender; else blocks until one is sent. Returns 0, or -1 with errno (and
 * the common errors):
 *   EINVAL  ch is NULL or not a channel, or elem is NULL;
 *   EPIPE   the channel is closed and its buffer is empty. */
WEFT_API int weft_chan_recv(weft_chan *ch, void *elem, int64_t deadline);

/* A cancelled task's weft_chan_send and weft_chan_recv with deadline 0
 * still complete when they can without waiting (so that its cleanup can
 * drain or hand on what is there), and fail with ECANCELED (not EAGAIN)
 * when they cannot; with any other deadline they fail with ECANCELED at
 * once, unless the task is shielded. */

/* Closes the channel: blocked senders and receivers, and later sends, fail
 * with EPIPE; receivers first drain what is buffered. Does not block and
 * may be called outside a task. Returns 0, or -1 with errno:
 *   EINVAL  ch is NULL or not a channel;
 *   EPIPE   ch is already closed. */
WEFT_API int weft_chan_close(weft_chan *ch);

/* Kinds of select case: channel operations, and (from the io layer) an
 * fd's readiness, a future's completion and an event channel's next
 * event. */
enum { WEFT_SEND = 1, WEFT_RECV = 2, WEFT_FD = 3, WEFT_FUTURE = 4, WEFT_EVENT = 5 };

typedef struct weft_future weft_future;
typedef struct weft_events weft_events;

/* One case of weft_select. Fields a kind does not use are ignored; write
 * cases with designated initializers ({.ch = c, .op = WEFT_RECV, .elem =
 * &v}): the fields after err are new, and positional initializers of the
 * first four, which still work, draw -Wmissing-field-initializers. The
 * out fields are meaningful for the chosen case only. */
typedef struct weft_case {
    weft_chan *ch;       /* WEFT_SEND, WEFT_RECV */
    int op;              /* WEFT_SEND, WEFT_RECV, WEFT_FD, WEFT_FUTURE or WEFT_EVENT */
    void *elem;          /* SEND: the element to send; RECV: where to receive
                            one; FUTURE, EVENT: where to store the value (a
                            void *), or NULL */
    int err;             /* out, for the chosen case: 0; EPIPE when its channel
                            was closed (nothing was sent or received) or its
                            event channel is closed and drained; EBADF when
                            weft_close closed its fd during the wait */
    int fd;              /* WEFT_FD: the fd */
    short events;        /* WEFT_FD: POLLIN, POLLOUT or both */
    short revents;       /* out, WEFT_FD: the events ready: as poll(2) reports
                            them when the fd was ready at the call (POLLERR or
                            POLLHUP then count as every event asked for, and are
                            reported too), else those the poller found ready
                            during the wait, as weft_wait_fd returns them; a
                            regular file is always ready for both */
    weft_future *future; /* WEFT_FUTURE */
    weft_events *ev;     /* WEFT_EVENT */
} weft_case;

/* Performs exactly one of the n cases (at most INT_MAX), blocking until one
 * can proceed. When several are ready one is chosen at random, whatever
 * their kinds, so that none starves. A case on a closed channel is ready,
 * and completes with err = EPIPE. An fd case is ready when poll(2) would
 * say so (it is not read or written: the caller does that next, e.g.
 * weft_read, which then does not block), a future case when the future is
 * completed (its value is stored, the future stays completed), an event
 * case when an event is queued (it is taken) or the event channel is
 * closed and drained (err = EPIPE). The fd, future and event cases follow
 * the rules of weft_wait_fd, weft_future_wait and weft_events_recv: one
 * waiting task per fd and direction, per future, per event channel.
 * Returns the index of the case performed, or -1 with errno (and the
 * common errors):
 *   EINVAL  cases is NULL while n > 0, or a case has an unknown op; a
 *           channel case has a NULL or invalid channel or a NULL elem; an
 *           fd case has events 0 or other bits than POLLIN and POLLOUT; a
 *           future case has a NULL or abandoned future; an event case a
 *           NULL event channel;
 *   EBADF   an fd case's fd is negative or not open;
 *   EBUSY   another task (or another case of this select) already waits
 *           on a case's fd for one of its events, on its future or on its
 *           event channel;
 *   ENOMEM  no memory for the waiters (kept with the task, grown to its
 *           largest select), or for the poller's record of a case's fd;
 *   EMFILE, ENFILE  the thread's poller could not be made (an fd, future
 *           or event case; see the I/O section). */
WEFT_API int weft_select(weft_case *cases, size_t n, int64_t deadline);

/* ---- synchronisation ---- */

/* The objects below are plain structs the caller embeds (no allocation):
 * set one up with its _init call before use; its fields are private. After
 * _destroy, and on memory never initialised that holds zeros, every call
 * fails with EINVAL. Waiters are served first come, first served. */
typedef struct weft_waitq {
    void *head, *tail;
} weft_waitq;

typedef struct weft_mutex {
    unsigned magic;
    int lk;
    void *owner;
    weft_waitq q;
} weft_mutex;

typedef struct weft_cond {
    unsigned magic;
    int lk;
    weft_waitq q;
} weft_cond;

typedef struct weft_wg {
    unsigned magic;
    int lk;
    long count;
    weft_waitq q;
} weft_wg;

typedef struct weft_sem {
    unsigned magic;
    int lk;
    unsigned value;
    weft_waitq q;
} weft_sem;

/* Each _init returns 0, or -1 with errno EINVAL when its argument is NULL.
 * Each _destroy returns 0, or -1 with errno EINVAL (NULL or not set up) or
 * EBUSY (tasks wait on it; for a mutex, also: it is locked). */
WEFT_API int weft_mutex_init(weft_mutex *m);
WEFT_API int weft_mutex_destroy(weft_mutex *m);

/* Locks m, owned by the calling task until it unlocks. Returns 0, or -1
 * with errno (and the common errors):
 *   EINVAL   m is NULL or not set up;
 *   EDEADLK  the caller already holds m. */
WEFT_API int weft_mutex_lock(weft_mutex *m, int64_t deadline);

/* Unlocks m and hands it to the first waiting task. Returns 0, or -1 with
 * errno:
 *   EINVAL  m is NULL or not set up;
 *   EPERM   the caller does not hold m (it is unlocked or held by another
 *           task, or the caller is not a task). */
WEFT_API int weft_mutex_unlock(weft_mutex *m);

WEFT_API int weft_cond_init(weft_cond *c);
WEFT_API int weft_cond_destroy(weft_cond *c);

/* Unlocks m, waits until c is signalled, and locks m again before
 * returning, also on error (except EINVAL and EPERM, when nothing
 * happened). Returns 0, or -1 with errno (and the common errors):
 *   EINVAL  c or m is NULL or not set up;
 *   EPERM   the caller does not hold m. */
WEFT_API int weft_cond_wait(weft_cond *c, weft_mutex *m, int64_t deadline);

/* Wakes the first waiter of c (signal) or all of them (broadcast). Do not
 * block. Return 0, or -1 with errno EINVAL when c is NULL or not set up. */
WEFT_API int weft_cond_signal(weft_cond *c);
WEFT_API int weft_cond_broadcast(weft_cond *c);

/* A wait group (Go's sync.WaitGroup): a counter that tasks can wait to
 * reach zero. */
WEFT_API int weft_wg_init(weft_wg *wg);
WEFT_API int weft_wg_destroy(weft_wg *wg);

/* Adds n (which may be negative) to the counter; when it reaches zero,
 * every waiter wakes. weft_wg_done(wg) is weft_wg_add(wg, -1). Do not
 * block. Return 0, or -1 with errno EINVAL: wg is NULL or not set up, or
 * the counter would go below zero or overflow (it is left unchanged). */
WEFT_API int weft_wg_add(weft_wg *wg, long n);
WEFT_API int weft_wg_done(weft_wg *wg);

/* Waits until the counter is zero. Returns 0, or -1 with errno EINVAL (wg
 * is NULL or not set up) or one of the common errors. */
WEFT_API int weft_wg_wait(weft_wg *wg, int64_t deadline);

/* A counting semaphore. */
WEFT_API int weft_sem_init(weft_sem *sem, unsigned value);
WEFT_API int weft_sem_destroy(weft_sem *sem);

/* Takes one unit, waiting for one when the value is 0. Returns 0, or -1
 * with errno EINVAL (sem is NULL or not set up) or one of the common
 * errors. */
WEFT_API int weft_sem_wait(weft_sem *sem, int64_t deadline);

/* Gives one unit to the first waiter, or adds it to the value. Does not
 * block. Returns 0, or -1 with errno:
 *   EINVAL     sem is NULL or not set up;
 *   EOVERFLOW  the value is already UINT_MAX. */
WEFT_API int weft_sem_post(weft_sem *sem);

/* ---- task groups ---- */

/* A group (Trio's nursery) owns the tasks spawned in it: each is freed as
 * soon as it finishes (it cannot be joined), and closing the group cancels
 * the ones left and waits for them, so that no task outlives the code that
 * started it by accident. */
typedef struct weft_group weft_group;

/* Creates an empty group; may be called outside weft_run. Returns it, or
 * NULL with errno ENOMEM. Its tasks never fail (unless they call
 * weft_group_fail) and it keeps no results: weft_group_new_opts(NULL). */
WEFT_API weft_group *weft_group_new(void);

/* Failures and results (Go's errgroup, Trio's nursery, asyncio's
 * TaskGroup). A task of a group fails when it calls weft_group_fail, or
 * when it returns a value that the group's check maps to a nonzero code.
 * The group remembers the first failure (its code and the task's index);
 * weft_group_wait reports it. Each task has an index: the n-th successful
 * weft_group_spawn on a group (from 0). */
enum {
    WEFT_GROUP_FAILFAST = 1, /* the first failure cancels every other task
                                of the group, and the tasks spawned in it
                                later start cancelled */
    WEFT_GROUP_RESULTS = 2   /* keep each task's return value and failure
                                code for weft_group_result (16 bytes per task
                                spawned, until the group is closed) */
};

typedef struct weft_group_opts {
    unsigned flags; /* WEFT_GROUP_* */
    /* Called on the value a task returns, once it has finished (on the
     * scheduler's context: it must not block): 0 means success, a positive
     * code (an errno value, say) failure; a negative one counts as 0.
     * NULL: returning never fails. Not called for a task that already
     * failed with weft_group_fail. */
    int (*check)(void *result, void *arg);
    void *check_arg;
} weft_group_opts;

/* Creates an empty group with options (NULL: as weft_group_new). Returns
 * it, or NULL with errno:
 *   EINVAL  o->flags has unknown bits;
 *   ENOMEM  no memory. */
WEFT_API weft_group *weft_group_new_opts(const weft_group_opts *o);

/* Fails the calling task's group task with code err (> 0): the group's
 * first failure is recorded (with WEFT_GROUP_FAILFAST, the group's other
 * tasks are cancelled; the caller is not). The caller goes on and returns
 * as usual; its return value is then not checked. Does not block. Returns
 * 0, or -1 with errno:
 *   EPERM   the caller is not a task, or not a task of a group;
 *   EINVAL  err <= 0. */
WEFT_API int weft_group_fail(int err);

/* The code of g's first failure so far (0: none), and the index of the
 * task that failed in *index when there is one and index is not NULL.
 * Does not block; usable anywhere. -1 with errno EINVAL when g is NULL or
 * not a group. */
WEFT_API int weft_group_failure(const weft_group *g, size_t *index);

/* What the task of index `index` of g (a group made with
 * WEFT_GROUP_RESULTS) returned: once it has finished, stores its return
 * value in *result (when result is not NULL) and returns its failure code
 * (0 when it did not fail). Does not block; usable anywhere until g is
 * closed. Returns -1 with errno:
 *   EINVAL  g is NULL or not a group, has no WEFT_GROUP_RESULTS, or no
 *           task has that index;
 *   EAGAIN  that task has not finished. */
WEFT_API int weft_group_result(const weft_group *g, size_t index, void **result);

/* Spawns a task in g, as weft_spawn does. The handle may be passed to
 * weft_cancel until the task finishes. Returns the task, or NULL with
 * errno: the errors of weft_spawn, and EINVAL when g is NULL or not a
 * group. */
WEFT_API weft_co *weft_group_spawn(weft_group *g, weft_fn fn, void *arg, const weft_opts *opts);

/* Waits until every task of g has finished (after a failure too, as an
 * errgroup waits). Returns 0 when none failed, or the code (> 0) of the
 * first failure (see weft_group_failure), or -1 with errno (and the
 * common errors; a wait that ends so leaves the tasks running):
 *   EINVAL   g is NULL or not a group;
 *   EDEADLK  the caller is a task of g. */
WEFT_API int weft_group_wait(weft_group *g, int64_t deadline);

/* Cancels the tasks of g that have not finished, waits for all of them
 * (this wait cannot itself be cancelled) and frees g, with the results it
 * kept (weft_group_wait first to learn of a failure). Several tasks may
 * close g at once: each waits, all return 0 once g's tasks have finished,
 * and the last of them to return frees g; g must not be used after that.
 * Returns 0, or -1 with errno (g left as it was):
 *   EINVAL   g is NULL or not a group;
 *   EDEADLK  the caller is a task of g;
 *   EPERM    tasks of g have not finished and the caller, not being a task
 *            of weft_run, cannot wait for them. (An empty group may be
 *            closed anywhere.) */
WEFT_API int weft_group_close(weft_group *g);

/* ------------------------------------------------------------------------ */
/* Asynchronous I/O (the poll and io layers)                                 */
/* ------------------------------------------------------------------------ */

#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

/* A task that calls one of these on an fd that is not ready parks, and the
 * other tasks run; when no task is ready the thread sleeps in the poller
 * until an fd is ready, a deadline comes or another thread posts a wake-up.
 * Deadlines and the common errors are those of the scheduler section
 * (EPERM outside a task, ECANCELED, EAGAIN for deadline 0, ETIMEDOUT,
 * ENOMEM); tasks waiting on
 * fds, futures and offloaded calls count as wakeable for the deadlock
 * check. The thread's poller is made by the first call that needs it
 * (every call of this section that waits, weft_offload and
 * weft_future_wait); when it cannot be made they fail with the errno of
 * what failed: ENOMEM, or EMFILE or ENFILE (no fd for its eventfd or its
 * epoll instance).
 *
 * The poller is epoll (each fd registered once, edge-triggered) unless
 * WEFT_BACKEND=io_uring in the environment asks for io_uring (through
 * liburing: one multishot poll request per fd, armed by its first wait and
 * submitted by the system call that sleeps; one-shot requests per wait on
 * kernels before 5.13), which needs weft built with liburing and a kernel
 * that allows it, and falls back to epoll otherwise: weft_backend_reason
 * says why. WEFT_BACKEND=epoll asks for epoll. Under valgrind, ask for
 * io_uring at a risk: valgrind holds its one lock while a thread sleeps in
 * io_uring_enter, so a loop waiting there for a worker or a callback
 * thread would wait for ever.
 *
 * Why epoll is the default: both backends deliver readiness, so a request
 * costs the same reads and writes, and what differs is the CPU spent
 * around them. bench/io/run.sh measured both backends and the
 * hand-written epoll loop in the same runs (server on one CPU, load on
 * the other; server CPU per request or message, us, medians):
 *                                  weft epoll  weft io_uring  epoll loop
 *   run 1, 3 rounds  HTTP, 50 conns       10.29          10.83        8.26
 *                    HTTP, 1,000 conns    13.11          13.64       11.39
 *                    echo, 100 conns      10.29          11.68        9.96
 *   run 2, 2 rounds  HTTP, 50 conns        7.85           7.88        7.22
 *   (make bench)     HTTP, 1,000 conns    10.24          10.15        9.02
 *                    echo, 100 conns       6.99           7.64        6.71
 * epoll took less CPU on five of the six loads and 0.8% more on one; its
 * rate was higher on HTTP in run 2 (75,000 against 52,900 requests/s at
 * 50 connections, 54,000 against 48,200 at 1,000), io_uring's on echo
 * (110,500 against 75,200 messages/s; as a share of the loop's echo rate,
 * io_uring 1.47 and epoll 1.00 here, 1.38 and 1.09 in run 1, 0.87 and
 * 1.09 in an earlier run): rates on this shared 2-CPU machine swing
 * between runs, CPU per request less so.
 * epoll also runs under valgrind and qemu, which do not model io_uring.
 *
 * fds: any pollable fd works (sockets of every type, pipes, FIFOs, ttys
 * and ptys, eventfds, timerfds, signalfds). The
 * first weft call on an fd sets O_NONBLOCK on it (and the fd stays so;
 * other processes that share the open file see it too), and weft
 * remembers per thread what the fd is. Close such fds with weft_close, so
 * that a new fd that gets the same number is not taken for the old one
 * (fds that weft_accept and the socket helpers return are recognised as
 * new anyway), and because an io_uring poll request holds a reference to
 * its file: after a plain close(2) of an fd that a task waited on, the
 * socket stays open (the peer sees no end of file) until weft_run returns
 * or the fd number comes back from weft_accept or a helper. A regular file or block device, which
 * cannot be polled, is read and written on the worker pool (see weft_offload).
 *
 * One task at a time may wait to read an fd, and one to write it; another
 * gets EBUSY.
 *
 * fork(2), in a task or outside: the child gets a poller of its own (a new
 * epoll set or io_uring ring and eventfd, where the fds that tasks wait on
 * are armed again; the parent's are left as they are), so that each
 * process gets only its own events and wake-ups. Only the forking thread
 * exists in the child: its scheduler runs on there with all its tasks, as
 * in the parent (a task that waited on an fd waits on), while the
 * schedulers of other threads (weft_run_threads) do not. The child starts
 * worker threads of its own (see weft_offload for a call in flight at
 * fork). An fd open in
 * both is one open file: its data goes to whichever process reads first.
 *
 * SIGPIPE never kills: sockets are written with MSG_NOSIGNAL, and the
 * first weft call on a pipe or other non-socket fd blocks SIGPIPE in the
 * calling thread's signal mask (pthread_sigmask); a write whose reader is
 * gone fails with EPIPE, and the SIGPIPE it raised is taken off the
 * pending set. */

/* The backend of the calling thread's poller, or the one a new poller
 * would use: "io_uring" or "epoll". */
WEFT_API const char *weft_backend(void);

/* Why weft_backend() is what it is, as a static string to print:
 * "BACKEND: reason", one of
 *   "epoll: the default"
 *   "epoll: WEFT_BACKEND=epoll"
 *   "io_uring: WEFT_BACKEND=io_uring"
 *   "epoll: io_uring was asked for, but weft was built without liburing"
 *   "epoll: the kernel refused io_uring (ERRNO: what it means)", ERRNO
 *     being the errno of the ring's setup: EPERM (the
 *     kernel.io_uring_disabled sysctl, or not permitted here), ENOSYS (no
 *     io_uring in the kernel, or a seccomp filter), ENOMEM, EMFILE or
 *     ENFILE, EINVAL; another errno gives "(io_uring_queue_init failed)".
 * Of the calling thread's poller, or of the one a new poller would use.
 * Never fails. */
WEFT_API const char *weft_backend_reason(void);

/* Waits until fd is ready for events (POLLIN, POLLOUT or both). Returns
 * the events that are ready (an error or hang-up on the fd counts as
 * ready for all), or -1 with errno (and the common errors):
 *   EINVAL  events is 0 or has other bits;
 *   EBADF   fd is not open, or weft_close closed it during the wait;
 *   EBUSY   another task already waits on fd for one of the events. */
WEFT_API int weft_wait_fd(int fd, int events, int64_t deadline);

/* Reads up to len bytes, waiting until some are available; returns their
 * number (0 at end of file), or -1 with errno: the common errors, EBUSY,
 * and those of read(2) (EBADF, ECONNRESET, ...). */
WEFT_API ssize_t weft_read(int fd, void *buf, size_t len, int64_t deadline);

/* Writes all len bytes, waiting for room as needed; returns len, or -1
 * with errno (part may have been written: weft_writen tells how much):
 * the common errors, EBUSY,
 * EINVAL (len > SSIZE_MAX) and those of write(2) (EPIPE when the reader
 * is gone, ECONNRESET, EBADF, ...). */
WEFT_API ssize_t weft_write(int fd, const void *buf, size_t len, int64_t deadline);

/* As weft_write, and tells how much was written: *written (when written
 * is not NULL) is the number of bytes written, all len of them on success,
 * the part before the error otherwise (on ETIMEDOUT, EAGAIN, ECANCELED,
 * EPIPE, ...). Returns 0, or -1 with errno: those of weft_write, and
 * EINVAL when buf is NULL while len > 0. */
WEFT_API int weft_writen(int fd, const void *buf, size_t len, size_t *written, int64_t deadline);

/* As weft_read and weft_write, with buffers. weft_writev writes all of
 * them. Besides their errors: EINVAL when iovcnt < 0 or > IOV_MAX, or (to
 * a regular file) > 64. */
WEFT_API ssize_t weft_readv(int fd, const struct iovec *iov, int iovcnt, int64_t deadline);
WEFT_API ssize_t weft_writev(int fd, const struct iovec *iov, int iovcnt, int64_t deadline);

/* Sockets. weft_recv and weft_recvfrom receive once (as weft_read);
 * weft_send sends all of buf (as weft_write); weft_sendto sends one
 * datagram. flags as for recv(2)/send(2) (MSG_DONTWAIT is ignored; use
 * deadline 0; MSG_NOSIGNAL is always added). Errors: the common ones,
 * EBUSY, ENOTSOCK, and those of the system call. */
WEFT_API ssize_t weft_recv(int fd, void *buf, size_t len, int flags, int64_t deadline);
WEFT_API ssize_t weft_send(int fd, const void *buf, size_t len, int flags, int64_t deadline);
WEFT_API ssize_t weft_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr,
                               socklen_t *addrlen, int64_t deadline);
WEFT_API ssize_t weft_sendto(int fd, const void *buf, size_t len, int flags,
                             const struct sockaddr *addr, socklen_t addrlen, int64_t deadline);

/* Accepts a connection on the listening socket fd; the new fd has
 * O_NONBLOCK and O_CLOEXEC set. Returns it, or -1 with errno: the common
 * errors, EBUSY, and those of accept4(2): EINVAL (fd does not listen),
 * ENOTSOCK, and EMFILE or ENFILE when the process or system is out of fds
 * (the pending connection stays queued: back off, e.g. weft_sleep for a
 * few ms, and call again; the server's other tasks go on). */
WEFT_API int weft_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int64_t deadline);

/* Connects the socket fd, waiting until the connection is made. Returns 0,
 * or -1 with errno: the common errors (on EAGAIN, ETIMEDOUT or ECANCELED
 * the socket is left half-connected: close it), ENOTSOCK, and those of
 * connect(2) (ECONNREFUSED, ENETUNREACH, EAGAIN for a Unix socket whose
 * listener's backlog is full, ...). */
WEFT_API int weft_connect(int fd, const struct sockaddr *addr, socklen_t addrlen, int64_t deadline);

/* Closes fd after handing back any task that waits on it (its call then
 * fails with EBADF and does not use the number again, which the next open
 * may give to another file) and forgetting what the poller knew of it.
 * Returns what close(2) returns. Usable outside tasks. */
WEFT_API int weft_close(int fd);

/* ---- more calls on fds (what the hook layer routes libc's calls to) ---- */

/* As weft_accept, with accept4(2)'s flags: SOCK_CLOEXEC as asked; the new
 * fd is non-blocking underneath whatever SOCK_NONBLOCK says (weft needs
 * it so). Besides weft_accept's errors: EINVAL for other flags. */
WEFT_API int weft_accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags,
                          int64_t deadline);

/* pread(2) and pwrite(2) for a task: on a regular file or block device,
 * on the worker pool (as weft_read); on another fd, the system call on
 * the non-blocking fd, waiting for readiness (pipes and sockets fail with
 * ESPIPE). weft_pwrite writes all len bytes. Returns as weft_read and
 * weft_write; besides their errors, EINVAL for a negative off. */
WEFT_API ssize_t weft_pread(int fd, void *buf, size_t len, off_t off, int64_t deadline);
WEFT_API ssize_t weft_pwrite(int fd, const void *buf, size_t len, off_t off, int64_t deadline);

/* recvmsg(2) once (as weft_recv), and sendmsg(2) of the whole message
 * (as weft_send: a stream socket that takes part of it gets the rest
 * without the ancillary data, which goes with the first part). flags as
 * for weft_recv/weft_send. Errors: the common ones, EBUSY, EFAULT (msg is
 * NULL), ENOTSOCK (sendmsg on what is not a socket), EMSGSIZE (more than
 * IOV_MAX buffers), and those of the system call. */
WEFT_API ssize_t weft_recvmsg(int fd, struct msghdr *msg, int flags, int64_t deadline);
WEFT_API ssize_t weft_sendmsg(int fd, const struct msghdr *msg, int flags, int64_t deadline);

/* poll(2) for a task: looks at the n fds once and, if none is ready,
 * parks until one is or until the deadline, then fills each revents as
 * poll(2) does. One park for all the fds, no busy polling, and no fd is
 * added to or removed from the kernel's set per call (each stays
 * registered from its first wait until weft_close). fds are not made
 * non-blocking. An fd whose reader's (or writer's) slot another task
 * holds (see EBUSY above) is looked at again every millisecond instead.
 * An fd that weft_close, weft_fd_forget (or the hook's close and dup2)
 * ends during the wait reports POLLNVAL, even if its number is already
 * another file's.
 * Returns the number of fds with events, 0 when the deadline came first
 * (as poll(2) does, not ETIMEDOUT), or -1 with errno: EPERM, ECANCELED,
 * ENOMEM (the common ones), EFAULT (fds is NULL and n > 0), EINVAL (n is
 * above RLIMIT_NOFILE), and the poller's errors. */
WEFT_API int weft_poll(struct pollfd *fds, nfds_t n, int64_t deadline);

/* Hands back every task that waits on fd (their calls fail with EBADF)
 * and forgets what this thread's poller knew of it, without closing it:
 * for code that is about to close fd by other means, or replace it
 * (dup2), or that got a new fd of that number from a call weft did not
 * see. weft_close is this and close(2). Does nothing on a thread without
 * a poller. Returns 0, or -1 with errno EBADF when fd is negative. */
WEFT_API int weft_fd_forget(int fd);

/* ---- socket helpers ---- */

/* Each returns a socket with O_NONBLOCK and O_CLOEXEC set, or -1 with
 * errno. A host is a name or a numeric IPv4 or IPv6 address; names are
 * resolved with getaddrinfo on the worker pool, and each address is tried
 * in turn. Errors, besides the common ones and those of socket(2),
 * bind(2), listen(2) and connect(2) (EADDRINUSE, ECONNREFUSED, ...):
 *   EINVAL         port is outside 0..65535, or host/path is NULL where
 *                  it is required;
 *   EADDRNOTAVAIL  the host name does not resolve;
 *   ENAMETOOLONG   a Unix socket path does not fit in sun_path. */

/* Listens on TCP host:port (host NULL: every address, IPv6 and IPv4 where
 * the system has IPv6; port 0: any free port, see weft_local_port), with
 * SO_REUSEADDR; backlog <= 0 means SOMAXCONN. Does not block for a
 * numeric host or NULL, and may then be called outside a task. */
WEFT_API int weft_tcp_listen(const char *host, int port, int backlog);

/* Listens as weft_tcp_listen does, with SO_REUSEPORT besides: several
 * sockets may then listen on one host:port, and the kernel hands each new
 * connection to one of them (by a hash of its addresses and ports), so
 * that each worker of weft_run_threads listens and accepts on a socket of
 * its own. Every socket on the port must be opened this way, by the same
 * user: any other socket there makes the call fail with EADDRINUSE, and
 * weft_tcp_listen fails on a port that these hold. Port 0 gives each call
 * a port of its own: let the first caller take one, read it with
 * weft_local_port, and pass that number to the others. Connections still
 * queued on a socket when it is closed are reset, not handed to the others
 * (unless the sysctl net.ipv4.tcp_migrate_req is 1). Errors as for
 * weft_tcp_listen, and those of setsockopt(2): ENOPROTOOPT where the
 * kernel has no SO_REUSEPORT. */
WEFT_API int weft_tcp_listen_reuseport(const char *host, int port, int backlog);

/* Connects to TCP host:port, within the deadline. */
WEFT_API int weft_tcp_dial(const char *host, int port, int64_t deadline);

/* Listens on, or connects to, the Unix stream socket at path (listening
 * fails with EADDRINUSE when path exists). weft_unix_listen may be called
 * outside a task. */
WEFT_API int weft_unix_listen(const char *path, int backlog);
WEFT_API int weft_unix_dial(const char *path, int64_t deadline);

/* A UDP socket bound to host:port (host NULL: every address; port 0: any
 * free port). Use weft_sendto and weft_recvfrom on it. */
WEFT_API int weft_udp_bind(const char *host, int port);

/* The local port of a bound socket, or -1 with the errno of getsockname
 * (or EAFNOSUPPORT when it is not an IP socket). */
WEFT_API int weft_local_port(int fd);

/* ---- buffered streams ---- */

/* A reader and writer over one fd, for line and length protocols (Go's
 * bufio). Reads keep what they cannot deliver: a call that fails (a
 * deadline, a limit, end of file in the middle) consumes nothing, and the
 * next call starts where it stopped. Writes go to a buffer of fixed size,
 * written out when it fills and by weft_buf_flush. Every call that may
 * read or write the fd takes a deadline and has the errors of weft_read
 * or weft_writen besides its own (EPERM outside a task, ECANCELED,
 * EAGAIN for deadline 0, ETIMEDOUT, ECONNRESET, EPIPE, ...); a call
 * served from the buffer alone does not look at the deadline. One task
 * at a time uses a weft_buf. The fd stays the caller's: weft_buf_free
 * does not close it. */
typedef struct weft_buf weft_buf;

/* A stream over fd with a read buffer and a write buffer of size bytes
 * each (0: 4096); the read buffer grows when a call needs more (see
 * weft_buf_read_until and weft_buf_read_full). Usable outside tasks.
 * Returns it, or NULL with errno:
 *   EINVAL  fd < 0;
 *   ENOMEM  no memory. */
WEFT_API weft_buf *weft_buf_new(int fd, size_t size);

/* Frees b (NULL is ignored), dropping what it buffered: flush first. */
WEFT_API void weft_buf_free(weft_buf *b);

/* Makes sure something is buffered: when nothing is, reads the fd once
 * (waiting until the deadline for it to be readable), without consuming
 * anything. A server waits with it for the next request on an idle
 * connection and then gives the request its own deadline, in one system
 * call when the request is there (weft_wait_fd would look with poll(2)
 * first). Returns the number of bytes now buffered, 0 at end of file, or
 * -1 with errno: EINVAL (b is NULL), and those of weft_read. */
WEFT_API ssize_t weft_buf_fill(weft_buf *b, int64_t deadline);

/* Reads up to len bytes: the buffered ones, or else those of one read of
 * the fd. Returns their number, 0 at end of file (or len 0), or -1 with
 * errno: EINVAL (b is NULL, or dst is NULL while len > 0), and those of
 * weft_read. */
WEFT_API ssize_t weft_buf_read(weft_buf *b, void *dst, size_t len, int64_t deadline);

/* Reads up to and including the first byte equal to delim (0..255) into
 * dst, which has room for limit bytes. Returns the number of bytes stored
 * (the last is delim, except at end of file: the bytes left without it), 0
 * at end of file with nothing left, or -1 with errno (nothing consumed):
 *   EINVAL    b or dst is NULL, limit is 0 or > SSIZE_MAX, delim is not
 *             in 0..255;
 *   EMSGSIZE  no delim in the first limit bytes: they stay buffered (read
 *             them with weft_buf_read, or drop the connection);
 *   ENOMEM    no memory to grow the buffer to limit bytes;
 *   and those of weft_read (the bytes read so far stay buffered). */
WEFT_API ssize_t weft_buf_read_until(weft_buf *b, int delim, void *dst, size_t limit,
                                     int64_t deadline);

/* Reads a line ending with a newline byte (or the last one, at end of
 * file), stores it without its newline, and without a carriage return
 * before it (so "\r\n" lines lose both bytes), NUL-terminated in line,
 * whose size bytes must hold the line and its newline (so a line of at
 * most size - 1 bytes). Returns the length of the stored line (0 for an empty line), or
 * -1 with errno:
 *   ENODATA   end of file, nothing left;
 *   EMSGSIZE  the line does not fit (its first size bytes stay buffered);
 *   the other errors of weft_buf_read_until. */
WEFT_API ssize_t weft_buf_read_line(weft_buf *b, char *line, size_t size, int64_t deadline);

/* Reads exactly n bytes into dst (the buffer grows to n bytes if it must).
 * Returns n, 0 at end of file before any byte, or -1 with errno (nothing
 * consumed):
 *   EPROTO  end of file after some bytes but before n (they stay
 *           buffered: weft_buf_read takes them);
 *   EINVAL  b is NULL, dst is NULL while n > 0, or n > SSIZE_MAX;
 *   ENOMEM  no memory to grow the buffer;
 *   and those of weft_read. */
WEFT_API ssize_t weft_buf_read_full(weft_buf *b, void *dst, size_t n, int64_t deadline);

/* The number of bytes read from the fd and not yet consumed; 0 when b is
 * NULL. */
WEFT_API size_t weft_buf_buffered(const weft_buf *b);

/* Takes len bytes of src: into the write buffer, writing the buffer out
 * whenever it is full (a write of at least the buffer's size, with the
 * buffer empty, goes straight to the fd). *done (when done is not NULL) is
 * the number of bytes of src taken (buffered or written), all len on
 * success, the part before the error otherwise. Returns 0, or -1 with
 * errno: EINVAL (b is NULL, or src is NULL while len > 0) and those of
 * weft_writen (what the buffer held and could not write stays in it). */
WEFT_API int weft_buf_write(weft_buf *b, const void *src, size_t len, size_t *done,
                            int64_t deadline);

/* Writes out what the write buffer holds. Returns 0, or -1 with errno:
 * EINVAL (b is NULL) and those of weft_writen; the bytes not written stay
 * buffered, and the next flush tries them again. */
WEFT_API int weft_buf_flush(weft_buf *b, int64_t deadline);

/* ---- blocking calls and callbacks ---- */

/* Runs fn(arg) on a worker thread while the calling task waits and the
 * others run; stores its return value in *result (when result is not
 * NULL). The pool starts with the first call and has at most
 * WEFT_WORKERS threads (environment; default 4), which block every signal;
 * a worker starts whenever the calls waiting for one outnumber the idle
 * workers, so up to WEFT_WORKERS calls run at once. At exit the idle
 * workers are joined; exit() does not wait for a call still running (its
 * worker ends with the process). Once fn has started the wait cannot be
 * cancelled or timed out: it lasts as long as fn. A task on a shared stack
 * keeps its frames in place meanwhile (fn may use its locals): the other
 * started tasks of that stack wait until fn returns, so such a fn must not
 * wait for what another task does (it could wait for ever); give a task
 * whose call does a private stack. Outside a task, fn runs
 * on the calling thread. Returns 0, or -1 with errno:
 *   EINVAL     fn is NULL;
 *   ECANCELED  the task was cancelled before the call (fn did not run), or,
 *              in a child of fork, the call was in flight at fork (queued
 *              or running): it is the parent's, whose worker runs it and
 *              whose task gets its result, and fn does not run again in
 *              the child;
 *   EAGAIN     no worker thread could be started;
 *   ENOMEM     no memory for the call's record;
 *   ENOMEM, EMFILE, ENFILE  the thread's poller could not be made (see
 *              the start of this section). */
WEFT_API int weft_offload(weft_fn fn, void *arg, void **result);

/* getaddrinfo(3) on the worker pool. Returns its result; a weft error is
 * EAI_SYSTEM with errno set (EPERM, ECANCELED, EAGAIN). */
struct addrinfo;
WEFT_API int weft_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                              struct addrinfo **res);

/* A future: a one-shot event that carries one pointer, completed once by
 * anyone (a task, another thread, a callback of an event-driven library;
 * not a signal handler: completing takes a lock) and awaited by one task
 * of any thread (weft_future_wait, or a WEFT_FUTURE case of weft_select).
 * After fork(2), each process's copy of a future is completed only by
 * that process's calls. (weft_future is declared with weft_case.) */

/* Returns a new, pending future, or NULL with errno ENOMEM. */
WEFT_API weft_future *weft_future_new(void);

/* Completes f with value and wakes its waiter; callable from any thread,
 * inside or outside weft. Returns 0, or -1 with errno:
 *   EINVAL    f is NULL;
 *   EALREADY  f was already completed. */
WEFT_API int weft_future_complete(weft_future *f, void *value);

/* Waits until f is completed and stores its value in *value (when value
 * is not NULL). A completed future stays completed: later waits return at
 * once. Returns 0, or -1 with errno (and the common errors):
 *   EINVAL  f is NULL;
 *   EBUSY   another task already waits on f. */
WEFT_API int weft_future_wait(weft_future *f, void **value, int64_t deadline);

/* 1 if f is completed, 0 if not, -1 with errno EINVAL when f is NULL. */
WEFT_API int weft_future_done(weft_future *f);

/* Frees f (NULL is ignored). No task may be waiting on it, and no thread
 * may still be about to complete it. Not for an abandoned future. */
WEFT_API void weft_future_free(weft_future *f);

/* Gives up interest in f, e.g. after weft_future_wait timed out while the
 * callback that completes f may still run: whoever comes last frees f. If
 * f is completed, it is freed now; else weft_future_complete frees it
 * (the completer must not touch f after that call returns, as always
 * after completing an abandoned future). The two are decided under f's
 * lock, from any threads. After this call the caller must not use f:
 * weft_future_wait, weft_future_done and WEFT_FUTURE cases of an
 * abandoned future that still exists fail with EINVAL, and
 * weft_future_free must not be called. Returns 0, or -1 with errno:
 *   EINVAL    f is NULL;
 *   EBUSY     a task waits on f (nothing changed);
 *   EALREADY  f was abandoned already and is not yet completed (a second
 *             abandon after completion is a use after free, as for any
 *             freed object). */
WEFT_API int weft_future_abandon(weft_future *f);

/* An event channel: the multi-shot form of a future, for streams of
 * callbacks. Any thread (a plain pthread, a callback of an event-driven
 * library, a task) posts pointers with weft_events_post, which never
 * blocks; one task at a time receives them in order (weft_events_recv, or
 * a WEFT_EVENT case of weft_select). The queue is bounded: a post that
 * finds it full is refused with EAGAIN and counted (weft_events_dropped),
 * so that a producer that cannot wait learns of the overflow and the
 * consumer how much it missed; what the refused pointer owns stays the
 * producer's. Not for signal handlers (posting takes a lock). */

/* Returns a new event channel that holds up to capacity events, or NULL
 * with errno:
 *   EINVAL  capacity is 0 or too large for memory;
 *   ENOMEM  no memory. */
WEFT_API weft_events *weft_events_new(size_t capacity);

/* Queues value and wakes the waiting task; from any thread, never
 * blocks. Returns 0, or -1 with errno:
 *   EINVAL  e is NULL;
 *   EAGAIN  the queue is full: the event is dropped (and counted);
 *   EPIPE   e is closed. */
WEFT_API int weft_events_post(weft_events *e, void *value);

/* Ends the stream (from any thread): once the queued events are received,
 * weft_events_recv fails with EPIPE, and later posts too. Returns 0, or
 * -1 with errno EINVAL (e is NULL) or EPIPE (already closed). */
WEFT_API int weft_events_close(weft_events *e);

/* Takes the oldest event into *value (when value is not NULL), waiting
 * for one. Returns 0, or -1 with errno (and the common errors):
 *   EINVAL  e is NULL;
 *   EBUSY   another task already waits on e;
 *   EPIPE   e is closed and every event was received;
 *   ENOMEM, EMFILE, ENFILE  the thread's poller could not be made. */
WEFT_API int weft_events_recv(weft_events *e, void **value, int64_t deadline);

/* How many posts were refused because the queue was full (0 for NULL). */
WEFT_API unsigned long weft_events_dropped(weft_events *e);

/* Frees e and drops the events still queued (NULL is ignored). No task
 * may be waiting on it, and no thread may still post to it. */
WEFT_API void weft_events_free(weft_events *e);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_H */
