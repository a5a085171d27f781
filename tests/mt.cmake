# The multi-worker tests (weft_run_threads): every tests/test_mt_*.c.
file(GLOB WEFT_MT_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/test_mt_*.c)
foreach(src ${WEFT_MT_TESTS})
  get_filename_component(name ${src} NAME_WE)
  weft_test(${name} SOURCE ${src} LINK Threads::Threads)
endforeach()
# test_mt_run makes the workers' pthread_create fail, for EAGAIN.
target_link_options(test_mt_run PRIVATE LINKER:--wrap=pthread_create)
