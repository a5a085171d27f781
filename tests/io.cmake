# The io layer's tests: every tests/test_io_*.c. Run the suite once per
# poller backend with WEFT_BACKEND=epoll and WEFT_BACKEND=io_uring.
file(GLOB WEFT_IO_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/test_io_*.c)
foreach(src ${WEFT_IO_TESTS})
  get_filename_component(name ${src} NAME_WE)
  weft_test(${name} SOURCE ${src} LINK Threads::Threads)
endforeach()
# test_io_examples runs the echo and HTTP examples as programs.
target_compile_definitions(test_io_examples PRIVATE
  WEFT_EXAMPLE_ECHO="$<TARGET_FILE:example_echo>" WEFT_EXAMPLE_HTTP="$<TARGET_FILE:example_http>")
add_dependencies(test_io_examples example_echo example_http)
# test_io_chat runs the chat example as a program.
target_compile_definitions(test_io_chat PRIVATE WEFT_EXAMPLE_CHAT="$<TARGET_FILE:example_chat>")
add_dependencies(test_io_chat example_chat)
# test_io_kv runs the key-value and fetch examples (fetch against http).
target_compile_definitions(test_io_kv PRIVATE WEFT_EXAMPLE_KV="$<TARGET_FILE:example_kv>"
  WEFT_EXAMPLE_FETCH="$<TARGET_FILE:example_fetch>" WEFT_EXAMPLE_HTTP="$<TARGET_FILE:example_http>")
add_dependencies(test_io_kv example_kv example_fetch example_http)

# test_io_backend makes the ring's setup fail on purpose.
if(WEFT_HAVE_URING)
  target_compile_definitions(test_io_backend PRIVATE WEFT_HAVE_URING=1)
  target_link_options(test_io_backend PRIVATE LINKER:--wrap=io_uring_queue_init)
endif()

# test_io_reuseport plays a kernel without SO_REUSEPORT through setsockopt.
target_link_options(test_io_reuseport PRIVATE LINKER:--wrap=setsockopt)
