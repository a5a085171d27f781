# The hook's tests against real servers: tests/test_hookreal_{redis,pg,curl,
# ssl}.c call hiredis, libpq, libcurl and OpenSSL through their unmodified
# blocking APIs inside weft tasks. Each is built twice, as the hook's own
# tests are (tests/hook.cmake, tests/hook_util.h): test_hookreal_X_linked,
# linked with libweft-hook, and test_hookreal_X_preload, which runs itself
# again with LD_PRELOAD. A library that is not installed, or a build without
# libweft-hook, gives a stand-in that skips saying why; a server program
# that is missing skips at run time (CI installs the Debian packages).

set(HOOKREAL_FIXTURE hook_fixture.c hook_tserver.c hook_probe.c)

# A stand-in test that skips with reason.
function(hookreal_skip name reason)
  weft_test(${name} SOURCE hook_skip.c)
  target_compile_definitions(${name} PRIVATE HOOK_SKIP_REASON="${reason}")
endfunction()

# hookreal_test(topic INCLUDE dir LIBS libs...): both variants of
# test_hookreal_<topic>.
function(hookreal_test topic)
  cmake_parse_arguments(H "" "" "INCLUDE;LIBS" ${ARGN})
  set(name test_hookreal_${topic})
  weft_test(${name}_linked SOURCE ${name}.c LIB weft_shared
    LINK -Wl,--no-as-needed weft_hook -Wl,--as-needed ${H_LIBS} Threads::Threads ${CMAKE_DL_LIBS})
  weft_test(${name}_preload SOURCE ${name}.c LIB weft_shared
    LINK ${H_LIBS} Threads::Threads ${CMAKE_DL_LIBS})
  target_compile_definitions(${name}_preload PRIVATE WEFT_HOOK_PRELOAD="$<TARGET_FILE:weft_hook>")
  add_dependencies(${name}_preload weft_hook)
  foreach(t ${name}_linked ${name}_preload)
    target_sources(${t} PRIVATE ${HOOKREAL_FIXTURE})
    target_include_directories(${t} PRIVATE ${H_INCLUDE})
  endforeach()
endfunction()

if(CMAKE_CROSSCOMPILING)
  set(hookreal_skip "not built when cross-compiling (the client libraries found are the build machine's)")
elseif(NOT TARGET weft_hook)
  set(hookreal_skip "libweft-hook is not built")
else()
  set(hookreal_skip "")
endif()

find_path(HOOKREAL_HIREDIS_INCLUDE hiredis/hiredis.h)
find_library(HOOKREAL_HIREDIS_LIB hiredis)
find_path(HOOKREAL_PQ_INCLUDE libpq-fe.h PATH_SUFFIXES postgresql)
find_library(HOOKREAL_PQ_LIB pq)
find_path(HOOKREAL_CURL_INCLUDE curl/curl.h)
find_library(HOOKREAL_CURL_LIB curl)
find_package(OpenSSL QUIET)

# topic, found, Debian package, include dir, libraries
macro(hookreal_add topic found package include)
  if(hookreal_skip)
    hookreal_skip(test_hookreal_${topic} "${hookreal_skip}")
  elseif(NOT ${found})
    hookreal_skip(test_hookreal_${topic} "${package} is not installed")
    message(STATUS "weft: test_hookreal_${topic} skips: ${package} is not installed")
  else()
    hookreal_test(${topic} INCLUDE ${include} LIBS ${ARGN})
  endif()
endmacro()

set(hookreal_have_hiredis FALSE)
if(HOOKREAL_HIREDIS_INCLUDE AND HOOKREAL_HIREDIS_LIB)
  set(hookreal_have_hiredis TRUE)
endif()
set(hookreal_have_pq FALSE)
if(HOOKREAL_PQ_INCLUDE AND HOOKREAL_PQ_LIB)
  set(hookreal_have_pq TRUE)
endif()
set(hookreal_have_curl FALSE)
if(HOOKREAL_CURL_INCLUDE AND HOOKREAL_CURL_LIB)
  set(hookreal_have_curl TRUE)
endif()

hookreal_add(redis hookreal_have_hiredis libhiredis-dev "${HOOKREAL_HIREDIS_INCLUDE}" ${HOOKREAL_HIREDIS_LIB})
hookreal_add(pg hookreal_have_pq libpq-dev "${HOOKREAL_PQ_INCLUDE}" ${HOOKREAL_PQ_LIB})
hookreal_add(curl hookreal_have_curl libcurl4-openssl-dev "${HOOKREAL_CURL_INCLUDE}" ${HOOKREAL_CURL_LIB})
hookreal_add(ssl OPENSSL_FOUND libssl-dev "${OPENSSL_INCLUDE_DIR}" OpenSSL::SSL OpenSSL::Crypto)
