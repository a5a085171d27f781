/* libc's definitions of the calls the hook replaces, looked up with
 * dlsym(RTLD_NEXT) on first use (a call may come before any constructor,
 * from another library's), and what the hook does at exit. */
#include "hook/hook.h"

#include "base/sys.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

int *(*volatile weft__hook_errno_at)(void) = __errno_location;

static __thread int resolving;

static void die(const char *what, const char *name)
{
    char line[160];
    size_t n = 0;
    const char *parts[] = {"weft: hook: ", what, name, "\n"};
    for (size_t i = 0; i < 4; i++) {
        size_t k = strlen(parts[i]);
        if (k > sizeof line - n)
            k = sizeof line - n;
        memcpy(line + n, parts[i], k);
        n += k;
    }
    ssize_t w = weft__sys_write(2, line, n);
    (void)w;
    abort();
}

void *weft__hook_next(const char *name)
{
    /* dlsym may allocate; an allocator that called one of the hooked
     * functions while it starts would come back here. */
    if (resolving)
        die("a hooked call inside the lookup of ", name);
    resolving = 1;
    void *f = dlsym(RTLD_NEXT, name);
    resolving = 0;
    if (!f)
        die("no definition after the hook of ", name);
    return f;
}
