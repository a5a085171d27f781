# The sched layer's tests: every tests/test_sched_*.c, built like the rest.
file(GLOB WEFT_SCHED_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/test_sched_*.c)
foreach(src ${WEFT_SCHED_TESTS})
  get_filename_component(name ${src} NAME_WE)
  weft_test(${name} SOURCE ${src})
endforeach()
# The watchdog's backtrace names the test's own functions.
target_link_options(test_sched_watchdog PRIVATE -rdynamic)
