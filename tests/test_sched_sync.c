/* Mutex, condition variable, wait group and semaphore: exclusion, FIFO
 * hand-off, deadlines, and bad input. */
#include <limits.h>

#include "check.h"
#include "weft.h"

#define MS 1000000LL

static weft_mutex mu;
static weft_cond cv;
static weft_wg wg;
static weft_sem sem;
static int inside, counter, ready_flag;
static char order[32];
static int norder;

static void *locker(void *arg)
{
    for (int i = 0; i < 3; i++) {
        CHECK_INT(weft_mutex_lock(&mu, -1), 0);
        CHECK_INT(inside, 0);
        inside = 1;
        order[norder++] = (char)(intptr_t)arg;
        CHECK_INT(weft_pause(), 0); /* others run while we hold it */
        inside = 0;
        counter++;
        CHECK_INT(weft_mutex_unlock(&mu), 0);
    }
    return NULL;
}

static void *unlock_other(void *arg)
{
    (void)arg;
    CHECK_ERR(weft_mutex_unlock(&mu), -1, EPERM);
    CHECK_ERR(weft_mutex_lock(&mu, 0), -1, EAGAIN);
    int64_t t0 = weft_now();
    CHECK_ERR(weft_mutex_lock(&mu, t0 + 2 * MS), -1, ETIMEDOUT);
    CHECK(weft_now() >= t0 + 2 * MS);
    return NULL;
}

static void *cond_waiter(void *arg)
{
    CHECK_INT(weft_mutex_lock(&mu, -1), 0);
    while (!ready_flag)
        CHECK_INT(weft_cond_wait(&cv, &mu, -1), 0);
    order[norder++] = (char)(intptr_t)arg;
    CHECK_INT(weft_mutex_unlock(&mu), 0);
    return NULL;
}

static void *wg_worker(void *arg)
{
    CHECK_INT(weft_sleep(weft_now() + (intptr_t)arg * MS), 0);
    counter++;
    CHECK_INT(weft_wg_done(&wg), 0);
    return NULL;
}

static void *sem_taker(void *arg)
{
    CHECK_INT(weft_sem_wait(&sem, -1), 0);
    order[norder++] = (char)(intptr_t)arg;
    return NULL;
}

static void test_mutex(void)
{
    CHECK_INT(weft_mutex_init(&mu), 0);
    norder = 0;
    weft_co *a = weft_spawn(locker, (void *)'a', NULL);
    weft_co *b = weft_spawn(locker, (void *)'b', NULL);
    CHECK_INT(weft_join(a, NULL, -1), 0);
    CHECK_INT(weft_join(b, NULL, -1), 0);
    order[norder] = 0;
    CHECK_STR(order, "ababab"); /* FIFO hand-off: no barging */
    CHECK_INT(counter, 6);

    CHECK_INT(weft_mutex_lock(&mu, -1), 0);
    CHECK_ERR(weft_mutex_lock(&mu, -1), -1, EDEADLK);
    CHECK_ERR(weft_mutex_destroy(&mu), -1, EBUSY);
    weft_co *o = weft_spawn(unlock_other, NULL, NULL);
    CHECK_INT(weft_join(o, NULL, -1), 0);
    CHECK_INT(weft_mutex_unlock(&mu), 0);
    CHECK_ERR(weft_mutex_unlock(&mu), -1, EPERM);
    CHECK_INT(weft_mutex_destroy(&mu), 0);
    CHECK_ERR(weft_mutex_lock(&mu, -1), -1, EINVAL);
    CHECK_ERR(weft_mutex_unlock(&mu), -1, EINVAL);
    CHECK_ERR(weft_mutex_destroy(&mu), -1, EINVAL);
    CHECK_ERR(weft_mutex_lock(NULL, -1), -1, EINVAL);
    CHECK_ERR(weft_mutex_init(NULL), -1, EINVAL);
}

static void test_cond(void)
{
    CHECK_INT(weft_mutex_init(&mu), 0);
    CHECK_INT(weft_cond_init(&cv), 0);
    norder = 0;
    ready_flag = 0;
    weft_co *w[3];
    for (int i = 0; i < 3; i++)
        w[i] = weft_spawn(cond_waiter, (void *)(intptr_t)('1' + i), NULL);
    CHECK_INT(weft_pause(), 0);
    CHECK_ERR(weft_cond_destroy(&cv), -1, EBUSY);
    CHECK_INT(weft_cond_signal(&cv), 0); /* wakes '1', which waits again */
    CHECK_INT(weft_pause(), 0);
    CHECK_INT(norder, 0);
    CHECK_INT(weft_mutex_lock(&mu, -1), 0);
    ready_flag = 1;
    CHECK_INT(weft_cond_broadcast(&cv), 0);
    CHECK_INT(weft_mutex_unlock(&mu), 0);
    for (int i = 0; i < 3; i++)
        CHECK_INT(weft_join(w[i], NULL, -1), 0);
    CHECK_INT(norder, 3);

    /* Timeouts return with the mutex held again. */
    CHECK_INT(weft_mutex_lock(&mu, -1), 0);
    CHECK_ERR(weft_cond_wait(&cv, &mu, 0), -1, EAGAIN);
    int64_t t0 = weft_now();
    CHECK_ERR(weft_cond_wait(&cv, &mu, t0 + 2 * MS), -1, ETIMEDOUT);
    CHECK(weft_now() >= t0 + 2 * MS);
    CHECK_ERR(weft_mutex_lock(&mu, 0), -1, EDEADLK); /* still ours */
    CHECK_INT(weft_mutex_unlock(&mu), 0);
    CHECK_ERR(weft_cond_wait(&cv, &mu, -1), -1, EPERM); /* not held */
    CHECK_ERR(weft_cond_wait(NULL, &mu, -1), -1, EINVAL);
    CHECK_ERR(weft_cond_signal(NULL), -1, EINVAL);
    CHECK_ERR(weft_cond_broadcast(NULL), -1, EINVAL);
    CHECK_INT(weft_cond_destroy(&cv), 0);
    CHECK_ERR(weft_cond_destroy(&cv), -1, EINVAL);
    CHECK_ERR(weft_cond_init(NULL), -1, EINVAL);
    CHECK_INT(weft_mutex_destroy(&mu), 0);
}

static void *wg_waiter(void *arg)
{
    (void)arg;
    CHECK_INT(weft_wg_wait(&wg, -1), 0);
    CHECK_INT(counter, 3);
    return NULL;
}

static void test_wg(void)
{
    CHECK_INT(weft_wg_init(&wg), 0);
    CHECK_INT(weft_wg_wait(&wg, 0), 0); /* zero: does not block */
    counter = 0;
    CHECK_INT(weft_wg_add(&wg, 3), 0);
    weft_co *w[3];
    for (int i = 0; i < 3; i++)
        w[i] = weft_spawn(wg_worker, (void *)(intptr_t)(i + 1), NULL);
    weft_co *waiter = weft_spawn(wg_waiter, NULL, NULL);
    CHECK_ERR(weft_wg_wait(&wg, 0), -1, EAGAIN);
    CHECK_ERR(weft_wg_wait(&wg, weft_now() - 1), -1, ETIMEDOUT);
    CHECK_INT(weft_pause(), 0);
    CHECK_ERR(weft_wg_destroy(&wg), -1, EBUSY);
    CHECK_INT(weft_wg_wait(&wg, -1), 0);
    CHECK_INT(counter, 3);
    for (int i = 0; i < 3; i++)
        CHECK_INT(weft_join(w[i], NULL, -1), 0);
    CHECK_INT(weft_join(waiter, NULL, -1), 0);
    CHECK_ERR(weft_wg_done(&wg), -1, EINVAL); /* below zero */
    CHECK_INT(weft_wg_add(&wg, 1), 0);
    CHECK_ERR(weft_wg_add(&wg, LONG_MAX), -1, EINVAL); /* overflow */
    /* Below zero by far: -LONG_MIN itself does not exist. */
    CHECK_ERR(weft_wg_add(&wg, LONG_MIN), -1, EINVAL);
    CHECK_ERR(weft_wg_add(&wg, -2), -1, EINVAL);
    CHECK_INT(weft_wg_add(&wg, LONG_MAX - 1), 0); /* up to LONG_MAX */
    CHECK_ERR(weft_wg_add(&wg, 1), -1, EINVAL);
    CHECK_ERR(weft_wg_add(&wg, LONG_MIN), -1, EINVAL);
    CHECK_INT(weft_wg_add(&wg, -LONG_MAX + 1), 0);
    CHECK_INT(weft_wg_done(&wg), 0);
    CHECK_ERR(weft_wg_add(&wg, LONG_MIN), -1, EINVAL);
    CHECK_INT(weft_wg_destroy(&wg), 0);
    CHECK_ERR(weft_wg_add(&wg, 1), -1, EINVAL);
    CHECK_ERR(weft_wg_wait(&wg, 0), -1, EINVAL);
    CHECK_ERR(weft_wg_destroy(NULL), -1, EINVAL);
    CHECK_ERR(weft_wg_init(NULL), -1, EINVAL);
}

static void test_sem(void)
{
    CHECK_INT(weft_sem_init(&sem, 2), 0);
    CHECK_INT(weft_sem_wait(&sem, 0), 0);
    CHECK_INT(weft_sem_wait(&sem, 0), 0);
    CHECK_ERR(weft_sem_wait(&sem, 0), -1, EAGAIN);
    int64_t t0 = weft_now();
    CHECK_ERR(weft_sem_wait(&sem, t0 + 2 * MS), -1, ETIMEDOUT);
    CHECK(weft_now() >= t0 + 2 * MS);
    norder = 0;
    weft_co *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = weft_spawn(sem_taker, (void *)(intptr_t)('x' + i), NULL);
    CHECK_INT(weft_pause(), 0);
    CHECK_ERR(weft_sem_destroy(&sem), -1, EBUSY);
    for (int i = 0; i < 3; i++)
        CHECK_INT(weft_sem_post(&sem), 0);
    for (int i = 0; i < 3; i++)
        CHECK_INT(weft_join(t[i], NULL, -1), 0);
    order[norder] = 0;
    CHECK_STR(order, "xyz"); /* FIFO */
    CHECK_INT(weft_sem_destroy(&sem), 0);
    CHECK_ERR(weft_sem_post(&sem), -1, EINVAL);
    CHECK_ERR(weft_sem_wait(&sem, 0), -1, EINVAL);
    CHECK_ERR(weft_sem_destroy(&sem), -1, EINVAL);
    CHECK_ERR(weft_sem_init(NULL, 0), -1, EINVAL);
    CHECK_INT(weft_sem_init(&sem, UINT_MAX), 0);
    CHECK_ERR(weft_sem_post(&sem), -1, EOVERFLOW);
    CHECK_INT(weft_sem_destroy(&sem), 0);
}

static void *main_task(void *arg)
{
    (void)arg;
    test_mutex();
    test_cond();
    test_wg();
    test_sem();
    return NULL;
}

int main(void)
{
    weft_mutex m;
    CHECK_INT(weft_mutex_init(&m), 0);
    CHECK_ERR(weft_mutex_lock(&m, -1), -1, EPERM);
    CHECK_ERR(weft_mutex_unlock(&m), -1, EPERM);
    weft_sem s;
    weft_sem_init(&s, 1);
    CHECK_ERR(weft_sem_wait(&s, 0), -1, EPERM);
    weft_wg g;
    weft_wg_init(&g);
    CHECK_ERR(weft_wg_wait(&g, 0), -1, EPERM);
    weft_cond c;
    weft_cond_init(&c);
    CHECK_ERR(weft_cond_wait(&c, &m, 0), -1, EPERM);
    weft_mutex zero;
    memset(&zero, 0, sizeof zero);
    CHECK_ERR(weft_mutex_destroy(&zero), -1, EINVAL);
    CHECK_INT(weft_run(main_task, NULL, NULL), 0);
    return 0;
}
