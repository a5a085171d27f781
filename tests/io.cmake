# The io layer's tests: every tests/test_io_*.c. Run the suite once per
# poller backend with WEFT_BACKEND=epoll and WEFT_BACKEND=io_uring.
file(GLOB WEFT_IO_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/test_io_*.c)
foreach(src ${WEFT_IO_TESTS})
  get_filename_component(name ${src} NAME_WE)
  weft_test(${name} SOURCE ${src} LINK Threads::Threads)
endforeach()
