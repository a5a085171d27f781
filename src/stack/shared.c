#include "stack/shared.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/tools.h"

typedef struct group {
    size_t size;
    unsigned next;
    unsigned n, cap; /* stacks made so far, room in stacks */
    weft__shared **stacks;
    struct group *link;
} group;

static __thread group *groups __attribute__((tls_model("initial-exec")));

/* A shared stack keeps its record at its own top, above the frames: it
 * costs no allocation. */
static weft__shared *shared_map(size_t size)
{
    weft__stack st;
    if (weft__stack_get(&st, size + 64) != 0)
        return NULL;
    weft__shared *s =
        (weft__shared *)(((uintptr_t)weft__stack_hi(&st) - sizeof *s) & ~(uintptr_t)63);
    s->stack = st;
    s->lo = weft__stack_lo(&st);
    s->hi = (char *)s;
    s->owner = NULL;
    s->users = 0;
    s->pinned = 0;
    return s;
}

static int avoided(const weft__shared *s, weft__shared *const *avoid, size_t navoid)
{
    if (s->pinned)
        return 1;
    for (size_t i = 0; i < navoid; i++)
        if (avoid[i] == s)
            return 1;
    return 0;
}

/* Adds a stack to g; its index, or -1 with errno ENOMEM. */
static int group_add(group *g)
{
    if (g->n == g->cap) {
        unsigned cap = g->cap ? g->cap * 2 : WEFT_SHARED_PER_SIZE;
        weft__shared **st = realloc(g->stacks, cap * sizeof *st);
        if (st == NULL) {
            errno = ENOMEM;
            return -1;
        }
        g->stacks = st;
        g->cap = cap;
    }
    if ((g->stacks[g->n] = shared_map(g->size)) == NULL)
        return -1;
    return (int)g->n++;
}

weft__shared *weft__shared_pick(size_t size, weft__shared *const *avoid, size_t navoid)
{
    group *g = groups;
    while (g && g->size != size)
        g = g->link;
    if (g == NULL) {
        g = calloc(1, sizeof *g);
        if (g == NULL) {
            errno = ENOMEM;
            return NULL;
        }
        g->size = size;
        g->link = groups;
        groups = g;
    }
    /* Turns among the first few; the first free turn that is not avoided. */
    int pick = -1;
    for (unsigned k = 0; k < WEFT_SHARED_PER_SIZE && pick < 0; k++) {
        unsigned i = g->next++ % WEFT_SHARED_PER_SIZE;
        if (i >= g->n)
            pick = group_add(g) < 0 ? -2 : (int)g->n - 1;
        else if (!avoided(g->stacks[i], avoid, navoid))
            pick = (int)i;
    }
    /* All turns avoided: any other stack of the size, else a new one. */
    for (unsigned i = WEFT_SHARED_PER_SIZE; pick == -1 && i < g->n; i++)
        if (!avoided(g->stacks[i], avoid, navoid))
            pick = (int)i;
    if (pick == -1)
        pick = group_add(g);
    if (pick < 0)
        return NULL;
    g->stacks[pick]->users++;
    return g->stacks[pick];
}

void weft__shared_drop(weft__shared *s)
{
    s->users--;
}

void weft__shared_drain(void)
{
    while (groups) {
        group *g = groups;
        groups = g->link;
        for (unsigned i = 0; i < g->n; i++) {
            weft__shared *s = g->stacks[i];
            /* A stack still used by a coroutine that outlives its thread
             * stays mapped: that coroutine may still be freed. */
            if (s && s->users == 0) {
                weft__stack st = s->stack;
                /* ASan's poison of a vacated stack would outlive it: the
                 * slab hands the memory to other stacks, and threads. */
                weft__tools_unpoison(s->lo, (size_t)(s->hi - s->lo));
                weft__stack_unmap(&st);
            }
        }
        free(g->stacks);
        free(g);
    }
}

static size_t deep_part(size_t len, uint32_t inl_cap)
{
    return len > inl_cap ? len - inl_cap : 0;
}

int weft__image_reserve(weft__image *im, size_t len, uint32_t inl_cap)
{
    size_t need = deep_part(len, inl_cap);
    if (need <= im->ext_cap)
        return 0;
    /* Sized to the need, rounded to malloc's 16-byte granule: the memory
     * per suspended coroutine is the figure that matters here. */
    need = (need + 15) & ~(size_t)15;
    if (need > UINT32_MAX) {
        errno = ENOMEM;
        return -1;
    }
    char *b = malloc(need);
    if (b == NULL) {
        errno = ENOMEM;
        return -1;
    }
    free(im->ext);
    im->ext = b;
    im->ext_cap = (uint32_t)need;
    return 0;
}

void weft__image_shrink(weft__image *im, size_t deep)
{
    if (deep == 0) {
        free(im->ext);
        im->ext = NULL;
        im->ext_cap = 0;
        return;
    }
    size_t cap = (deep + 15) & ~(size_t)15;
    char *b = realloc(im->ext, cap);
    if (b != NULL) {
        im->ext = b;
        im->ext_cap = (uint32_t)cap;
    }
}

int weft__image_access(weft__image *im, char *inl, uint32_t inl_cap, const char *hi, const char *at,
                       void *buf, size_t n, int dir)
{
    const char *from = hi - im->len;
    if (at < from || n > (size_t)(hi - at))
        return -1;
    /* The image keeps [from, hi) as an inline part, holding the top
     * inl_cap bytes (all of them when the image is that small), and a heap
     * part below it: a range may straddle the two. */
    const char *split = im->len > inl_cap ? hi - inl_cap : from;
    char *b = buf;
    while (n) {
        char *mem;
        size_t k;
        if (at < split) {
            mem = im->ext + (at - from);
            k = (size_t)(split - at);
        } else {
            mem = inl + (at - split);
            k = (size_t)(hi - at);
        }
        if (k > n)
            k = n;
        if (dir)
            memcpy(mem, b, k);
        else
            memcpy(b, mem, k);
        at += k;
        b += k;
        n -= k;
    }
    return 0;
}

void weft__image_free(weft__image *im)
{
    free(im->ext);
    im->ext = NULL;
    im->ext_cap = 0;
}
