# TensorRT without TensorRT, part 1: the compile matrix. src/backend_tensorrt.cpp is compiled in
# ctest (tests tensorrt.compile.<V>) against NVIDIA's published headers of every release a Jetson
# fleet runs, with -Werror and deprecation warnings on. Where the headers or CUDA's runtime headers
# are missing, each test says NOT APPLICABLE and exits 77 (ctest: skipped; scripts/test-all.mjs
# counts it neither as passed nor as failed and prints the reason).
#
# Header sets: FACEFLEET_TRT_HEADERS_DIR (CMake cache variable or environment variable), default
# <repository>/../shared/third_party/tensorrt, one folder per version: <dir>/<V>/include/NvInfer.h.

set(_facefleet_trt_default "${CMAKE_CURRENT_SOURCE_DIR}/../../../shared/third_party/tensorrt")
if(NOT "$ENV{FACEFLEET_TRT_HEADERS_DIR}" STREQUAL "")
  set(_facefleet_trt_default "$ENV{FACEFLEET_TRT_HEADERS_DIR}")
endif()
get_filename_component(_facefleet_trt_default "${_facefleet_trt_default}" ABSOLUTE)
set(FACEFLEET_TRT_HEADERS_DIR "${_facefleet_trt_default}" CACHE PATH
    "TensorRT header sets, one folder per version (<dir>/<version>/include/NvInfer.h)")
set(FACEFLEET_TRT_VERSIONS 8.2 8.5 8.6 10.3 11.1 CACHE STRING "TensorRT header versions to compile against")
find_path(FACEFLEET_CUDA_INCLUDE_DIR cuda_runtime_api.h
          HINTS $ENV{CUDA_HOME}/include $ENV{CUDA_PATH}/include /usr/local/cuda/include)

# A test that reports itself as not applicable: neither a pass nor a failure.
function(facefleet_not_applicable_test name reason)
  add_test(NAME ${name} COMMAND sh -c "printf '%s\\n' \"$1\"; exit 77" sh "NOT APPLICABLE: ${reason}")
  set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77)
endfunction()

# Per version: FACEFLEET_TRT_INCLUDE_<V> (the include folder) when the headers and CUDA's are there,
# else FACEFLEET_TRT_MISSING_<V> (why not).
set(FACEFLEET_TRT_AVAILABLE_VERSIONS "")
foreach(v IN LISTS FACEFLEET_TRT_VERSIONS)
  set(_inc "${FACEFLEET_TRT_HEADERS_DIR}/${v}/include")
  if(NOT EXISTS "${_inc}/NvInfer.h")
    set(FACEFLEET_TRT_MISSING_${v} "TensorRT ${v} headers not found (${_inc}/NvInfer.h); set FACEFLEET_TRT_HEADERS_DIR")
  elseif(NOT FACEFLEET_CUDA_INCLUDE_DIR)
    set(FACEFLEET_TRT_MISSING_${v} "CUDA runtime headers (cuda_runtime_api.h) not found; install the CUDA toolkit or set CUDA_HOME")
  else()
    set(FACEFLEET_TRT_INCLUDE_${v} "${_inc}")
    list(APPEND FACEFLEET_TRT_AVAILABLE_VERSIONS ${v})
  endif()
endforeach()
message(STATUS "facefleet-runner: TensorRT header sets in ${FACEFLEET_TRT_HEADERS_DIR}: "
               "${FACEFLEET_TRT_AVAILABLE_VERSIONS} (CUDA headers: ${FACEFLEET_CUDA_INCLUDE_DIR})")

# The flags every TensorRT translation unit of this project is held to.
set(FACEFLEET_TRT_STRICT_FLAGS -Wall -Wextra -Wpedantic -Werror -Wdeprecated-declarations)

if(FACEFLEET_BUILD_TESTS)
  string(TOUPPER "${CMAKE_BUILD_TYPE}" _facefleet_bt)
  separate_arguments(_facefleet_cxx_flags UNIX_COMMAND "${CMAKE_CXX_FLAGS} ${CMAKE_CXX_FLAGS_${_facefleet_bt}}")
  foreach(v IN LISTS FACEFLEET_TRT_VERSIONS)
    if(FACEFLEET_TRT_INCLUDE_${v})
      add_test(NAME tensorrt.compile.${v}
               COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/compile-check.sh
                       "src/backend_tensorrt.cpp against TensorRT ${v} headers (-Werror, deprecations on)"
                       ${CMAKE_CXX_COMPILER} -std=c++17 ${_facefleet_cxx_flags} ${FACEFLEET_TRT_STRICT_FLAGS}
                       -I${CMAKE_CURRENT_SOURCE_DIR}/include
                       -isystem ${FACEFLEET_TRT_INCLUDE_${v}} -isystem ${FACEFLEET_CUDA_INCLUDE_DIR}
                       -c ${CMAKE_CURRENT_SOURCE_DIR}/src/backend_tensorrt.cpp
                       -o ${CMAKE_CURRENT_BINARY_DIR}/tensorrt-compile-${v}.o)
      set_tests_properties(tensorrt.compile.${v} PROPERTIES LABELS tensorrt)
    else()
      facefleet_not_applicable_test(tensorrt.compile.${v} "${FACEFLEET_TRT_MISSING_${v}}")
    endif()
  endforeach()
endif()
