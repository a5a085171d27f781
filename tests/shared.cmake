# Shared-stack tests: every tests/test_shared_*.c, built like the rest, except
# the hazard launcher, which needs its AddressSanitizer worker.
file(GLOB WEFT_SHARED_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/test_shared_*.c)
list(FILTER WEFT_SHARED_TESTS EXCLUDE REGEX "test_shared_hazard\\.c$")
foreach(src ${WEFT_SHARED_TESTS})
  get_filename_component(name ${src} NAME_WE)
  weft_test(${name} SOURCE ${src})
endforeach()


# The hazard: a use of a suspended shared coroutine's frames is reported by
# ASan. Needs a sanitized program with an ordinary weft (as asan_worker).
if(NOT WEFT_SANITIZE AND NOT CMAKE_CROSSCOMPILING AND WEFT_HAVE_ASAN)
  add_executable(shared_hazard_worker shared_hazard_worker.c)
  set_target_properties(shared_hazard_worker PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  target_compile_definitions(shared_hazard_worker PRIVATE _GNU_SOURCE)
  target_compile_options(shared_hazard_worker PRIVATE -fsanitize=address -fno-omit-frame-pointer)
  target_link_options(shared_hazard_worker PRIVATE -fsanitize=address)
  target_link_libraries(shared_hazard_worker PRIVATE weft_static)
  weft_test(test_shared_hazard SOURCE test_shared_hazard.c)
  target_compile_definitions(test_shared_hazard PRIVATE
    WEFT_HAZARD_WORKER="$<TARGET_FILE:shared_hazard_worker>")
  add_dependencies(test_shared_hazard shared_hazard_worker)
endif()
