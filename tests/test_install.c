/* Installs weft into a temporary root and builds a program outside the
 * tree against it, with find_package(weft) and with pkg-config: runs
 * tests/install.sh, which says what it checks. Skipped under a tool
 * (valgrind, qemu, sanitizers): the installed library would be the tool's
 * build, and the script's compilers and cmake are not the tool's to run. */
#include "check.h"

int main(void)
{
    if (test_under()[0])
        test_skip("not under a tool: it builds and runs programs of its own");
    if (WEFT_INSTALL_SANITIZED)
        test_skip("a sanitized build: programs linked with it need the sanitizer's flags");
    execl("/bin/sh", "sh", WEFT_INSTALL_SCRIPT, WEFT_INSTALL_BUILD, WEFT_INSTALL_PREFIX,
          WEFT_INSTALL_LIBDIR, WEFT_INSTALL_CC, WEFT_INSTALL_CMAKE, (char *)NULL);
    FAIL("exec /bin/sh: %s", strerror(errno));
}
