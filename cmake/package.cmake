# The CMake package of an installed weft: find_package(weft) gives
# weft::weft (the shared library), weft::weft_static and weft::hook
# (libweft-hook.so, include/weft_hook.h), each with the header's
# directory; the same names exist in a build that adds weft with
# add_subdirectory.
include(CMakePackageConfigHelpers)

set_target_properties(weft_shared PROPERTIES EXPORT_NAME weft)
set_target_properties(weft_static PROPERTIES EXPORT_NAME weft_static)
set_target_properties(weft_hook PROPERTIES EXPORT_NAME hook)
add_library(weft::weft ALIAS weft_shared)
add_library(weft::weft_static ALIAS weft_static)
add_library(weft::hook ALIAS weft_hook)

set(WEFT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/weft)
install(EXPORT weftTargets NAMESPACE weft:: DESTINATION ${WEFT_CMAKE_DIR} FILE weftTargets.cmake)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/weftConfig.cmake.in
  ${PROJECT_BINARY_DIR}/weftConfig.cmake INSTALL_DESTINATION ${WEFT_CMAKE_DIR})
# 0.x: a new minor version may change the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/weftConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/weftConfig.cmake ${PROJECT_BINARY_DIR}/weftConfigVersion.cmake
  DESTINATION ${WEFT_CMAKE_DIR})

# A library put in a directory of the loader's search path is found only
# once its cache is rebuilt: run ldconfig then, when installing for real
# (no DESTDIR) with the right to. Elsewhere, say what a program needs.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  install(CODE "set(WEFT_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")")
else() # under the prefix of the install, which --prefix may change
  install(CODE "set(WEFT_LIBDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}\")")
endif()
install(SCRIPT ${PROJECT_SOURCE_DIR}/cmake/ldconfig.cmake)
