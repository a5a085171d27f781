/* Shared stacks: one guarded stack that many coroutines run on. Only the
 * coroutine that owns it has its frames in place; the others keep a copy of
 * the part they used (their image) and copy it back when they run again.
 * Copies are lazy: a coroutine's frames leave the stack only when another
 * coroutine needs it. */
#ifndef WEFT_SHARED_H
#define WEFT_SHARED_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/tools.h"
#include "stack/stack.h"

typedef struct weft__shared {
    weft__stack stack;
    char *lo, *hi;   /* usable range; frames grow down from hi */
    void *owner;     /* the coroutine whose frames are in place */
    size_t users;    /* coroutines assigned to this stack */
    unsigned pinned; /* while nonzero, the owner's frames must stay */
} weft__shared;

/* A coroutine's copy of its frames: the bytes [hi - len, hi) of its shared
 * stack. The top `inl_cap` bytes (the frames it always has) live in storage
 * inside the coroutine object; only what lies deeper takes a heap block, of
 * the size needed, so that a coroutine costs one allocation until its stack
 * grows. */
typedef struct weft__image {
    char *ext; /* the deeper part, or NULL */
    uint32_t len, ext_cap;
} weft__image;

/* Number of shared stacks per size on each thread that new coroutines
 * take turns on: two coroutines that alternate are put on different ones,
 * so neither copies. More are made only when all of these are avoided. */
#define WEFT_SHARED_PER_SIZE 4

/* Picks a shared stack of `size` usable bytes for a coroutine that is about
 * to run for the first time: round robin among this thread's stacks of that
 * size, skipping the `navoid` stacks of `avoid` (those of its resumers) and
 * pinned ones, making a new stack when every one is skipped. Maps it on
 * first use. Returns NULL with errno ENOMEM. */
weft__shared *weft__shared_pick(size_t size, weft__shared *const *avoid, size_t navoid);

/* A coroutine no longer uses s. */
void weft__shared_drop(weft__shared *s);

/* Unmaps this thread's unused shared stacks (thread exit). */
void weft__shared_drain(void);

/* Makes the image able to hold `len` bytes. Returns 0, or -1 with errno
 * ENOMEM. */
int weft__image_reserve(weft__image *im, size_t len, uint32_t inl_cap);

/* Nonzero when the image can hold `len` bytes without allocating. */
static inline int weft__image_fits(const weft__image *im, size_t len, uint32_t inl_cap)
{
    return len <= (size_t)inl_cap + im->ext_cap;
}

/* Gives back most of a heap block much larger than `deep` bytes. */
void weft__image_shrink(weft__image *im, size_t deep);

/* Copies [from, hi) into the image, which must be able to hold it, and
 * gives back heap memory that is much larger than needed. Inline, with
 * inl_cap a constant at the call, so that the copy of the inline part, of
 * that fixed size whenever there is a deeper part, is not a call. */
static inline void weft__image_save(weft__image *im, const char *from, const char *hi, char *inl,
                                    uint32_t inl_cap)
{
    size_t len = (size_t)(hi - from);
    /* The frames may hold poisoned redzones of instrumented code. */
    weft__tools_unpoison(from, len);
    if (len > inl_cap) {
        size_t deep = len - inl_cap;
        if (__builtin_expect(im->ext_cap > 256 && deep * 4 < im->ext_cap, 0))
            weft__image_shrink(im, deep);
        memcpy(inl, hi - inl_cap, inl_cap);
        memcpy(im->ext, from, deep);
    } else {
        if (__builtin_expect(im->ext_cap > 256, 0))
            weft__image_shrink(im, 0);
        memcpy(inl, from, len);
    }
    im->len = (uint32_t)len;
}

/* Copies the image back to end at hi. */
static inline void weft__image_restore(const weft__image *im, char *hi, const char *inl,
                                       uint32_t inl_cap)
{
    size_t len = im->len;
    char *to = hi - len;
    weft__tools_writable(to, len);
    if (len > inl_cap) {
        memcpy(hi - inl_cap, inl, inl_cap);
        memcpy(to, im->ext, len - inl_cap);
    } else {
        memcpy(to, inl, len);
    }
}

/* Copies n bytes between buf and the saved image's copy of the stack bytes
 * at [at, at + n), an address range on the stack that ends at hi: into the
 * image when `dir` is 1, out of it when 0. Returns 0, or -1 when the range
 * is not within the saved frames. */
int weft__image_access(weft__image *im, char *inl, uint32_t inl_cap, const char *hi, const char *at,
                       void *buf, size_t n, int dir);

/* Frees the image's heap block, if any. */
void weft__image_free(weft__image *im);

#endif
