/*
 * weft_hook.h: libweft-hook.so, the hook layer. Unmodified code that makes
 * blocking libc calls (hiredis, libpq, libcurl's easy API, OpenSSL over a
 * socket, your own) runs concurrently inside weft tasks, on one thread, as
 * gevent's monkey patching does for Python.
 *
 * The library has no functions of its own: it defines libc's names (read,
 * connect, poll, sleep, getaddrinfo, ...). This header documents what it
 * does; including it is optional.
 *
 * ---- using it ------------------------------------------------------------
 *
 *   Preloaded: build the program against libweft.so (-lweft) and start it
 *     with LD_PRELOAD=libweft-hook.so. The hook depends on libweft.so, so
 *     the program and the hook share one weft (one scheduler per thread).
 *   Linked in: -Wl,--no-as-needed -lweft-hook -lweft. The program's calls
 *     (and those of the shared libraries it loads) resolve to the hook,
 *     which comes before libc. --no-as-needed keeps the dependency: nothing
 *     but libc's own names ties the program to the hook.
 *
 * Inside a task of weft_run, a hooked call that would block parks the
 * task, and the thread runs the other tasks until the fd is ready, the
 * sleep ends or the worker pool returns. Outside a task (on the thread's
 * own stack, on a thread with no weft_run, on weft's workers, in the
 * scheduler's loop) every call is libc's own, resolved with
 * dlsym(RTLD_NEXT): a process that never calls weft behaves as without
 * the hook. The one difference outside tasks: an fd that a task used is
 * non-blocking underneath (see below), and a call on it that the program
 * expects to block waits for readiness with poll(2) and tries again, so
 * that it still blocks.
 *
 * ---- what is hooked ------------------------------------------------------
 *
 * fd I/O: read, write, readv, writev, pread, pwrite (and pread64/pwrite64):
 *   weft_read, weft_write, ... Regular files and block devices go to
 *   weft's worker pool (or io_uring), as weft_read does; write and writev
 *   write all, as a blocking write does. sendfile (and sendfile64) waits
 *   for room in its output fd.
 * sockets: recv, recvfrom, recvmsg, send, sendto, sendmsg, accept,
 *   accept4, connect (non-blocking connect, a wait for POLLOUT, then
 *   SO_ERROR). MSG_DONTWAIT makes a call libc's (it must not block);
 *   MSG_WAITALL is honoured by receiving until the length is reached.
 * waiting: poll, ppoll, select, pselect: one park on all the fds through
 *   weft's poller (weft_poll), woken by the first ready fd or the timeout.
 *   epoll_wait and epoll_pwait on the program's own epoll fd: a wait for
 *   that fd to be readable, then the call with timeout 0. A call with
 *   timeout 0 is libc's.
 * sleeping: sleep, usleep, nanosleep, clock_nanosleep (CLOCK_MONOTONIC,
 *   _REALTIME, _BOOTTIME, _TAI, relative or TIMER_ABSTIME; the CPU-time
 *   clocks are libc's). A sleep of zero lets the other tasks run.
 * names: getaddrinfo (weft_getaddrinfo), getnameinfo, gethostbyname,
 *   gethostbyname2, gethostbyname_r, gethostbyname2_r, on the worker
 *   pool. gethostbyname's result stays valid until the next such call on
 *   the same thread.
 * fd life: close, and dup2/dup3 over an fd: a task that waits on that fd
 *   is handed back at once (its call fails with EBADF; a poll reports
 *   POLLNVAL; select fails with EBADF) and the poller forgets the fd
 *   (weft_fd_forget), before the kernel replaces it. socket, socketpair,
 *   pipe, pipe2, accept, accept4, dup, dup2, dup3, fcntl(F_DUPFD), open,
 *   openat: the new fd's record starts afresh, so that a reused number is
 *   never taken for the old file.
 * O_NONBLOCK: fcntl (and fcntl64) and ioctl(FIONBIO). The first blocking
 *   call that a task makes on an fd makes it non-blocking underneath (weft
 *   needs it so). The O_NONBLOCK the program set stays the program's:
 *   F_GETFL reports what the program set, a program that set O_NONBLOCK
 *   (fcntl, ioctl, SOCK_NONBLOCK, O_NONBLOCK of pipe2 or open) gets EAGAIN
 *   as before (its calls are libc's), and clearing it clears only the
 *   program's view. A duplicate (dup, dup2, F_DUPFD) inherits the view, as
 *   it shares the open file. At exit, the fds the hook made non-blocking
 *   and that the program sees as blocking are made blocking again (not in
 *   a child of fork, whose parent may still use them).
 * timeouts: setsockopt SO_RCVTIMEO and SO_SNDTIMEO (both forms) are
 *   recorded and become the deadline of each call in a task: a read,
 *   recv* or accept that times out fails with EAGAIN, as the kernel says
 *   it; a connect under SO_SNDTIMEO fails with EINPROGRESS (it goes on).
 *   getsockopt returns them (the kernel has them too).
 * fortified names: __read_chk, __pread_chk, __pread64_chk, __recv_chk,
 *   __recvfrom_chk, __poll_chk, __ppoll_chk, which code built with
 *   _FORTIFY_SOURCE calls (Debian builds its libraries so).
 * fork is not interposed: weft's own fork handlers (pthread_atfork) give
 *   the child a fresh poller and pool, and the hook's records, which
 *   describe fds, are right in the child as they are.
 *
 * errno: the hook reads it through a function pointer that the compiler
 * must call at every use, never through an address kept across a call
 * that switches tasks (__errno_location is declared const).
 *
 * Errors in a task, besides the call's own: ECANCELED when the task is
 * cancelled (weft_cancel; every later call fails so, and the task
 * unwinds; sleep returns the seconds left), ENOMEM (no memory for a timer
 * or a shared stack's frames), and the poller's errors (EMFILE, ENFILE).
 *
 * ---- what is not hooked, and why -----------------------------------------
 *
 *   - Calls made with syscall(2) or inline system calls (the Go runtime,
 *     some allocators, liburing): no symbol to interpose. They block the
 *     thread. weft itself makes its fd calls so, on purpose (src/base/
 *     sys.h): the hook never sees weft's own calls.
 *   - libc's calls to itself: stdio (fread, fgets, fprintf, getline on a
 *     FILE over a socket or pipe), popen, system, syslog and the resolver's
 *     own sockets call libc's internal read and write, which no interposer
 *     sees. stdio on a socket or pipe blocks the thread; on a file it is
 *     fast anyway. (The resolver runs on a worker, where blocking is fine.)
 *   - vDSO calls (clock_gettime, gettimeofday, time, getcpu): they never
 *     block and never enter the kernel.
 *   - Libraries that create their own threads (libcurl's threaded
 *     resolver, gRPC, librdkafka, a logging thread): their threads are
 *     outside any task, so their calls are libc's, which is right. But a
 *     task that waits for such a thread through a pthread mutex, condition
 *     variable or semaphore blocks the whole thread: pthread_mutex_lock,
 *     pthread_cond_wait, sem_wait, futex waits are not hooked (a task
 *     must not block on a lock that another task of its thread holds; use
 *     weft's own locks, or weft_future from the other thread).
 *   - Other blocking calls: wait, waitpid, waitid, flock, fcntl(F_SETLKW),
 *     lockf, msgrcv/mq_receive, sigwait, sigsuspend, pause, splice, tee,
 *     recvmmsg, sendmmsg, preadv, pwritev, io_submit: they block the
 *     thread as before (splice, recvmmsg and sendmmsg on an fd that a task
 *     made non-blocking return EAGAIN instead of blocking).
 *   - ppoll, pselect and epoll_pwait's signal mask is not applied in a task:
 *     the thread runs other tasks while the call waits, and a mask set for
 *     the whole thread would apply to them too.
 *   - A send, sendmsg or writev that an SO_SNDTIMEO timeout (or an error)
 *     ends after part of it was written fails with EAGAIN (or the error)
 *     rather than returning the part; write returns the part, as the
 *     kernel does.
 *   - exec: a program that a child of fork executes inherits its fds,
 *     and those that a task used are non-blocking underneath (the open
 *     file is shared, as with any library that sets O_NONBLOCK). Made
 *     blocking again only at the hook's own exit; a program that hands an
 *     fd it used in a task to another program should clear O_NONBLOCK
 *     with a raw fcntl system call, or use a fresh fd (dup3 does not
 *     help: the flag belongs to the open file).
 *   - O_NONBLOCK is kept per fd, not per open file: a file opened once
 *     and reached through two fds that were not made with dup (inherited
 *     across fork, or passed over a Unix socket) may disagree.
 *   - Two tasks that block on the same fd in the same direction (two
 *     readers of one socket, two acceptors of one listener): weft's
 *     poller has one waiter per direction, so the second looks again
 *     every millisecond until the first is done. Correct, not free.
 *   - Programs that cannot use either way: a static executable (no
 *     dynamic symbols to interpose) or one whose libraries are loaded with
 *     RTLD_DEEPBIND.
 *
 * ---- the known failure modes of hook libraries, and how weft avoids each --
 *
 *   - libco's 1 s default socket timeout: its hooked sockets get a
 *     1000 ms read and write timeout unless the program sets its own, so
 *     a query that takes longer fails. weft adds no timeout: a call waits
 *     as long as the blocking call would; only the program's own
 *     SO_RCVTIMEO/SO_SNDTIMEO bound it.
 *   - epoll ADD and DEL on every wait (a hooked read or poll that adds
 *     its fds to the epoll set and removes them afterwards: two system
 *     calls more per wait). weft's poller registers an fd once, at its
 *     first wait (edge-triggered epoll, or a multishot io_uring poll), and
 *     keeps it until close: a wait costs no epoll_ctl. A TCP read that
 *     came back short is not tried again until the next edge, so a request
 *     and its answer cost one write and one read.
 *   - Busy-polling multi-fd poll (a poll of several fds done as a loop of
 *     poll(0) and short sleeps, burning CPU and adding latency): weft_poll
 *     parks once on all the fds and is woken by the first that is ready.
 *   - A racing reader blocking the thread after poll (poll says readable,
 *     another task reads the data first, and this task's read, on a
 *     blocking fd, blocks the whole thread in the kernel): every fd a task
 *     waits on is non-blocking underneath, so the late read gets EAGAIN
 *     inside the hook and parks again.
 *   - A missed accept or getaddrinfo (a hook library that covers read and
 *     write but not accept4, or leaves name resolution to block the thread
 *     for seconds): weft hooks accept and accept4, connect, and the whole
 *     resolver family (getaddrinfo, getnameinfo, gethostbyname and its
 *     forms), on the worker pool; and the _FORTIFY_SOURCE names (__read_chk
 *     and the like) that fortified libraries call instead of read.
 *   - Also avoided: the program's O_NONBLOCK lost or leaked (see above);
 *     errno's address cached across a switch; a close that leaves a task
 *     waiting on a number that is already another file's; an io_uring poll
 *     that keeps a closed socket open; weft's own calls looping back into
 *     the hook (they are system calls, see above); dlsym recursing into
 *     the hook during start-up (a hooked call during the lookup is
 *     reported with a "weft: " line instead of looping).
 */
#ifndef WEFT_HOOK_H_PUBLIC
#define WEFT_HOOK_H_PUBLIC

#include "weft.h"

#endif
