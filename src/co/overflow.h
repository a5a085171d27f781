/* Stack overflow report: a SIGSEGV handler on an alternate signal stack
 * that recognises a fault in the running coroutine's guard, prints one
 * line and aborts; other faults go to the handler that was there before. */
#ifndef WEFT_OVERFLOW_H
#define WEFT_OVERFLOW_H

/* Installs the process-wide handler once and this thread's alternate
 * signal stack (unless the thread has one already). */
void weft__overflow_thread_init(void);

/* Removes and frees this thread's alternate signal stack if weft made it. */
void weft__overflow_thread_exit(void);

#endif
