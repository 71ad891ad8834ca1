# hmx's CMake package, installed by `cargo cinstall` as
# <prefix>/share/hmx/cmake/hmxConfig.cmake (see README, "C and C++").
#
#   find_package(hmx 0.1 CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE hmx::hmx)          # libhmx.so (SONAME libhmx.so.0)
#   target_link_libraries(app PRIVATE hmx::hmx_static)   # libhmx.a
#
# The library and headers are found relative to this file: <prefix>/include/hmx
# and the first of <prefix>/lib/<multiarch>, <prefix>/lib64, <prefix>/lib that
# holds them. That is where `cargo cinstall --prefix <prefix>` puts them with
# its default --libdir or with --libdir <prefix>/lib.

cmake_minimum_required(VERSION 3.12)

get_filename_component(_hmx_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

set(_hmx_libdirs)
if(CMAKE_LIBRARY_ARCHITECTURE)
  list(APPEND _hmx_libdirs "${_hmx_prefix}/lib/${CMAKE_LIBRARY_ARCHITECTURE}")
endif()
list(APPEND _hmx_libdirs "${_hmx_prefix}/lib64" "${_hmx_prefix}/lib")

set(_hmx_shared "")
set(_hmx_static "")
foreach(_hmx_dir IN LISTS _hmx_libdirs)
  if(NOT _hmx_shared AND EXISTS "${_hmx_dir}/libhmx.so")
    set(_hmx_shared "${_hmx_dir}/libhmx.so")
  endif()
  if(NOT _hmx_static AND EXISTS "${_hmx_dir}/libhmx.a")
    set(_hmx_static "${_hmx_dir}/libhmx.a")
  endif()
endforeach()
set(_hmx_include "${_hmx_prefix}/include/hmx")

if(NOT _hmx_shared OR NOT _hmx_static OR NOT EXISTS "${_hmx_include}/hmx.h")
  set(hmx_FOUND FALSE)
  set(hmx_NOT_FOUND_MESSAGE
      "hmx's files are not where ${CMAKE_CURRENT_LIST_FILE} expects them: libhmx.so and libhmx.a in one of ${_hmx_libdirs}, hmx.h in ${_hmx_include}")
  return()
endif()

include(CMakeFindDependencyMacro)
find_dependency(Threads)

if(NOT TARGET hmx::hmx)
  add_library(hmx::hmx SHARED IMPORTED)
  set_target_properties(hmx::hmx PROPERTIES
    IMPORTED_LOCATION "${_hmx_shared}"
    IMPORTED_SONAME "libhmx.so.0"
    INTERFACE_INCLUDE_DIRECTORIES "${_hmx_include}")
endif()

if(NOT TARGET hmx::hmx_static)
  add_library(hmx::hmx_static STATIC IMPORTED)
  # What Rust's standard library needs from the system when linked statically.
  set_target_properties(hmx::hmx_static PROPERTIES
    IMPORTED_LOCATION "${_hmx_static}"
    IMPORTED_LINK_INTERFACE_LANGUAGES "C"
    INTERFACE_INCLUDE_DIRECTORIES "${_hmx_include}"
    INTERFACE_LINK_LIBRARIES "Threads::Threads;${CMAKE_DL_LIBS};m")
endif()

set(hmx_INCLUDE_DIR "${_hmx_include}")
unset(_hmx_prefix)
unset(_hmx_libdirs)
unset(_hmx_dir)
unset(_hmx_shared)
unset(_hmx_static)
unset(_hmx_include)
