/* Shields (Trio's shielded cancel scope): a cancelled task opens one to
 * run its cleanup, and its blocking calls work again, each capped by the
 * shield's deadline. A shield is a record in the task's own frames, only
 * touched while the task runs; the task record points to the innermost
 * and keeps the deadline every wait gets, so that the parking seam and
 * weft_cancel look at the record alone. */
#include "sched/sched.h"

#include <errno.h>

#define SHIELD_MAGIC 0x73686c64u

int weft_shield_begin(weft_shield *sh, int64_t deadline)
{
    weft__task *t = weft__self();
    if (!t)
        return -1;
    if (!sh) {
        errno = EINVAL;
        return -1;
    }
    if (deadline < 0)
        deadline = -1;
    sh->magic = SHIELD_MAGIC;
    sh->prev = t->shield;
    sh->prev_deadline = t->shield_dl;
    /* A nested shield never outlasts the one around it. */
    if (t->shield && t->shield_dl >= 0 && (deadline < 0 || t->shield_dl < deadline))
        deadline = t->shield_dl;
    t->shield = sh;
    t->shield_dl = deadline;
    return 0;
}

int weft_shield_end(weft_shield *sh)
{
    weft__task *t = weft__self();
    if (!t)
        return -1;
    if (!sh) {
        errno = EINVAL;
        return -1;
    }
    if (sh->magic != SHIELD_MAGIC || t->shield != sh)
        weft__co_die(t->co, "weft_shield_end of a shield that is not the task's innermost");
    sh->magic = 0;
    t->shield = sh->prev;
    t->shield_dl = sh->prev_deadline;
    return t->cancelled && !t->shield;
}
