/* Stands in for a hook test that could not be built here: says why and
 * reports itself skipped (exit 77). */
#include "check.h"

int main(void)
{
    test_skip(HOOK_SKIP_REASON);
}
