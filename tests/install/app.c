/* A program built outside weft's tree against an installed weft
 * (tests/install.sh builds it with find_package(weft) and with
 * pkg-config): a task sends three numbers to another over a channel. */
#include <stdio.h>
#include <weft.h>

static void *consumer(void *arg)
{
    weft_chan *ch = arg;
    long sum = 0;
    int v;
    while (weft_chan_recv(ch, &v, -1) == 0)
        sum += v;
    return (void *)sum;
}

static void *producer(void *arg)
{
    (void)arg;
    weft_chan *ch = weft_chan_new(sizeof(int), 0);
    if (!ch)
        return (void *)-1L;
    weft_co *t = weft_spawn(consumer, ch, NULL);
    for (int i = 1; i <= 3; i++)
        weft_chan_send(ch, &i, -1);
    weft_chan_close(ch);
    void *sum = NULL;
    weft_join(t, &sum, -1);
    weft_chan_free(ch);
    return sum;
}

int main(void)
{
    void *sum = NULL;
    if (weft_run(producer, NULL, &sum) != 0) {
        perror("weft_run");
        return 1;
    }
    printf("sum=%ld backend=%s\n", (long)sum, weft_backend_reason());
    return (long)sum == 6 ? 0 : 1;
}
