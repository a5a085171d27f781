/* Per-thread and per-process state of the co layer: the thread's current
 * coroutine and root, coroutine ids, the default stack kind and size, and
 * what a thread gives back when it exits. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "co/co.h"
#include "co/switch.h"
#include "co/overflow.h"
#include "base/tools.h"

__thread weft__thread weft__th __attribute__((tls_model("initial-exec")));

/* ---- process defaults ---------------------------------------------------- */

int weft__default_kind = WEFT_STACK_PRIVATE;
size_t weft__default_size = WEFT_STACK_DEFAULT;
static pthread_once_t defaults_once = PTHREAD_ONCE_INIT;

int weft__stack_size_ok(size_t size)
{
    return size >= WEFT_STACK_MIN && size <= WEFT_STACK_MAX;
}

static void read_env_defaults(void)
{
    const char *kind = getenv("WEFT_STACK");
    if (kind && strcmp(kind, "shared") == 0)
        weft__default_kind = WEFT_STACK_SHARED;
    const char *size = getenv("WEFT_STACK_SIZE");
    if (size && *size) {
        char *end;
        unsigned long long v = strtoull(size, &end, 10);
        if (*end == 'k' || *end == 'K')
            v <<= 10, end++;
        else if (*end == 'm' || *end == 'M')
            v <<= 20, end++;
        if (*end == '\0' && weft__stack_size_ok((size_t)v))
            weft__default_size = (size_t)v;
    }
}

int weft_set_stack_defaults(int kind, size_t size)
{
    if ((kind != WEFT_STACK_PRIVATE && kind != WEFT_STACK_SHARED) ||
        (size != 0 && !weft__stack_size_ok(size))) {
        errno = EINVAL;
        return -1;
    }
    pthread_once(&defaults_once, read_env_defaults);
    __atomic_store_n(&weft__default_kind, kind, __ATOMIC_RELAXED);
    __atomic_store_n(&weft__default_size, size ? size : WEFT_STACK_DEFAULT, __ATOMIC_RELAXED);
    return 0;
}

/* ---- ids and threads ------------------------------------------------------ */

/* Ids are handed to threads in blocks so that creation takes no lock. */
#define ID_BLOCK 1024
static uint32_t id_source = 1;
static __thread uint32_t id_next, id_end __attribute__((tls_model("initial-exec")));

uint32_t weft__co_new_id(void)
{
    if (unlikely(id_next == id_end)) {
        id_next = __atomic_fetch_add(&id_source, ID_BLOCK, __ATOMIC_RELAXED);
        id_end = id_next + ID_BLOCK;
    }
    return id_next++;
}

static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;

static void thread_exit(void *unused)
{
    (void)unused;
    weft__switch_thread_exit();
    weft__shared_drain();
    weft__co_pool_drain();
    weft__stack_pool_drain();
    weft__overflow_thread_exit();
}

static void thread_key_init(void)
{
    if (pthread_key_create(&thread_key, thread_exit) != 0)
        thread_key = (pthread_key_t)-1;
}

void weft__thread_init(void)
{
    pthread_once(&defaults_once, read_env_defaults);
    weft__tools_init();
    weft__overflow_thread_init();
    pthread_once(&thread_key_once, thread_key_init);
    if (thread_key != (pthread_key_t)-1)
        pthread_setspecific(thread_key, &weft__th);
    weft__th.root.state = ST_ACTIVE;
    weft__th.root.kind = WEFT_STACK_PRIVATE;
    weft__th.root.slow = (uint8_t)weft__tools_fibers;
    if (weft__tools_tsan)
        weft__th.root.tsan_fiber = weft__tools_tsan_current();
    weft__th.cur = &weft__th.root;
}
