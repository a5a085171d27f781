# The hook layer's tests: every tests/test_hook_*.c, built twice:
# test_hook_X_linked (linked with libweft-hook.so) and test_hook_X_preload
# (linked with libweft.so only; it runs itself again under LD_PRELOAD).
file(GLOB WEFT_HOOK_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/test_hook_*.c)
foreach(src ${WEFT_HOOK_TESTS})
  get_filename_component(name ${src} NAME_WE)
  # --no-as-needed: the hook stays a dependency though nothing but libc's
  # names (which it defines first) ties the program to it.
  weft_test(${name}_linked SOURCE ${src} LIB weft_shared LINK -Wl,--no-as-needed weft_hook Threads::Threads ${CMAKE_DL_LIBS})
  weft_test(${name}_preload SOURCE ${src} LIB weft_shared LINK Threads::Threads ${CMAKE_DL_LIBS})
  target_compile_definitions(${name}_preload PRIVATE WEFT_HOOK_PRELOAD="$<TARGET_FILE:weft_hook>")
  add_dependencies(${name}_preload weft_hook)
endforeach()
# Fortified calls (__read_chk, ...): as Debian builds the libraries.
foreach(mode linked preload)
  target_compile_options(test_hook_fortify_${mode} PRIVATE -O2 -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2)
endforeach()
