# Run by `cmake --install` (cmake/package.cmake sets WEFT_LIBDIR): after a
# real install into a directory that the dynamic loader searches through
# its cache (/usr/local/lib on Debian), rebuild the cache so that programs
# find libweft.so.0; otherwise tell how they can.
if(NOT "$ENV{DESTDIR}" STREQUAL "")
  return()
endif()
find_program(WEFT_LDCONFIG ldconfig PATHS /sbin /usr/sbin)
set(searched "")
if(WEFT_LDCONFIG)
  # -N -v: list the configured directories without touching the cache.
  execute_process(COMMAND ${WEFT_LDCONFIG} -N -v OUTPUT_VARIABLE dirs ERROR_QUIET)
  string(REGEX MATCHALL "(^|\n)[^\t\n:]+:" searched "${dirs}")
  list(TRANSFORM searched REPLACE "^\n?(.*):$" "\\1")
endif()
list(FIND searched "${WEFT_LIBDIR}" at)
if(at GREATER -1 OR WEFT_LIBDIR MATCHES "^/(usr/)?lib(64|/[^/]+-linux-gnu)?$")
  execute_process(COMMAND id -u OUTPUT_VARIABLE uid OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(uid STREQUAL "0")
    message(STATUS "weft: ldconfig (so that programs find libweft.so in ${WEFT_LIBDIR})")
    execute_process(COMMAND ${WEFT_LDCONFIG})
  else()
    message(STATUS "weft: run ldconfig as root so that programs find libweft.so in ${WEFT_LIBDIR}")
  endif()
else()
  message(STATUS "weft: ${WEFT_LIBDIR} is not searched by the dynamic loader: link programs "
    "with -Wl,-rpath,${WEFT_LIBDIR}, or set LD_LIBRARY_PATH=${WEFT_LIBDIR}, or add the "
    "directory to /etc/ld.so.conf.d/ and run ldconfig (see README, Installing)")
endif()
